from __future__ import annotations

import json
from pathlib import Path

import pytest

from rhcos_layer import project
from rhcos_layer.errors import ProjectFileError


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rhcos-layer.yaml"
    path.write_text(text)
    return path


def test_keys_are_loaded_with_their_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "# my layer\ncontainerfile: os/Containerfile\nimage: quay.io/me/os\nbuild-args:\n  A: 1\n")
    loaded = project.load(path)
    assert loaded.containerfile == "os/Containerfile"
    assert loaded.image == "quay.io/me/os"
    assert loaded.build_args == {"A": "1"}
    assert loaded.where("image") == "rhcos-layer.yaml:3"


def test_unknown_key_names_file_line_and_known_keys(tmp_path: Path) -> None:
    path = _write(tmp_path, "image: quay.io/me/os\nimgae: typo\n")
    with pytest.raises(ProjectFileError, match=r"^rhcos-layer.yaml:2: unknown key 'imgae': the keys are containerfile"):
        project.load(path)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "image: [unclosed\nbase: x\n")
    with pytest.raises(ProjectFileError, match=r"^rhcos-layer.yaml:\d+: .*fix the YAML syntax"):
        project.load(path)


def test_wrong_types_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ProjectFileError, match=r"rhcos-layer.yaml:1: image must be a string"):
        project.load(_write(tmp_path, "image: [a, b]\n"))
    with pytest.raises(ProjectFileError, match=r"rhcos-layer.yaml:1: build-args must be a mapping"):
        project.load(_write(tmp_path, "build-args: [a]\n"))


def test_state_file_records_sections_atomically(tmp_path: Path) -> None:
    loaded = project.load(_write(tmp_path, "image: quay.io/me/os\n"))
    loaded.record("build", {"image_id": "abc"})
    loaded.record("push", {"pullspec": "quay.io/me/os@sha256:" + "e" * 64})
    state = json.loads((tmp_path / project.STATE_FILE).read_text())
    assert state["build"] == {"image_id": "abc"}
    assert state["push"]["pullspec"].endswith("e" * 64)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".rhcos-layer.state.")] == [project.STATE_FILE]


def test_find_without_project_file_uses_cwd(tmp_path: Path) -> None:
    found = project.find(None, cwd=tmp_path)
    assert found.path is None and found.root == tmp_path
    with pytest.raises(ProjectFileError, match="--project nope.yaml: no such project file"):
        project.find("nope.yaml", cwd=tmp_path)


def test_base_from_a_release_and_secrets(tmp_path: Path) -> None:
    (tmp_path / "ent.pem").write_text("x")
    loaded = project.load(_write(tmp_path, "base:\n  release: quay.io/r:4.16\n  arch: arm64\nsecrets:\n"
                                           "  entitlement-cert: ent.pem\n"))
    assert loaded.base_release == {"release": "quay.io/r:4.16", "arch": "arm64"}
    assert loaded.secrets == {"entitlement-cert": "ent.pem"}
    with pytest.raises(ProjectFileError, match=r"rhcos-layer.yaml:1: base as a mapping needs release: PULLSPEC"):
        project.load(_write(tmp_path, "base:\n  arch: arm64\n"))
    # a missing secret file is build's concern (push and render never read it)
    assert project.load(_write(tmp_path, "secrets:\n  ent: missing.pem\n")).secrets == {"ent": "missing.pem"}
    assert project.load(_write(tmp_path, "base:\n  release: q/r:1\n  arch: aarch64\n")).base_release["arch"] == "arm64"
    with pytest.raises(ProjectFileError, match=r"rhcos-layer.yaml:1: base.arch 'sparc': one of amd64"):
        project.load(_write(tmp_path, "base:\n  release: q/r:1\n  arch: sparc\n"))

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


# ------------------------------------------------------------------ hostile and malformed project files
@pytest.mark.parametrize("text, message", [
    ("? [a, b]\n: 1\n", r"^rhcos-layer.yaml:1: a key must be a plain word, not a list$"),
    ("? {a: 1}\n: 1\n", r"^rhcos-layer.yaml:1: a key must be a plain word, not a mapping$"),
    ("build-args:\n  ? [x]\n  : 1\n", r"^rhcos-layer.yaml:2: a key must be a plain word, not a list$"),
    ("image: " + "[" * 50 + "]" * 50 + "\n", r"^rhcos-layer.yaml:1: nested deeper than 8 levels: a project file"),
    ("image: " + "[" * 100_000 + "\n", r"^rhcos-layer.yaml:1: nested deeper than 8 levels"),
    ("image: a.io/b\nimage: a.io/c\n", r"^rhcos-layer.yaml:2: image is given twice \(also on line 1\)$"),
    ("build-args:\n  A: 1\n  A: 2\n", r"^rhcos-layer.yaml:3: build-args.A is given twice$"),
    ("image: Quay.io/Me/OS\n", r"^rhcos-layer.yaml:1: image: 'Quay.io/Me/OS': invalid repository name component 'Me'"),
    ("image: quay.io:99999/me/os\n", r"^rhcos-layer.yaml:1: image: 'quay.io:99999/me/os': invalid registry port"),
    ("image: quay.io/me/os@sha256:" + "a" * 64 + "\n", r"^rhcos-layer.yaml:1: image '.*' has a digest"),
    ("image: 'quay.io/me/os '\n", r"^rhcos-layer.yaml:1: image: 'quay.io/me/os ': an image reference has no spaces"),
    ("base: quay.io/r/rhcos:4.16\n", r"^rhcos-layer.yaml:1: base: 'quay.io/r/rhcos:4.16' uses the tag '4.16'"),
    ("base:\n  release: quay.io/R:4.16\n", r"^rhcos-layer.yaml:1: base: 'quay.io/R:4.16': invalid repository name"),
])
def test_malformed_project_files_name_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ProjectFileError, match=message):
        project.load(_write(tmp_path, text))


def test_a_billion_laughs_is_bounded(tmp_path: Path) -> None:
    # each level names the previous one ten times: 10^9 nodes once expanded, 10 lines as written
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    with pytest.raises(ProjectFileError, match=r"^rhcos-layer.yaml:1: unknown key 'a0'"):
        project.load(_write(tmp_path, "\n".join(lines) + "\n"))
    # as a value of a real key: refused by its type, nothing expanded
    with pytest.raises(ProjectFileError, match=r"^rhcos-layer.yaml:2: build-args.x must be a plain value"):
        project.load(_write(tmp_path, "build-args: &m\n  x: [*m, *m]\n"))


def test_a_binary_or_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rhcos-layer.yaml"
    path.write_bytes(b"image: quay.io/me/os\n\xff\xfe\n")
    with pytest.raises(ProjectFileError, match=r"^rhcos-layer.yaml:2: not UTF-8 text"):
        project.load(path)
    path.write_bytes(b"# " + b"x" * (2 << 20) + b"\n")
    with pytest.raises(ProjectFileError, match=r"^rhcos-layer.yaml: larger than 1 MiB"):
        project.load(path)


def test_valid_references_are_kept_as_written(tmp_path: Path) -> None:
    loaded = project.load(_write(tmp_path, "image: 127.0.0.1:5000/ops/rhcos-layered:v1\n"
                                           "base: quay.io/r/rhcos@sha256:" + "b" * 64 + "\n"))
    assert loaded.image == "127.0.0.1:5000/ops/rhcos-layered:v1"
    assert loaded.base == "quay.io/r/rhcos@sha256:" + "b" * 64
    assert project.load(_write(tmp_path, "base: cluster\n")).base == "cluster"


# ------------------------------------------------------------------ the state file under concurrency
def _hammer(root: str, section: str, rounds: int) -> None:
    loaded = project.Project(root=Path(root))
    for number in range(rounds):
        loaded.record(section, {"round": number, "by": section})


def test_concurrent_records_keep_every_section(tmp_path: Path) -> None:
    import multiprocessing

    sections = ["build", "push", "build-2", "push-2"]
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_hammer, args=(str(tmp_path), name, 60)) for name in sections]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    state = json.loads((tmp_path / project.STATE_FILE).read_text())
    assert state == {name: {"round": 59, "by": name} for name in sections}
    assert (tmp_path / project.STATE_FILE).stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [project.STATE_LOCK, project.STATE_FILE]


def test_a_plain_project_file_is_read_without_importing_pyyaml(tmp_path: Path) -> None:
    # PyYAML's import costs a no-op push ~40 ms; the files init writes are read without it
    # (tests/fuzz/test_project_plain.py checks both readers agree); anything else still uses it
    import subprocess
    import sys

    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "rhcos-layer.yaml").write_text("# layered\nimage: quay.io/x/y # here\nbase:\n"
                                            "  release: quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64\n")
    flow = tmp_path / "flow"
    flow.mkdir()
    (flow / "rhcos-layer.yaml").write_text("image: 'quay.io/x/y'\nbase: {release: quay.io/r/release:4.16.3}\n")
    script = ("import sys; from pathlib import Path; from rhcos_layer import project;"
              " p = project.load(Path(sys.argv[1]) / 'rhcos-layer.yaml');"
              " print(p.image, p.base_release, p.lines, 'yaml' in sys.modules)")
    ocp = "quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64"
    for folder, expected in ((plain, f"quay.io/x/y {{'release': '{ocp}'}} {{'image': 2, 'base': 3}} False"),
                             (flow, "quay.io/x/y {'release': 'quay.io/r/release:4.16.3'} {'image': 1, 'base': 2}"
                                    " True")):
        out = subprocess.run([sys.executable, "-c", script, str(folder)], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected

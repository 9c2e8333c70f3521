"""lint and build read Containerfiles as Buildah does: end to end, exit codes and exact lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BASE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "a" * 64
COMMIT = "RUN true && ostree container commit\n"


def _lint(rhcos_layer, folder: Path, body: str, files: dict = None):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {}).items():
        (folder / name).write_text(text)
    (folder / "Containerfile").write_text(body)
    return rhcos_layer(["lint"], folder, env={"NO_COLOR": "1"})


@pytest.mark.parametrize(("body", "files", "line"), [
    (f"FROM {BASE}\nRUNN rpm-ostree install tree\n{COMMIT}",
     {}, "Containerfile:2: error RL111 unknown-instruction: RUNN is not a Containerfile instruction (fix: write RUN)"),
    (f"FROM {BASE}\nCOPY a.conf b.conf /etc/\n{COMMIT}", {"a.conf": "a"},
     "Containerfile:2: error RL113 copy-source-missing: COPY b.conf: no such file or non-empty folder in the build"
     " context ({root})"
     " (fix: add it to the build context (or fix the name), or remove it from .containerignore)"),
    (f"FROM {BASE}\nCOPY secret.conf /etc/\n{COMMIT}", {"secret.conf": "s", ".containerignore": "secret.*\n"},
     "Containerfile:2: error RL113 copy-source-missing: COPY secret.conf: it is excluded by .containerignore"
     " (fix: add it to the build context (or fix the name), or remove it from .containerignore)"),
    ("FROM quay.io/openshift-release-dev/ocp-release@sha256:" + "b" * 64 + f"\n{COMMIT}", {},
     "Containerfile:1: error RL114 from-release-payload: FROM quay.io/openshift-release-dev/ocp-release@sha256:"
     + "b" * 64 + ": the repository ocp-release holds OpenShift release payloads, not the RHCOS image; a layered"
     " image must be built on the release's RHCOS image (fix: build on the release's RHCOS image instead:"
     " `rhcos-layer resolve --release RELEASE` prints it by digest (or set `base: {release: RELEASE}` in"
     " rhcos-layer.yaml))"),
    (f"FROM {BASE}\nRUN <<EOF\nset -e\nEOF\n{COMMIT}", {},
     "Containerfile:2: error RL112 heredoc: heredoc <<EOF (lines 3-4) is not supported by Podman 4.3"
     " (Buildah 1.28): it reads the body as instructions (fix: put the content in a file in the build context"
     " and COPY it, or write it with printf in RUN)"),
])
def test_lint_finds_it_with_the_line_and_exits_3(tmp_path, rhcos_layer, body, files, line):
    project = tmp_path / "p"
    result = _lint(rhcos_layer, project, body, files)
    assert result.code == 3, result.out + result.err
    assert result.out.splitlines() == [line.replace("{root}", str(project))]
    assert result.err.strip() == ("Error: Containerfile: 1 error(s) found by lint (fix them, or build anyway with"
                                  " rhcos-layer build --skip-lint)")


@pytest.mark.parametrize("run", ['RUN echo "<<EOF"', "RUN echo $((1<<X))", "RUN cat <<<word"])
def test_a_stray_heredoc_marker_no_longer_hides_a_tag_from(tmp_path, rhcos_layer, run):
    result = _lint(rhcos_layer, tmp_path / "p", f"FROM {BASE}\n{run}\nFROM quay.io/x/rhcos:4.16\n{COMMIT}EOF\n")
    assert result.code == 3
    assert [line.split(":")[1] + " " + line.split()[2] for line in result.out.splitlines()] == [
        "3 RL101", "5 RL111"]


def test_lint_json_reports_the_new_rules_too(tmp_path, rhcos_layer):
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "Containerfile").write_text(f"\ufeffFROM {BASE}\nRUNN x\n{COMMIT}")
    result = rhcos_layer(["lint", "-o", "json"], folder)
    assert result.code == 3
    assert [(f["rule"], f["line"]) for f in json.loads(result.out)["findings"]] == [("RL111", 2)]


@pytest.mark.parametrize("pattern", ["[]", "[z-a]"])
def test_a_bad_containerignore_pattern_is_one_clear_line(tmp_path, rhcos_layer, pattern):
    result = _lint(rhcos_layer, tmp_path / "p", f"FROM {BASE}\n{COMMIT}", {".containerignore": f"{pattern}\n"})
    assert result.code == 3
    assert result.out == ""
    ignore = tmp_path / "p" / ".containerignore"
    assert result.err.startswith(f"Error: {ignore}:1: the pattern '{pattern}' is malformed: ")
    assert "Traceback" not in result.err and "internal error" not in result.err


def test_a_trailing_backslash_cannot_swallow_the_labels(tmp_path, tool_env, fake_base, podman_service, rhcos_layer):
    project = tmp_path / "p"
    project.mkdir()
    (project / "Containerfile").write_text(f"FROM {fake_base.pullspec}\nLABEL mine=yes \\\n")
    refused = rhcos_layer(["build", "--skip-lint"], project)
    assert refused.code == 3
    assert refused.err.strip().startswith(
        "Error: Containerfile:2: the last instruction ends with a line continuation, so the LABEL line build"
        " appends would join it: remove the escape character at the end of the file")
    assert "STEP" not in refused.err
    (project / "Containerfile").write_text(f"FROM {fake_base.pullspec}\nLABEL mine=yes\n")
    built = rhcos_layer(["build", "-o", "json"], project)
    assert built.code == 0, built.err
    labels = podman_service.store.inspect_image(json.loads(built.out)["image_id"])["Labels"]
    assert labels["mine"] == "yes"
    assert labels["org.opencontainers.image.base.name"] == fake_base.pullspec

from __future__ import annotations

from pathlib import Path

import pytest

from rhcos_layer import containerfile
from rhcos_layer.errors import ContainerfileError

DIGEST = "sha256:" + "b" * 64
BASE = f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@{DIGEST}"


def test_base_is_found_with_its_line_number() -> None:
    text = f"# comment\n\nFROM {BASE}\nRUN rpm-ostree install usbguard && \\\n    ostree container commit\n"
    cf = containerfile.parse(text)
    base = cf.base()
    assert base.line == 3
    assert base.checked("Containerfile").digest == DIGEST
    assert [i.keyword for i in cf.instructions] == ["FROM", "RUN"]
    # joined as Buildah joins: the escape removed, the next line's indentation kept
    assert cf.instructions[1].args == "rpm-ostree install usbguard &&     ostree container commit"


def test_tag_from_is_refused_naming_file_and_line() -> None:
    cf = containerfile.parse("ARG X=1\n\nFROM quay.io/openshift/rhcos:4.16\nRUN true\n", "ctx/Containerfile")
    with pytest.raises(ContainerfileError) as info:
        cf.base().checked("ctx/Containerfile")
    assert str(info.value).startswith("ctx/Containerfile:3: FROM 'quay.io/openshift/rhcos:4.16' uses the tag '4.16'")


def test_malformed_digest_is_refused_naming_line() -> None:
    cf = containerfile.parse("FROM quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256...\n")
    with pytest.raises(ContainerfileError, match=r"^Containerfile:1: FROM .*malformed digest"):
        cf.base().checked("Containerfile")


def test_multi_stage_final_base_follows_aliases() -> None:
    text = (
        f"FROM registry.example.com/ubi9/ubi:latest AS builder\nRUN make\n"
        f"FROM {BASE} AS os\nFROM os\nCOPY --from=builder /out /usr/bin/\n"
    )
    base = containerfile.parse(text).base()
    assert base.line == 3
    assert base.expanded == BASE


def test_arg_before_from_is_expanded_with_build_args_winning() -> None:
    text = "ARG BASE=quay.io/x/y:latest\nFROM ${BASE}\n"
    cf = containerfile.parse(text)
    assert cf.base().expanded == "quay.io/x/y:latest"
    assert cf.base({"BASE": BASE}).expanded == BASE


def test_with_base_replaces_only_the_image_and_keeps_lines() -> None:
    text = "# header\nFROM --platform=linux/amd64 quay.io/x/y:4.16 AS final\nRUN true\n"
    cf = containerfile.parse(text)
    new = cf.with_base(cf.base(), BASE)
    assert new == f"# header\nFROM --platform=linux/amd64 {BASE} AS final\nRUN true\n"


def test_on_cluster_containerfile_is_recognised() -> None:
    cf = containerfile.parse("FROM configs AS final\nRUN rpm-ostree install tree && ostree container commit\n")
    assert cf.is_on_cluster()
    with pytest.raises(ContainerfileError, match="on-cluster"):
        cf.base()


def test_heredoc_body_is_not_read_as_instructions_but_a_from_in_it_is_refused() -> None:
    # BuildKit reads the body as text; Podman 4.3 reads it as instructions and would build on
    # evil:latest (checked by hand: `podman build` shows "[2/2] STEP 1/3: FROM ..." for it).
    text = f"FROM {BASE}\nRUN <<EOF\nFROM evil:latest\nEOF\nRUN true\n"
    cf = containerfile.parse(text)
    assert [i.keyword for i in cf.instructions] == ["FROM", "RUN", "RUN"]
    assert [(d.name, d.line, d.body_start, d.end) for d in cf.heredocs] == [("EOF", 2, 3, 4)]
    with pytest.raises(ContainerfileError, match=r"^Containerfile:3: the heredoc of line 2 changes which FROM"):
        cf.base()


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ContainerfileError, match="no such Containerfile: give one with -f"):
        containerfile.load(tmp_path / "Containerfile", "Containerfile")


def test_no_from_is_an_error() -> None:
    with pytest.raises(ContainerfileError, match="no FROM instruction"):
        containerfile.parse("RUN true\n").base()

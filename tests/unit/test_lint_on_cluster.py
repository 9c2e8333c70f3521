"""lint's on-cluster rules (RL118-RL125), each shown failing and passing."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import pytest

from rhcos_layer import containerfile
from rhcos_layer.context import collect
from rhcos_layer.lint import ERROR, WARNING, OnCluster, base_stage, lint

BASE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "a" * 64
UBI = "registry.access.redhat.com/ubi9/ubi@sha256:" + "b" * 64


def _rules(text: str, context: Optional[Path] = None, facts: Optional[OnCluster] = None, **kwargs) -> List[tuple]:
    ctx = collect(context) if context else None
    found = lint(containerfile.parse(text), context=ctx, on_cluster=facts or OnCluster(), **kwargs)
    # RL100-RL117 have their own tests (test_lint.py): these are the on-cluster ones
    return [(f.rule, f.severity, f.line) for f in found if f.rule >= "RL118"]


def test_the_base_is_not_judged_on_the_cluster() -> None:
    # a tag or an unset base is build's concern: the cluster replaces the FROM with its own
    for text in ("FROM quay.io/x/rhcos:4.16\nRUN ostree container commit\n",
                 "FROM RHCOS-BASE-NOT-SET\nRUN ostree container commit\n"):
        assert lint(containerfile.parse(text), on_cluster=OnCluster()) == []
    # but the same file is refused for a local build
    assert lint(containerfile.parse("FROM quay.io/x/rhcos:4.16\nRUN ostree container commit\n"))


def test_a_small_local_file_is_inlined_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "motd").write_text("hi\n")
    assert _rules(f"FROM {BASE}\nCOPY motd /etc/motd\n", tmp_path) == [("RL118", WARNING, 2)]


@pytest.mark.parametrize("copy,why", [
    ("COPY big /etc/big", "bytes (render inlines files up to"),
    ("COPY conf.d/ /etc/conf.d/", "not a file in the build context"),
    ("COPY *.conf /etc/", "a pattern or variable"),
    ("COPY motd motd2 /etc/", "several sources"),
    ("COPY motd etc/motd", "a relative destination"),
    ("COPY --chown=root:root motd /etc/motd", "--chown"),
    ("COPY missing /etc/missing", "not a file in the build context"),
    ("ADD files.tar.gz /usr/share/files/", "ADD unpacks an archive"),
])
def test_local_files_render_cannot_inline_are_errors_with_the_way_out(tmp_path: Path, copy: str, why: str) -> None:
    (tmp_path / "motd").write_text("hi\n")
    (tmp_path / "motd2").write_text("hi\n")
    (tmp_path / "big").write_text("x" * 5000)
    (tmp_path / "files.tar.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "a.conf").write_text("a\n")
    [finding] = lint(containerfile.parse(f"FROM {BASE}\n{copy}\n"), context=collect(tmp_path),
                     on_cluster=OnCluster())
    assert (finding.rule, finding.severity, finding.line) == ("RL118", ERROR, 2)
    assert why in finding.message
    assert "MachineConfig (storage.files)" in finding.fix


def test_a_local_rpm_is_refused_with_the_repository_way(tmp_path: Path) -> None:
    (tmp_path / "fix-1.0-1.el9.x86_64.rpm").write_bytes(b"\xed\xab\xee\xdb")
    [finding] = lint(containerfile.parse(f"FROM {BASE}\nCOPY fix-1.0-1.el9.x86_64.rpm /tmp/\n"),
                     context=collect(tmp_path), on_cluster=OnCluster(arch="AMD64"))
    assert (finding.rule, finding.severity) == ("RL118", ERROR)
    assert "etc-yum-repos-d" in finding.fix


def test_copy_from_a_stage_or_image_and_remote_add_need_no_context() -> None:
    text = (f"FROM {UBI} AS build\nRUN true\nFROM {BASE}\nCOPY --from=build /out /usr/out\n"
            f"COPY --from={UBI} /etc/os-release /usr/share/ubi-release\n"
            "ADD --checksum=sha256:" + "c" * 64 + " https://example.com/x.tar /tmp/x.tar\n")
    assert [r for r in _rules(text) if r[0] == "RL118"] == []


def test_secret_mounts_the_cluster_provides_warn_and_others_are_errors() -> None:
    text = (f"FROM {BASE}\nRUN --mount=type=secret,id=cert,target=/etc/pki/entitlement/cert.pem \\\n"
            "    --mount=type=secret,id=repo,target=/etc/yum.repos.d/redhat.repo \\\n    rpm-ostree install iotop\n"
            "RUN --mount=type=secret,id=token cat /run/secrets/token\n")
    assert _rules(text) == [("RL120", WARNING, 2), ("RL120", WARNING, 2), ("RL120", ERROR, 5)]


def test_arch_specific_content_without_per_arch_files() -> None:
    text = f"FROM {BASE}\nRUN rpm-ostree install https://example.com/fix-1.0.el9.x86_64.rpm\n"
    assert _rules(text) == [("RL121", WARNING, 2)]
    assert _rules(text, facts=OnCluster(multi_arch=True)) == [("RL121", ERROR, 2)]
    assert _rules(text, facts=OnCluster(arch="AMD64")) == []


def test_other_stage_images_warn_and_the_base_chain_does_not() -> None:
    text = f"FROM {UBI} AS build\nRUN true\nFROM {BASE} AS rhcos\nRUN true\nFROM rhcos\nRUN true\n"
    assert _rules(text) == [("RL122", WARNING, 1)]
    assert base_stage(containerfile.parse(text)) == 3


def test_stage_names_of_the_mco_clash() -> None:
    assert _rules(f"FROM {UBI} AS configs\nRUN true\nFROM {BASE}\nRUN true\n") == [
        ("RL122", WARNING, 1), ("RL123", ERROR, 1)]
    assert _rules("FROM configs AS final\nRUN true\n") == []


def test_args_the_cluster_does_not_pass() -> None:
    text = f"FROM {BASE}\nARG VERSION\nARG HTTP_PROXY\nARG RELEASE=9\nARG FROM_PROJECT\n"
    assert _rules(text, build_args={"FROM_PROJECT": "1"}) == [("RL124", WARNING, 2), ("RL124", WARNING, 5)]


def test_an_escape_directive_does_not_survive_the_append() -> None:
    assert _rules(f"# escape=`\nFROM {BASE}\nRUN true\n") == [("RL125", ERROR, 1)]

"""lint's rules, each shown failing and passing, and the OpenShift docs' examples passing."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from rhcos_layer import containerfile
from rhcos_layer.lint import ERROR, WARNING, PoolFacts, errors, lint

BASE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "a" * 64
EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "docs-examples"


def _rules(text: str, **kwargs) -> List[tuple]:
    return [(f.rule, f.severity, f.line) for f in lint(containerfile.parse(text), **kwargs)]


def _fill(text: str) -> str:
    return text.replace("@sha256...", "@sha256:" + "a" * 64)


@pytest.mark.parametrize("path", sorted(p for p in EXAMPLES.glob("*.Containerfile") if p.stem != "kernel"),
                         ids=lambda p: p.stem)
def test_every_docs_example_passes_without_errors(path: Path) -> None:
    findings = lint(containerfile.parse(_fill(path.read_text()), path.name))
    assert errors(findings) == []


def test_the_docs_kernel_example_builds_on_the_release_payload_and_is_refused() -> None:
    # The OpenShift docs' kernel example writes FROM quay.io/openshift-release/ocp-release@sha256...:
    # the release payload, which is not an OS image at all.
    findings = lint(containerfile.parse(_fill((EXAMPLES / "kernel.Containerfile").read_text()), "kernel"))
    assert [(f.rule, f.name, f.severity, f.line) for f in errors(findings)] == [
        ("RL114", "from-release-payload", ERROR, 2)]
    assert "rhcos-layer resolve --release RELEASE" in findings[0].fix


def test_clean_layer_has_no_findings() -> None:
    text = f"FROM {BASE}\nCOPY a.conf /etc/a.conf\nRUN rpm-ostree install tree && ostree container commit\n"
    assert _rules(text) == []


def test_unpinned_from_is_an_error_but_on_cluster_is_fine() -> None:
    assert _rules("FROM quay.io/x/rhcos:4.16\nRUN true && ostree container commit\n") == [("RL101", ERROR, 1)]
    assert _rules("FROM configs AS final\nRUN rpm-ostree install tree && ostree container commit\n") == []


def test_last_run_must_finish_the_image() -> None:
    text = f"FROM {BASE}\nRUN rpm-ostree install tree && ostree container commit\nRUN rpm-ostree install vim\n"
    assert _rules(text) == [("RL102", WARNING, 3)]
    assert _rules(f"FROM {BASE}\nRUN rpm-ostree install tree && bootc container lint\n") == []


def test_partial_kernel_replacement() -> None:
    partial = f"FROM {BASE}\nRUN rpm-ostree override replace /tmp/kernel-5.14.0-1.el9.x86_64.rpm " \
              "/tmp/kernel-core-5.14.0-1.el9.x86_64.rpm && ostree container commit\n"
    [finding] = lint(containerfile.parse(partial))
    assert (finding.rule, finding.severity, finding.line) == ("RL103", ERROR, 2)
    assert "missing: kernel-modules, kernel-modules-extra, kernel-modules-core" in finding.message
    full = f"FROM {BASE}\nRUN rpm-ostree override replace /r/kernel-{{,core-,modules-,modules-extra-}}6.0-1.fc.rpm" \
           " && ostree container commit\n"
    assert _rules(full) == []


def test_realtime_kernel_and_extensions_warn_offline_and_fail_against_the_pool() -> None:
    text = f"FROM {BASE}\nRUN rpm-ostree install kernel-rt-core usbguard && ostree container commit\n"
    assert _rules(text) == [("RL104", WARNING, 2), ("RL105", WARNING, 2)]
    pool = PoolFacts("worker", extensions={"usbguard"}, kernel_type="realtime")
    assert _rules(text, pool=pool) == [("RL104", ERROR, 2), ("RL105", ERROR, 2)]
    assert _rules(text, pool=PoolFacts("worker", extensions={"ipsec"})) == [("RL104", WARNING, 2),
                                                                           ("RL105", WARNING, 2)]


def test_cliwrap_install_to_root_is_an_error() -> None:
    text = f"FROM {BASE}\nRUN rpm-ostree cliwrap install-to-root / && rpm-ostree install x && ostree container commit\n"
    assert _rules(text) == [("RL106", ERROR, 2)]


@pytest.mark.parametrize("line", [
    "COPY data /var/lib/myapp/",
    "RUN mkdir -p /var/lib/myapp && ostree container commit",
    "RUN echo x > /var/log/app.conf && ostree container commit",
])
def test_writes_under_var_warn(line: str) -> None:
    assert ("RL107", WARNING, 2) in _rules(f"FROM {BASE}\n{line}\n")


def test_var_tmp_and_usr_are_fine() -> None:
    assert _rules(f"FROM {BASE}\nRUN mkdir -p /var/tmp/x /usr/lib/app && ostree container commit\n") == []


@pytest.mark.parametrize("line", [
    "COPY redhat.repo /etc/yum.repos.d/redhat.repo",
    "COPY entitlement/ /etc/pki/entitlement/",
    "COPY 1234567890-key.pem /etc/pki/x/",
])
def test_entitlements_copied_into_the_image_are_errors(line: str) -> None:
    assert ("RL108", ERROR, 2) in _rules(f"FROM {BASE}\n{line}\n")


def test_secret_mount_of_entitlements_is_fine() -> None:
    text = (f"FROM {BASE}\nRUN --mount=type=secret,id=entitlement,target=/etc/pki/entitlement/ent.pem "
            "rpm-ostree install libreswan && ostree container commit\n")
    assert [r for r in _rules(text) if r[1] == ERROR] == []


def test_add_of_a_remote_url_warns() -> None:
    assert _rules(f"FROM {BASE}\nADD https://example.com/x.conf /etc/x.conf\n") == [("RL109", WARNING, 2)]


def test_secret_build_args_are_errors() -> None:
    assert _rules(f"FROM {BASE}\nARG REGISTRY_PASSWORD\nARG VERSION=1\n") == [("RL110", ERROR, 2)]
    assert _rules(f"FROM {BASE}\n", build_args={"API_TOKEN": "x"}) == [("RL110", ERROR, 0)]


def test_findings_format_names_file_line_rule_and_fix() -> None:
    [finding] = lint(containerfile.parse(f"FROM {BASE}\nADD http://x/y /etc/y\n"))
    assert finding.format("ctx/Containerfile").startswith("ctx/Containerfile:2: warning RL109 add-remote-url: ")
    assert "(fix: " in finding.format("x")


@pytest.mark.parametrize("name, secret", [("REGISTRY_PASSWORD", True), ("GITHUB_TOKEN", True), ("API_KEY", True),
                                          ("SSH_PRIVATE_KEY", True), ("REGISTRY_AUTH", True), ("AUTHOR", False),
                                          ("CACHE_KEY", False), ("KEYBOARD", False), ("VERSION", False)])
def test_secret_looking_names(name: str, secret: bool) -> None:
    from rhcos_layer.lint import looks_secret

    assert looks_secret(name) is secret


def test_add_with_checksum_is_the_fix_not_a_finding() -> None:
    assert _rules(f"FROM {BASE}\nADD --checksum=sha256:{'a' * 64} https://example.com/x /etc/x\n") == []


def test_a_placeholder_from_is_not_judged_when_the_base_is_replaced() -> None:
    text = "FROM quay.io/placeholder/rhcos:latest\nRUN rpm-ostree install x && ostree container commit\n"
    assert _rules(text) == [("RL101", ERROR, 1)]
    assert _rules(text, base_overridden=True) == []

"""Flags checked as they are parsed, before Podman, a registry or the network is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

BASE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "d" * 64


@pytest.mark.parametrize("value, reason", [
    ("", "empty image reference"),
    (BASE + "\n", "an image reference has no spaces or control characters"),
    ("quay.io/x/rhcos:latest", "uses the tag 'latest': give the image by digest (REPO@sha256:<64 hex>)"),
    ("quay.io:0/x/rhcos@sha256:" + "d" * 64, "invalid registry port '0' (1 to 65535)"),
])
def test_build_base_is_refused_when_parsed(tmp_path: Path, run_cli, value: str, reason: str) -> None:
    # CONTAINER_HOST would be needed to build: pointing nowhere, it proves nothing started
    (tmp_path / "Containerfile").write_text(f"FROM {BASE}\n")
    result = run_cli(["build", "--base", value], tmp_path)
    assert result.code == 3, result.err
    assert result.err.startswith("Error: --base: ")
    assert reason in result.err.splitlines()[0]
    assert "give the base by digest: REPO@sha256:<64 hex>" in result.err


@pytest.mark.parametrize("value", ["nan", "1e309", "inf", "-inf", "nanms", "2h", "99999s", "1h1s", "5x"])
def test_retry_delay_must_be_a_finite_duration(tmp_path: Path, run_cli, value: str) -> None:
    result = run_cli(["push", "--retry-delay", value, "img", "quay.io/me/os:1"], tmp_path)
    assert result.code == 2, result.err
    assert "Invalid value for --retry-delay" in result.err
    assert "Traceback" not in result.err


def test_resolve_arch_is_checked_before_the_network(tmp_path: Path, run_cli, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    # nothing listens on port 1: a request would end in "unreachable" (exit 6) after retries
    result = run_cli(["resolve", "--release", "127.0.0.1:1/r/release:4.16.3", "--arch", "mips"], tmp_path)
    assert (result.code, result.err) == (3, "Error: --arch 'mips': one of amd64, arm64, ppc64le, s390x"
                                            " (or x86_64, aarch64)\n")


def test_resolve_release_with_a_bad_port_is_refused_when_parsed(tmp_path: Path, run_cli) -> None:
    result = run_cli(["resolve", "--release", "127.0.0.1:70000/r/release:4.16.3"], tmp_path)
    assert result.code == 3
    assert result.err == ("Error: --release: '127.0.0.1:70000/r/release:4.16.3': invalid registry port '70000'"
                          " (1 to 65535)\n")


@pytest.mark.parametrize("extra", [["--via", "oc"], []])
def test_resolve_arch_is_checked_whatever_the_source(tmp_path: Path, run_cli, monkeypatch, extra) -> None:
    # no oc on PATH and no kubeconfig: reaching either source would fail differently (exit 9 or 3 with another line)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    result = run_cli(["resolve", "--arch", "x86", *extra], tmp_path)
    assert (result.code, result.err) == (3, "Error: --arch 'x86': one of amd64, arm64, ppc64le, s390x"
                                            " (or x86_64, aarch64)\n")

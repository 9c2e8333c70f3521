"""--tls-verify=false warns in every command that reaches a registry, not only in build and push."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.kube import seed_openshift

WARNING = "Warning: TLS verification is off (--tls-verify=false)"
# a registry port nothing listens on: each command warns, then fails to connect
NOWHERE = "127.0.0.1:9/openshift/release:4.16.3-x86_64"
IMAGE = "127.0.0.1:9/ops/layered@sha256:" + "e" * 64


@pytest.mark.parametrize("args", [
    ["resolve", "--release", NOWHERE, "--tls-verify=false"],
    ["init", "proj", "--release", NOWHERE, "--tls-verify=false"],
    ["resolve", "--release", NOWHERE, "--no-tls-verify"],
])
def test_commands_reading_a_release_warn(tmp_path: Path, run_cli, args) -> None:
    result = run_cli(args, tmp_path)
    assert result.code == 6, result.err  # the registry is unreachable: it did try
    assert result.err.startswith(WARNING), result.err


def test_apply_warns_before_it_reads_the_image(tmp_path: Path, run_cli, monkeypatch, kube_api) -> None:
    seed_openshift(kube_api)
    monkeypatch.setenv("KUBECONFIG", str(kube_api.write_kubeconfig(tmp_path / "kubeconfig")))
    result = run_cli(["apply", "--pool", "worker", "--image", IMAGE, "--tls-verify=false", "--no-wait"], tmp_path)
    assert result.err.startswith(WARNING), result.err
    assert result.code != 0  # the image's registry does not answer


def test_rollback_warns_only_when_it_reaches_a_registry(tmp_path: Path, run_cli, monkeypatch, kube_api) -> None:
    seed_openshift(kube_api)
    monkeypatch.setenv("KUBECONFIG", str(kube_api.write_kubeconfig(tmp_path / "kubeconfig")))
    previous = run_cli(["rollback", "--pool", "worker", "--to-previous", "--tls-verify=false", "--no-wait"], tmp_path)
    assert previous.err.startswith(WARNING), previous.err
    assert previous.code == 3 and "no earlier image recorded" in previous.err
    plain = run_cli(["rollback", "--pool", "worker", "--tls-verify=false", "--no-wait"], tmp_path)
    assert plain.code == 0, plain.err
    assert "TLS verification" not in plain.err


def test_verified_commands_do_not_warn(tmp_path: Path, run_cli) -> None:
    result = run_cli(["resolve", "--release", NOWHERE], tmp_path)
    assert result.code == 6
    assert "TLS verification" not in result.err

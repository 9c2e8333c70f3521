"""apply --on-cluster's flags, checked before any file or cluster is read: one line, exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest

DIGEST = "registry.example.com/ops/x@sha256:" + "0" * 64


@pytest.mark.parametrize("args, message", [
    (["--on-cluster", "--image", DIGEST], "Error: --image: not with --on-cluster (the cluster builds the image from"
                                          " this project's Containerfile); drop one of them"),
    (["--on-cluster", "--pool", "master"], "Error: --on-cluster takes one --pool (one MachineOSConfig per pool):"
                                           " run it once per pool"),
    (["--on-cluster", "--rollback-on-failure"], "Error: --rollback-on-failure: not with --on-cluster; roll back with"
                                                " rhcos-layer rollback"),
    (["--push-secret", "push"], "Error: --push-secret is an option of --on-cluster: add --on-cluster, or drop"
                                " --push-secret"),
    (["--rebuild"], "Error: --rebuild is an option of --on-cluster: add --on-cluster, or drop --rebuild"),
    (["--on-cluster", "--ignore-preflight-errors", "BaseMatches"],
     "Error: --ignore-preflight-errors BaseMatches: unknown check (the ignorable ones: PoolDegraded,"
     " PushSecretCanPush, or all)"),
])
def test_flags_that_do_not_go_together_are_refused(tmp_path: Path, run_cli, args: list, message: str) -> None:
    result = run_cli(["apply", "--pool", "worker", *args], tmp_path)
    assert result.code == 3, result.err
    assert result.err.strip().splitlines()[0] == message
    assert "Traceback" not in result.err


def test_rollback_help_says_what_it_does_to_an_on_cluster_pool(tmp_path: Path, run_cli) -> None:
    # a user of apply --on-cluster learns from --help alone that rollback undoes it, and how
    result = run_cli(["rollback", "--help"], tmp_path)
    assert result.code == 0, result.err
    text = " ".join(result.out.split())
    assert "gets its MachineOSConfig deleted instead, if rhcos-layer made it, and its nodes go back to the base" in text
    assert "an on-cluster pool: its MachineOSConfig's previous spec, built again" in text

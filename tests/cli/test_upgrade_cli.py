"""The upgrade group as a new user meets it: --help, the exit codes, shell completion (issue 10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _complete(words: str) -> list:
    """What bash completion offers after ``words`` (click's protocol, as the printed script asks it)."""
    env = dict(os.environ, COMP_WORDS=words, COMP_CWORD=str(len(words.split(" ")) - 1),
               _RHCOS_LAYER_COMPLETE="bash_complete")
    done = subprocess.run([sys.executable, "-m", "rhcos_layer"], env=env, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line.startswith("plain,")]


def test_completion_offers_the_upgrade_group_its_commands_and_their_flags() -> None:
    assert "upgrade" in _complete("rhcos-layer up")
    assert _complete("rhcos-layer upgrade ") == ["apply", "plan"]
    flags = _complete("rhcos-layer upgrade apply --")
    assert {"--to", "--start-cluster-upgrade", "--allow-not-recommended", "--kubeconfig"} <= set(flags)
    assert {"--release", "--project", "--output"} <= set(_complete("rhcos-layer upgrade plan --"))


@pytest.mark.parametrize("command", ["plan", "apply"])
def test_upgrade_commands_take_the_flags_oc_and_podman_users_know(tmp_path: Path, run_cli, command: str) -> None:
    result = run_cli(["upgrade", command, "--help"], tmp_path)
    assert result.code == 0, result.err
    for flag in ("--kubeconfig FILE", "--context NAME", "--authfile FILE", "--tls-verify / --no-tls-verify",
                 "--cert-dir DIR", "-o, --output"):
        assert flag in result.out, flag


def test_the_upgrade_exit_codes_are_in_the_main_help(tmp_path: Path, run_cli) -> None:
    result = run_cli(["--help"], tmp_path)
    lines = [line.strip() for line in result.out.splitlines()]
    assert "20 upgrade plan: a layered pool is not ready" in lines
    assert "21 the cluster upgrade failed or stalled; pools stay paused" in lines

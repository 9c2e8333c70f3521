"""The command line as one piece: shared options declared once, completion complete (cheap help:
test_offline.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Dict, List

import click
import pytest

from rhcos_layer.cli import COMMANDS, cli


def _command(path: List[str]) -> click.Command:
    command: click.Command = cli
    ctx = click.Context(cli)
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(ctx, name)
        assert found is not None, path
        command = found
    return command


def _option(path: List[str], flag: str) -> Dict[str, object]:
    option = next(p for p in _command(path).params if flag in getattr(p, "opts", []))
    info = option.to_info_dict()
    info.pop("help", None)  # ignore-preflight-errors says what it means for each command
    return info


@pytest.mark.parametrize(("flag", "paths"), [
    ("--isolation", [["build"], ["upgrade", "plan"], ["upgrade", "apply"]]),
    ("--push-authfile", [["push"], ["upgrade", "plan"], ["upgrade", "apply"]]),
    ("--arch", [["upgrade", "plan"], ["upgrade", "apply"]]),
    ("--ignore-preflight-errors", [["apply"], ["rollback"], ["upgrade", "apply"]]),
])
def test_a_shared_option_is_the_same_on_every_command(flag: str, paths: List[List[str]]) -> None:
    first, *rest = [_option(p, flag) for p in paths]
    assert all(other == first for other in rest), (flag, [first, *rest])
    if flag != "--ignore-preflight-errors":
        helps = {next(p for p in _command(path).params if flag in getattr(p, "opts", [])).help for path in paths}
        assert len(helps) == 1, helps


def _complete(words: str, cword: int) -> List[str]:
    env = {**os.environ, "_RHCOS_LAYER_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    proc = subprocess.run([sys.executable, "-c", "from rhcos_layer.cli import main; main()"], env=env,
                          capture_output=True, text=True)
    return [line.partition(",")[2] for line in proc.stdout.splitlines()]


def test_completion_covers_the_upgrade_group() -> None:
    assert _complete("rhcos-layer ", 1) == list(COMMANDS)
    assert _complete("rhcos-layer upgrade ", 2) == ["apply", "plan"]
    assert "--start-cluster-upgrade" in _complete("rhcos-layer upgrade apply --", 3)
    assert "--release" in _complete("rhcos-layer upgrade plan --re", 3)

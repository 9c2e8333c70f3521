from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List

import pytest

from rhcos_layer.cli import main


@dataclass
class Outcome:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Outcome]:
    """Run ``rhcos-layer ARGS`` in-process through the real entry point (error printing included)."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)

    def run(args: List[str], cwd: Path) -> Outcome:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        with pytest.raises(SystemExit) as info:
            main(args)
        captured = capsys.readouterr()
        return Outcome(int(info.value.code or 0), captured.out, captured.err)

    return run

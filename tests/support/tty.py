"""Run rhcos-layer with stderr on a pseudo-terminal, as a person sees it (colour and live progress
are only drawn on a terminal, so a pipe cannot show whether they are turned off)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple


def run_with_tty_stderr(args: List[str], cwd: Path, env: Optional[Dict[str, Optional[str]]] = None,
                        timeout: float = 60) -> Tuple[int, str, str]:
    """(exit code, stdout, what the terminal received). os.environ with TERM=xterm-256color,
    COLUMNS=120 and NO_COLOR removed, then ``env`` (a None value removes a variable)."""
    environ = dict(os.environ, TERM="xterm-256color", COLUMNS="120")
    environ.pop("NO_COLOR", None)
    for key, value in (env or {}).items():
        if value is None:
            environ.pop(key, None)
        else:
            environ[key] = value
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "rhcos_layer", *args], cwd=cwd, env=environ,
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    screen = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                break
            try:
                data = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            screen += data
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        proc.wait(timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, out, screen.decode("utf-8", "replace")

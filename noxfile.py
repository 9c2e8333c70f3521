"""Developer tasks: `nox -s tests` (the whole suite), `nox -s compat` (Python 3.9),
`nox -s lint`, `nox -s bench`. scripts/install.sh prepares .venv, which `tests`, `lint` and
`bench` reuse as they are (no per-session install)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from typing import Optional

import nox

nox.options.sessions = ["tests", "compat", "lint"]
PYTHON = sys.executable  # .venv's python, set up by scripts/install.sh
# set by scripts/test (so in CI): nothing may be skipped there (tests/conftest.py turns skips into failures)
CI_FLAG = "RHCOS_LAYER_CI"


def _strict() -> bool:
    return os.environ.get(CI_FLAG, "") not in ("", "0")


@nox.session(venv_backend="none")
def tests(session: nox.Session) -> None:
    """The whole test suite: real podman and a real registry on 127.0.0.1."""
    session.run(PYTHON, "-m", "pytest", *(session.posargs or ["tests"]))


def _python39() -> Optional[str]:
    """A working Python 3.9: pyenv's install first (its shim may not be active), then PATH."""
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python3.9")))
    found = shutil.which("python3.9")
    for candidate in [*reversed(candidates), *([found] if found else [])]:
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True, check=False)
        if probe.returncode == 0 and probe.stdout.strip() == "(3, 9)":
            return candidate
    return None


@nox.session(venv_backend="none")
def compat(session: nox.Session) -> None:
    """Install and run the offline tests on Python 3.9 (RHEL 9's python3)."""
    python39 = _python39()
    if python39 is None:
        message = "no python3.9 on this machine: install it (scripts/install.sh tries) to check 3.9 support"
        if _strict():
            session.error(f"{message}; under {CI_FLAG}=1 the check must run, not be skipped")
        session.skip(message)
    venv = os.path.join(".nox", "compat-py39")
    if not os.path.exists(os.path.join(venv, "bin", "python")):
        session.run(python39, "-m", "venv", venv)
    py = os.path.join(venv, "bin", "python")
    session.run(py, "-m", "pip", "install", "-q", "-e", ".[test]")
    session.run(py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit", "tests/cli")


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    session.run(PYTHON, "-m", "ruff", "check", "rhcos_layer", "tests", "scripts", "benchmarks")
    session.run(PYTHON, "-m", "mypy")


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Side-by-side timings, printed as ratios (see benchmarks/bench.py); then what a watch's refresh
    costs in requests, bytes and CPU (see benchmarks/watch.py); then upgrade plan with unchanged inputs
    against cached builds (see benchmarks/upgrade.py)."""
    session.run(PYTHON, "benchmarks/bench.py", *session.posargs)
    session.run(PYTHON, "benchmarks/watch.py", *session.posargs)
    session.run(PYTHON, "benchmarks/upgrade.py", *session.posargs)

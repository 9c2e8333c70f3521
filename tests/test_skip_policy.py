"""CI must not count a skipped test as a pass: under RHCOS_LAYER_CI=1 (set by scripts/test) a skip fails,
and the Python 3.9 session fails instead of skipping. Each is run for real in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

ROOT = Path(__file__).resolve().parents[1]

TINY = '''
import pytest

def test_uses_the_registry(registry):
    pass

@pytest.mark.rig
def test_marked_rig():
    pytest.skip("busybox not installed")

def test_plain():
    pass
'''


def _pytest(folder: Path, ci: Optional[str]) -> subprocess.CompletedProcess[str]:
    # tests/conftest.py as a plugin, as for the real suite; PATH without podman & co: the rig skips
    env: Dict[str, str] = {k: v for k, v in os.environ.items() if k != "RHCOS_LAYER_CI"}
    env.update(PATH=str(folder / "empty-bin"), PYTHONPATH=str(ROOT), HOME=str(folder))
    if ci is not None:
        env["RHCOS_LAYER_CI"] = ci
    (folder / "empty-bin").mkdir(exist_ok=True)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
                           "-q", "-rfEs", str(folder / "test_tiny.py")], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def test_a_rig_skip_fails_under_the_ci_flag(tmp_path: Path) -> None:
    (tmp_path / "test_tiny.py").write_text(TINY)
    relaxed = _pytest(tmp_path, None)
    assert relaxed.returncode == 0, relaxed.stdout + relaxed.stderr
    assert "1 passed, 2 skipped" in relaxed.stdout
    strict = _pytest(tmp_path, "1")
    assert strict.returncode == 1, strict.stdout + strict.stderr
    # both skip while setting up (the rig check, the registry fixture): pytest calls that an error
    assert "1 passed, 2 errors" in strict.stdout
    assert len(re.findall(r"^ERROR test_tiny.py::test_(uses_the_registry|marked_rig) ", strict.stdout, re.M)) == 2
    # each with the rig's own reason kept
    assert len(re.findall(r"^skipped under RHCOS_LAYER_CI=1, where every test must run: .*not installed",
                          strict.stdout, re.M)) == 2
    zero = _pytest(tmp_path, "0")
    assert zero.returncode == 0 and "1 passed, 2 skipped" in zero.stdout


def test_a_module_that_skips_at_import_fails_under_the_ci_flag(tmp_path: Path) -> None:
    (tmp_path / "test_tiny.py").write_text("import pytest\n\npytest.importorskip('no_such_module_rhcos')\n\n"
                                           "def test_x():\n    pass\n")
    relaxed = _pytest(tmp_path, None)
    assert relaxed.returncode == 5 and "1 skipped" in relaxed.stdout  # 5: no test ran
    strict = _pytest(tmp_path, "1")
    assert strict.returncode == 2, strict.stdout  # 2: an error while collecting
    assert "skipped under RHCOS_LAYER_CI=1, where every test must run: could not import 'no_such_module_rhcos'" \
        in strict.stdout


def _nox_compat(home: Path, ci: Optional[str]) -> subprocess.CompletedProcess[str]:
    # no ~/.pyenv in HOME and no python3.9 on PATH: the session finds no Python 3.9
    env = {k: v for k, v in os.environ.items() if k != "RHCOS_LAYER_CI"}
    env.update(HOME=str(home), PATH=str(home / "bin"))
    (home / "bin").mkdir(exist_ok=True)
    if ci is not None:
        env["RHCOS_LAYER_CI"] = ci
    return subprocess.run([sys.executable, "-m", "nox", "-f", str(ROOT / "noxfile.py"), "-s", "compat"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_the_python39_session_fails_instead_of_skipping_under_the_ci_flag(tmp_path: Path) -> None:
    relaxed = _nox_compat(tmp_path, None)
    assert relaxed.returncode == 0, relaxed.stderr
    assert "Session compat skipped: no python3.9 on this machine" in relaxed.stderr
    strict = _nox_compat(tmp_path, "1")
    assert strict.returncode != 0, strict.stderr
    assert "Session compat aborted: no python3.9 on this machine" in strict.stderr
    assert "under RHCOS_LAYER_CI=1 the check must run, not be skipped" in strict.stderr


def test_no_test_skips_on_a_missing_hard_dependency() -> None:
    """importorskip on what pyproject.toml requires (the package's dependencies, the test extra) would
    turn a broken install into skipped tests: those are imported, and fail, instead."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    block = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    test_extra = re.search(r"^test = \[(.*)\]$", pyproject, re.M)
    assert test_extra is not None
    names = {re.split(r"[<>=!~ ;\[]", item.strip().strip('"'))[0].lower()
             for item in (block + "," + test_extra.group(1)).split(",") if item.strip()}
    assert {"kubernetes", "podman", "jsonschema", "pyyaml", "hypothesis"} <= names
    modules = names | {"yaml"}
    offenders = []
    for path in (ROOT / "tests").rglob("*.py"):
        for module in re.findall(r"importorskip\(\s*[\"']([\w.]+)", path.read_text()):
            if module.split(".")[0].lower() in modules:
                offenders.append(f"{path.relative_to(ROOT)}: {module}")
    assert offenders == []

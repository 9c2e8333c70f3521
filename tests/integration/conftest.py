from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def last_line(self) -> str:
        lines = self.out.strip().splitlines()
        return lines[-1] if lines else ""


@pytest.fixture
def rhcos_layer() -> Callable[..., Outcome]:
    """Run the installed command in a subprocess, as a user would, with os.environ as set by
    the fixtures (tool_env) plus ``env`` overrides; ``None`` values remove a variable."""

    def run(args: List[str], cwd: Path, env: Optional[Dict[str, Optional[str]]] = None,
            timeout: float = 300) -> Outcome:
        environ = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = value
        proc = subprocess.run([sys.executable, "-m", "rhcos_layer", *args], cwd=cwd, env=environ,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        return Outcome(proc.returncode, proc.stdout, proc.stderr)

    return run


def processes_mentioning(path: Path) -> List[bytes]:
    """Command lines of running processes that name ``path`` (to prove nothing was left running)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(path).encode() in cmdline:
                found.append(cmdline)
    return found


def write_project(folder: Path, base: str, body: str, image: Optional[str] = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Containerfile").write_text(f"FROM {base}\n{body}")
    if image:
        (folder / "rhcos-layer.yaml").write_text(f"image: {image}\n")
    return folder


@pytest.fixture
def logged_in(kube_api, kubeconfig, tool_env, monkeypatch):
    """The emulated cluster, logged in through KUBECONFIG, its watches refreshed every 0.05 s. Test
    modules that need another login (a kubeconfig path, no watch interval) define their own."""
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    return kube_api


def seed_on_fake_base(api, registry, fake_base, version: str, feature_set: str = ""):
    """An OpenShift *version* cluster (two workers) on the rig's fake base, its pull secret holding the
    rig registry's credentials."""
    from tests.support.kube import seed_openshift

    return seed_openshift(api, version=version, feature_set=feature_set, base_image=fake_base.pullspec,
                          pull_secret=registry.auth_config(), workers=2)

"""The `oc` command: the documented way to read a release, for users who want exactly that.

Only this module runs `oc`. Credentials reach it as a file path (``--registry-config``), never
on the command line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import RhcosLayerError, ToolMissing


class OcMissing(ToolMissing):
    """`oc` is not installed (``resolve --via oc``)."""


def _run(args: List[str]) -> str:
    oc = shutil.which("oc")
    if oc is None:
        raise OcMissing("--via oc: the oc command is not installed",
                        hint="install the OpenShift CLI (oc), or drop --via oc to read the release natively")
    proc = subprocess.run([oc, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        shown = "\n".join("    " + line for line in proc.stderr.strip().splitlines())
        raise RhcosLayerError(f"oc {args[0]} {args[1]} {args[2]} failed (exit {proc.returncode})",
                              detail=f"$ oc {' '.join(args)}\n{shown}")
    return proc.stdout


@dataclass(frozen=True)
class Login:
    """Which cluster oc talks to when no release is named (oc's own --kubeconfig / --context), and
    whether it may skip TLS verification for registries (``--tls-verify=false``)."""

    kubeconfig: Optional[str] = None
    context: Optional[str] = None
    insecure: bool = False

    def args(self) -> List[str]:
        out = []
        if self.kubeconfig:
            out += ["--kubeconfig", self.kubeconfig]
        if self.context:
            out += ["--context", self.context]
        if self.insecure:
            # oc's registry client (openshift/oc pkg/cli/image/imagesource/options.go,
            # SecurityOptions) takes --insecure for both an unverified certificate and plain HTTP,
            # as podman's --tls-verify=false does
            out.append("--insecure=true")
        return out


def release_info(release: Optional[str], registry_config: Optional[Path], login: Login = Login()
                 ) -> Dict[str, Any]:
    """`oc adm release info -o json` (the cluster's current release when ``release`` is None)."""
    args = ["adm", "release", "info", "-o", "json", *login.args()]
    if registry_config is not None:
        args += ["--registry-config", str(registry_config)]
    if release:
        args.append(release)
    try:
        data = json.loads(_run(args))
    except ValueError:
        raise RhcosLayerError("oc adm release info -o json printed no JSON") from None
    return data if isinstance(data, dict) else {}


def image_for(tag: str, release: Optional[str], registry_config: Optional[Path], login: Login = Login()) -> str:
    """`oc adm release info --image-for TAG`: the documented command, exact tag match."""
    args = ["adm", "release", "info", "--image-for", tag, *login.args()]
    if registry_config is not None:
        args += ["--registry-config", str(registry_config)]
    if release:
        args.append(release)
    return _run(args).strip()

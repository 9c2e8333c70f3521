"""The end-to-end demo: a local stand-in for a real setup, then the commands a user runs.

It starts a registry on 127.0.0.1 (TLS with its own CA, password auth) holding a small fake
RHCOS base image (the test rig in tests/support builds both offline), then runs `rhcos-layer
init`, `lint`, `build` and `push` as a user would,
with a private Podman store so nothing of yours is touched. Everything is removed at the end.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fakebase import build_fake_base  # noqa: E402
from tests.support.payload import push_release_payload  # noqa: E402
from tests.support.podman import PodmanStore  # noqa: E402
from tests.support.registry import Registry  # noqa: E402

TOOL = [sys.executable, "-m", "rhcos_layer"]


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run(args: list, env: dict, cwd: Path) -> str:
    shown = " ".join(shlex.quote(str(a)) for a in ["rhcos-layer", *args])
    print(f"$ {shown}", flush=True)
    proc = subprocess.run([*TOOL, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, text=True, check=False)
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        raise SystemExit(f"demo failed: rhcos-layer exited with {proc.returncode}")
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="rhcos-layer-demo-"))
    registry = Registry(work / "registry")
    base_store = PodmanStore(work / "base-store")
    user_store = PodmanStore(work / "user-store")
    try:
        say("Starting a local registry (TLS, password) with a fake RHCOS base image")
        registry.start()
        base = build_fake_base(base_store, registry)
        payload = push_release_payload(registry, "4.16.3", os_pullspecs={"rhel-coreos": base.pullspec})
        print(f"registry: {registry.host}\nrelease image (synthetic 4.16.3 payload): {payload.pullspec_tag}")

        project = work / "project"
        certs = ["--cert-dir", str(registry.cert_dir)]
        authfile = registry.write_authfile(work / "auth" / "auth.json")
        env = {k: v for k, v in os.environ.items() if k not in ("CONTAINER_HOST", "CONTAINER_CONNECTION")}
        env.update(user_store.isolated_env)
        env["REGISTRY_AUTH_FILE"] = str(authfile)

        say("Resolve: the release's RHCOS image, read from its payload (only the last layer is fetched)")
        run(["resolve", "--release", payload.pullspec_tag, *certs], env, work)
        say("Init: a project from the config-files template, its base read from the release")
        run(["init", "--template", "config-files", "--release", payload.pullspec_tag, *certs,
             "--image", f"{registry.host}/demo/rhcos-layered", str(project)], env, work)
        print((project / "rhcos-layer.yaml").read_text())
        say("Lint: RHCOS-aware checks of the Containerfile")
        run(["lint"], env, project)
        say("Build (no Podman service running: rhcos-layer starts a private one and stops it after)")
        image_id = run(["build", *certs], env, project)
        say("Build again: the inputs are unchanged, so the build is skipped")
        run(["build", *certs], env, project)
        say("Push: the digest printed is the one the registry serves")
        pullspec = run(["push", *certs], env, project)

        say("Done")
        print(f"image ID: {image_id}")
        print(f"digest-pinned pullspec: {pullspec}")
        return 0
    finally:
        user_store.cleanup()
        base_store.cleanup()
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

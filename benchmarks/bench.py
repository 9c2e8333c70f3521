"""rhcos-layer's overhead, measured side by side with what it wraps, printed as ratios.

- start-up: `rhcos-layer --help` against `python -c "import click"` (target <= 1.6x);
- build: `rhcos-layer build` against `podman build` of the same Containerfile with a cold build
  cache (a new RUN line each round), the base already local (target: <= 0.35 s added);
- no-op rebuild: `rhcos-layer build` with unchanged inputs against a fully cached
  `podman build` (target <= 0.5x);
- no-op push: `rhcos-layer push` of an image the registry already holds against `skopeo copy`
  of the same image from the same store to the same place (target <= 1.5x).

Runs on the test rig (tests/support): a local registry, the fake RHCOS base, private stores.
Each pair runs interleaved, ROUNDS times after one unmeasured warm-up round (the first run
of each side pays for cold page caches); the medians are compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.fakebase import build_fake_base  # noqa: E402
from tests.support.podman import PodmanStore  # noqa: E402
from tests.support.registry import Registry  # noqa: E402

BIN = Path(sys.executable).parent
TOOL = str(BIN / "rhcos-layer") if (BIN / "rhcos-layer").exists() else None


def timed(command: List[str], env: Dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(command)}\n{proc.stderr}")
    return elapsed


def pair(rounds: int, first: Callable[[int], float], second: Callable[[int], float]) -> tuple[float, float]:
    first(-1)  # warm-up, not measured
    second(-1)
    a, b = [], []
    for i in range(rounds):
        a.append(first(i))
        b.append(second(i))
    return statistics.median(a), statistics.median(b)


def report(name: str, ours: float, theirs: float, target: str, ok: bool) -> None:
    print(f"{name:<44} rhcos-layer {ours * 1000:7.1f} ms   reference {theirs * 1000:7.1f} ms   "
          f"ratio {ours / theirs:5.2f}x   added {1000 * (ours - theirs):+7.1f} ms   "
          f"target {target}: {'met' if ok else 'NOT met'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", choices=["help", "build", "push"], action="append",
                        help="run only these measurements (repeatable; default: all)")
    args = parser.parse_args()
    only = set(args.only or ["help", "build", "push"])
    tool = [TOOL] if TOOL else [sys.executable, "-m", "rhcos_layer"]
    base_env = {k: v for k, v in os.environ.items() if k not in ("CONTAINER_HOST", "CONTAINER_CONNECTION")}
    base_env["NO_COLOR"] = "1"
    # measure the tool as installed, with its byte-code written (the warm-up rounds write it)
    base_env.pop("PYTHONDONTWRITEBYTECODE", None)

    # 1. start-up
    if "help" in only:
        help_ours, help_click = pair(
            args.rounds * 3,
            lambda i: timed([*tool, "--help"], base_env, ROOT),
            lambda i: timed([sys.executable, "-c", "import click"], base_env, ROOT),
        )
        report("`--help` vs `python -c 'import click'`", help_ours, help_click, "<= 1.6x",
               help_ours / help_click <= 1.6)
    if not only & {"build", "push"}:
        return 0

    work = Path(tempfile.mkdtemp(prefix="rhcos-layer-bench-"))
    registry = Registry(work / "registry")
    stores = [PodmanStore(work / name) for name in ("base", "raw", "tool")]
    base_store, raw_store, tool_store = stores
    try:
        registry.start()
        base = build_fake_base(base_store, registry)
        auth = registry.write_authfile(work / "auth.json")
        raw_env = dict(base_env, **raw_store.isolated_env)
        tool_env = dict(base_env, **tool_store.isolated_env, REGISTRY_AUTH_FILE=str(auth))
        for store, _env in ((raw_store, raw_env), (tool_store, tool_env)):
            store.podman("pull", "--quiet", "--cert-dir", str(registry.cert_dir), "--authfile", str(auth),
                         base.pullspec)
        tool_store.trust_registry(registry)  # the service and the tool trust its CA, as after set-up
        url = tool_store.start_service()
        service_env = dict(tool_env, CONTAINER_HOST=url)

        project = work / "project"
        project.mkdir()
        (project / "extra.conf").write_text("server time.example.com iburst\n")

        def containerfile(nonce: str) -> None:
            (project / "Containerfile").write_text(
                f"FROM {base.pullspec}\nCOPY extra.conf /etc/chrony.d/extra.conf\n"
                f"RUN echo {nonce} > /etc/nonce && rpm-ostree install usbguard && ostree container commit\n"
            )

        raw_build = ["podman", "build", "--isolation", "chroot", "-t", "localhost/bench:raw", "."]

        # 2. cold build: a new RUN line each round
        def ours_cold(i: int) -> float:
            containerfile(f"ours-{i}-{time.time_ns()}")
            return timed([*tool, "build"], service_env, project)

        def raw_cold(i: int) -> float:
            containerfile(f"raw-{i}-{time.time_ns()}")
            return timed(raw_build, raw_env, project)

        if "build" in only:
            cold_ours, cold_raw = pair(args.rounds, ours_cold, raw_cold)
            report("build, cold cache, running service", cold_ours, cold_raw, "<= +350 ms",
                   cold_ours - cold_raw <= 0.35)

            def ours_private(i: int) -> float:
                containerfile(f"private-{i}-{time.time_ns()}")
                return timed([*tool, "build"], tool_env, project)

            private_ours, private_raw = pair(args.rounds, ours_private, raw_cold)
            report("build, cold cache, private service", private_ours, private_raw, "<= +350 ms",
                   private_ours - private_raw <= 0.35)

        # 3. unchanged inputs: our no-op against podman's fully cached build
        containerfile("cached")
        timed([*tool, "build"], service_env, project)
        if "build" in only:
            timed(raw_build, raw_env, project)
            noop_ours, cached_raw = pair(
                args.rounds,
                lambda i: timed([*tool, "build"], service_env, project),
                lambda i: timed(raw_build, raw_env, project),
            )
            report("no-op rebuild vs cached `podman build`", noop_ours, cached_raw, "<= 0.5x",
                   noop_ours / cached_raw <= 0.5)

        # 4. no-op push: the registry already holds the image; skopeo copies the same image from
        # the same store to the same tag (it, too, finds every blob there and rewrites the tag)
        if "push" in only:
            destination = f"{registry.host}/bench/layered"
            (project / "rhcos-layer.yaml").write_text(f"image: {destination}\n")
            timed([*tool, "push"], service_env, project)
            state = json.loads((project / ".rhcos-layer.state.json").read_text())
            image_id, target = state["push"]["image_id"], state["push"]["destination"]
            store_ref = f"containers-storage:[overlay@{tool_store.graphroot}+{tool_store.runroot}]{image_id}"
            skopeo = ["skopeo", "copy", "--quiet", "--authfile", str(auth), "--dest-cert-dir",
                      str(registry.cert_dir), store_ref, f"docker://{target}"]
            push_ours, push_skopeo = pair(
                args.rounds,
                lambda i: timed([*tool, "push"], service_env, project),
                lambda i: timed(skopeo, tool_env, project),
            )
            report("no-op push vs `skopeo copy`", push_ours, push_skopeo, "<= 1.5x", push_ours / push_skopeo <= 1.5)
    finally:
        teardown(stores, registry, work)
    return 0


def teardown(stores: List[PodmanStore], registry: Registry, work: Path) -> None:
    """Remove what a benchmark set up: its stores (unmounted first), its registry, its folder."""
    import shutil

    for store in stores:
        store.cleanup()
    registry.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

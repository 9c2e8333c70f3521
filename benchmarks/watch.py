"""What one refresh of a watch costs: API requests, bytes and the tool's CPU time, on a 2,000-node pool.

The clusters weigh what real ones do (tests/support/bulk.py): nodes carry ~8 KB of metadata, and 100 old
rendered MachineConfigs of ~500 KB each lie around (the live ones as heavy). Bytes are the response
bodies the emulator sent (KubeCall.sent; a watch: every chunk), i.e. what the tool had to read.
Targets: a quiet refresh moves at most 64 KB; a whole rollout of the 2,000-node pool (maxUnavailable
200, the MCO stepping each node through drain and reboot) at most 20 MB to the watching tool.

- `status --watch --pool worker`: requests per refresh and CPU per refresh, on a 2,000-node and on a
  20-node worker pool (target: O(1) requests, i.e. the same requests per refresh on both);
- `apply --wait`'s rollout watch (--skip-apply leaves it out; it needs podman and the registry rig):
  the same figures, same target; then the bytes of a whole rollout of the 2,000-node pool with
  maxUnavailable 200 (10%), the simulated MCO stepping each node (one run).

Runs on the test rig (tests/support): the emulated OpenShift API (tests/support/kube.py) in this
process's threads, and for apply a local registry holding a layered image built and pushed with
rhcos-layer on the fake RHCOS base, and the simulated MCO (tests/support/mco.py).

Method. The tool runs as a subprocess (`python -m rhcos_layer ...`, RHCOS_LAYER_WATCH_INTERVAL=0.02).
A refresh is counted from the emulator's request log (status: one GET of the pool list; apply: one GET
of the pool), never assumed. Requests per refresh are the API requests logged during the watch divided
by the refreshes (apply: the requests after the MachineConfig's write), less the one-offs, shown apart:
the read of each new rendered config, and for a pool of up to 100 nodes the node list and the watch that
streams the nodes' changes (its bytes are every event it carried). Bytes per quiet refresh are those of
the largest refresh, one-offs left out, that read no new rendered config. The CPU time is the child's
user+sys from os.wait4() (it includes what the child reaps, never the emulator's threads, which run here):

- status: the pool is made "updating" (spec.configuration.name points at a new rendered config); after
  --refreshes pool-list GETs a thread settles it and the watch exits. A plain `status --pool worker`
  (start-up and one refresh) is the baseline: CPU/refresh = (watch - plain) / (refreshes - 1);
- apply: a fresh cluster per run. After --refreshes pool GETs with the MCO held back, the simulated
  MCO starts (instant rollout) and the watch ends when the pool is done. `apply --no-wait` on another
  fresh cluster (start-up, preflight, the write) is the baseline: CPU/refresh = (wait - no-wait) /
  refreshes (the display's start and the rendered-config reads are counted in, so this errs high).

Each measurement runs --rounds times, interleaved with its baseline; the medians are reported, and the
CPU/refresh comes from the median watch run less the median baseline run. A run's start-up (mostly
importing the Kubernetes client) costs far more CPU than a refresh and varies from run to run, hence
the many refreshes per run (--refreshes, default 150): the noise is divided by them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support import bulk  # noqa: E402
from tests.support.kube import KubeAPI, seed_openshift, trust_registry_ca  # noqa: E402

MCO_API = "/apis/machineconfiguration.openshift.io/v1"
POOLS = f"{MCO_API}/machineconfigpools"
TOOL = [sys.executable, "-m", "rhcos_layer"]
SIZES = (20, 2000)
LOOPBACK_OK = ["--ignore-preflight-errors", "LoopbackRegistry"]
KB, MB = 1024, 1024 * 1024
QUIET_BUDGET, ROLLOUT_BUDGET = 64 * KB, 20 * MB


def make_heavy(api: KubeAPI, rendered: List[str]) -> None:
    """Real weight: ~8 KB of metadata per node, 100 old rendered configs of ~500 KB, live ones as heavy."""
    bulk.fatten_nodes(api)
    bulk.pile_up_rendered(api, "worker", 100, 500 * KB)
    for name in rendered:
        bulk.fatten_rendered(api, name, 500 * KB)


def api_bytes(api: KubeAPI) -> int:
    return sum(c.sent for c in api.calls if c.path.startswith(("/api/", "/apis/")))


class Run(NamedTuple):
    cpu: float  # the child's user + sys seconds
    out: str


def run_tool(args: List[str], env: Dict[str, str], cwd: Path, timeout: float = 300) -> Run:
    """Run rhcos-layer; its CPU time from wait4 (only this child and what it reaped)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([*TOOL, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        deadline = time.monotonic() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): rhcos-layer {' '.join(args)}\n{errors}")
    return Run(usage.ru_utime + usage.ru_stime, text)


def api_requests(api: KubeAPI) -> List[Tuple[str, str]]:
    return [(r.method, r.path) for r in api.requests if r.path.startswith(("/api/", "/apis/"))]


def after(api: KubeAPI, method: str, path: str, count: int, then: Callable[[], None], timeout: float = 120) -> None:
    """Once ``count`` requests ``method path`` are logged, call ``then`` (in this thread)."""
    deadline = time.monotonic() + timeout
    while api.count(method, path) < count:
        if time.monotonic() > deadline:
            return
        time.sleep(0.002)
    then()


class Figures(NamedTuple):
    requests: float  # per refresh
    cpu: float  # seconds per refresh
    refreshes: float
    baseline: float  # seconds: the run without the watch
    one_off: float = 0  # requests outside the refreshes: rendered-config reads; a small pool's node list and watch
    quiet_bytes: float = 0  # the largest refresh while nothing moved
    one_off_bytes: float = 0  # their bytes (a watch: every event it carried)


def figures(per_refresh: List[float], watch_cpu: List[float], base_cpu: List[float], counted: List[int],
            extra_refreshes: int, one_offs: Optional[List[int]] = None, quiet: Optional[List[int]] = None,
            one_off_bytes: Optional[List[int]] = None) -> Figures:
    """Medians; CPU/refresh is the difference of the medians over the refreshes the baseline lacks."""
    refreshes = statistics.median(counted)
    base = statistics.median(base_cpu)
    return Figures(statistics.median(per_refresh), (statistics.median(watch_cpu) - base) / extra_refreshes,
                   refreshes, base, statistics.median(one_offs) if one_offs else 0,
                   statistics.median(quiet) if quiet else 0, statistics.median(one_off_bytes) if one_off_bytes else 0)


def one_off(call: Any) -> bool:
    """Outside the refreshes: a rendered config's read (once per config), the MachineOSConfigs (once per
    command), and a small pool's node list and the watch that then streams its nodes' changes (a watch's
    bytes are all its events)."""
    return call.path.startswith((f"{MCO_API}/machineconfigs/", "/api/v1/nodes")) or call.path.endswith(
        "/machineosconfigs")


def refresh_bytes(calls: List, marker: str) -> Tuple[int, int]:
    """(largest refresh without one-offs, one-offs) in bytes; a refresh starts at each GET of ``marker``."""
    starts = [i for i, c in enumerate(calls) if c.method == "GET" and c.path == marker]
    largest = 0
    for a, b in zip(starts, starts[1:] + [len(calls)]):
        chunk = calls[a:b]
        if any(c.path.startswith(f"{MCO_API}/machineconfigs/") for c in chunk):
            continue  # the refresh that read a new rendered config
        largest = max(largest, sum(c.sent for c in chunk if not one_off(c)))
    return largest, sum(c.sent for c in calls if one_off(c))


# --------------------------------------------------------------------------- status --watch
def status_watch(workers: int, rounds: int, refreshes: int, env: Dict[str, str], work: Path) -> Figures:
    api = KubeAPI().start()
    try:
        seed = seed_openshift(api, workers=workers)
        make_heavy(api, [seed.rendered["worker"]])
        run_env = dict(env, KUBECONFIG=str(api.write_kubeconfig(work / f"kubeconfig-{workers}")))
        rendered = api.store.get("machineconfigs", seed.rendered["worker"])
        quiet: List[int] = []
        one_off_bytes: List[int] = []
        per_refresh: List[float] = []
        watch_cpu: List[float] = []
        plain_cpu: List[float] = []
        counted: List[int] = []
        for i in range(rounds):
            target = f"rendered-worker-{i:032d}"
            api.store.put(dict(rendered, metadata={"name": target}))
            api.store.patch("machineconfigpools", "worker", {"spec": {"configuration": {"name": target}},
                                                              "status": {"updatedMachineCount": 0}})
            api.reset_requests()

            def settle(target: str = target) -> None:
                api.store.patch("machineconfigpools", "worker", {"status": {
                    "configuration": {"name": target}, "updatedMachineCount": workers}})

            finisher = threading.Thread(target=after, args=(api, "GET", POOLS, refreshes, settle))
            finisher.start()
            watch = run_tool(["status", "--watch", "--pool", "worker"], run_env, work)
            finisher.join()
            done = api.count("GET", POOLS)
            if f"{workers}/{workers} updated" not in watch.out or done < 2:
                raise SystemExit(f"status --watch did not follow the update to its end:\n{watch.out}")
            calls = [c for c in api.calls if c.path.startswith(("/api/", "/apis/"))]
            once = sum(1 for c in calls if one_off(c))
            per_refresh.append((len(calls) - once) / done)
            largest, rendered_bytes = refresh_bytes(calls, POOLS)
            quiet.append(largest)
            one_off_bytes.append(rendered_bytes)

            api.reset_requests()
            plain = run_tool(["status", "--pool", "worker"], run_env, work)
            if api.count("GET", POOLS) != 1:
                raise SystemExit(f"plain status refreshed {api.count('GET', POOLS)} times")
            watch_cpu.append(watch.cpu)
            plain_cpu.append(plain.cpu)
            counted.append(done)
        api.check()
    finally:
        api.stop()
    if len(set(counted)) > 1:  # the settling write may land before or after a refresh's pool GET
        print(f"  (status --watch, {workers:,} nodes: refreshes per run {sorted(counted)})", file=sys.stderr)
    return figures(per_refresh, watch_cpu, plain_cpu, counted, round(statistics.median(counted)) - 1,
                   quiet=quiet, one_off_bytes=one_off_bytes)


# --------------------------------------------------------------------------- apply --wait
class Rig:
    """The registry, a podman service, and a layered image pushed by rhcos-layer (as tests/integration)."""

    def __init__(self, work: Path, env: Dict[str, str]) -> None:
        from tests.support.podman import PodmanStore
        from tests.support.registry import Registry

        self.registry = Registry(work / "registry")
        self.stores = [PodmanStore(work / "base"), PodmanStore(work / "service")]
        self.work, self.env = work, env

    def start(self) -> None:
        from tests.support.fakebase import build_fake_base

        work, env = self.work, self.env
        base_store, service = self.stores
        self.registry.start()
        self.base = build_fake_base(base_store, self.registry)
        service.trust_registry(self.registry)
        url = service.start_service()
        home = work / "home"
        self.registry.write_certs_d(home / ".config" / "containers" / "certs.d")
        auth = self.registry.write_authfile(work / "auth.json")
        self.env = dict(env, **service.env, CONTAINER_HOST=url, REGISTRY_AUTH_FILE=str(auth), HOME=str(home),
                        XDG_CONFIG_HOME=str(home / ".config"))
        self.project = work / "project"
        self.project.mkdir()
        (self.project / "Containerfile").write_text(
            f"FROM {self.base.pullspec}\nRUN rpm-ostree install usbguard && ostree container commit\n")
        (self.project / "rhcos-layer.yaml").write_text(f"image: {self.registry.host}/ops/layered\n")
        run_tool(["build"], self.env, self.project)
        self.image = run_tool(["push"], self.env, self.project).out.strip().splitlines()[-1]
        self.pull_secret = self.registry.auth_config()

    def cluster(self, workers: int, work: Path) -> Tuple[KubeAPI, Dict[str, str]]:
        api = KubeAPI().start()
        seed = seed_openshift(api, workers=workers, base_image=self.base.pullspec, pull_secret=self.pull_secret)
        trust_registry_ca(api, self.registry.host, self.registry.ca_path.read_bytes())
        make_heavy(api, [seed.rendered["worker"]])
        return api, dict(self.env, KUBECONFIG=str(api.write_kubeconfig(work / f"kubeconfig-apply-{workers}")))

    def close(self) -> None:
        for store in self.stores:
            store.cleanup()
        self.registry.stop()


def apply_wait(rig: Rig, workers: int, rounds: int, refreshes: int, work: Path) -> Figures:
    from tests.support.mco import SimulatedMCO

    pool = f"{POOLS}/worker"
    args = ["apply", "--pool", "worker", "--image", rig.image, "-o", "json", *LOOPBACK_OK]
    per_refresh: List[float] = []
    one_offs: List[int] = []
    quiet: List[int] = []
    one_off_bytes: List[int] = []
    wait_cpu: List[float] = []
    once_cpu: List[float] = []
    counted: List[int] = []
    for _ in range(rounds):
        api, env = rig.cluster(workers, work)
        sim = SimulatedMCO(api, step_delay=0.02)
        sim.set_instant("worker")
        try:
            api.reset_requests()
            starter = threading.Thread(target=after, args=(api, "GET", pool, refreshes, sim.start))
            starter.start()
            wait = run_tool([*args, "--wait"], env, rig.project)
            starter.join()
        finally:
            sim.stop()
        sim.check()
        log = api_requests(api)
        writes = [i for i, (method, path) in enumerate(log)
                  if method in ("POST", "PUT", "PATCH") and path.startswith(f"{MCO_API}/machineconfigs")]
        watched = log[writes[-1] + 1:]
        once = sum(1 for m, p in watched if p.startswith((f"{MCO_API}/machineconfigs/", "/api/v1/nodes"))
                   or p.endswith("/machineosconfigs"))
        done = api.count("GET", pool)
        if json.loads(wait.out)[0]["updated"] != workers or done < refreshes:
            raise SystemExit(f"apply --wait did not follow the rollout to its end:\n{wait.out}")
        api.check()
        calls = [c for c in api.calls if c.path.startswith(("/api/", "/apis/"))]
        largest, rendered_bytes = refresh_bytes(calls[writes[-1] + 1:], pool)
        api.stop()
        quiet.append(largest)
        one_off_bytes.append(rendered_bytes)
        per_refresh.append((len(watched) - once) / done)
        one_offs.append(once)
        counted.append(done)

        api, env = rig.cluster(workers, work)
        try:
            once = run_tool([*args, "--no-wait"], env, rig.project)
            if api.count("GET", pool) != 0:
                raise SystemExit("apply --no-wait refreshed the pool")
        finally:
            api.stop()
        wait_cpu.append(wait.cpu)
        once_cpu.append(once.cpu)
    return figures(per_refresh, wait_cpu, once_cpu, counted, round(statistics.median(counted)), one_offs,
                   quiet=quiet, one_off_bytes=one_off_bytes)


def rollout_bytes(rig: Rig, workers: int, work: Path) -> Tuple[int, int, int]:
    """A whole rollout of a heavy 2,000-node pool with maxUnavailable 10% (200), the simulated MCO
    stepping every node through cordon, drain, reboot: (bytes to the watching tool after the write,
    requests, refreshes)."""
    from tests.support.mco import SimulatedMCO

    api, env = rig.cluster(workers, work)
    api.store.patch("machineconfigpools", "worker", {"spec": {"maxUnavailable": "10%"}})
    sim = SimulatedMCO(api, step_delay=0.02)
    try:
        sim.start()
        api.reset_requests()
        result = run_tool(["apply", "--pool", "worker", "--image", rig.image, "-o", "json", "--wait",
                           *LOOPBACK_OK], env, rig.project, timeout=1800)
    finally:
        sim.stop()
    sim.check()
    if json.loads(result.out)[0]["updated"] != workers:
        raise SystemExit(f"apply --wait did not follow the rollout to its end:\n{result.out}")
    calls = [c for c in api.calls if c.path.startswith(("/api/", "/apis/"))]
    api.check()
    api.stop()
    write = max(i for i, c in enumerate(calls) if c.method in ("POST", "PUT", "PATCH")
                and c.path.startswith(f"{MCO_API}/machineconfigs"))
    watched = calls[write + 1:]
    return sum(c.sent for c in watched), len(watched), sum(1 for c in watched if c.path == f"{POOLS}/worker")


# --------------------------------------------------------------------------- report
def report(name: str, by_size: Dict[int, Figures]) -> None:
    small, large = by_size[SIZES[0]], by_size[SIZES[-1]]
    for workers, f in by_size.items():
        extra = f" (+{f.one_off:g} one-off)" if f.one_off else ""
        line = (f"{name}, {workers:,}-node pool:".ljust(44)
                + f"{f.requests:4.1f} requests/refresh{extra:<14} {f.quiet_bytes / KB:6.1f} KB/quiet refresh"
                + f" (+{f.one_off_bytes / KB:,.0f} KB one-off; target <= {QUIET_BUDGET // KB} KB:"
                + f" {'met' if f.quiet_bytes <= QUIET_BUDGET else 'NOT met'})"
                + f"   {f.cpu * 1000:6.1f} ms CPU/refresh"
                + f"   ({f.refreshes:g} refreshes; baseline run {f.baseline * 1000:.0f} ms CPU)")
        if f is large:
            ok = round(large.requests, 1) == round(small.requests, 1)  # medians of ratios: to one decimal
            line += f"   target O(1) requests (same as {SIZES[0]:,} nodes): {'met' if ok else 'NOT met'}"
        print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--refreshes", type=int, default=150, help="refreshes per watch before it may end")
    parser.add_argument("--skip-apply", action="store_true", help="only `status --watch` (no podman needed)")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTAINER_", "DOCKER_"))}
    env.update(NO_COLOR="1", RHCOS_LAYER_WATCH_INTERVAL="0.02")
    env.pop("KUBECONFIG", None)
    work = Path(tempfile.mkdtemp(prefix="rhcos-layer-watch-bench-"))
    rig: Optional[Rig] = None
    try:
        report("status --watch", {n: status_watch(n, args.rounds, args.refreshes, env, work) for n in SIZES})
        if not args.skip_apply:
            rig = Rig(work, env)
            rig.start()
            report("apply --wait", {n: apply_wait(rig, n, args.rounds, args.refreshes, work) for n in SIZES})
            sent, requests, refreshes = rollout_bytes(rig, SIZES[-1], work)
            print(f"apply --wait, whole rollout of {SIZES[-1]:,} nodes (maxUnavailable 200):".ljust(44)
                  + f"{sent / MB:5.2f} MB in {requests} requests ({refreshes} refreshes);"
                  + f" target <= {ROLLOUT_BUDGET // MB} MB: {'met' if sent <= ROLLOUT_BUDGET else 'NOT met'}",
                  flush=True)
    finally:
        if rig is not None:
            rig.close()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The end-to-end demo: a local stand-in for a real setup, then the commands a user runs.

It starts a registry on 127.0.0.1 (TLS with its own CA, password auth) holding a small fake
RHCOS base image and a synthetic 4.19.2 release payload (the test rig in tests/support builds
them offline), then runs `rhcos-layer resolve`, `init --release`, `lint`, `build` (twice: the
second is skipped) and `push` as a user would, with a private Podman store so nothing of yours
is touched.

It then rolls the pushed image out on an emulated OpenShift cluster: an emulated API server on
127.0.0.1 (4.19.2 on the fake base, its global pull secret holding the registry's credentials,
3 master and 3 worker nodes, offered an update to a synthetic 4.19.5 with its own base) with a
simulated Machine Config Operator that cordons, drains and reboots each node in a few tenths of a
second, and a simulated Cluster Version Operator. It runs `status`, `apply --wait` (the project's
last push; the rollout's progress is printed node by node), `status`, then `upgrade plan --to
4.19.5` (the project rebuilt on 4.19.5's base and pushed) and `upgrade apply --to 4.19.5
--start-cluster-upgrade --wait` (the worker pool paused, the cluster upgraded, then the new image
rolled out: one reboot per worker node, counted), `status`, `rollback --wait` and `status` against
the worker pool. Then the same project is built by the cluster itself: `apply --on-cluster --wait`
writes a MachineOSConfig, follows the build (the simulated MCO's builder really runs Podman and
pushes with the push Secret) and the rollout, and `status` shows it. Everything is stopped and
removed at the end.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.cvo import SimulatedCVO, seed_release, seed_updates  # noqa: E402
from tests.support.kube import KubeAPI, trust_registry_ca  # noqa: E402
from tests.support.mco import SimulatedMCO  # noqa: E402
from tests.support.payload import build_upgrade_releases  # noqa: E402
from tests.support.podman import PodmanStore  # noqa: E402
from tests.support.registry import Registry  # noqa: E402

TOOL = [sys.executable, "-m", "rhcos_layer"]
RELEASE = "4.19.2"  # on-cluster layering (MachineOSConfig v1) is GA from 4.19
UPDATE = "4.19.5"  # the synthetic update the demo upgrades to
PUSH_SECRET = "push-credentials"
MCO_NAMESPACE = "openshift-machine-config-operator"


def say(text: str) -> None:
    print(f"\n== {text}", flush=True)


def run(args: list, env: dict, cwd: Path) -> str:
    """Run rhcos-layer, show its output; its last stdout line is returned.

    Only stdout is captured (and shown once the command ends); stderr is inherited, so progress
    (the build's steps, the rollout's node-by-node lines) reaches the terminal as it happens."""
    shown = " ".join(shlex.quote(str(a)) for a in ["rhcos-layer", *args])
    print(f"$ {shown}", flush=True)
    proc = subprocess.run([*TOOL, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, text=True, check=False)
    sys.stderr.flush()
    sys.stdout.write(proc.stdout)
    sys.stdout.flush()
    if proc.returncode != 0:
        raise SystemExit(f"demo failed: rhcos-layer exited with {proc.returncode}")
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def on_cluster(api: KubeAPI, registry: Registry, env: dict, project: Path, certs: list) -> str:
    """The on-cluster part: the cluster builds the same project (a MachineOSConfig) and rolls it out.

    Needs a cluster serving MachineOSConfig v1 (4.19, or 4.18 with Tech Preview): v1alpha1 (4.16, 4.17)
    refuses a push spec with a registry port, and this demo's registry is 127.0.0.1:PORT."""
    say("On-cluster: the cluster builds the same project itself (a MachineOSConfig), then rolls it out")
    print(f"(as an admin would with `oc create secret docker-registry {PUSH_SECRET} -n {MCO_NAMESPACE} ...`:"
          f" the Secret the cluster's build pushes to {registry.host} with)")
    api.store.put({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                   "metadata": {"name": PUSH_SECRET, "namespace": MCO_NAMESPACE},
                   "data": {".dockerconfigjson": base64.b64encode(
                       json.dumps(registry.auth_config()).encode()).decode()}})
    built = run(["apply", "--on-cluster", "--pool", "worker", "--push-secret", PUSH_SECRET, "--wait", *certs],
                env, project)
    say("Status: every worker boots the image the cluster built")
    run(["status", "--pool", "worker"], env, project)
    return built


def main() -> int:
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="rhcos-layer-demo-"))
    registry = Registry(work / "registry")
    base_store = PodmanStore(work / "base-store")
    user_store = PodmanStore(work / "user-store")
    cluster_store = PodmanStore(work / "cluster-builds")  # where the simulated cluster's builder runs Podman
    api = None
    mco = None
    cvo = None
    try:
        say(f"Starting a local registry (TLS, password) with fake RHCOS base images for {RELEASE} and {UPDATE}")
        registry.start()
        releases = build_upgrade_releases(base_store, registry, versions=(RELEASE, UPDATE))
        payload = releases[RELEASE].release
        print(f"registry: {registry.host}\nrelease image (synthetic {RELEASE} payload): {payload.pullspec_tag}\n"
              f"update (synthetic {UPDATE} payload, its own base): {releases[UPDATE].payload}")

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

        say(f"Starting an emulated OpenShift {RELEASE} cluster (API server, simulated Machine Config and Cluster"
            " Version Operators)")
        api = KubeAPI().start()
        seed = seed_release(api, releases[RELEASE], pull_secret=registry.auth_config())
        seed_updates(api, releases, current=RELEASE, available=[UPDATE])
        trust_registry_ca(api, registry.host, registry.ca_path.read_bytes())  # as an admin adds a registry's CA
        mco = SimulatedMCO(api, step_delay=0.1, builder=cluster_store, cert_dir=registry.cert_dir).start()
        cvo = SimulatedCVO(api, releases=releases, step_delay=0.2).start()
        kubeconfig = api.write_kubeconfig(work / "kube" / "config")
        env["KUBECONFIG"] = str(kubeconfig)
        env["RHCOS_LAYER_WATCH_INTERVAL"] = "0.2"
        print(f"API server: {api.url} (kubeconfig {kubeconfig}, 0600)\n"
              f"pools: master, worker (3 nodes each), on the release's base {seed.base_image}\n"
              f"pull secret: openshift-config/pull-secret holds the credentials for {registry.host}")

        say("Status: the worker pool runs the release's base image")
        run(["status", "--pool", "worker"], env, project)
        say("Apply: the project's last push, to the worker pool, following the rollout node by node")
        print("(--ignore-preflight-errors LoopbackRegistry only because this demo's registry is on 127.0.0.1 "
              "and its nodes are simulated: real nodes cannot pull from a loopback address)")
        applied = run(["apply", "--pool", "worker", "--wait", "--ignore-preflight-errors", "LoopbackRegistry",
                       *certs], env, project)
        say("Status: every worker now boots the layered image")
        run(["status", "--pool", "worker"], env, project)
        say(f"Upgrade plan: rebuild the project on {UPDATE}'s base (cached by inputs) and push it; report skew")
        run(["upgrade", "plan", "--to", UPDATE, *certs], env, project)
        say("Upgrade apply: pause the worker pool, upgrade the cluster, then the new image: one reboot per node")
        reboots_before = dict(mco.reboots)
        upgraded = run(["upgrade", "apply", "--to", UPDATE, "--start-cluster-upgrade", "--wait",
                        "--ignore-preflight-errors", "LoopbackRegistry", *certs], env, project)
        per_node = {n: mco.reboots.get(n, 0) - reboots_before.get(n, 0) for n in seed.nodes["worker"]}
        print("reboots per worker node during the upgrade: "
              + ", ".join(f"{n} {count}" for n, count in sorted(per_node.items())))
        if set(per_node.values()) != {1}:
            raise SystemExit(f"demo failed: expected one reboot per worker node, saw {per_node}")
        say(f"Status: the cluster runs {UPDATE}, the workers its base with the layer")
        run(["status", "--pool", "worker"], env, project)
        say("Rollback: delete rhcos-layer's MachineConfig, the workers go back to the release's base image")
        back = run(["rollback", "--pool", "worker", "--wait"], env, project)
        say("Status: the worker pool is back on the release's base image")
        run(["status", "--pool", "worker"], env, project)

        built = on_cluster(api, registry, env, project, certs)
        mco.check()
        cvo.check()
        api.check()

        say("Done")
        print(f"image ID: {image_id}")
        print(f"digest-pinned pullspec: {pullspec}")
        print(f"applied: {applied}")
        print(f"upgraded: {upgraded}")
        print(f"rolled back: {back}")
        print(f"built on the cluster: {built}")
        print(f"demo complete in {time.monotonic() - started:.0f} s: built, pushed, rolled out to the 3 worker"
              f" nodes, upgraded the cluster to {UPDATE} with one reboot per worker node, rolled back to the"
              " release's base, then built on the cluster and rolled out again")
        return 0
    finally:
        try:  # the simulators first (they write to the API's store), then the API server
            if cvo is not None:
                cvo.stop()
            if mco is not None:
                mco.stop()
        finally:
            if api is not None:
                api.stop()
        user_store.cleanup()
        cluster_store.cleanup()
        base_store.cleanup()
        registry.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

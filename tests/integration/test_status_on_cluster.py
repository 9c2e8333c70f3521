"""``status`` for pools whose image the cluster builds (a MachineOSConfig): the build of the pool's
target config (Prepared, Building, Succeeded, Failed, Interrupted, since when, its builder), the last
build's result with the command that prints a failed one's log, and the images the nodes boot.

Runs the real command against the emulated API (tests/support/kube.py, which serves MachineOSConfig and
MachineOSBuild at the version each release has). Where a test needs a build in a given state, it writes
the MachineOSBuild as the MCO's build controller does (openshift/machine-config-operator
pkg/controller/build; the fields as openshift/api machineconfiguration/v1/types_machineosbuild.go names
them); otherwise the simulated MCO's build controller (tests/support/mco.py, build_sim.py) really builds
with podman and pushes to the test registry, and rolls the pool to the result.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Dict, List, Optional

import pytest

from tests.integration.conftest import seed_on_fake_base as _seed
from tests.support.kube import KubeAPI, push_secret

MCO = "machineconfiguration.openshift.io"
PUSH = "registry.example.com/ops/worker-os:latest"
OURS = {"app.kubernetes.io/managed-by": "rhcos-layer"}
LOG = "oc logs -n openshift-machine-config-operator"
GOOD = "FROM configs AS final\nRUN rpm-ostree install tree && ostree container commit\n"
BROKEN = "FROM configs AS final\nRUN rpm-ostree install rig-fail-x && ostree container commit\n"  # the stub fails it


def mosc(pool: str, version: str = "v1", labels: Optional[Dict[str, str]] = None,
         content: str = "FROM configs AS final\n") -> Dict[str, Any]:
    """A MachineOSConfig as the OpenShift docs' examples write it (v1: 4.19+; v1alpha1: 4.16/4.17 TP)."""
    if version == "v1alpha1":
        spec: Dict[str, Any] = {"machineConfigPool": {"name": pool}, "buildInputs": {
            "imageBuilder": {"imageBuilderType": "PodImageBuilder"}, "baseImagePullSecret": {"name": "pull"},
            "renderedImagePushSecret": {"name": "push"}, "renderedImagePushspec": PUSH,
            "containerFile": [{"containerfileArch": "noarch", "content": content}]},
            "buildOutputs": {"currentImagePullSecret": {"name": "pull"}}}
    else:
        spec = {"machineConfigPool": {"name": pool}, "imageBuilder": {"imageBuilderType": "Job"},
                "renderedImagePushSecret": {"name": "push"}, "renderedImagePushSpec": PUSH,
                "containerFile": [{"containerfileArch": "NoArch", "content": content}]}
    return {"apiVersion": f"{MCO}/{version}", "kind": "MachineOSConfig",
            "metadata": {"name": pool, "labels": dict(labels or {})}, "spec": spec}


def mosb(name: str, config: str, rendered: str, true: List[str], *, when: str = "2026-11-27T16:00:00Z",
         message: str = "", image: str = "") -> Dict[str, Any]:
    """A v1 MachineOSBuild as the build controller writes it: the conditions it has set, its builder Job."""
    conditions = [{"type": t, "status": "True" if t in true else "False", "reason": t,
                   "message": message if t in true else "", "lastTransitionTime": when}
                  for t in ("Prepared", "Building", "Succeeded", "Interrupted", "Failed")]
    status: Dict[str, Any] = {"buildStart": "2026-11-27T15:59:00Z", "conditions": conditions,
                              "builder": {"imageBuilderType": "Job", "job": {
                                  "group": "batch", "resource": "jobs", "name": f"build-{name}",
                                  "namespace": "openshift-machine-config-operator"}}}
    if image:
        status["digestedImagePushSpec"] = image
    return {"apiVersion": f"{MCO}/v1", "kind": "MachineOSBuild",
            "metadata": {"name": name, "labels": {f"{MCO}/machine-os-config": config}},
            "spec": {"machineConfig": {"name": rendered}, "machineOSConfig": {"name": config},
                     "renderedImagePushSpec": PUSH}, "status": status}


def _target(api: KubeAPI, pool: str = "worker") -> str:
    return str(api.store.get("machineconfigpools", pool)["spec"]["configuration"]["name"])


def test_status_while_building_then_after_a_failed_build_names_the_log_command(
        tmp_path, logged_in, registry, fake_base, rhcos_layer):
    api = logged_in
    seed = _seed(api, registry, fake_base, "4.19.2")
    api.store.put(mosc("worker", labels=OURS))
    rendered = _target(api)
    api.store.put(mosb("worker-5f1c", "worker", rendered, ["Building"], when="2026-11-27T16:01:02Z"))

    result = rhcos_layer(["status", "--pool", "worker"], tmp_path)
    assert result.code == 0, result.err
    assert result.out.splitlines()[:3] == [
        "worker: built on the cluster (no build yet) (MachineOSConfig worker, made by rhcos-layer)",
        "  build worker-5f1c: Building since 2026-11-27T16:01:02Z (job/build-worker-5f1c)",
        f"  nodes boot: {seed.base_image} (2)",
    ]

    [shown] = json.loads(rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path).out)
    assert (shown["mode"], shown["on_cluster"], shown["on_cluster_ours"]) == ("on-cluster", "worker", True)
    assert shown["build"] == {
        "name": "worker-5f1c", "state": "Building", "since": "2026-11-27T16:01:02Z", "rendered": rendered,
        "builder": "job/build-worker-5f1c", "image": None, "message": "",
        "log_command": f"{LOG} job/build-worker-5f1c"}
    assert shown["last_build"] is None
    assert shown["node_images"] == {"current": {seed.base_image: 2}, "desired": {seed.base_image: 2}}

    # the build controller marks it failed, as it does when a RUN step exits non-zero
    api.store.put(mosb("worker-5f1c", "worker", rendered, ["Failed"], when="2026-11-27T16:03:00Z",
                       message="Build Failed"))
    failed = rhcos_layer(["status", "--pool", "worker"], tmp_path)
    assert failed.code == 0, failed.err
    lines = failed.out.splitlines()
    assert lines[1:4] == [
        "  build worker-5f1c: Failed since 2026-11-27T16:03:00Z (job/build-worker-5f1c)",
        "  last build worker-5f1c: Failed: Build Failed",
        f"  its log: {LOG} job/build-worker-5f1c",
    ]
    [shown] = json.loads(rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path).out)
    assert shown["last_build"]["state"] == "Failed"
    assert shown["last_build"]["log_command"] == f"{LOG} job/build-worker-5f1c"


def test_a_newer_build_of_the_same_config_is_the_current_one_and_the_older_result_stays(
        tmp_path, logged_in, registry, fake_base, rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    api.store.put(mosc("worker"))  # made by hand: not ours
    rendered = _target(api)
    done = f"{PUSH.rpartition(':')[0]}@sha256:{'a' * 64}"
    api.store.put(mosb("worker-old", "worker", rendered, ["Succeeded"], image=done))
    newer = mosb("worker-new", "worker", rendered, ["Prepared"])
    newer["status"]["buildStart"] = "2026-11-27T16:30:00Z"  # a --rebuild: the same rendered config, later
    api.store.put(newer)
    api.store.put(mosb("other-1", "infra", rendered, ["Failed"]))  # another MachineOSConfig's build
    [shown] = json.loads(rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path).out)
    assert (shown["build"]["name"], shown["build"]["state"]) == ("worker-new", "Prepared")
    assert (shown["last_build"]["name"], shown["last_build"]["state"]) == ("worker-old", "Succeeded")
    assert shown["on_cluster_ours"] is False
    text = rhcos_layer(["status", "--pool", "worker"], tmp_path).out.splitlines()
    assert text[0].endswith("(MachineOSConfig worker)")
    assert "  last build worker-old: Succeeded" in text and not [t for t in text if "its log" in t]


def rig_mosc(registry, pool: str = "worker", version: str = "v1", content: str = GOOD, repo: str = "ocb/worker",
             labels: Optional[Dict[str, str]] = OURS) -> Dict[str, Any]:
    """A MachineOSConfig the rig's build controller really builds, pushing to the rig registry with the
    Secret ``push-creds`` (and pulling the base with ``base-creds`` in v1alpha1)."""
    obj = mosc(pool, version, labels=labels, content=content)
    spec = obj["spec"] if version == "v1" else obj["spec"]["buildInputs"]
    spec["renderedImagePushSecret"] = {"name": "push-creds"}
    spec["renderedImagePushSpec" if version == "v1" else "renderedImagePushspec"] = f"{registry.host}/{repo}:latest"
    if version != "v1":
        spec["baseImagePullSecret"] = {"name": "base-creds"}
        obj["spec"]["buildOutputs"]["currentImagePullSecret"] = {"name": "push-creds"}
    return obj


def rig_secrets(api: KubeAPI, registry) -> None:
    for name in ("push-creds", "base-creds"):
        push_secret(api, name, registry.host, registry.username, registry.password)


def _wait(check, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("not reached in time")


def test_status_of_a_real_build_while_building_then_after_success(tmp_path, building_mco, kube_api, kubeconfig,
                                                                   tool_env, monkeypatch, registry, rhcos_layer):
    api = kube_api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    rig_secrets(api, registry)
    building_mco.builds.hold()  # the build stops before its push: Building until released
    api.store.put(rig_mosc(registry))
    build = _wait(lambda: next((b for b in api.store.list("machineosbuilds") if any(
        c["type"] == "Building" and c["status"] == "True" for c in b["status"]["conditions"])), None))
    name, job = build["metadata"]["name"], build["status"]["builder"]["job"]["name"]
    base = api.store.get("machineconfigs", _target(api))["spec"]["osImageURL"]
    [shown] = json.loads(rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path).out)
    assert (shown["mode"], shown["image"], shown["on_cluster_ours"]) == ("on-cluster", None, True)
    assert (shown["build"]["name"], shown["build"]["state"], shown["build"]["builder"]) == (
        name, "Building", f"job/{job}")
    assert shown["last_build"] is None
    assert shown["node_images"]["current"] == {base: 2}
    text = rhcos_layer(["status", "--pool", "worker"], tmp_path).out.splitlines()
    assert text[:2] == [
        "worker: built on the cluster (no build yet) (MachineOSConfig worker, made by rhcos-layer)",
        f"  build {name}: Building since {shown['build']['since']} (job/{job})"]

    building_mco.builds.release()
    assert building_mco.wait_idle(120)
    built = api.store.get("machineosconfigs", "worker")["status"]["currentImagePullSpec"]
    [shown] = json.loads(rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path).out)
    assert (shown["image"], shown["build"]["state"], shown["build"]["image"]) == (built, "Succeeded", built)
    assert shown["last_build"] == shown["build"]
    assert shown["node_images"] == {"current": {built: 2}, "desired": {built: 2}}
    assert (shown["updated"], shown["machines"], shown["updating"]) == (2, 2, False)
    text = rhcos_layer(["status", "--pool", "worker"], tmp_path).out.splitlines()
    assert text[:3] == [
        f"worker: built on the cluster {built} (MachineOSConfig worker, made by rhcos-layer)",
        f"  build {name}: Succeeded since {shown['build']['since']} (job/{job})",
        f"  nodes boot: {built} (2)"]
    # --watch on a settled on-cluster pool prints once and ends
    watched = rhcos_layer(["status", "--watch", "--pool", "worker", "-o", "json"], tmp_path)
    assert watched.code == 0, watched.err
    assert [json.loads(line)[0]["build"]["state"] for line in watched.out.splitlines()] == ["Succeeded"]


def test_status_watch_follows_a_build_and_the_rollout_to_its_image(tmp_path, building_mco, kube_api, kubeconfig,
                                                                  tool_env, monkeypatch, registry, rhcos_layer):
    api = kube_api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    rig_secrets(api, registry)
    building_mco.builds.hold()
    api.store.put(rig_mosc(registry))
    _wait(lambda: [b for b in api.store.list("machineosbuilds") if any(
        c["type"] == "Building" and c["status"] == "True" for c in b["status"]["conditions"])])
    builds = f"/apis/{MCO}/v1/machineosbuilds"

    def release_after_two_refreshes() -> None:  # the watch has seen the build in progress
        _wait(lambda: api.count("GET", builds) >= 2)
        building_mco.builds.release()

    releaser = threading.Thread(target=release_after_two_refreshes)
    releaser.start()
    watched = rhcos_layer(["status", "--watch", "--pool", "worker", "-o", "json"], tmp_path)
    releaser.join()
    assert watched.code == 0, watched.err
    seen = [json.loads(line)[0] for line in watched.out.splitlines()]
    assert seen[0]["build"]["state"] == "Building"
    built = api.store.get("machineosconfigs", "worker")["status"]["currentImagePullSpec"]
    assert (seen[-1]["build"]["state"], seen[-1]["image"]) == ("Succeeded", built)
    assert seen[-1]["node_images"] == {"current": {built: 2}, "desired": {built: 2}}


def test_status_of_a_real_failed_build_names_the_command_that_prints_its_log(
        tmp_path, building_mco, kube_api, kubeconfig, tool_env, monkeypatch, registry, rhcos_layer, kubectl):
    api = kube_api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    rig_secrets(api, registry)
    api.store.put(rig_mosc(registry, content=BROKEN, repo="ocb/broken"))
    assert building_mco.wait_idle(120)
    [build] = api.store.list("machineosbuilds")
    name, job = build["metadata"]["name"], build["status"]["builder"]["job"]["name"]
    result = rhcos_layer(["status", "--pool", "worker"], tmp_path)
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    command = f"{LOG} job/{job}"
    assert lines[1].startswith(f"  build {name}: Failed since ")
    assert lines[2].startswith(f"  last build {name}: Failed")
    assert lines[3] == f"  its log: {command}"
    [shown] = json.loads(rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path).out)
    assert (shown["last_build"]["state"], shown["last_build"]["log_command"]) == ("Failed", command)
    assert shown["image"] is None  # nothing built yet: the nodes stay on the base
    # the command printed works against the cluster and shows why (kubectl stands in for oc)
    logs = kubectl(*command.split()[1:])
    assert logs.returncode == 0, logs.stderr
    assert "Packages not found: rig-fail-x" in logs.stdout


@pytest.mark.parametrize("building_mco", [("4.16.3", "TechPreviewNoUpgrade")], indirect=True)
def test_status_of_a_tech_preview_v1alpha1_pool(tmp_path, building_mco, kube_api, kubeconfig, tool_env,
                                                 monkeypatch, registry, rhcos_layer):
    api = kube_api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    rig_secrets(api, registry)
    api.store.put(rig_mosc(registry, version="v1alpha1", labels=None))
    assert building_mco.wait_idle(120)
    built = api.store.get("machineosconfigs", "worker")["status"]["currentImagePullspec"]
    pools = {p["name"]: p for p in json.loads(rhcos_layer(["status", "-o", "json"], tmp_path).out)}
    worker = pools["worker"]
    assert (worker["mode"], worker["image"], worker["on_cluster_ours"]) == ("on-cluster", built, False)
    assert (worker["build"]["state"], worker["build"]["image"], worker["build"]["rendered"]) == (
        "Succeeded", built, worker["target"])
    assert worker["node_images"] == {"current": {built: 2}, "desired": {built: 2}}
    # the other pools read as before: nothing on-cluster about them
    assert (pools["master"]["mode"], pools["master"]["build"], pools["master"]["node_images"]) == (
        "out-of-cluster", None, None)


def test_status_without_on_cluster_pools_reads_no_builds_or_nodes(tmp_path, logged_in, registry, fake_base,
                                                                  rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    api.reset_requests()
    result = rhcos_layer(["status", "--watch"], tmp_path)
    assert result.code == 0, result.err
    paths = [c.path for c in api.calls]
    assert not [p for p in paths if "machineosbuilds" in p or p.startswith("/api/v1/nodes")]
    assert len([p for p in paths if p.endswith("/machineosconfigs")]) == 1

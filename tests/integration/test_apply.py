"""apply, rollback and the rollout watch against the emulated OpenShift API driven by the simulated MCO.

The layered image is built and pushed once per module with the real tool, real podman and the real
registry; each test gets a fresh emulated cluster whose release base is the rig's fake base and whose
global pull secret holds the registry's credentials (so the nodes can pull it).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Sequence

import pytest

from rhcos_layer import machineconfig
from tests.integration.conftest import Outcome
from tests.support.kube import KubeAPI, seed_openshift, trust_registry_ca
from tests.support.mco import SimulatedMCO

LOOPBACK_OK = ["--ignore-preflight-errors", "LoopbackRegistry"]
MC_NAME = "99-zz-rhcos-layer-0-worker"


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, podman_service, registry, fake_base) -> Dict[str, str]:
    """A layered image (layers usbguard) built and pushed by rhcos-layer: its digest-pinned pullspec."""
    work = tmp_path_factory.mktemp("apply-image")
    home = work / "home"
    registry.write_certs_d(home / ".config" / "containers" / "certs.d")
    auth = registry.write_authfile(work / "auth.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTAINER_", "DOCKER_"))}
    env.update(podman_service.store.env, CONTAINER_HOST=podman_service.url, REGISTRY_AUTH_FILE=str(auth),
               HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), NO_COLOR="1")
    project = work / "project"
    project.mkdir()
    (project / "Containerfile").write_text(
        f"FROM {fake_base.pullspec}\nRUN rpm-ostree install usbguard && ostree container commit\n")
    (project / "rhcos-layer.yaml").write_text(f"image: {registry.host}/ops/layered\n")
    for args in (["build"], ["push"]):
        proc = subprocess.run([sys.executable, "-m", "rhcos_layer", *args], cwd=project, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
    return {"image": proc.stdout.strip().splitlines()[-1], "project": str(project)}


@pytest.fixture
def cluster(kube_api: KubeAPI, registry, fake_base, kubeconfig, tool_env, monkeypatch):
    """A settled 4.16 cluster on the rig's base, whose pull secret holds the registry's credentials."""
    seed = seed_openshift(kube_api, base_image=fake_base.pullspec, pull_secret=registry.auth_config())
    trust_registry_ca(kube_api, registry.host, registry.ca_path.read_bytes())  # the nodes trust its CA
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    return seed


@contextmanager
def running_mco(api: KubeAPI, step_delay: float = 0.02, instant: Sequence[str] = ()) -> Iterator[SimulatedMCO]:
    """A simulated MCO on ``api`` (``instant`` pools update all nodes at once); stopped at the end,
    which then fails if the simulator itself hit an error."""
    mco = SimulatedMCO(api, step_delay=step_delay)
    for pool in instant:
        mco.set_instant(pool)
    mco.start()
    try:
        yield mco
    finally:
        mco.stop()
    mco.check()


@pytest.fixture
def sim(request, cluster, kube_api) -> Iterator[SimulatedMCO]:
    """The simulated MCO; ``@pytest.mark.step_delay(s)`` slows its steps (default 0.02 s)."""
    marker = request.node.get_closest_marker("step_delay")
    with running_mco(kube_api, marker.args[0] if marker else 0.02) as mco:
        yield mco


def _pool(api: KubeAPI, name: str = "worker") -> dict:
    return api.store.get("machineconfigpools", name)


def _node_images(api: KubeAPI, sim: SimulatedMCO, pool: str = "worker") -> List[str]:
    """The image each node of the pool boots: its currentConfig's osImageURL."""
    images = []
    selector = f"node-role.kubernetes.io/{pool}" + (",!node-role.kubernetes.io/infra" if pool == "worker" else "")
    for node in api.store.list("nodes", label_selector=selector):
        current = node["metadata"]["annotations"]["machineconfiguration.openshift.io/currentConfig"]
        images.append(api.store.get("machineconfigs", current)["spec"]["osImageURL"])
    return images


def _recover_when_deleted(api: KubeAPI, node: str) -> threading.Thread:
    """In the background: once our MachineConfig is gone, put *node*'s desiredConfig back to what it
    runs, as an admin does for a degraded node (tests/support/mco.py recovery_patch)."""
    from tests.support.mco import recovery_patch

    def run() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and api.store.get("machineconfigs", MC_NAME) is None:
            time.sleep(0.05)
        while time.monotonic() < deadline and api.store.get("machineconfigs", MC_NAME) is not None:
            time.sleep(0.05)
        api.store.patch("nodes", node, recovery_patch(api.store.get("nodes", node)))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _writes(api: KubeAPI) -> List[tuple]:
    """Requests that change something (access reviews are POSTs that store nothing)."""
    return [r for r in api.requests if r[0] in ("POST", "PUT", "PATCH", "DELETE")
            and not r[1].startswith("/apis/authorization.k8s.io/")]


@pytest.mark.step_delay(0.25)  # each node step outlasts a refresh (0.05 s), so every phase is seen
def test_apply_rolls_out_to_every_node_then_rollback_restores_the_base(
        tmp_path, pushed, cluster, kube_api, sim, rhcos_layer):
    image = pushed["image"]
    result = rhcos_layer(["apply", "--pool", "worker", "--image", image, "--wait", *LOOPBACK_OK], tmp_path)
    assert result.code == 0, result.err
    assert set(_node_images(kube_api, sim)) == {image}
    assert _node_images(kube_api, sim, "master") == [cluster.base_image] * 3
    assert f"worker: MachineConfig {MC_NAME} created" in result.err
    for phase in ("cordoned, draining", "rebooting", "done"):
        assert f"  worker-0: {phase}" in result.err
    assert "worker: 3/3 nodes updated" in result.err
    assert result.last_line.startswith(f"worker: {image} on 3/3 nodes (rendered-worker-")
    mc = kube_api.store.get("machineconfigs", MC_NAME)
    assert mc["metadata"]["labels"][machineconfig.MANAGED_BY_LABEL] == "rhcos-layer"
    assert mc["metadata"]["annotations"][machineconfig.BASE_ANNOTATION] == cluster.base_image
    pool = _pool(kube_api)
    assert pool["status"]["configuration"]["name"] == pool["spec"]["configuration"]["name"]
    # the MCO never had more nodes away than maxUnavailable (1)
    assert sim.max_in_flight["worker"] == 1

    back = rhcos_layer(["rollback", "--pool", "worker", "--wait"], tmp_path)
    assert back.code == 0, back.err
    assert kube_api.store.get("machineconfigs", MC_NAME) is None
    assert set(_node_images(kube_api, sim)) == {cluster.base_image}
    assert _pool(kube_api)["spec"]["configuration"]["name"] == cluster.rendered["worker"]
    assert back.last_line == f"worker: back on {cluster.rendered['worker']} (3/3 nodes)"


def test_applying_the_same_image_again_writes_nothing(tmp_path, pushed, cluster, kube_api, sim, rhcos_layer):
    image = pushed["image"]
    assert rhcos_layer(["apply", "--pool", "worker", "--image", image, "--wait", *LOOPBACK_OK], tmp_path).code == 0
    target = _pool(kube_api)["spec"]["configuration"]["name"]
    kube_api.reset_requests()
    again = rhcos_layer(["apply", "--pool", "worker", "--image", image, "--wait", "-o", "json", *LOOPBACK_OK],
                        tmp_path)
    assert again.code == 0, again.err
    assert json.loads(again.out)[0]["action"] == "unchanged"
    assert _writes(kube_api) == []
    assert _pool(kube_api)["spec"]["configuration"]["name"] == target


def test_dry_run_checks_and_changes_nothing(tmp_path, pushed, cluster, kube_api, sim, rhcos_layer):
    kube_api.reset_requests()
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--dry-run", *LOOPBACK_OK],
                         tmp_path)
    assert result.code == 0, result.err
    assert result.out.strip() == f"worker: would create MachineConfig {MC_NAME}: osImageURL {pushed['image']}"
    assert kube_api.store.get("machineconfigs", MC_NAME) is None
    # the API server validated it (dryRun=All), and nothing else was written
    assert [(m, q.get("dryRun")) for m, _, q in _writes(kube_api)] == [("POST", "All")]


def test_the_default_image_is_the_projects_last_push(pushed, cluster, kube_api, sim, rhcos_layer):
    result = rhcos_layer(["apply", "--pool", "worker", "--no-wait", *LOOPBACK_OK], Path(pushed["project"]))
    assert result.code == 0, result.err
    mc = kube_api.store.get("machineconfigs", MC_NAME)
    assert mc["spec"]["osImageURL"] == pushed["image"]
    assert mc["metadata"]["annotations"][machineconfig.PROJECT_ANNOTATION] == "project"  # its name, not its path
    assert "follow it with: rhcos-layer status --watch --pool worker" in result.err


# ------------------------------------------------------------------ preflight refusals


def _refused(result: Outcome, check: str, kube_api: KubeAPI) -> None:
    assert result.code == 12, (result.code, result.err)
    assert check in result.err
    assert "nothing was changed" in result.err
    assert "Traceback" not in result.err
    assert kube_api.store.get("machineconfigs", MC_NAME) is None


def test_a_loopback_registry_is_refused_without_the_override(tmp_path, pushed, cluster, kube_api, rhcos_layer):
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"]], tmp_path)
    _refused(result, "--ignore-preflight-errors=LoopbackRegistry", kube_api)
    assert "is a loopback address: each node would pull from itself" in result.err


def test_a_tag_is_refused(tmp_path, pushed, cluster, kube_api, rhcos_layer, registry):
    result = rhcos_layer(["apply", "--pool", "worker", "--image", f"{registry.host}/ops/layered:latest"], tmp_path)
    assert result.code == 3
    assert "--image:" in result.err and "digest" in result.err


def test_a_digest_missing_from_the_registry_is_refused(tmp_path, pushed, cluster, kube_api, rhcos_layer, registry):
    missing = f"{registry.host}/ops/layered@sha256:" + "0" * 64
    result = rhcos_layer(["apply", "--pool", "worker", "--image", missing, *LOOPBACK_OK], tmp_path)
    assert result.code == 7, result.err
    assert f"has no manifest ops/layered@sha256:{'0' * 64}" in result.err
    assert kube_api.store.get("machineconfigs", MC_NAME) is None


def test_nodes_that_cannot_pull_are_refused(tmp_path, pushed, kube_api, registry, fake_base, kubeconfig, tool_env,
                                           monkeypatch, rhcos_layer):
    seed_openshift(kube_api, base_image=fake_base.pullspec)  # the default pull secret: no entry for the registry
    trust_registry_ca(kube_api, registry.host, registry.ca_path.read_bytes())
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], *LOOPBACK_OK], tmp_path)
    _refused(result, "has no credentials for " + registry.host, kube_api)
    assert "oc set data secret/pull-secret -n openshift-config" in result.err
    # a wrong password in the pull secret: rejected, and never printed
    wrong = registry.auth_config(password="sentinel-wrong-pw")
    kube_api.store.patch("secrets", "pull-secret", {"data": {".dockerconfigjson": base64.b64encode(
        json.dumps(wrong).encode()).decode()}}, namespace="openshift-config")
    rejected = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], *LOOPBACK_OK], tmp_path)
    _refused(rejected, "holds credentials that are rejected by", kube_api)
    assert "sentinel-wrong-pw" not in rejected.err + rejected.out


def test_an_image_for_another_release_is_refused(tmp_path, pushed, kube_api, registry, kubeconfig, tool_env,
                                                 monkeypatch, rhcos_layer):
    other_base = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "7" * 64
    seed_openshift(kube_api, base_image=other_base, pull_secret=registry.auth_config())
    trust_registry_ca(kube_api, registry.host, registry.ca_path.read_bytes())
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], *LOOPBACK_OK], tmp_path)
    _refused(result, "a build for another release", kube_api)
    assert "--ignore-preflight-errors=BaseMatches" in result.err
    forced = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--no-wait",
                          "--ignore-preflight-errors", "LoopbackRegistry,BaseMatches"], tmp_path)
    assert forced.code == 0, forced.err
    assert "ignoring the failed check BaseMatches" in forced.err


def test_a_degraded_pool_is_refused_and_a_paused_one_warned(tmp_path, pushed, cluster, kube_api, rhcos_layer):
    kube_api.store.patch("machineconfigpools", "worker", {"status": {"degradedMachineCount": 1}})
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], *LOOPBACK_OK], tmp_path)
    _refused(result, "pool worker is degraded", kube_api)
    kube_api.store.patch("machineconfigpools", "worker", {"status": {"degradedMachineCount": 0},
                                                          "spec": {"paused": True}})
    paused = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--dry-run", *LOOPBACK_OK],
                         tmp_path)
    assert paused.code == 0, paused.err
    assert "pool worker is paused: nothing rolls out until it is unpaused" in paused.err


def test_a_later_machineconfig_setting_the_image_is_refused(tmp_path, pushed, cluster, kube_api, rhcos_layer):
    other = machineconfig.render("worker", "quay.io/other/image@sha256:" + "8" * 64)
    other["metadata"] = {"name": "99-zzz-someone-else", "labels": {machineconfig.ROLE_LABEL: "worker"}}
    kube_api.store.put(other)
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], *LOOPBACK_OK, "--ignore-"
                          "preflight-errors", "all"], tmp_path)
    _refused(result, "MachineConfig 99-zzz-someone-else of pool worker also sets osImageURL", kube_api)


def test_layered_rpms_that_a_pool_extension_installs_are_refused(tmp_path, pushed, cluster, kube_api, rhcos_layer):
    ext = {"apiVersion": machineconfig.API_VERSION, "kind": "MachineConfig",
           "metadata": {"name": "80-worker-usbguard", "labels": {machineconfig.ROLE_LABEL: "worker"}},
           "spec": {"extensions": ["usbguard"]}}
    kube_api.store.put(ext)
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], *LOOPBACK_OK], tmp_path)
    _refused(result, "the layered usbguard conflicts with the pool's extension usbguard", kube_api)


def test_a_machineconfig_of_that_name_not_made_by_us_is_never_touched(tmp_path, pushed, cluster, kube_api,
                                                                       rhcos_layer):
    foreign = machineconfig.render("worker", "quay.io/other/image@sha256:" + "8" * 64)
    del foreign["metadata"]["labels"][machineconfig.MANAGED_BY_LABEL]
    kube_api.store.put(foreign)
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], *LOOPBACK_OK], tmp_path)
    assert result.code == 12
    assert "exists that rhcos-layer did not create" in result.err
    assert kube_api.store.get("machineconfigs", MC_NAME)["spec"]["osImageURL"] == foreign["spec"]["osImageURL"]


# ------------------------------------------------------------------ failures during the rollout


def test_a_degraded_node_stops_the_wait_with_its_reason_and_the_rollback_command(
        tmp_path, pushed, cluster, kube_api, sim, rhcos_layer):
    sim.degrade_node("worker-1", "failed to pull: sentinel reason")
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--wait", *LOOPBACK_OK], tmp_path)
    assert result.code == 13, result.err
    assert "node worker-1 is Degraded: failed to pull: sentinel reason" in result.err
    assert "rhcos-layer rollback --pool worker" in result.err
    assert kube_api.store.get("machineconfigs", MC_NAME) is not None  # left for the admin to decide


def test_rollback_on_failure_puts_the_pool_back(tmp_path, pushed, cluster, kube_api, sim, rhcos_layer):
    sim.degrade_node("worker-1", "failed to pull: sentinel reason")
    # the real node controller never sends the degraded node back: an admin does, once the MC is gone
    admin = _recover_when_deleted(kube_api, "worker-1")
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--wait",
                          "--rollback-on-failure", *LOOPBACK_OK], tmp_path)
    admin.join(10)
    assert result.code == 13, result.err
    assert "rolling back (--rollback-on-failure)" in result.err
    assert "rolled back" in result.err
    assert kube_api.store.get("machineconfigs", MC_NAME) is None
    assert sim.wait_idle(10)
    assert set(_node_images(kube_api, sim)) == {cluster.base_image}
    assert _pool(kube_api)["spec"]["configuration"]["name"] == cluster.rendered["worker"]


def test_ctrl_c_stops_watching_and_leaves_the_rollout_going(tmp_path, pushed, cluster, kube_api, rhcos_layer):
    with running_mco(kube_api, step_delay=0.3) as sim:
        env = dict(os.environ)
        proc = subprocess.Popen([sys.executable, "-m", "rhcos_layer", "apply", "--pool", "worker", "--image",
                                 pushed["image"], "--wait", *LOOPBACK_OK], cwd=tmp_path, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        watching = "/apis/machineconfiguration.openshift.io/v1/machineconfigpools/worker"  # the wait's refresh
        while time.monotonic() < deadline and not (sim.history and kube_api.count("GET", watching)):
            time.sleep(0.05)
        assert sim.history, "the rollout never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "Stopped watching; the rollout goes on in the cluster." in err
        assert "rhcos-layer status --watch --pool worker" in err
        assert kube_api.store.get("machineconfigs", MC_NAME) is not None
        assert sim.wait_idle(30)
        assert set(_node_images(kube_api, sim)) == {pushed["image"]}


def test_a_timeout_says_the_rollout_goes_on(tmp_path, pushed, cluster, kube_api, sim, rhcos_layer):
    sim.pause()
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--wait", "--timeout", "1s",
                          *LOOPBACK_OK], tmp_path)
    assert result.code == 14, result.err
    assert "is not done after 1 s" in result.err and "the rollout goes on" in result.err


def test_expired_credentials_say_to_log_in_again(tmp_path, pushed, cluster, kube_api, rhcos_layer):
    kube_api.expire_token()
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], *LOOPBACK_OK], tmp_path)
    assert result.code == 10
    assert "oc login" in result.err and "Traceback" not in result.err


def test_missing_permission_names_it(tmp_path, pushed, cluster, kube_api, rhcos_layer):
    # (a pull secret it may not read is a failed NodesCanPull instead: see test_preflight.py)
    kube_api.forbid("list", "machineconfigpools")
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], *LOOPBACK_OK], tmp_path)
    assert result.code == 10, result.err
    assert "not allowed to list machineconfigpools" in result.err


# ------------------------------------------------------------------ pools


def _add_infra_pool(api: KubeAPI) -> None:
    """A custom pool "infra" that inherits the worker MachineConfigs; worker-2 becomes its node, as an
    admin does it (label a worker node, create the pool)."""
    api.store.patch("nodes", "worker-2", {"metadata": {"labels": {"node-role.kubernetes.io/infra": ""}}})
    api.store.put({
        "apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfigPool",
        "metadata": {"name": "infra"},
        "spec": {"machineConfigSelector": {"matchExpressions": [
            {"key": machineconfig.ROLE_LABEL, "operator": "In", "values": ["worker", "infra"]}]},
                 "nodeSelector": {"matchLabels": {"node-role.kubernetes.io/infra": ""}}}})


def test_two_pools_and_a_custom_pool_that_inherits_worker(tmp_path, pushed, cluster, kube_api, rhcos_layer):
    _add_infra_pool(kube_api)
    with running_mco(kube_api) as sim:
        assert sim.wait_idle(20)
        image = pushed["image"]
        result = rhcos_layer(["apply", "--pool", "worker", "--image", image, "--wait", *LOOPBACK_OK], tmp_path)
        assert result.code == 0, result.err
        assert "custom pool infra inherits the worker MachineConfigs" in result.err
        assert sim.wait_idle(20)
        assert set(_node_images(kube_api, sim, "infra")) == {image}  # inherited
        both = rhcos_layer(["apply", "--pool", "infra", "--pool", "master", "--image", image, "--wait", "-o",
                            "json", *LOOPBACK_OK], tmp_path)
        assert both.code == 0, both.err
        report = {p["pool"]: p for p in json.loads(both.out)}
        assert report["master"]["updated"] == 3 and report["infra"]["updated"] == 1
        assert kube_api.store.get("machineconfigs", "99-zz-rhcos-layer-1-infra") is not None
        # rolling worker back leaves infra on its own layered MachineConfig, and master alone
        back = rhcos_layer(["rollback", "--pool", "worker", "--wait"], tmp_path)
        assert back.code == 0, back.err
        assert sim.wait_idle(20)
        assert set(_node_images(kube_api, sim)) == {cluster.base_image}
        assert set(_node_images(kube_api, sim, "infra")) == {image}
        assert set(_node_images(kube_api, sim, "master")) == {image}


def test_rollback_leaves_foreign_machineconfigs_alone(tmp_path, pushed, cluster, kube_api, sim, rhcos_layer):
    assert rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--wait", *LOOPBACK_OK],
                       tmp_path).code == 0
    before = {mc["metadata"]["name"] for mc in kube_api.store.list("machineconfigs")}
    result = rhcos_layer(["rollback", "--pool", "worker", "--wait", "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    assert json.loads(result.out)[0]["machineconfigs"] == [MC_NAME]
    after = {mc["metadata"]["name"] for mc in kube_api.store.list("machineconfigs")}
    deleted = before - after
    assert deleted == {MC_NAME}
    assert [r for r in kube_api.requests if r[0] == "DELETE"] == [
        ("DELETE", f"/apis/machineconfiguration.openshift.io/v1/machineconfigs/{MC_NAME}", {})]
    again = rhcos_layer(["rollback", "--pool", "worker"], tmp_path)
    assert again.code == 0 and "nothing to roll back" in again.err


def test_rollback_to_previous_reapplies_the_image_that_was_live(tmp_path, pushed, cluster, kube_api, sim,
                                                                 rhcos_layer, registry):
    image = pushed["image"]
    assert rhcos_layer(["apply", "--pool", "worker", "--image", image, "--wait", *LOOPBACK_OK], tmp_path).code == 0
    # a second image, same base: the same manifest under another repository is enough for the registry checks
    second = _copy_image(registry, image, "ops/layered-v2")
    assert rhcos_layer(["apply", "--pool", "worker", "--image", second, "--wait", *LOOPBACK_OK], tmp_path).code == 0
    mc = kube_api.store.get("machineconfigs", MC_NAME)
    assert mc["metadata"]["annotations"][machineconfig.PREVIOUS_ANNOTATION] == image
    assert set(_node_images(kube_api, sim)) == {second}
    back = rhcos_layer(["rollback", "--pool", "worker", "--to-previous", "--wait", *LOOPBACK_OK], tmp_path)
    assert back.code == 0, back.err
    assert set(_node_images(kube_api, sim)) == {image}
    assert kube_api.store.get("machineconfigs", MC_NAME)["metadata"]["annotations"][
        machineconfig.PREVIOUS_ANNOTATION] == second


def _copy_image(registry, pullspec: str, repo: str) -> str:
    """Copy a pushed image to another repository of the registry (blob mounts, then the manifest)."""
    source_repo = pullspec.split("/", 1)[1].split("@", maxsplit=1)[0]
    digest = pullspec.split("@")[1]
    manifest = registry.manifest(source_repo, digest)
    for blob in [manifest["config"], *manifest["layers"]]:
        response = registry.request("POST", f"/v2/{repo}/blobs/uploads/?mount={blob['digest']}&from={source_repo}")
        assert response.status_code == 201, response.status_code
    body = json.dumps(manifest).encode()
    response = registry.request("PUT", f"/v2/{repo}/manifests/v2", data=body,
                                headers={"Content-Type": manifest.get(
                                    "mediaType", "application/vnd.oci.image.manifest.v1+json")})
    assert response.status_code == 201, response.status_code
    return f"{registry.host}/{repo}@{response.headers['Docker-Content-Digest']}"


def test_an_unknown_pool_is_named_with_the_ones_there_are(tmp_path, pushed, cluster, kube_api, rhcos_layer):
    for command in (["apply", "--image", pushed["image"], *LOOPBACK_OK], ["rollback"]):
        result = rhcos_layer([*command, "--pool", "infra"], tmp_path)
        assert result.code == 3, result.err
        assert "--pool infra: no such machine config pool (the cluster has: master, worker)" in result.err
    assert _writes(kube_api) == []


def test_kubectl_reads_what_apply_wrote(tmp_path, pushed, cluster, kube_api, sim, kubectl, rhcos_layer):
    """The real kubectl, against the same emulator, sees the MachineConfig and the pool as apply left them."""
    assert rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--wait", *LOOPBACK_OK],
                       tmp_path).code == 0
    got = kubectl("get", "mc", MC_NAME, "-o", "json")
    assert got.returncode == 0, got.stderr
    mc = json.loads(got.stdout)
    assert mc["spec"]["osImageURL"] == pushed["image"]
    assert mc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "rhcos-layer"
    listed = kubectl("get", "mc", "-l", "app.kubernetes.io/managed-by=rhcos-layer", "-o", "name")
    assert listed.stdout.split() == [f"machineconfig.machineconfiguration.openshift.io/{MC_NAME}"]
    pools = kubectl("get", "mcp", "worker", "-o", "jsonpath={.status.updatedMachineCount}/{.status.machineCount}")
    assert pools.stdout == "3/3", pools.stderr

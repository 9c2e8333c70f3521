"""upgrade apply end to end: a layered worker pool on 4.16.3 upgraded to 4.16.8 with one reboot per worker
node, on the emulated API driven by the simulated MCO and CVO (tests/support/mco.py, cvo.py), with the
project really rebuilt on 4.16.8's base and pushed to the rig registry by upgrade plan's make_plan.

Each test gets a fresh cluster and a fresh project (its image applied to the worker pool first, with
the real tool), so the reboot counts start from a known state."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

from rhcos_layer import upgrade_apply as core
from tests.integration.conftest import Outcome
from tests.support.cvo import SimulatedCVO, seed_release, seed_updates
from tests.support.kube import KubeAPI, trust_registry_ca
from tests.support.mco import SimulatedMCO

LOOPBACK_OK = ["--ignore-preflight-errors", "LoopbackRegistry"]
MC_NAME = "99-zz-rhcos-layer-0-worker"
OLD, NEW = "4.16.3", "4.16.8"
WORKERS = ["worker-0", "worker-1", "worker-2"]


def _project(folder: Path, base: str, image: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Containerfile").write_text(
        f"FROM {base}\nRUN rpm-ostree install usbguard && ostree container commit\n")
    (folder / "rhcos-layer.yaml").write_text(f"image: {image}\n")
    return folder


class Rig:
    """One test's cluster: the API, the simulated MCO and CVO, the layered project, and the tool."""

    def __init__(self, api: KubeAPI, mco: SimulatedMCO, cvo: SimulatedCVO, project: Path, releases, run) -> None:
        self.api, self.mco, self.cvo, self.project, self.releases, self._run = api, mco, cvo, project, releases, run

    def tool(self, *args: str, timeout: float = 300) -> Outcome:
        outcome: Outcome = self._run(list(args), self.project, timeout=timeout)
        return outcome

    def upgrade(self, *args: str, loopback_ok: bool = True) -> Outcome:
        return self.tool("upgrade", "apply", "--to", NEW, "--project", str(self.project / "rhcos-layer.yaml"),
                         *(LOOPBACK_OK if loopback_ok else []), *args)

    def pool(self, name: str = "worker") -> dict:
        return self.api.store.get("machineconfigpools", name)

    def reboots(self) -> Dict[str, int]:
        return dict(self.mco.reboots)

    def node_images(self, pool: str = "worker") -> List[str]:
        images = []
        for node in self.api.store.list("nodes", label_selector=f"node-role.kubernetes.io/{pool}"):
            current = node["metadata"]["annotations"]["machineconfiguration.openshift.io/currentConfig"]
            images.append(self.api.store.get("machineconfigs", current)["spec"]["osImageURL"])
        return images

    def base(self) -> str:
        cm = self.api.store.get("configmaps", "machine-config-osimageurl", "openshift-machine-config-operator")
        return str(cm["data"]["baseOSContainerImage"])


@pytest.fixture
def rig(tmp_path, kube_api, kubeconfig, tool_env, registry, upgrade_releases, rhcos_layer,
        monkeypatch) -> Iterator[Rig]:
    """4.16.3 with updates to 4.16.8 and 4.17.2; the worker pool runs a layered image built on 4.16.3 by
    the project (applied with the real tool)."""
    old = upgrade_releases[OLD]
    seed_release(kube_api, old, pull_secret=registry.auth_config())
    seed_updates(kube_api, upgrade_releases, current=OLD, available=[NEW, "4.17.2"])
    trust_registry_ca(kube_api, registry.host, registry.ca_path.read_bytes())
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    project = _project(tmp_path / "my-layer", old.base, f"{registry.host}/ops/upgrade-layered")
    mco = SimulatedMCO(kube_api, step_delay=0.02).start()
    cvo = SimulatedCVO(kube_api, releases=upgrade_releases, step_delay=0.05).start()
    try:
        it = Rig(kube_api, mco, cvo, project, upgrade_releases, rhcos_layer)
        for args in (["build"], ["push"], ["apply", "--pool", "worker", "--wait", *LOOPBACK_OK]):
            done = it.tool(*args)
            assert done.code == 0, (args, done.err)
        yield it
    finally:
        try:
            cvo.stop()
        finally:
            mco.stop()
    cvo.check()
    mco.check()


def _writes(api: KubeAPI) -> list:
    """Requests that change something (access reviews are POSTs that store nothing)."""
    return [r for r in api.requests if r[0] in ("POST", "PUT", "PATCH", "DELETE")
            and not r[1].startswith("/apis/authorization.k8s.io/")]


def _pushed(rig: Rig) -> str:
    state = json.loads((rig.project / ".rhcos-layer.state.json").read_text())
    return str(state["push"]["pullspec"])


def test_the_upgrade_reboots_each_worker_node_once_into_the_new_base_with_the_layer(rig: Rig) -> None:
    before = rig.reboots()
    new = rig.releases[NEW]
    result = rig.upgrade("--start-cluster-upgrade", "--wait", "-o", "json")
    assert result.code == 0, result.err
    state = json.loads(result.out)
    image = _pushed(rig)  # upgrade plan's push of the rebuild is the project's last push
    assert state["target"] == {"version": NEW, "image": new.payload}
    assert state["cluster"]["state"] == core.COMPLETED
    assert [(p["pool"], p["state"], p["image"], p["machines"], p["updated"]) for p in state["pools"]] == [
        ("worker", core.DONE, image, 3, 3)]
    after = rig.reboots()
    assert {n: after.get(n, 0) - before.get(n, 0) for n in WORKERS} == {n: 1 for n in WORKERS}
    assert set(rig.node_images()) == {image}
    assert rig.base() == new.base
    mc = rig.api.store.get("machineconfigs", MC_NAME)
    assert mc["spec"]["osImageURL"] == image
    assert mc["metadata"]["annotations"]["rhcos-layer.io/base-image"] == new.base
    pool = rig.pool()
    assert pool["spec"]["paused"] is False
    assert core.PAUSED_ANNOTATION not in (pool["metadata"].get("annotations") or {})
    assert f"worker: paused for the upgrade to {NEW}" in result.err
    assert f"Started the cluster upgrade to {NEW}" in result.err
    assert "worker: MachineConfig 99-zz-rhcos-layer-0-worker updated" in result.err
    # run again: the cluster says it is all done; nothing is written, nothing reboots
    rig.api.reset_requests()
    again = rig.upgrade("--wait")
    assert again.code == 0, again.err
    assert _writes(rig.api) == []
    assert rig.reboots() == after
    assert again.out.splitlines()[-1].startswith(f"worker: done: {image} on 3/3 nodes")


def test_ctrl_c_in_the_middle_then_the_same_command_picks_up(rig: Rig) -> None:
    before = rig.reboots()
    rig.cvo.step_delay = 3.0  # the cluster upgrade takes a while: time to interrupt it
    args = [sys.executable, "-m", "rhcos_layer", "upgrade", "apply", "--to", NEW, "--project",
            str(rig.project / "rhcos-layer.yaml"), *LOOPBACK_OK, "--start-cluster-upgrade", "--wait"]
    proc = subprocess.Popen(args, cwd=rig.project, env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            cv = rig.api.store.get("clusterversions", "version")
            if (cv.get("spec") or {}).get("desiredUpdate") and rig.pool()["spec"].get("paused"):
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert (f"Pick up with: rhcos-layer upgrade apply --to {NEW} --project {rig.project / 'rhcos-layer.yaml'}"
            " --ignore-preflight-errors LoopbackRegistry --wait") in err
    assert "Traceback" not in err
    assert rig.pool()["spec"]["paused"] is True  # the interrupted run left the pool held, as it said
    rig.cvo.step_delay = 0.05
    again = rig.upgrade("--wait")
    assert again.code == 0, again.err
    assert "paused for the upgrade" not in again.err  # it read that it had paused the pool already
    assert "Started the cluster upgrade" not in again.err
    after = rig.reboots()
    assert {n: after.get(n, 0) - before.get(n, 0) for n in WORKERS} == {n: 1 for n in WORKERS}
    assert set(rig.node_images()) == {_pushed(rig)}
    assert rig.pool()["spec"]["paused"] is False


def test_a_failed_cluster_upgrade_stops_with_the_pools_paused(rig: Rig) -> None:
    before = rig.reboots()
    rig.cvo.fail_upgrade("Cluster operator kube-apiserver is degraded")
    result = rig.upgrade("--start-cluster-upgrade", "--wait", "-o", "json")
    assert result.code == 21, result.err
    state = json.loads(result.out)  # the state it stopped in, for scripts
    assert (state["cluster"]["state"], state["pools"][0]["state"]) == (core.FAILED, core.PAUSED)
    assert state["error"].startswith(f"the cluster upgrade to {NEW} failed")
    assert (f"Error: the cluster upgrade to {NEW} failed: Cluster operator kube-apiserver is degraded; pools worker"
            " stay paused (none of their nodes moved)") in result.err
    assert f"pick up with: rhcos-layer upgrade apply --to {NEW}" in result.err
    assert core.unpause_command("worker") in result.err
    assert rig.pool()["spec"]["paused"] is True
    after = rig.reboots()
    assert all(after.get(n, 0) == before.get(n, 0) for n in WORKERS)
    assert rig.api.store.get("machineconfigs", MC_NAME)["metadata"]["annotations"][
        "rhcos-layer.io/base-image"] == rig.releases[OLD].base


def test_a_plan_that_is_not_ready_is_refused_and_nothing_is_written(rig: Rig) -> None:
    with (rig.project / "Containerfile").open("a") as fh:  # builds on 4.16.3's base only
        fh.write("RUN grep -q 'OSTREE_VERSION=\"416.94.202406251923-0\"' /usr/lib/os-release\n")
    rig.api.reset_requests()
    result = rig.upgrade("--start-cluster-upgrade", "--wait")
    assert result.code == 20, result.err
    assert f"upgrade to {NEW} is not ready: pool worker: build-failed" in result.err
    assert _writes(rig.api) == []
    assert rig.pool()["spec"]["paused"] is False


def test_without_start_it_waits_for_the_admin_and_no_wait_picks_up_later(rig: Rig) -> None:
    before = rig.reboots()
    rig.api.reset_requests()
    dry = rig.upgrade("--dry-run", "--start-cluster-upgrade", "-o", "json")
    assert dry.code == 0, dry.err
    assert _writes(rig.api) == []
    assert json.loads(dry.out)["pools"][0]["state"] == core.TO_PAUSE
    assert json.loads(dry.out)["next"] == "nothing was changed (--dry-run)"
    first = rig.upgrade("--no-wait")
    assert first.code == 0, first.err
    assert f"Start the cluster upgrade when ready: oc adm upgrade --to {NEW}" in first.err
    assert f"pick up with: rhcos-layer upgrade apply --to {NEW}" in first.err
    assert rig.pool()["spec"]["paused"] is True
    assert not (rig.api.store.get("clusterversions", "version")["spec"].get("desiredUpdate"))
    # the admin starts it, as oc adm upgrade --to does
    rig.api.store.patch("clusterversions", "version", {"spec": {"desiredUpdate": {
        "version": NEW, "image": rig.releases[NEW].payload}}})
    again = rig.upgrade("--wait")
    assert again.code == 0, again.err
    after = rig.reboots()
    assert {n: after.get(n, 0) - before.get(n, 0) for n in WORKERS} == {n: 1 for n in WORKERS}


def test_a_node_degraded_in_the_final_rollout_exits_13_with_the_way_back(rig: Rig) -> None:
    rig.mco.degrade_node("worker-1", "failed to pull the image: unauthorized")
    result = rig.upgrade("--start-cluster-upgrade", "--wait")
    assert result.code == 13, result.err
    assert "pool worker: node worker-1 is Degraded: failed to pull the image: unauthorized" in result.err
    assert "rhcos-layer rollback --pool worker" in result.err
    assert rig.base() == rig.releases[NEW].base  # the cluster itself upgraded


def test_a_layered_master_pool_is_refused(rig: Rig) -> None:
    image = _pushed(rig)
    done = rig.tool("apply", "--pool", "master", "--image", image, "--wait", *LOOPBACK_OK)
    assert done.code == 0, done.err
    result = rig.upgrade("--start-cluster-upgrade", "--wait")
    assert result.code == 12, result.err
    assert "pool master runs a layered image: pausing it would hold the control-plane upgrade" in result.err
    assert "rhcos-layer rollback --pool master --wait" in result.err
    assert rig.pool()["spec"]["paused"] is False
    assert not rig.api.store.get("clusterversions", "version")["spec"].get("desiredUpdate")


def test_a_plan_gone_stale_while_paused_is_refused_until_replanned(rig: Rig) -> None:
    first = rig.upgrade("--no-wait")
    assert first.code == 0, first.err
    planned = rig.pool()["metadata"]["annotations"][core.IMAGE_ANNOTATION]
    with (rig.project / "Containerfile").open("a") as fh:  # another build of the project, pushed meanwhile
        fh.write("RUN echo changed > /etc/changed\n")
    stale = rig.upgrade("--start-cluster-upgrade", "--wait")
    assert stale.code == 20, stale.err
    assert f"pool worker was paused for {NEW} with {planned}, but the plan now gives" in stale.err
    assert not rig.api.store.get("clusterversions", "version")["spec"].get("desiredUpdate")
    replanned = rig.upgrade("--start-cluster-upgrade", "--wait", "--replan")
    assert replanned.code == 0, replanned.err
    assert set(rig.node_images()) == {_pushed(rig)} and _pushed(rig) != planned



def test_a_new_image_refused_after_the_upgrade_leaves_the_pools_paused_until_fixed(rig: Rig) -> None:
    """apply's preflight runs on the upgraded cluster: a refusal there (here LoopbackRegistry, not ignored)
    stops with the pools still paused, and the same command with the fix finishes with one reboot."""
    before = rig.reboots()
    refused = rig.upgrade("--start-cluster-upgrade", "--wait", loopback_ok=False)
    assert refused.code == 12, refused.err
    assert ("is a loopback address: each node would pull from itself; nothing was changed; pools worker stay paused"
            f" (the cluster runs {NEW})") in refused.err
    assert "then run the same command again" in refused.err
    assert rig.base() == rig.releases[NEW].base
    assert rig.pool()["spec"]["paused"] is True
    assert rig.api.store.get("machineconfigs", MC_NAME)["spec"]["osImageURL"] != _pushed(rig)
    fixed = rig.upgrade("--wait")
    assert fixed.code == 0, fixed.err
    after = rig.reboots()
    assert {n: after.get(n, 0) - before.get(n, 0) for n in WORKERS} == {n: 1 for n in WORKERS}


def test_a_stalled_cluster_upgrade_exits_21_once_nothing_moves(rig: Rig) -> None:
    """The CVO never completes; the master pool rolls (progress) and then nothing changes any more."""
    before = rig.reboots()
    rig.cvo.stall()
    result = rig.upgrade("--start-cluster-upgrade", "--wait", "--progress-deadline", "3s")
    assert result.code == 21, result.err
    assert f"Error: the cluster upgrade to {NEW} stalled: the cluster upgrade to {NEW}: upgrading" in result.err
    assert "pools worker stay paused (none of their nodes moved)" in result.err
    after = rig.reboots()
    assert all(after.get(n, 0) == before.get(n, 0) for n in WORKERS)
    assert rig.pool()["spec"]["paused"] is True


def test_a_conditional_update_needs_allow_not_recommended(rig: Rig) -> None:
    from tests.support.cvo import risk

    seed_updates(rig.api, rig.releases, current=OLD, available=["4.17.2"],
                 conditional={NEW: [risk("OVNRestart", "pods lose network for a minute")]})
    refused = rig.upgrade("--start-cluster-upgrade", "--wait")
    assert refused.code == 12, refused.err
    assert f"{NEW} is a conditional update, not recommended for this cluster (OVNRestart: pods lose network" \
        in refused.err
    assert "--allow-not-recommended" in refused.err
    assert rig.pool()["spec"]["paused"] is False
    taken = rig.upgrade("--start-cluster-upgrade", "--wait", "--allow-not-recommended")
    assert taken.code == 0, taken.err
    assert f"Warning: {NEW} is not recommended for this cluster (--allow-not-recommended): OVNRestart" in taken.err
    cv = rig.api.store.get("clusterversions", "version")
    assert cv["spec"]["desiredUpdate"] == {"version": NEW, "image": rig.releases[NEW].payload}
    assert set(rig.node_images()) == {_pushed(rig)}


def test_a_resume_reads_the_cluster_not_the_local_files(rig: Rig, registry) -> None:
    """The run that paused the pools may have been on another machine: the resume has none of its files
    (the project's build and push records are gone), only the project and the cluster."""
    before = rig.reboots()
    first = rig.upgrade("--no-wait")
    assert first.code == 0, first.err
    planned = rig.pool()["metadata"]["annotations"][core.IMAGE_ANNOTATION]
    (rig.project / ".rhcos-layer.state.json").unlink()
    again = rig.upgrade("--start-cluster-upgrade", "--wait")
    assert again.code == 0, again.err
    assert "paused for the upgrade" not in again.err
    after = rig.reboots()
    assert {n: after.get(n, 0) - before.get(n, 0) for n in WORKERS} == {n: 1 for n in WORKERS}
    assert set(rig.node_images()) == {planned}
    import base64

    token = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    for secret in (registry.password, token):  # the pull secret's and the push credentials: never printed
        assert secret not in first.out + first.err + again.out + again.err


def test_a_minor_update_the_cluster_calls_not_upgradeable_is_refused_before_the_pause(rig: Rig) -> None:
    from tests.support.cvo import set_upgradeable

    set_upgradeable(rig.api, False, "AdminAckRequired", "Kubernetes 1.30 removes several APIs: ack it first")
    rig.api.reset_requests()
    result = rig.tool("upgrade", "apply", "--to", "4.17.2", "--project", str(rig.project / "rhcos-layer.yaml"),
                      *LOOPBACK_OK, "--start-cluster-upgrade", "--wait")
    assert result.code == 12, result.err
    assert ("the cluster is not upgradeable to another minor version (4.16 to 4.17): Kubernetes 1.30 removes"
            " several APIs: ack it first; nothing was changed") in result.err
    assert _writes(rig.api) == []
    assert rig.pool()["spec"]["paused"] is False
    assert not rig.api.store.get("clusterversions", "version")["spec"].get("desiredUpdate")


def test_a_conditional_update_left_to_the_admin_prints_a_command_oc_accepts(rig: Rig) -> None:
    from tests.support.cvo import risk

    seed_updates(rig.api, rig.releases, current=OLD, available=["4.17.2"],
                 conditional={NEW: [risk("OVNRestart", "pods lose network for a minute")]})
    result = rig.upgrade("--no-wait", "--allow-not-recommended")
    assert result.code == 0, result.err
    assert f"Start the cluster upgrade when ready: oc adm upgrade --to {NEW} --allow-not-recommended" in result.err
    assert rig.pool()["spec"]["paused"] is True


def test_a_cluster_already_failing_is_refused_as_oc_adm_upgrade_refuses_it(rig: Rig) -> None:
    from tests.support.cvo import set_conditions

    cv = rig.api.store.get("clusterversions", "version")
    rig.api.store.patch("clusterversions", "version", {"status": {"conditions": set_conditions(
        cv["status"].get("conditions") or [], {"type": "Failing", "status": "True", "reason": "ClusterOperatorDegraded",
                                               "message": "Cluster operator etcd is degraded",
                                               "lastTransitionTime": "2026-11-27T00:00:00Z"})}})
    rig.api.reset_requests()
    result = rig.upgrade("--start-cluster-upgrade", "--wait")
    assert result.code == 12, result.err
    assert ("the cluster reports Failing=True before the upgrade: Cluster operator etcd is degraded; nothing was"
            " changed") in result.err
    assert _writes(rig.api) == []
    assert rig.pool()["spec"]["paused"] is False

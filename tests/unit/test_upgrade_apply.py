"""upgrade_apply's core: reading ClusterVersion, the refusals before any write, pausing with its undo,
starting the upgrade, and the wait for the cluster, against the emulated API (tests/support/kube.py)
through the real cluster adapter. The plan is built here as upgrade plan hands it over."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import pytest

from rhcos_layer import upgrade_apply as core
from rhcos_layer.adapters.cluster import Cluster
from rhcos_layer.errors import (
    ClusterConflict,
    ClusterUpgradeFailed,
    PartiallyApplied,
    PreflightFailed,
    RhcosLayerError,
    UpgradeNotReady,
)
from rhcos_layer.machineconfig import render
from rhcos_layer.upgrade import BUILD_FAILED, READY, PoolUpgrade, Target, UpgradePlan
from tests.support.cvo import set_upgradeable
from tests.support.kube import KubeAPI, OpenShiftSeed

NEW = "4.16.8"
NEW_RELEASE = "quay.io/openshift-release-dev/ocp-release@sha256:" + "8" * 64
IMAGE = "registry.example.com/ops/layered@sha256:" + "a" * 64
OTHER_IMAGE = "registry.example.com/ops/layered@sha256:" + "b" * 64


def _pool(pool: str, state: str, image: Optional[str], reason: str = "") -> PoolUpgrade:
    """A pool as upgrade plan reports it (only what upgrade apply reads is filled in)."""
    return PoolUpgrade(pool, state, "rhel-coreos", "", "", image, None, (), (), reason, project="my-layer")


def _plan(*pools: PoolUpgrade) -> UpgradePlan:
    return UpgradePlan("4.16.3", Target(NEW, NEW_RELEASE), pools or (_pool("worker", READY, IMAGE),))


def _cv(api: KubeAPI) -> Dict[str, Any]:
    cv = api.store.get("clusterversions", "version")
    assert cv is not None
    return copy.deepcopy(cv)


def _offer(api: KubeAPI, *, conditional: bool = False) -> None:
    """The cluster offers NEW (recommended, or only as a conditional update with a risk)."""
    cv = _cv(api)
    if conditional:
        cv["status"]["conditionalUpdates"] = [{"release": {"version": NEW, "image": NEW_RELEASE}, "risks": [
            {"name": "OVNRestart", "message": "pods lose network for a minute", "url": "https://example.com",
             "matchingRules": [{"type": "Always"}]}], "conditions": [{"type": "Recommended", "status": "False"}]}]
    else:
        cv["status"]["availableUpdates"] = [{"version": NEW, "image": NEW_RELEASE}]
    api.store.put(cv)


def _layer_worker(api: KubeAPI, project: str = "my-layer") -> None:
    mc = render("worker", "registry.example.com/ops/layered@sha256:" + "c" * 64, project=project)
    api.store.put(mc)


@pytest.fixture
def cluster(openshift: OpenShiftSeed, kubeconfig):
    with Cluster(str(kubeconfig)) as client:
        yield client


# ------------------------------------------------------------------ reading ClusterVersion


def _condition(kind: str, status: str, message: str = "") -> Dict[str, Any]:
    return {"type": kind, "status": status, "message": message}


def _version(desired: str, history: List[Tuple[str, str]], progressing: str = "False", failing: str = "False",
             spec: Optional[str] = None, message: str = "") -> Dict[str, Any]:
    return {"spec": {"desiredUpdate": {"version": spec, "image": "x"}} if spec else {},
            "status": {"desired": {"version": desired}, "history": [{"version": v, "state": s} for v, s in history],
                       "conditions": [_condition("Progressing", progressing, message),
                                      _condition("Failing", failing, "operator kube-apiserver is degraded")]}}


def test_read_upgrade_tells_each_stage_apart() -> None:
    settled = _version("4.16.3", [("4.16.3", "Completed")])
    assert core.read_upgrade(settled, NEW).state == core.NOT_STARTED
    assert core.read_upgrade(settled, NEW).current == "4.16.3"
    asked = _version("4.16.3", [("4.16.3", "Completed")], spec=NEW)  # the CVO has not picked it up yet
    assert core.read_upgrade(asked, NEW).state == core.UPGRADING
    moving = _version(NEW, [(NEW, "Partial"), ("4.16.3", "Completed")], progressing="True", spec=NEW,
                      message="Working towards 4.16.8: 106 of 845 done (12% complete)")
    assert core.read_upgrade(moving, NEW) == core.ClusterUpgrade(
        NEW, core.UPGRADING, "4.16.3", NEW, "Working towards 4.16.8: 106 of 845 done (12% complete)")
    # Completed in the history but the CVO still reports Progressing: not done yet
    finishing = _version(NEW, [(NEW, "Completed"), ("4.16.3", "Completed")], progressing="True", spec=NEW)
    assert core.read_upgrade(finishing, NEW).state == core.UPGRADING
    done = _version(NEW, [(NEW, "Completed"), ("4.16.3", "Completed")], spec=NEW)
    assert core.read_upgrade(done, NEW).state == core.COMPLETED
    failing = _version(NEW, [(NEW, "Partial"), ("4.16.3", "Completed")], progressing="True", failing="True",
                       spec=NEW)
    assert core.read_upgrade(failing, NEW) == core.ClusterUpgrade(
        NEW, core.FAILED, "4.16.3", NEW, "operator kube-apiserver is degraded")
    refused = _version("4.16.3", [("4.16.3", "Completed")], spec=NEW)  # a version the CVO cannot find
    refused["status"]["conditions"].append({"type": "ReleaseAccepted", "status": "False", "reason": "VersionNotFound",
                                            "message": "Unable to find 4.16.8 in the available updates"})
    assert core.read_upgrade(refused, NEW) == core.ClusterUpgrade(
        NEW, core.FAILED, "4.16.3", NEW, "the release was not accepted: Unable to find 4.16.8 in the available updates")
    other = _version("4.17.2", [("4.17.2", "Partial"), ("4.16.3", "Completed")], progressing="True", spec="4.17.2")
    assert core.read_upgrade(other, NEW).state == core.OTHER
    # a finished earlier upgrade whose desiredUpdate was left in spec is no upgrade in flight
    earlier = _version("4.16.3", [("4.16.3", "Completed"), ("4.16.1", "Completed")], spec="4.16.3")
    assert core.read_upgrade(earlier, NEW).state == core.NOT_STARTED


# ------------------------------------------------------------------ refusals before any write


def test_a_plan_that_is_not_ready_is_refused_with_each_pools_reason(cluster, kube_api) -> None:
    plan = _plan(_pool("worker", BUILD_FAILED, None, "STEP 2: exit status 1"), _pool("infra", READY, IMAGE))
    before = kube_api.store.resource_version
    with pytest.raises(UpgradeNotReady) as caught:
        core.survey(cluster, plan)
    assert caught.value.exit_code == 20
    assert caught.value.message == (f"upgrade to {NEW} is not ready: pool worker: build-failed (STEP 2: exit status"
                                    f" 1); upgrade apply --to {NEW} changed nothing")
    assert kube_api.store.resource_version == before


def test_a_layered_master_pool_is_refused_with_the_command_that_works(cluster, kube_api) -> None:
    with pytest.raises(PreflightFailed) as caught:
        core.survey(cluster, _plan(_pool("master", READY, IMAGE), _pool("worker", READY, IMAGE)))
    assert "pool master runs a layered image: pausing it would hold the control-plane upgrade" in caught.value.message
    assert caught.value.hint.startswith("roll it back to the base first (rhcos-layer rollback --pool master --wait)")
    assert kube_api.store.get("machineconfigpools", "worker")["spec"]["paused"] is False


def test_another_upgrade_in_flight_is_refused(cluster, kube_api) -> None:
    cv = _cv(kube_api)
    cv["spec"]["desiredUpdate"] = {"version": "4.16.5", "image": "r@sha256:" + "5" * 64}
    kube_api.store.put(cv)
    with pytest.raises(PreflightFailed) as caught:
        core.survey(cluster, _plan())
    assert caught.value.message.startswith(f"the cluster is upgrading to 4.16.5, not {NEW}")


def test_the_target_must_be_an_update_the_cluster_offers(cluster, kube_api) -> None:
    found = core.survey(cluster, _plan())
    with pytest.raises(PreflightFailed) as caught:
        core.preflight(cluster, found, allow_not_recommended=False)
    assert caught.value.message == (f"{NEW} is not an update this cluster offers (ClusterVersion"
                                    " status.availableUpdates); nothing was changed")
    _offer(kube_api, conditional=True)
    found = core.survey(cluster, _plan())
    with pytest.raises(PreflightFailed) as caught:
        core.preflight(cluster, found, allow_not_recommended=False)
    assert "is a conditional update, not recommended for this cluster (OVNRestart: pods lose network" \
        in caught.value.message
    assert "--allow-not-recommended" in caught.value.hint
    core.preflight(cluster, found, allow_not_recommended=True)
    assert found.risks == ["OVNRestart: pods lose network for a minute"]


def test_the_command_for_the_admin_to_start_a_conditional_update_accepts_its_risks(cluster, kube_api) -> None:
    _offer(kube_api)
    found = core.survey(cluster, _plan())
    core.preflight(cluster, found, allow_not_recommended=False)
    assert core.start_command(found) == f"oc adm upgrade --to {NEW}"
    kube_api.store.patch("clusterversions", "version", {"status": {"availableUpdates": None}})
    _offer(kube_api, conditional=True)
    found = core.survey(cluster, _plan())
    core.preflight(cluster, found, allow_not_recommended=True)
    # oc adm upgrade refuses a conditional update without the flag: the printed command would not work
    assert core.start_command(found) == f"oc adm upgrade --to {NEW} --allow-not-recommended"


def test_a_failing_cluster_is_refused_before_any_write(cluster, kube_api) -> None:
    _offer(kube_api)
    cv = _cv(kube_api)
    cv["status"]["conditions"] = [c for c in cv["status"].get("conditions") or [] if c["type"] != "Failing"] + [
        _condition("Failing", "True", "Cluster operator etcd is degraded")]
    kube_api.store.put(cv)
    found = core.survey(cluster, _plan())
    assert found.upgrade.state == core.NOT_STARTED
    kube_api.reset_requests()
    with pytest.raises(PreflightFailed) as caught:
        core.preflight(cluster, found, allow_not_recommended=False)
    assert caught.value.message == ("the cluster reports Failing=True before the upgrade: Cluster operator etcd is"
                                    " degraded; nothing was changed")
    assert [m for m, _, _ in kube_api.requests if m != "GET"] == []


def test_a_degraded_pool_is_refused(cluster, kube_api) -> None:
    _offer(kube_api)
    kube_api.store.patch("machineconfigpools", "master", {"status": {"degradedMachineCount": 1}})
    found = core.survey(cluster, _plan())
    with pytest.raises(PreflightFailed) as caught:
        core.preflight(cluster, found, allow_not_recommended=False)
    assert caught.value.message.startswith("pool master is degraded (1 degraded node(s))")


def test_upgradeable_false_refuses_a_minor_update_before_any_write_but_not_a_z_stream(cluster, kube_api) -> None:
    minor, minor_release = "4.17.2", "quay.io/openshift-release-dev/ocp-release@sha256:" + "7" * 64
    cv = _cv(kube_api)
    cv["status"]["availableUpdates"] = [{"version": NEW, "image": NEW_RELEASE},
                                        {"version": minor, "image": minor_release}]
    kube_api.store.put(cv)
    set_upgradeable(kube_api, False, "AdminAckRequired", "Kubernetes 1.30 removes APIs: ack it first")
    found = core.survey(cluster, UpgradePlan("4.16.3", Target(minor, minor_release), (_pool("worker", READY, IMAGE),)))
    kube_api.reset_requests()
    with pytest.raises(PreflightFailed) as caught:
        core.preflight(cluster, found, allow_not_recommended=False)
    assert caught.value.message == ("the cluster is not upgradeable to another minor version (4.16 to 4.17):"
                                    " Kubernetes 1.30 removes APIs: ack it first; nothing was changed")
    assert "admin-acks" in caught.value.hint
    assert [m for m, _, _ in kube_api.requests if m != "GET"] == []
    core.preflight(cluster, core.survey(cluster, _plan()), allow_not_recommended=False)  # a z-stream goes ahead


# ------------------------------------------------------------------ pausing, and its undo


def test_pause_marks_the_pool_as_ours_for_the_target(cluster, kube_api) -> None:
    _layer_worker(kube_api)
    found = core.survey(cluster, _plan())
    assert [(p.pool, p.state, p.project) for p in found.pools] == [("worker", core.TO_PAUSE, "my-layer")]
    assert core.pause(cluster, found) == ["worker"]
    pool = kube_api.store.get("machineconfigpools", "worker")
    assert pool["spec"]["paused"] is True
    assert pool["metadata"]["annotations"][core.PAUSED_ANNOTATION] == NEW
    assert pool["metadata"]["annotations"][core.IMAGE_ANNOTATION] == IMAGE
    # run again: it reads that it paused the pool itself, and pauses nothing more
    again = core.survey(cluster, _plan())
    assert [(p.pool, p.state) for p in again.pools] == [("worker", core.PAUSED)]
    assert core.pause(cluster, again) == []


def test_a_pool_paused_by_the_admin_is_held_not_taken_over(cluster, kube_api) -> None:
    kube_api.store.patch("machineconfigpools", "worker", {"spec": {"paused": True}})
    found = core.survey(cluster, _plan())
    assert [(p.pool, p.state) for p in found.pools] == [("worker", core.HELD)]
    assert core.pause(cluster, found) == []
    assert core.PAUSED_ANNOTATION not in (kube_api.store.get("machineconfigpools", "worker")["metadata"]
                                          .get("annotations") or {})


def test_a_pool_paused_for_another_target_is_refused(cluster, kube_api) -> None:
    kube_api.store.patch("machineconfigpools", "worker", {"spec": {"paused": True}, "metadata": {
        "annotations": {core.PAUSED_ANNOTATION: "4.16.5"}}})
    with pytest.raises(PreflightFailed) as caught:
        core.survey(cluster, _plan())
    assert caught.value.message.startswith("pool worker was paused by rhcos-layer for an upgrade to 4.16.5")
    assert "rhcos-layer upgrade apply --to 4.16.5" in caught.value.hint


def test_a_stale_plan_is_refused_unless_replanned(cluster, kube_api) -> None:
    kube_api.store.patch("machineconfigpools", "worker", {"spec": {"paused": True}, "metadata": {
        "annotations": {core.PAUSED_ANNOTATION: NEW, core.IMAGE_ANNOTATION: OTHER_IMAGE}}})
    with pytest.raises(UpgradeNotReady) as caught:
        core.survey(cluster, _plan())
    assert caught.value.message == (f"pool worker was paused for {NEW} with {OTHER_IMAGE}, but the plan now gives"
                                    f" {IMAGE} (another build was pushed meanwhile); nothing was changed")
    assert caught.value.hint.endswith(f"rhcos-layer upgrade apply --to {NEW} --replan")
    found = core.survey(cluster, _plan(), replan=True)
    assert [(p.pool, p.state, p.image) for p in found.pools] == [("worker", core.PAUSED, IMAGE)]
    assert core.pause(cluster, found) == []  # already paused: only the planned image is recorded anew
    assert kube_api.store.get("machineconfigpools", "worker")["metadata"]["annotations"][
        core.IMAGE_ANNOTATION] == IMAGE
    assert [p.pool for p in core.survey(cluster, _plan()).pools] == ["worker"]  # no longer stale


def test_custom_pools_that_inherit_a_layered_worker_are_paused_too(cluster, kube_api, openshift) -> None:
    from tests.support.mco import SimulatedMCO

    SimulatedMCO(kube_api).scale("infra", 1)  # a custom pool as the docs make it: role in (worker, infra)
    found = core.survey(cluster, _plan())
    assert [(p.pool, p.inherits, p.machineconfig) for p in found.pools] == [
        ("worker", False, "99-zz-rhcos-layer-0-worker"), ("infra", True, "99-zz-rhcos-layer-0-worker")]
    assert core.pause(cluster, found) == ["worker", "infra"]
    assert kube_api.store.get("machineconfigpools", "infra")["spec"]["paused"] is True


def test_a_failed_pause_unpauses_what_it_paused(cluster, kube_api) -> None:
    from tests.support.mco import SimulatedMCO

    SimulatedMCO(kube_api).scale("infra", 1)
    kube_api.fail(500, method="PATCH", path="/apis/machineconfiguration.openshift.io/v1/machineconfigpools/infra")
    found = core.survey(cluster, _plan())
    with pytest.raises(RhcosLayerError) as caught:
        core.pause(cluster, found)
    assert caught.value.message.startswith("pool infra: patch machineconfigpool infra failed with HTTP 500")
    assert caught.value.message.endswith("; nothing was changed")
    worker = kube_api.store.get("machineconfigpools", "worker")
    assert worker["spec"]["paused"] is False
    assert core.PAUSED_ANNOTATION not in (worker["metadata"].get("annotations") or {})


class _FailingWrites:
    """The real adapter, whose n-th patch_pool calls (1-based) fail as the API server's 500 does: the
    emulator's faults match by path only, and the pause and its undo patch the same path."""

    def __init__(self, cluster: Cluster, failing: Tuple[int, ...]) -> None:
        self._cluster = cluster
        self._failing = failing
        self.calls = 0

    def patch_pool(self, name: str, patch: Dict[str, Any], resource_version: Optional[str] = None) -> Dict[str, Any]:
        self.calls += 1
        if self.calls in self._failing:
            raise RhcosLayerError(f"patch machineconfigpool {name} failed with HTTP 500: injected")
        return self._cluster.patch_pool(name, patch, resource_version)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cluster, name)


def test_a_failed_pause_whose_undo_fails_says_what_stays_paused(cluster, kube_api) -> None:
    from tests.support.mco import SimulatedMCO

    SimulatedMCO(kube_api).scale("infra", 1)
    found = core.survey(cluster, _plan())
    flaky = _FailingWrites(cluster, failing=(2, 3))  # worker paused; infra fails; putting worker back fails
    with pytest.raises(PartiallyApplied) as caught:
        core.pause(flaky, found)
    assert caught.value.exit_code == 19
    assert caught.value.message == ("pool infra: patch machineconfigpool infra failed with HTTP 500: injected;"
                                    " paused before it and still paused: worker")
    assert caught.value.hint == "unpause with: " + core.unpause_command("worker")
    assert kube_api.store.get("machineconfigpools", "worker")["spec"]["paused"] is True


def test_the_pause_carries_the_resource_version_it_read(cluster, kube_api) -> None:
    """An admin's change between our read and our pause is a conflict, never overwritten."""
    stale = kube_api.store.get("machineconfigpools", "worker")["metadata"]["resourceVersion"]
    kube_api.store.patch("machineconfigpools", "worker", {"spec": {"maxUnavailable": 2}})
    with pytest.raises(ClusterConflict):
        cluster.patch_pool("worker", {"spec": {"paused": True}}, stale)
    assert kube_api.store.get("machineconfigpools", "worker")["spec"]["paused"] is False
    kube_api.reset_requests()
    core.pause(cluster, core.survey(cluster, _plan()))
    patches = [q for m, _, q in kube_api.requests if m == "PATCH"]
    assert len(patches) == 1
    assert kube_api.store.get("machineconfigpools", "worker")["spec"]["paused"] is True


# ------------------------------------------------------------------ starting and waiting


def test_start_upgrade_writes_desired_update_as_oc_adm_upgrade_does(cluster, kube_api) -> None:
    _offer(kube_api)
    found = core.survey(cluster, _plan())
    core.preflight(cluster, found, allow_not_recommended=False)
    kube_api.reset_requests()
    core.start_upgrade(cluster, found)
    cv = kube_api.store.get("clusterversions", "version")
    assert cv["spec"]["desiredUpdate"] == {"version": NEW, "image": NEW_RELEASE}
    assert [(m, p) for m, p, _ in kube_api.requests] == [
        ("PATCH", "/apis/config.openshift.io/v1/clusterversions/version")]


def test_the_wait_stops_on_a_failing_upgrade_with_the_pools_left_paused(cluster, kube_api, monkeypatch) -> None:
    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    _layer_worker(kube_api)
    found = core.survey(cluster, _plan())
    core.pause(cluster, found)
    cv = _cv(kube_api)
    cv["spec"]["desiredUpdate"] = {"version": NEW, "image": NEW_RELEASE}
    cv["status"]["desired"] = {"version": NEW, "image": NEW_RELEASE}
    cv["status"]["history"].insert(0, {"version": NEW, "image": NEW_RELEASE, "state": "Partial"})
    for c in cv["status"]["conditions"]:
        if c["type"] == "Failing":
            c.update(status="True", message="Cluster operator kube-apiserver is degraded")
    kube_api.store.put(cv)
    seen: List[str] = []
    with pytest.raises(ClusterUpgradeFailed) as caught:
        core.wait_for(cluster, found, core.COMPLETED, timeout=None, progress_deadline=None, notice=seen.append,
                      on_change=lambda u: seen.append(u.state), resume="again")
    assert caught.value.exit_code == 21
    assert caught.value.message == (f"the cluster upgrade to {NEW} failed: Cluster operator kube-apiserver is"
                                    " degraded; pools worker stay paused (none of their nodes moved)")
    assert f"pick up with: rhcos-layer upgrade apply --to {NEW}" in caught.value.hint
    assert core.unpause_command("worker") in caught.value.hint
    assert seen == [core.FAILED]
    assert kube_api.store.get("machineconfigpools", "worker")["spec"]["paused"] is True


def test_an_upgrade_without_progress_is_a_stalled_upgrade(cluster, kube_api, monkeypatch) -> None:
    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    found = core.survey(cluster, _plan())
    cv = _cv(kube_api)
    cv["spec"]["desiredUpdate"] = {"version": NEW, "image": NEW_RELEASE}
    kube_api.store.put(cv)
    with pytest.raises(ClusterUpgradeFailed) as caught:
        core.wait_for(cluster, found, core.COMPLETED, timeout=None, progress_deadline=0.3, notice=lambda t: None,
                      on_change=lambda u: None, resume="again")
    assert caught.value.message.startswith(f"the cluster upgrade to {NEW} stalled: the cluster upgrade to {NEW}:"
                                           " upgrading")


def test_waiting_for_the_admin_to_start_has_no_progress_deadline(cluster, kube_api, monkeypatch) -> None:
    """Nobody starting the upgrade is no stall: only --timeout ends that wait (14)."""
    from rhcos_layer.errors import RolloutTimeout

    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    found = core.survey(cluster, _plan())
    with pytest.raises(RolloutTimeout) as caught:
        core.wait_for(cluster, found, core.UPGRADING, timeout=0.6, progress_deadline=0.1, notice=lambda t: None,
                      on_change=lambda u: None, resume="again")
    assert caught.value.message.startswith(f"the cluster upgrade to {NEW} is not started after the --timeout")


@dataclass
class _View:
    name: str
    target: str
    current: str
    machines: int
    updated: int
    settled: bool = True


def test_apply_views_marks_settled_pools_done() -> None:
    found = core.Survey(NEW, NEW_RELEASE, core.ClusterUpgrade(NEW, core.COMPLETED, NEW, NEW),
                        pools=[core.PoolStep("worker", IMAGE, core.ROLLING)])
    core.apply_views(found, [_View("worker", "rendered-worker-1", "rendered-worker-1", 3, 3)])
    assert found.as_dict()["pools"] == [{
        "pool": "worker", "image": IMAGE, "machineconfig": "99-zz-rhcos-layer-0-worker", "state": core.DONE,
        "inherits_worker": False, "rendered": "rendered-worker-1", "machines": 3, "updated": 3}]



def test_the_plan_is_asked_for_the_release_the_cluster_already_moves_to() -> None:
    """Once the upgrade started, the target is no longer among the cluster's updates: a resumed run plans
    for the release image the cluster desires."""
    settled = _version("4.16.3", [("4.16.3", "Completed")])
    assert core.plan_request(settled, NEW) == (NEW, None)
    moving = _version(NEW, [(NEW, "Partial"), ("4.16.3", "Completed")], progressing="True", spec=NEW)
    moving["status"]["desired"]["image"] = NEW_RELEASE
    assert core.plan_request(moving, NEW) == (None, NEW_RELEASE)
    asked = _version("4.16.3", [("4.16.3", "Completed")], spec=NEW)
    asked["spec"]["desiredUpdate"]["image"] = NEW_RELEASE
    assert core.plan_request(asked, NEW) == (None, NEW_RELEASE)


def test_every_permission_the_run_needs_is_asked_before_any_write(cluster, kube_api) -> None:
    from rhcos_layer.errors import ClusterForbidden

    _offer(kube_api)
    found = core.survey(cluster, _plan())
    core.require_permissions(cluster, found, start=True, wait=True)  # the emulator's admin may do it all
    kube_api.forbid("patch", "clusterversions")
    with pytest.raises(ClusterForbidden) as caught:
        core.require_permissions(cluster, found, start=True, wait=True)
    assert caught.value.message == ("not allowed to patch clusterversions.config.openshift.io (to start the cluster"
                                    " upgrade); nothing was changed")
    core.require_permissions(cluster, found, start=False, wait=True)  # the admin starts it: not needed
    kube_api.forbid("patch", "machineconfigpools")
    with pytest.raises(ClusterForbidden) as caught:
        core.require_permissions(cluster, found, start=False, wait=False)
    assert "patch machineconfigpools.machineconfiguration.openshift.io (to pause and unpause" in caught.value.message


class _MastersRebooting:
    """The real adapter, whose pool list shows the master pool's counter moving at each of the first
    ``moves`` refreshes (the nodes rebooting one after another), then standing still: a change per
    refresh, not per second, so the test does not depend on the machine's speed."""

    def __init__(self, cluster: Cluster, moves: int) -> None:
        self._cluster = cluster
        self.moves = moves
        self.refreshes = 0

    def watched_pools(self) -> List[Dict[str, Any]]:
        pools = self._cluster.watched_pools()
        self.refreshes += 1
        for pool in pools:
            if pool["metadata"]["name"] == "master":
                pool["status"]["updatedMachineCount"] = min(self.refreshes, self.moves)
        return pools

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cluster, name)


def test_control_plane_nodes_moving_are_progress_while_the_cluster_version_message_stands(cluster, kube_api,
                                                                                         monkeypatch) -> None:
    """The CVO's message stays the same while the master nodes reboot one by one: their counters moving is
    progress, so --progress-deadline does not end the wait; once nothing moves any more, it does (21)."""
    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    found = core.survey(cluster, _plan())
    cv = _cv(kube_api)
    cv["spec"]["desiredUpdate"] = {"version": NEW, "image": NEW_RELEASE}
    kube_api.store.put(cv)
    masters = _MastersRebooting(cluster, moves=20)  # 20 refreshes of 0.05 s at least: past the deadline
    with pytest.raises(ClusterUpgradeFailed) as caught:
        core.wait_for(masters, found, core.COMPLETED, timeout=None, progress_deadline=0.3,
                      notice=lambda t: None, on_change=lambda u: None, resume="again")
    assert masters.refreshes > 20  # it kept waiting while the nodes moved: the stall came after them
    assert "stalled" in caught.value.message


def test_rollback_lifts_the_pause_upgrade_apply_made_but_not_an_admins(cluster, kube_api) -> None:
    """Without our MachineConfig the pool waits for nothing of ours: rollback unpauses a pool we paused (the
    pool then rolls to the plain base), and leaves alone one someone else paused."""
    from rhcos_layer import rollback

    _layer_worker(kube_api)
    core.pause(cluster, core.survey(cluster, _plan()))
    plans = rollback.plan(cluster, ["worker"])
    assert [(p.pool, p.action, p.paused_for_upgrade) for p in plans] == [("worker", "delete", True)]
    rollback.execute(cluster, plans)
    pool = kube_api.store.get("machineconfigpools", "worker")
    assert kube_api.store.get("machineconfigs", "99-zz-rhcos-layer-0-worker") is None
    assert pool["spec"]["paused"] is False
    assert core.PAUSED_ANNOTATION not in (pool["metadata"].get("annotations") or {})

    _layer_worker(kube_api)
    kube_api.store.patch("machineconfigpools", "worker", {"spec": {"paused": True}})  # the admin's pause
    plans = rollback.plan(cluster, ["worker"])
    assert [p.paused_for_upgrade for p in plans] == [False]
    rollback.execute(cluster, plans)
    assert kube_api.store.get("machineconfigpools", "worker")["spec"]["paused"] is True

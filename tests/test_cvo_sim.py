"""The simulated Cluster Version Operator (tests/support/cvo.py) with the simulated MCO on the emulated API."""

from __future__ import annotations

import json
import time
from typing import Any, Dict, Iterator, List

import pytest

from tests.support.cvo import RELEASE_FILE, SimulatedCVO, risk, seed_release, seed_updates, set_upgradeable
from tests.support.kube import MCO_NAMESPACE, KubeAPI
from tests.support.mco import SimulatedMCO
from tests.support.payload import UpgradeRelease

Obj = Dict[str, Any]


def _release(version: str) -> Obj:
    tag = version.replace(".", "")
    return {"version": version, "payload": f"quay.io/openshift-release-dev/ocp-release@sha256:{tag:0>64}",
            "base": f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:{'b' + tag:0>64}",
            "extensions": f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:{'e' + tag:0>64}"}


RELEASES: Dict[str, Obj] = {v: _release(v) for v in ("4.16.3", "4.16.8", "4.17.2")}


@pytest.fixture
def cluster(kube_api: KubeAPI) -> Iterator[KubeAPI]:
    """4.16.3 on RELEASES' images (1 master, 2 workers, a custom pool infra with 1 node), updates seeded."""
    seed_release(kube_api, RELEASES["4.16.3"], masters=2, workers=2)
    seed_updates(kube_api, RELEASES, current="4.16.3", available=["4.16.8"],
                 conditional={"4.17.2": [risk("AzureRegistryImagePreservation", "Images may be lost.")]})
    yield kube_api


def _cv(api: KubeAPI) -> Obj:
    cv = api.store.get("clusterversions", "version")
    assert cv is not None
    return cv


def _cond(api: KubeAPI, type_: str) -> Obj:
    return next(c for c in _cv(api)["status"]["conditions"] if c["type"] == type_)


def _want(api: KubeAPI, **update: Any) -> None:
    api.store.patch("clusterversions", "version", {"spec": {"desiredUpdate": update}})


def _nodes(api: KubeAPI, prefix: str) -> List[str]:
    return sorted(n["metadata"]["name"] for n in api.store.list("nodes") if n["metadata"]["name"].startswith(prefix))


def test_seed_updates_shapes(cluster: KubeAPI) -> None:
    status = _cv(cluster)["status"]
    assert status["availableUpdates"] == [{"version": "4.16.8", "image": RELEASES["4.16.8"]["payload"]}]
    (cu,) = status["conditionalUpdates"]
    assert cu["release"] == {"version": "4.17.2", "image": RELEASES["4.17.2"]["payload"]}
    assert cu["risks"][0]["name"] == "AzureRegistryImagePreservation"
    assert cu["risks"][0]["matchingRules"][0]["type"] == "PromQL"
    assert [(c["type"], c["status"], c["reason"]) for c in cu["conditions"]] == [
        ("Recommended", "False", "AzureRegistryImagePreservation")]
    assert _cond(cluster, "RetrievedUpdates")["status"] == "True"
    with pytest.raises(RuntimeError, match="runs '4.16.3', not '4.16.8'"):
        seed_updates(cluster, RELEASES, current="4.16.8")


def test_upgrade_rolls_master_and_unpaused_pools_and_completes_on_master(cluster: KubeAPI) -> None:
    api = cluster
    with SimulatedMCO(api) as mco, SimulatedCVO(api, releases=RELEASES) as cvo:
        infra = mco.scale("infra", 1, instant=False)
        api.store.patch("machineconfigpools", "worker", {"spec": {"paused": True}})
        assert mco.wait_idle(10)
        worker_before = api.store.get("machineconfigpools", "worker")["spec"]["configuration"]["name"]
        master_before = api.store.get("machineconfigpools", "master")["spec"]["configuration"]["name"]

        _want(api, version="4.16.8")
        assert cvo.wait_idle(30)
        status = _cv(api)["status"]
        assert [(h["version"], h["state"]) for h in status["history"]] == [("4.16.8", "Completed"),
                                                                         ("4.16.3", "Completed")]
        assert status["history"][0]["completionTime"]
        assert status["desired"]["version"] == "4.16.8"
        assert status["desired"]["image"] == RELEASES["4.16.8"]["payload"]
        assert (_cond(api, "Progressing")["status"], _cond(api, "Progressing")["message"]) == (
            "False", "Cluster version is 4.16.8")
        assert _cond(api, "Available")["message"] == "Done applying 4.16.8"
        # the chain from 4.16.8: 4.17.2 is still conditional, so not in availableUpdates
        assert status.get("availableUpdates") is None
        assert status["conditionalUpdates"][0]["release"]["version"] == "4.17.2"
        cm = api.store.get("configmaps", "machine-config-osimageurl", MCO_NAMESPACE)["data"]
        assert (cm["baseOSContainerImage"], cm["baseOSExtensionsContainerImage"], cm["releaseVersion"]) == (
            RELEASES["4.16.8"]["base"], RELEASES["4.16.8"]["extensions"], "4.16.8")
        cc = api.store.get("controllerconfigs", "machine-config-controller")["spec"]
        assert cc["releaseImage"] == RELEASES["4.16.8"]["payload"]
        assert api.store.get("machineconfigs", "00-worker")["spec"]["osImageURL"] == RELEASES["4.16.8"]["base"]
        assert api.openshift_version == "4.16.8"

        master = api.store.get("machineconfigpools", "master")
        assert master["spec"]["configuration"]["name"] != master_before
        assert master["status"]["configuration"]["name"] == master["spec"]["configuration"]["name"]
        rendered = api.store.get("machineconfigs", master["spec"]["configuration"]["name"])["spec"]
        assert rendered["osImageURL"] == RELEASES["4.16.8"]["base"]
        assert {"path": RELEASE_FILE, "mode": 420, "contents": {"source": "data:,4.16.8"}} in \
            rendered["config"]["storage"]["files"]
        assert all(mco.reboots.get(n) == 1 for n in _nodes(api, "master-")), mco.reboots

        assert mco.wait_idle(30)
        # paused: the new rendered config is in spec, no node moved
        worker = api.store.get("machineconfigpools", "worker")
        assert worker["spec"]["configuration"]["name"] != worker_before
        assert worker["status"]["configuration"]["name"] == worker_before
        assert [mco.reboots.get(n, 0) for n in _nodes(api, "worker-")] == [0, 0]
        # the unpaused custom pool rolled: one reboot per node
        assert [mco.reboots.get(n, 0) for n in infra] == [1]
        assert cvo.completed == ["4.16.8"]


def test_unknown_version_is_refused_and_nothing_moves(cluster: KubeAPI) -> None:
    api = cluster
    with SimulatedMCO(api) as mco, SimulatedCVO(api, releases=RELEASES) as cvo:
        _want(api, version="4.99.0")
        assert cvo.wait_idle(10)
        accepted = _cond(api, "ReleaseAccepted")
        assert (accepted["status"], accepted["reason"]) == ("False", "VersionNotFound")
        assert "4.99.0" in accepted["message"]
        # a conditional update by version alone is not found either (findUpdateFromConfigVersion)
        _want(api, version="4.17.2")
        assert cvo.wait_idle(10)
        assert _cond(api, "ReleaseAccepted")["reason"] == "VersionNotFound"
        _want(api, image="quay.io/somewhere/else@sha256:" + "f" * 64, version=None)
        assert cvo.wait_idle(10)
        assert _cond(api, "ReleaseAccepted")["reason"] == "RetrievePayload"
        assert mco.wait_idle(10)
        status = _cv(api)["status"]
        assert [h["version"] for h in status["history"]] == ["4.16.3"]
        assert status["desired"]["version"] == "4.16.3"
        assert _cond(api, "Progressing")["status"] == "False"
        assert api.store.get("configmaps", "machine-config-osimageurl", MCO_NAMESPACE)["data"]["releaseVersion"] \
            == "4.16.3"
        assert mco.reboots == {}


def test_conditional_update_by_image_is_taken(cluster: KubeAPI) -> None:
    api = cluster
    with SimulatedMCO(api), SimulatedCVO(api, releases=RELEASES) as cvo:
        _want(api, version="4.17.2", image=RELEASES["4.17.2"]["payload"])
        assert cvo.wait_idle(30)
        assert [(h["version"], h["state"]) for h in _cv(api)["status"]["history"]][0] == ("4.17.2", "Completed")
        assert _cond(api, "ReleaseAccepted")["reason"] == "PayloadLoaded"


def test_failed_upgrade_stays_partial(cluster: KubeAPI) -> None:
    api = cluster
    with SimulatedMCO(api) as mco, SimulatedCVO(api, releases=RELEASES) as cvo:
        cvo.fail_upgrade("Cluster operator machine-config is degraded")
        _want(api, version="4.16.8")
        assert cvo.wait_idle(10)
        assert mco.wait_idle(30)  # the master pool is updated, yet the upgrade does not complete
        assert cvo.wait_idle(10)
        status = _cv(api)["status"]
        assert (status["history"][0]["version"], status["history"][0]["state"]) == ("4.16.8", "Partial")
        assert status["history"][0]["completionTime"] is None
        failing = _cond(api, "Failing")
        assert (failing["status"], failing["reason"], failing["message"]) == (
            "True", "ClusterOperatorDegraded", "Cluster operator machine-config is degraded")
        progressing = _cond(api, "Progressing")
        assert (progressing["status"], progressing["message"]) == (
            "True", "Unable to apply 4.16.8: Cluster operator machine-config is degraded")
        assert cvo.completed == []


def test_stalled_upgrade_never_completes(cluster: KubeAPI) -> None:
    api = cluster
    with SimulatedMCO(api) as mco, SimulatedCVO(api, releases=RELEASES) as cvo:
        cvo.stall()
        _want(api, version="4.16.8")
        assert cvo.wait_moved("4.16.8", 30)
        assert mco.wait_idle(30)
        assert cvo.wait_idle(10)
        assert _cv(api)["status"]["history"][0]["state"] == "Partial"
        assert _cond(api, "Progressing")["message"] == "Working towards 4.16.8"
        assert _cond(api, "Failing")["status"] == "False"
        assert all(mco.reboots.get(n) == 1 for n in _nodes(api, "master-"))


def test_desired_update_validated_like_the_crd(cluster: KubeAPI, kubectl: Any) -> None:
    res = kubectl("patch", "clusterversion", "version", "--type", "merge", "-p",
                  json.dumps({"spec": {"desiredUpdate": {"architecture": "Multi", "image": "quay.io/x@sha256:1"}}}))
    assert res.returncode == 1
    assert "cannot set both Architecture and Image" in res.stderr
    res = kubectl("patch", "clusterversion", "version", "--type", "merge", "-p",
                  json.dumps({"spec": {"desiredUpdate": {"architecture": "Multi"}}}))
    assert "Version must be set if Architecture is set" in res.stderr
    res = kubectl("patch", "clusterversion", "version", "--type", "merge", "-p",
                  json.dumps({"spec": {"desiredUpdate": {"architecture": "arm64", "version": "4.16.8"}}}))
    assert 'Unsupported value: "arm64"' in res.stderr
    res = kubectl("patch", "clusterversion", "version", "--type", "merge", "-p",
                  json.dumps({"spec": {"desiredUpdate": {"force": "yes", "version": "4.16.8"}}}))
    assert res.returncode == 1
    assert "force" in res.stderr
    assert "desiredUpdate" not in _cv(cluster)["spec"]


def test_kubectl_reads_updates_and_starts_the_upgrade(
    kube_api: KubeAPI, kubectl: Any, upgrade_releases: Dict[str, UpgradeRelease]
) -> None:
    api = kube_api
    seed_release(api, upgrade_releases["4.16.3"], masters=1, workers=2)
    seed_updates(api, upgrade_releases, current="4.16.3", available=["4.16.8", "4.17.2"])
    with SimulatedMCO(api) as mco, SimulatedCVO(api, releases=upgrade_releases, mco=mco) as cvo:
        infra = mco.scale("infra", 1, instant=False)
        assert mco.wait_idle(10)
        res = kubectl("get", "clusterversion", "version", "-o", "json")
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout)["status"]["availableUpdates"] == [
            {"version": v, "image": upgrade_releases[v].payload} for v in ("4.16.8", "4.17.2")]
        res = kubectl("patch", "mcp", "worker", "--type", "merge", "-p", '{"spec":{"paused":true}}')
        assert res.returncode == 0, res.stderr
        res = kubectl("patch", "clusterversion", "version", "--type", "merge", "-p",
                      '{"spec":{"desiredUpdate":{"version":"4.16.8"}}}')
        assert res.returncode == 0, res.stderr
        assert cvo.wait_idle(30)
        assert mco.wait_idle(30)
        res = kubectl("get", "clusterversion", "version", "-o", "json")
        status = json.loads(res.stdout)["status"]
        assert [(h["version"], h["state"]) for h in status["history"]] == [("4.16.8", "Completed"),
                                                                         ("4.16.3", "Completed")]
        assert status["availableUpdates"] == [{"version": "4.17.2", "image": upgrade_releases["4.17.2"].payload}]
        res = kubectl("get", "clusterversion")
        assert res.stdout.split("\n")[1].split()[:2] == ["version", "4.16.8"]
        assert [mco.reboots.get(n, 0) for n in ("master-0", *infra, "worker-0", "worker-1")] == [1, 1, 0, 0]
        master = api.store.get("machineconfigpools", "master")["status"]["configuration"]["name"]
        assert api.store.get("machineconfigs", master)["spec"]["osImageURL"] == upgrade_releases["4.16.8"].base
        # the skew an upgrade leaves while a pool is paused, as the nodes report it
        res = kubectl("get", "nodes", "-o", "json")
        info = {n["metadata"]["name"]: n["status"]["nodeInfo"] for n in json.loads(res.stdout)["items"]}
        new, old = upgrade_releases["4.16.8"], upgrade_releases["4.16.3"]
        assert info["master-0"]["kubeletVersion"] == f"v{new.kubelet}+aba1e8d" == "v1.29.7+aba1e8d"
        assert info["master-0"]["kernelVersion"] == f"{new.kernel}.x86_64"
        assert info["master-0"]["containerRuntimeVersion"] == f"cri-o://{new.crio}"
        assert info["master-0"]["osImage"] == f"Red Hat Enterprise Linux CoreOS {new.rhcos_version} (Plow)"
        assert info[infra[0]]["kubeletVersion"] == "v1.29.7+aba1e8d"
        assert info["worker-0"]["kubeletVersion"] == f"v{old.kubelet}+aba1e8d" == "v1.29.6+aba1e8d"


def test_a_degraded_worker_pool_holds_the_upgrade(cluster: KubeAPI) -> None:
    api = cluster
    with SimulatedMCO(api) as mco, SimulatedCVO(api, releases=RELEASES) as cvo:
        mco.degrade_node("worker-0", "failed to pull the image")
        _want(api, version="4.16.8")
        assert cvo.wait_moved("4.16.8", 30)
        assert mco.wait_idle(30)
        worker = api.store.get("machineconfigpools", "worker")
        assert [c["status"] for c in worker["status"]["conditions"] if c["type"] == "Degraded"] == ["True"]
        master = api.store.get("machineconfigpools", "master")
        assert master["status"]["updatedMachineCount"] == 2
        assert master["status"]["configuration"]["name"] == master["spec"]["configuration"]["name"]
        assert cvo.wait_idle(0.5) is False  # still running: nothing completes it while a pool is Degraded
        assert _cv(api)["status"]["history"][0]["state"] == "Partial"
        assert _cond(api, "Progressing")["status"] == "True"
        api.store.patch("nodes", "worker-0", {"metadata": {"annotations": {
            "machineconfiguration.openshift.io/desiredConfig": api.store.get("nodes", "worker-0")["metadata"][
                "annotations"]["machineconfiguration.openshift.io/currentConfig"]}}})
        api.store.patch("machineconfigpools", "worker", {"spec": {"paused": True}})
        mco.retry_node("worker-0")
        assert mco.wait_idle(30)
        assert cvo.wait_idle(30)
        assert _cv(api)["status"]["history"][0]["state"] == "Completed"


def test_upgradeable_false_blocks_a_minor_update_not_a_z_stream(cluster: KubeAPI) -> None:
    api = cluster
    set_upgradeable(api, False)
    with SimulatedMCO(api), SimulatedCVO(api, releases=RELEASES) as cvo:
        _want(api, version="4.17.2", image=RELEASES["4.17.2"]["payload"])
        assert cvo.wait_idle(10)
        accepted = _cond(api, "ReleaseAccepted")
        assert (accepted["status"], accepted["reason"]) == ("False", "PreconditionChecks")
        assert '"ClusterVersionUpgradeable" failed because of "AdminAckRequired"' in accepted["message"]
        assert [h["version"] for h in _cv(api)["status"]["history"]] == ["4.16.3"]
        _want(api, version="4.16.8", image=None)
        assert cvo.wait_idle(30)
        assert [(h["version"], h["state"]) for h in _cv(api)["status"]["history"]][0] == ("4.16.8", "Completed")
        _want(api, version="4.17.2", image=RELEASES["4.17.2"]["payload"], force=True)
        assert cvo.wait_idle(30)
        assert [(h["version"], h["state"]) for h in _cv(api)["status"]["history"]][0] == ("4.17.2", "Completed")


def _upgradeable(api: KubeAPI) -> Obj:
    return next((c for c in _cv(api)["status"].get("conditions") or [] if c["type"] == "Upgradeable"), {})


def _until(check: Any, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())


def test_a_degraded_pool_makes_the_cluster_not_upgradeable_a_paused_one_does_not(cluster: KubeAPI) -> None:
    """The MCO's Upgradeable (pkg/operator/status.go) as ClusterVersion carries it: a pool paused with a
    config pending is not Updating and does not block; a Degraded pool blocks a minor update."""
    api = cluster
    with SimulatedMCO(api) as mco, SimulatedCVO(api, releases=RELEASES):
        api.store.patch("machineconfigpools", "worker", {"spec": {"paused": True}})
        api.store.put({"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfig",
                       "metadata": {"name": "99-worker-motd",
                                    "labels": {"machineconfiguration.openshift.io/role": "worker"}},
                       "spec": {"config": {"ignition": {"version": "3.2.0"}, "storage": {"files": [
                           {"path": "/etc/motd", "mode": 420, "contents": {"source": "data:,hello"}}]}}}})
        assert mco.wait_idle(30)
        worker = api.store.get("machineconfigpools", "worker")
        assert worker["spec"]["configuration"]["name"] != worker["status"]["configuration"]["name"]
        assert not _until(lambda: _upgradeable(api).get("status") == "False", 0.5)
        mco.degrade_node("worker-0", "failed to pull the image")
        api.store.patch("machineconfigpools", "worker", {"spec": {"paused": False}})
        assert _until(lambda: _upgradeable(api).get("reason") == "DegradedPool")
        assert _upgradeable(api)["status"] == "False"
        assert _upgradeable(api)["message"].startswith(
            "Cluster operator machine-config should not be upgraded between minor versions: One or more machine"
            " config pools are degraded")
        _want(api, version="4.17.2", image=RELEASES["4.17.2"]["payload"])
        assert _until(lambda: _cond(api, "ReleaseAccepted")["status"] == "False")
        accepted = _cond(api, "ReleaseAccepted")
        assert (accepted["reason"], '"ClusterVersionUpgradeable" failed because of "DegradedPool"' in accepted[
            "message"]) == ("PreconditionChecks", True)
        assert [h["version"] for h in _cv(api)["status"]["history"]] == ["4.16.3"]

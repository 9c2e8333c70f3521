"""Tests of the simulated Machine Config Operator (tests/support/mco.py), driven and checked through
the emulated API's HTTP interface with the kubernetes client and kubectl, as rhcos-layer will be."""

from __future__ import annotations

import json
import subprocess
import threading
from collections import defaultdict
from typing import Any, Callable, Dict, List, Optional

import kubernetes  # a dependency of rhcos-layer: missing, these tests must fail, not skip
import pytest

from tests.support.kube import KubeAPI, OpenShiftSeed
from tests.support.mco import (
    EXTENSIONS,
    KERNEL_PACKAGES,
    RenderError,
    Rollout,
    SimulatedMCO,
    candidate_machines,
    max_unavailable,
    merge_machine_configs,
    merge_order,
    pull_failure_reason,
    recovery_patch,
    selector_matches,
)

MCO = "machineconfiguration.openshift.io"
ROLE = f"{MCO}/role"
STATE, CURRENT, DESIRED, REASON = (f"{MCO}/state", f"{MCO}/currentConfig", f"{MCO}/desiredConfig",
                                   f"{MCO}/reason")
ACTION = f"{MCO}/post-config-action"
IMAGE = "registry.example.com/ops/rhcos-layered@sha256:" + "b" * 64
OTHER = "registry.example.com/ops/rhcos-other@sha256:" + "c" * 64
Obj = Dict[str, Any]
KubectlRunner = Callable[..., "subprocess.CompletedProcess[str]"]


# ======================================================================== helpers
def _custom(k8s: Any) -> Any:
    return kubernetes.client.CustomObjectsApi(k8s)


def _core(k8s: Any) -> Any:
    return kubernetes.client.CoreV1Api(k8s)


def create_mc(k8s: Any, name: str, image: str, role: str = "worker", **extra: Any) -> Obj:
    body = {"apiVersion": f"{MCO}/v1", "kind": "MachineConfig",
            "metadata": {"name": name, "labels": {ROLE: role}}, "spec": {"osImageURL": image, **extra}}
    return _custom(k8s).create_cluster_custom_object(MCO, "v1", "machineconfigs", body)  # type: ignore[no-any-return]


def get_pool(k8s: Any, name: str) -> Obj:
    return _custom(k8s).get_cluster_custom_object(MCO, "v1", "machineconfigpools", name)  # type: ignore[no-any-return]


def patch_pool(k8s: Any, name: str, patch: Obj) -> Obj:
    return _custom(k8s).patch_cluster_custom_object(  # type: ignore[no-any-return]
        MCO, "v1", "machineconfigpools", name, patch)


def get_mc(k8s: Any, name: str) -> Obj:
    return _custom(k8s).get_cluster_custom_object(MCO, "v1", "machineconfigs", name)  # type: ignore[no-any-return]


def mc_names(k8s: Any, prefix: str = "") -> List[str]:
    items = _custom(k8s).list_cluster_custom_object(MCO, "v1", "machineconfigs")["items"]
    return sorted(m["metadata"]["name"] for m in items if m["metadata"]["name"].startswith(prefix))


def list_nodes(k8s: Any, selector: str) -> Dict[str, Obj]:
    """Nodes as JSON (``_preload_content=False``: no client models, 2000 nodes stay cheap)."""
    resp = _core(k8s).list_node(label_selector=selector, _preload_content=False)
    return {n["metadata"]["name"]: n for n in json.loads(resp.data)["items"]}


def cond(pool: Obj, type_: str) -> str:
    return next(str(c["status"]) for c in pool["status"]["conditions"] if c["type"] == type_)


def ann(node: Obj, key: str) -> str:
    return str((node["metadata"].get("annotations") or {}).get(key, ""))


def ready(node: Obj) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])


def assert_pool_done(pool: Obj, count: int) -> str:
    """The pool is done (facts: status.configuration == spec.configuration, all updated, Updated=True,
    nothing degraded, observedGeneration current); returns the rendered config."""
    target = pool["spec"]["configuration"]["name"]
    status = pool["status"]
    assert status["configuration"]["name"] == target
    assert (status["machineCount"], status["updatedMachineCount"], status["readyMachineCount"],
            status["unavailableMachineCount"], status["degradedMachineCount"]) == (count, count, count, 0, 0)
    assert (cond(pool, "Updated"), cond(pool, "Updating"), cond(pool, "Degraded")) == ("True", "False", "False")
    assert status["observedGeneration"] == pool["metadata"]["generation"]
    return str(target)


def assert_nodes_on(nodes: Dict[str, Obj], config: str) -> None:
    for name, node in nodes.items():
        assert (ann(node, STATE), ann(node, CURRENT), ann(node, DESIRED)) == ("Done", config, config), name
        assert not node["spec"].get("unschedulable") and ready(node), name


class NodeWatch:
    """Watches nodes over HTTP (the kubernetes client's watch) from now on and records, per node, the
    sequence of phases it went through and the most nodes updating (state Working) at once."""

    def __init__(self, k8s: Any, selector: str, expect: int) -> None:
        self.core = _core(k8s)
        self.selector = selector
        self.expect = expect
        self.rv = self.core.list_node(label_selector=selector).metadata.resource_version
        self.phases: Dict[str, List[str]] = defaultdict(list)
        self.states: Dict[str, str] = {}
        self.max_updating = 0
        self.order: List[str] = []  # nodes in the order they finished
        self.raw: List[Obj] = []  # every node event's object
        self.watch = kubernetes.watch.Watch()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for event in self.watch.stream(self.core.list_node, label_selector=self.selector, resource_version=self.rv,
                                       timeout_seconds=10):
            node = event["raw_object"]
            self.raw.append(node)
            name = node["metadata"]["name"]
            phase = ann(node, STATE) + ("+cordoned" if node["spec"].get("unschedulable") else "") + (
                "" if ready(node) else "+NotReady") + (f"+{ann(node, ACTION)}" if ann(node, ACTION) else "")
            if not self.phases[name] or self.phases[name][-1] != phase:
                self.phases[name].append(phase)
            self.states[name] = ann(node, STATE)
            self.max_updating = max(self.max_updating, sum(s == "Working" for s in self.states.values()))
            finished = [n for n, p in self.phases.items() if p[-1] == "Done" and any("NotReady" in x for x in p)]
            self.order.extend(n for n in finished if n not in self.order)
            if len(finished) >= self.expect:
                self.watch.stop()

    def join(self) -> None:
        self.thread.join(12)
        assert not self.thread.is_alive()


# ======================================================================== pure rules
def test_max_unavailable_and_selectors() -> None:
    assert [max_unavailable(v, 3) for v in (None, 0, 1, 2, "50%", "100%", "10%", "2", True)] == \
        [1, 1, 1, 2, 1, 3, 1, 2, 1]
    assert max_unavailable("25%", 2000) == 500
    labels = {ROLE: "infra"}
    assert selector_matches({"matchExpressions": [{"key": ROLE, "operator": "In", "values": ["worker", "infra"]}]},
                            labels)
    assert not selector_matches({"matchLabels": {ROLE: "worker"}}, labels)
    assert selector_matches({}, labels) and not selector_matches(None, labels)
    assert not selector_matches({"matchExpressions": [{"key": ROLE, "operator": "NotIn", "values": ["infra"]}]},
                                labels)


def test_merge_order_puts_worker_configs_first_for_custom_pools() -> None:
    def mc(name: str, role: str) -> Obj:
        return {"metadata": {"name": name, "labels": {ROLE: role}}}

    configs = [mc("99-worker-z", "worker"), mc("50-infra-a", "infra"), mc("00-worker", "worker")]
    assert [m["metadata"]["name"] for m in merge_order("infra", configs)] == ["00-worker", "99-worker-z",
                                                                              "50-infra-a"]
    assert [m["metadata"]["name"] for m in merge_order("worker", configs)] == ["00-worker", "50-infra-a",
                                                                               "99-worker-z"]
    reason = pull_failure_reason(IMAGE)
    assert reason.startswith(f"failed to update OS to {IMAGE}: failed to run command podman")
    assert f"podman pull -q --authfile /var/lib/kubelet/config.json {IMAGE}" in reason
    assert "reading manifest sha256:" + "b" * 64 + " in registry.example.com/ops/rhcos-layered: unauthorized" in reason


# ======================================================================== rollouts
def test_layered_machineconfig_rolls_out_to_the_workers(openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any,
                                                        kube_api: KubeAPI) -> None:
    masters_before = list_nodes(k8s, "node-role.kubernetes.io/master")
    watcher = NodeWatch(k8s, "node-role.kubernetes.io/worker", expect=3)
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    watcher.join()

    pool = get_pool(k8s, "worker")
    target = assert_pool_done(pool, 3)
    assert target != openshift.rendered["worker"] and target.startswith("rendered-worker-")
    assert len(target) == len("rendered-worker-") + 32
    assert pool["spec"]["configuration"]["source"][-2]["name"] == "99-worker-rhcos-layer"
    rendered = get_mc(k8s, target)
    assert rendered["spec"]["osImageURL"] == IMAGE
    assert rendered["metadata"]["ownerReferences"][0]["kind"] == "MachineConfigPool"
    assert rendered["metadata"]["ownerReferences"][0]["uid"] == pool["metadata"]["uid"]
    assert rendered["metadata"]["annotations"][f"{MCO}/generated-by-controller-version"]
    assert ROLE not in (rendered["metadata"].get("labels") or {})
    assert mco.rendered_for("worker")[0] == target
    assert_nodes_on(list_nodes(k8s, "node-role.kubernetes.io/worker"), target)

    # every worker went through the daemon's steps, one node at a time (maxUnavailable defaults to 1)
    # the reboot is no state of its own (pkg/daemon/writer.go): Working, NotReady, and on 4.16
    # post-config-action: Rebooting (pkg/daemon/update.go)
    expected = ["Working", "Working+cordoned", "Working+cordoned+NotReady+Rebooting", "Done"]
    assert dict(watcher.phases) == {f"worker-{i}": expected for i in range(3)}
    assert watcher.max_updating == 1 and mco.max_in_flight["worker"] == 1

    # master untouched
    master = get_pool(k8s, "master")
    assert assert_pool_done(master, 3) == openshift.rendered["master"]
    assert master["spec"]["configuration"]["name"] == openshift.rendered["master"]
    after = list_nodes(k8s, "node-role.kubernetes.io/master")
    assert {n: o["metadata"]["resourceVersion"] for n, o in after.items()} == \
        {n: o["metadata"]["resourceVersion"] for n, o in masters_before.items()}
    assert mco.history == [Rollout("worker", target, IMAGE)]


def test_max_unavailable_two_updates_two_nodes_at_once(openshift: OpenShiftSeed, mco: SimulatedMCO,
                                                       k8s: Any) -> None:
    patch_pool(k8s, "worker", {"spec": {"maxUnavailable": 2}})
    watcher = NodeWatch(k8s, "node-role.kubernetes.io/worker", expect=3)
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    watcher.join()
    assert_pool_done(get_pool(k8s, "worker"), 3)
    # observed through the watch (what a client sees) and by the simulator itself
    assert watcher.max_updating == 2
    assert mco.max_in_flight["worker"] == 2


def test_paused_pool_renders_but_does_not_roll_out(openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any) -> None:
    patch_pool(k8s, "worker", {"spec": {"paused": True}})
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    pool = get_pool(k8s, "worker")
    target = pool["spec"]["configuration"]["name"]
    assert target != openshift.rendered["worker"]  # the render controller still renders
    assert pool["status"]["configuration"]["name"] == openshift.rendered["worker"]
    assert pool["status"]["updatedMachineCount"] == 0 and pool["status"]["machineCount"] == 3
    assert (cond(pool, "Updated"), cond(pool, "Updating"), cond(pool, "Degraded")) == ("False", "False", "False")
    assert_nodes_on(list_nodes(k8s, "node-role.kubernetes.io/worker"), openshift.rendered["worker"])
    assert mco.history == []

    patch_pool(k8s, "worker", {"spec": {"paused": False}})
    assert mco.wait_idle(10)
    assert assert_pool_done(get_pool(k8s, "worker"), 3) == target
    assert mco.history == [Rollout("worker", target, IMAGE)]


def test_degraded_node_stops_the_rollout(openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any,
                                         kubectl: KubectlRunner) -> None:
    mco.degrade_node("worker-1", "unexpected on-disk state validating against rendered-worker-x: boom")
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    pool = get_pool(k8s, "worker")
    target = pool["spec"]["configuration"]["name"]
    nodes = list_nodes(k8s, "node-role.kubernetes.io/worker")
    assert ann(nodes["worker-0"], CURRENT) == target and ann(nodes["worker-0"], STATE) == "Done"
    bad = nodes["worker-1"]
    assert (ann(bad, STATE), ann(bad, DESIRED), ann(bad, CURRENT)) == ("Degraded", target, openshift.rendered["worker"])
    assert ann(bad, REASON) == "unexpected on-disk state validating against rendered-worker-x: boom"
    assert bad["spec"]["unschedulable"] is True  # drained and left cordoned
    assert ann(nodes["worker-2"], DESIRED) == openshift.rendered["worker"]  # never started
    status = pool["status"]
    counts = (status["updatedMachineCount"], status["degradedMachineCount"], status["unavailableMachineCount"])
    assert counts == (1, 1, 1)
    assert status["configuration"]["name"] == openshift.rendered["worker"]
    assert (cond(pool, "NodeDegraded"), cond(pool, "Degraded"), cond(pool, "Updated")) == ("True", "True", "False")
    node_degraded = next(c for c in status["conditions"] if c["type"] == "NodeDegraded")
    assert node_degraded["reason"] == "1 nodes are reporting degraded status on sync"
    assert node_degraded["message"].startswith('Node worker-1 is reporting: "unexpected on-disk state')
    assert node_degraded["lastTransitionTime"]

    res = kubectl("get", "mcp", "worker", "--no-headers")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split()[1:9] == [openshift.rendered["worker"], "False", "True", "True", "3", "1", "1", "1"]

    # deleting the MachineConfig does not send the degraded node back (getAllCandidateMachines: it is
    # cordoned, so unavailable, and maxUnavailable is 1): the pool stays degraded, worker-2 never moves
    _custom(k8s).delete_cluster_custom_object(MCO, "v1", "machineconfigs", "99-worker-rhcos-layer")
    assert mco.wait_idle(10)
    pool = get_pool(k8s, "worker")
    assert pool["spec"]["configuration"]["name"] == openshift.rendered["worker"]
    nodes = list_nodes(k8s, "node-role.kubernetes.io/worker")
    assert (ann(nodes["worker-1"], STATE), ann(nodes["worker-1"], DESIRED)) == ("Degraded", target)
    assert nodes["worker-1"]["spec"]["unschedulable"] is True
    assert ann(nodes["worker-0"], CURRENT) == target  # nor is worker-0 moved back past the stuck node
    assert (pool["status"]["degradedMachineCount"], cond(pool, "Degraded")) == (1, "True")

    # the admin's way back, with the real kubectl: desiredConfig put back to what the node runs
    res = kubectl("patch", "node", "worker-1", "--type", "merge", "-p", json.dumps(recovery_patch(bad)))
    assert res.returncode == 0, res.stderr
    assert recovery_patch(bad) == {"metadata": {"annotations": {DESIRED: openshift.rendered["worker"]}}}
    assert mco.wait_idle(10)
    assert assert_pool_done(get_pool(k8s, "worker"), 3) == openshift.rendered["worker"]
    assert_nodes_on(list_nodes(k8s, "node-role.kubernetes.io/worker"), openshift.rendered["worker"])
    assert ann(list_nodes(k8s, "kubernetes.io/hostname=worker-1")["worker-1"], REASON) == ""


def test_a_degraded_node_without_a_reason_is_counted_but_not_named(openshift: OpenShiftSeed, mco: SimulatedMCO,
                                                                   k8s: Any) -> None:
    # pkg/controller/node/status.go, calculateStatus: "Node X is reporting: ..." only for a non-empty reason
    mco.degrade_node("worker-1", silent=True)
    mco.degrade_node("worker-0", "boom")
    mco.set_instant("worker")
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    pool = get_pool(k8s, "worker")
    nodes = list_nodes(k8s, "node-role.kubernetes.io/worker")
    assert (ann(nodes["worker-1"], STATE), ann(nodes["worker-1"], REASON)) == ("Degraded", "")
    assert pool["status"]["degradedMachineCount"] == 2
    node_degraded = next(c for c in pool["status"]["conditions"] if c["type"] == "NodeDegraded")
    assert node_degraded["reason"] == "2 nodes are reporting degraded status on sync"
    assert node_degraded["message"] == 'Node worker-0 is reporting: "boom"'
    # an instant pool has no maxUnavailable, but still never retargets a degraded node (getAllCandidateMachines)
    target = pool["spec"]["configuration"]["name"]
    _custom(k8s).delete_cluster_custom_object(MCO, "v1", "machineconfigs", "99-worker-rhcos-layer")
    assert mco.wait_idle(10)
    nodes = list_nodes(k8s, "node-role.kubernetes.io/worker")
    assert [(ann(nodes[n], STATE), ann(nodes[n], DESIRED)) for n in ("worker-0", "worker-1")] == \
        [("Degraded", target)] * 2
    assert ann(nodes["worker-2"], DESIRED) == openshift.rendered["worker"]


def test_failed_pull_degrades_and_a_retry_recovers(openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any) -> None:
    mco.fail_pull("ops/rhcos-layered")
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    pool = get_pool(k8s, "worker")
    node = list_nodes(k8s, "node-role.kubernetes.io/worker")["worker-0"]
    assert ann(node, STATE) == "Degraded"
    assert f"podman pull -q --authfile /var/lib/kubelet/config.json {IMAGE}" in ann(node, REASON)
    assert "unauthorized: access to the requested resource is not authorized" in ann(node, REASON)
    assert pool["status"]["degradedMachineCount"] == 1 and pool["status"]["updatedMachineCount"] == 0
    assert cond(pool, "Degraded") == "True"

    mco.clear_failures()  # the registry accepts the pull secret now
    mco.retry_node("worker-0")
    assert mco.wait_idle(10)
    assert_pool_done(get_pool(k8s, "worker"), 3)


def test_later_named_machineconfig_wins_the_merge(openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any) -> None:
    create_mc(k8s, "90-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    first = assert_pool_done(get_pool(k8s, "worker"), 3)
    create_mc(k8s, "95-worker-other", OTHER)
    assert mco.wait_idle(10)
    second = assert_pool_done(get_pool(k8s, "worker"), 3)
    assert second != first and get_mc(k8s, second)["spec"]["osImageURL"] == OTHER
    # an earlier name changes nothing: same merged content, same rendered config, no rollout
    create_mc(k8s, "10-worker-early", IMAGE)
    assert mco.wait_idle(10)
    pool = get_pool(k8s, "worker")
    assert assert_pool_done(pool, 3) == second
    assert "10-worker-early" in [s["name"] for s in pool["spec"]["configuration"]["source"]]
    assert mco.history == [Rollout("worker", first, IMAGE), Rollout("worker", second, OTHER)]


def test_deleting_the_machineconfig_rolls_back_to_the_base(openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any,
                                                           kubectl: KubectlRunner) -> None:
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    layered = assert_pool_done(get_pool(k8s, "worker"), 3)
    res = kubectl("delete", "mc", "99-worker-rhcos-layer")
    assert res.returncode == 0, res.stderr
    assert mco.wait_idle(10)
    back = assert_pool_done(get_pool(k8s, "worker"), 3)
    cm = _core(k8s).read_namespaced_config_map("machine-config-osimageurl", "openshift-machine-config-operator")
    assert get_mc(k8s, back)["spec"]["osImageURL"] == cm.data["baseOSContainerImage"] == openshift.base_image
    assert back == openshift.rendered["worker"]  # same content as before the layering: same name
    assert_nodes_on(list_nodes(k8s, "node-role.kubernetes.io/worker"), back)
    assert mco.history == [Rollout("worker", layered, IMAGE), Rollout("worker", back, openshift.base_image)]
    assert layered in mc_names(k8s, "rendered-worker-")  # old rendered configs stay


def test_custom_pool_inherits_worker_unless_its_own_config_comes_later(openshift: OpenShiftSeed, mco: SimulatedMCO,
                                                                       k8s: Any) -> None:
    _core(k8s).patch_node("worker-2", {"metadata": {"labels": {"node-role.kubernetes.io/infra": ""}}})
    _custom(k8s).create_cluster_custom_object(MCO, "v1", "machineconfigpools", {
        "apiVersion": f"{MCO}/v1", "kind": "MachineConfigPool", "metadata": {"name": "infra"},
        "spec": {"machineConfigSelector": {"matchExpressions": [
            {"key": ROLE, "operator": "In", "values": ["worker", "infra"]}]},
            "nodeSelector": {"matchLabels": {"node-role.kubernetes.io/infra": ""}}}})
    assert mco.wait_idle(10)
    infra = get_pool(k8s, "infra")
    infra_base = assert_pool_done(infra, 1)
    assert infra_base.startswith("rendered-infra-")
    assert get_mc(k8s, infra_base)["spec"]["osImageURL"] == openshift.base_image
    assert get_pool(k8s, "worker")["status"]["machineCount"] == 2  # a custom pool wins over worker

    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    worker_target = assert_pool_done(get_pool(k8s, "worker"), 2)
    infra_layered = assert_pool_done(get_pool(k8s, "infra"), 1)
    assert get_mc(k8s, infra_layered)["spec"]["osImageURL"] == IMAGE  # worker's image
    assert_nodes_on(list_nodes(k8s, "node-role.kubernetes.io/infra"), infra_layered)

    # an infra MachineConfig is merged after all worker ones, whatever its name
    create_mc(k8s, "50-infra-rhcos-layer", OTHER, role="infra")
    assert mco.wait_idle(10)
    infra = get_pool(k8s, "infra")
    infra_own = assert_pool_done(infra, 1)
    assert get_mc(k8s, infra_own)["spec"]["osImageURL"] == OTHER
    sources = [s["name"] for s in infra["spec"]["configuration"]["source"]]
    assert sources[-2:] == ["99-worker-ssh", "50-infra-rhcos-layer"] and "99-worker-rhcos-layer" in sources
    assert assert_pool_done(get_pool(k8s, "worker"), 2) == worker_target
    assert get_mc(k8s, worker_target)["spec"]["osImageURL"] == IMAGE
    # pools are reconciled by name: infra's rollout of worker's new image is recorded before worker's
    assert mco.history == [Rollout("infra", infra_base, openshift.base_image), Rollout("infra", infra_layered, IMAGE),
                           Rollout("worker", worker_target, IMAGE), Rollout("infra", infra_own, OTHER)]


def test_unchanged_content_makes_no_new_rendered_config(openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any,
                                                        kube_api: KubeAPI) -> None:
    assert mco.wait_idle(10)
    assert mco.history == [] and mc_names(k8s, "rendered-") == sorted(openshift.rendered.values())
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    target = assert_pool_done(get_pool(k8s, "worker"), 3)
    rendered = mc_names(k8s, "rendered-")
    nodes_rv = {n: o["metadata"]["resourceVersion"] for n, o in list_nodes(k8s, "").items()}

    # metadata-only changes and a rewrite with the same spec
    _custom(k8s).patch_cluster_custom_object(MCO, "v1", "machineconfigs", "99-worker-rhcos-layer", {
        "metadata": {"labels": {"team": "platform"}, "annotations": {"note": "same content"}}})
    _custom(k8s).patch_cluster_custom_object(MCO, "v1", "machineconfigs", "99-worker-rhcos-layer",
                                             {"spec": {"osImageURL": IMAGE}})
    assert mco.wait_idle(10)
    # and a fresh simulator on the same cluster adopts what is there
    mco.stop()
    again = SimulatedMCO(kube_api).start()
    try:
        assert again.wait_idle(10)
    finally:
        again.stop()
    again.check()
    assert again.history == [] and mco.history == [Rollout("worker", target, IMAGE)]
    assert mc_names(k8s, "rendered-") == rendered
    assert get_pool(k8s, "worker")["spec"]["configuration"]["name"] == target
    assert {n: o["metadata"]["resourceVersion"] for n, o in list_nodes(k8s, "").items()} == nodes_rv


def test_pause_and_resume_the_simulator(openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any) -> None:
    mco.pause()
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert not mco.wait_idle(0.3)  # work is pending, nothing acts
    assert get_pool(k8s, "worker")["spec"]["configuration"]["name"] == openshift.rendered["worker"]
    mco.resume()
    assert mco.wait_idle(10)
    assert assert_pool_done(get_pool(k8s, "worker"), 3) != openshift.rendered["worker"]


def test_scale_makes_a_big_pool_that_rolls_out_at_once(openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any,
                                                       kube_api: KubeAPI) -> None:
    names = mco.scale("bulk", 2000, metadata_bytes=8192)
    assert len(names) == 2000 and names[0] == "bulk-0"
    sizes = {len(json.dumps(kube_api.store.get("nodes", n)["metadata"], separators=(",", ":")))
             for n in (names[0], names[-1])}
    assert all(7600 <= size <= 8800 for size in sizes), sizes  # as real nodes, managedFields included
    assert mco.wait_idle(10)
    base = assert_pool_done(get_pool(k8s, "bulk"), 2000)
    create_mc(k8s, "99-bulk-rhcos-layer", IMAGE, role="bulk")
    assert mco.wait_idle(20)
    kube_api.reset_requests()
    bulk = get_pool(k8s, "bulk")
    layered = assert_pool_done(bulk, 2000)
    assert layered != base and get_mc(k8s, layered)["spec"]["osImageURL"] == IMAGE
    assert kube_api.count("GET") == 2
    nodes = list_nodes(k8s, "node-role.kubernetes.io/bulk")
    assert len(nodes) == 2000
    assert {ann(n, CURRENT) for n in nodes.values()} == {layered}
    assert mco.max_in_flight.get("bulk", 0) == 0  # no node stayed in between
    # bulk nodes (also labelled worker) belong to bulk; worker did not move
    assert assert_pool_done(get_pool(k8s, "worker"), 3) == openshift.rendered["worker"]
    assert mco.history == [Rollout("bulk", layered, IMAGE)]


def test_render_degraded_when_nothing_is_selected(openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any) -> None:
    _custom(k8s).create_cluster_custom_object(MCO, "v1", "machineconfigpools", {
        "apiVersion": f"{MCO}/v1", "kind": "MachineConfigPool", "metadata": {"name": "empty"},
        "spec": {"machineConfigSelector": {"matchLabels": {ROLE: "nothing"}},
                 "nodeSelector": {"matchLabels": {"node-role.kubernetes.io/empty": ""}}}})
    assert mco.wait_idle(10)
    pool: Optional[Obj] = get_pool(k8s, "empty")
    assert pool is not None
    assert (cond(pool, "RenderDegraded"), cond(pool, "Degraded")) == ("True", "True")
    assert "no MachineConfigs found matching selector" in next(
        c["message"] for c in pool["status"]["conditions"] if c["type"] == "RenderDegraded")


# ======================================================================== the real node controller and daemon
def _node(name: str, state: str = "Done", desired: str = "old", current: str = "old", cordoned: bool = False,
          ready_: bool = True, zone: Optional[str] = None, created: str = "2024-01-01T00:00:00Z") -> Obj:
    labels = {"topology.kubernetes.io/zone": zone} if zone else {}
    return {"metadata": {"name": name, "labels": labels, "creationTimestamp": created,
                         "annotations": {STATE: state, DESIRED: desired, CURRENT: current}},
            "spec": {"unschedulable": True} if cordoned else {},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready_ else "False"}]}}


def test_candidates_follow_get_all_candidate_machines() -> None:
    # pkg/controller/node/node_controller.go getAllCandidateMachines
    done = [_node(f"n{i}") for i in range(3)]
    assert [n["metadata"]["name"] for n in candidate_machines(done, "new", 1)[0]] == ["n0", "n1", "n2"]
    assert candidate_machines(done, "new", 1)[1] == 1
    # a Degraded node left cordoned by its failed update is unavailable: nothing moves at maxUnavailable 1,
    # the Degraded node itself included, whatever the target
    stuck = [_node("n0", "Degraded", desired="new", cordoned=True), _node("n1"), _node("n2")]
    assert candidate_machines(stuck, "old", 1) == ([], 0)
    assert candidate_machines(stuck, "new", 1) == ([], 0)
    # a failing daemon on the target counts against capacity even when the node is schedulable
    failing = [_node("n0", "Unreconcilable", desired="new"), _node("n1"), _node("n2")]
    assert candidate_machines(failing, "new", 1) == ([], 0)
    assert [n["metadata"]["name"] for n in candidate_machines(failing, "new", 2)[0]] == ["n1", "n2"]
    assert candidate_machines(failing, "new", 2)[1] == 1


def test_nodes_are_picked_by_zone_then_age_not_by_name(openshift: OpenShiftSeed, mco: SimulatedMCO,
                                                       k8s: Any) -> None:
    # sortNodeList (pkg/controller/node/node_controller.go): zone-labelled nodes first, by zone
    mco.pause()
    _core(k8s).patch_node("worker-2", {"metadata": {"labels": {"topology.kubernetes.io/zone": "a"}}})
    _core(k8s).patch_node("worker-1", {"metadata": {"labels": {"topology.kubernetes.io/zone": "b"}}})
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    watcher = NodeWatch(k8s, "node-role.kubernetes.io/worker", expect=3)
    mco.resume()
    assert mco.wait_idle(10)
    watcher.join()
    assert_pool_done(get_pool(k8s, "worker"), 3)
    finished = sorted(watcher.phases, key=lambda n: watcher.order.index(n))
    assert finished == ["worker-2", "worker-1", "worker-0"]


def test_a_degraded_node_is_never_retargeted_until_an_admin_puts_it_back(
        openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any, kubectl: KubectlRunner) -> None:
    mco.degrade_node("worker-0", "unexpected on-disk state validating against rendered-worker-x: boom")
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    layered = get_pool(k8s, "worker")["spec"]["configuration"]["name"]
    _custom(k8s).delete_cluster_custom_object(MCO, "v1", "machineconfigs", "99-worker-rhcos-layer")
    assert mco.wait_idle(10)
    bad = list_nodes(k8s, "kubernetes.io/hostname=worker-0")["worker-0"]
    # stuck: still Degraded, still targeting the deleted config's render, with its reason
    assert (ann(bad, STATE), ann(bad, DESIRED), ann(bad, CURRENT)) == (
        "Degraded", layered, openshift.rendered["worker"])
    assert ann(bad, REASON).startswith("unexpected on-disk state")
    pool = get_pool(k8s, "worker")
    assert pool["status"]["degradedMachineCount"] == 1 and cond(pool, "Updated") == "False"
    assert mco.wait_idle(1)  # idle: nothing left that the MCO would do by itself
    assert ann(list_nodes(k8s, "kubernetes.io/hostname=worker-0")["worker-0"], STATE) == "Degraded"

    res = kubectl("patch", "node", "worker-0", "--type", "merge", "-p", json.dumps(recovery_patch(bad)))
    assert res.returncode == 0, res.stderr
    assert mco.wait_idle(10)
    assert assert_pool_done(get_pool(k8s, "worker"), 3) == openshift.rendered["worker"]
    node = list_nodes(k8s, "kubernetes.io/hostname=worker-0")["worker-0"]
    assert (ann(node, STATE), ann(node, REASON)) == ("Done", "") and not node["spec"].get("unschedulable")


@pytest.mark.parametrize("version, marker", [("4.14.30", None), ("4.16.3", "Rebooting"), ("4.21.0", "Rebooting")])
def test_a_reboot_is_not_a_state(kube_api: KubeAPI, k8s: Any, version: str, marker: Optional[str]) -> None:
    # pkg/daemon/writer.go writes only Done, Working, Degraded, Unreconcilable; 4.16+ marks the reboot in
    # post-config-action (pkg/daemon/update.go), 4.14 shows only the NotReady node
    from tests.support.kube import seed_openshift

    seed_openshift(kube_api, version=version, workers=1)
    seen: List[Obj] = []
    watcher = NodeWatch(k8s, "node-role.kubernetes.io/worker", expect=1)
    with SimulatedMCO(kube_api) as sim:
        create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
        assert sim.wait_idle(10)
    watcher.join()
    seen = watcher.raw
    states = {ann(n, STATE) for n in seen}
    assert states <= {"Done", "Working", "Degraded", "Unreconcilable"} and "Working" in states
    rebooting = [n for n in seen if not ready(n)]
    assert rebooting and {ann(n, STATE) for n in rebooting} == {"Working"}
    if marker is None:
        assert all(ACTION not in (n["metadata"].get("annotations") or {}) for n in seen)
    else:
        assert {ann(n, ACTION) for n in rebooting} == {marker}
        assert ann(seen[-1], ACTION) == "" and ann(seen[-1], STATE) == "Done"


def test_an_unreconcilable_node_keeps_its_reason_stays_schedulable_and_holds_the_rollout(
        openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any) -> None:
    # pkg/daemon/update.go reconcilable() refuses before the drain; writer.go sets state and reason
    mco.unreconcilable_node("worker-0", "ignition disks section contains changes: unreconcilable")
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    target = get_pool(k8s, "worker")["spec"]["configuration"]["name"]
    nodes = list_nodes(k8s, "node-role.kubernetes.io/worker")
    bad = nodes["worker-0"]
    assert (ann(bad, STATE), ann(bad, DESIRED)) == ("Unreconcilable", target)
    assert ann(bad, REASON) == "ignition disks section contains changes: unreconcilable"
    assert not bad["spec"].get("unschedulable") and ready(bad)
    # failing on the target uses the only slot (getAllCandidateMachines failingThisConfig)
    assert [ann(nodes[n], DESIRED) for n in ("worker-1", "worker-2")] == [openshift.rendered["worker"]] * 2
    pool = get_pool(k8s, "worker")
    assert (pool["status"]["degradedMachineCount"], cond(pool, "Degraded")) == (1, "True")
    # with room for two, the others move; the failing node stays where it is
    patch_pool(k8s, "worker", {"spec": {"maxUnavailable": 2}})
    assert mco.wait_idle(10)
    nodes = list_nodes(k8s, "node-role.kubernetes.io/worker")
    assert [ann(nodes[n], CURRENT) for n in ("worker-1", "worker-2")] == [target] * 2
    assert ann(nodes["worker-0"], STATE) == "Unreconcilable"


def test_every_state_written_is_a_daemon_state_and_degraded_carries_a_reason(
        openshift: OpenShiftSeed, mco: SimulatedMCO, k8s: Any) -> None:
    watcher = NodeWatch(k8s, "node-role.kubernetes.io/worker", expect=3)
    mco.fail_pull("ops/rhcos-layered")
    create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
    assert mco.wait_idle(10)
    mco.clear_failures()
    mco.retry_node("worker-0")
    assert mco.wait_idle(10)
    watcher.join()
    assert {ann(n, STATE) for n in watcher.raw} == {"Working", "Degraded", "Done"}
    assert all(ann(n, REASON) for n in watcher.raw if ann(n, STATE) == "Degraded")
    assert all(not ann(n, REASON) for n in watcher.raw if ann(n, STATE) == "Done")


# ======================================================================== on-cluster layering
def _mosc(pool: str, push: str = "registry.example.com/ops/os-image:latest") -> Obj:
    return {"apiVersion": f"{MCO}/v1", "kind": "MachineOSConfig", "metadata": {"name": pool},
            "spec": {"machineConfigPool": {"name": pool}, "imageBuilder": {"imageBuilderType": "Job"},
                     "renderedImagePushSecret": {"name": "push-secret"}, "renderedImagePushSpec": push,
                     "containerFile": [{"containerfileArch": "NoArch",
                                        "content": "FROM configs AS final\nRUN rpm-ostree install usbguard"}]}}


def test_a_pool_with_a_machineosconfig_boots_its_build_never_the_osimageurl(kube_api: KubeAPI, k8s: Any) -> None:
    from tests.support.kube import seed_openshift

    seed = seed_openshift(kube_api, version="4.19.2", workers=2)
    _custom(k8s).create_cluster_custom_object(MCO, "v1", "machineosconfigs", _mosc("worker"))
    with SimulatedMCO(kube_api) as sim:
        assert sim.wait_idle(10)
        mosc = _custom(k8s).get_cluster_custom_object(MCO, "v1", "machineosconfigs", "worker")
        first = mosc["status"]["currentImagePullSpec"]
        assert first.startswith("registry.example.com/ops/os-image@sha256:")
        create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
        assert sim.wait_idle(10)
    pool = get_pool(k8s, "worker")
    target = assert_pool_done(pool, 2)  # the done rule holds...
    assert get_mc(k8s, target)["spec"]["osImageURL"] == IMAGE
    mosc = _custom(k8s).get_cluster_custom_object(MCO, "v1", "machineosconfigs", "worker")
    built = mosc["status"]["currentImagePullSpec"]
    assert built != first and built.startswith("registry.example.com/ops/os-image@sha256:")  # a rebuild
    build = _custom(k8s).get_cluster_custom_object(MCO, "v1", "machineosbuilds",
                                                   mosc["status"]["machineOSBuild"]["name"])
    assert build["spec"]["machineConfig"]["name"] == target
    assert build["status"]["digestedImagePushSpec"] == built
    assert next(c["status"] for c in build["status"]["conditions"] if c["type"] == "Succeeded") == "True"
    # ...but the nodes boot the build, never the MachineConfig's osImageURL
    for node in list_nodes(k8s, "node-role.kubernetes.io/worker").values():
        assert (ann(node, f"{MCO}/desiredImage"), ann(node, f"{MCO}/currentImage")) == (built, built)
        assert ann(node, CURRENT) == target
    assert sim.history[-1] == Rollout("worker", target, built)
    # the master pool has none: no image annotations there
    master = list_nodes(k8s, "node-role.kubernetes.io/master")["master-0"]
    assert f"{MCO}/currentImage" not in master["metadata"]["annotations"]
    assert seed.base_image != built


# ======================================================================== rendering per release
def _spec_mc(name: str, role: str, **spec: Any) -> Obj:
    return {"metadata": {"name": name, "labels": {ROLE: role}}, "spec": spec}


def test_custom_pools_merge_worker_configs_first_only_from_4_15() -> None:
    # pkg/controller/common/helpers.go MergeMachineConfigs: 4.14 sorts by name alone
    configs = [_spec_mc("99-worker-z", "worker", osImageURL=OTHER), _spec_mc("50-infra-a", "infra", osImageURL=IMAGE),
               _spec_mc("00-worker", "worker")]
    assert [m["metadata"]["name"] for m in merge_order("infra", configs, 14)] == ["00-worker", "50-infra-a",
                                                                                  "99-worker-z"]
    assert [m["metadata"]["name"] for m in merge_order("infra", configs, 15)] == ["00-worker", "99-worker-z",
                                                                                  "50-infra-a"]
    assert merge_machine_configs("infra", configs, "base", minor=14)["osImageURL"] == OTHER
    assert merge_machine_configs("infra", configs, "base", minor=15)["osImageURL"] == IMAGE


def test_a_realtime_or_64k_kernel_anywhere_wins_over_default() -> None:
    configs = [_spec_mc("10-worker-rt", "worker", kernelType="realtime"),
               _spec_mc("90-worker-plain", "worker", kernelType="default", kernelArguments=["a=1"]),
               _spec_mc("95-worker-again", "worker", kernelArguments=["a=1", "b"])]
    merged = merge_machine_configs("worker", configs, "base")
    assert merged["kernelType"] == "realtime"
    assert merged["kernelArguments"] == ["a=1", "b"]  # once each
    configs.append(_spec_mc("50-worker-64k", "worker", kernelType="64k-pages"))
    assert merge_machine_configs("worker", configs, "base")["kernelType"] == "64k-pages"  # the later one
    assert merge_machine_configs("worker", configs[1:3], "base")["kernelType"] == "default"


def test_extensions_are_checked_against_the_releases_list() -> None:
    assert set(EXTENSIONS) >= {"two-node-ha", "usbguard", "kernel-devel", "sandboxed-containers", "wasm"}
    assert "pacemaker" in EXTENSIONS["two-node-ha"] and "kernel-64k-core" in KERNEL_PACKAGES["64k-pages"]
    ha = [_spec_mc("00-master", "master"), _spec_mc("50-master-ha", "master", extensions=["two-node-ha"])]
    assert merge_machine_configs("master", ha, "base", minor=20)["extensions"] == ["two-node-ha"]
    with pytest.raises(RenderError, match=r"invalid extensions found: \['two-node-ha'\]"):
        merge_machine_configs("master", ha, "base", minor=19)
    with pytest.raises(RenderError, match=r"invalid extensions found: \['cowsay'\]"):
        merge_machine_configs("worker", [_spec_mc("50-worker-x", "worker", extensions=["cowsay", "usbguard"])],
                              "base")
    with pytest.raises(RenderError, match="kernel-devel extension is not supported with kernelType: realtime"):
        merge_machine_configs("worker", [_spec_mc("50-worker-x", "worker", extensions=["kernel-devel"]),
                                         _spec_mc("60-worker-rt", "worker", kernelType="realtime")], "base")


@pytest.mark.parametrize("version, winner", [("4.14.30", OTHER), ("4.15.20", IMAGE)])
def test_a_custom_pool_on_a_real_release_renders_as_that_release(kube_api: KubeAPI, k8s: Any, version: str,
                                                                  winner: str) -> None:
    from tests.support.kube import seed_openshift

    seed_openshift(kube_api, version=version, workers=2)
    _core(k8s).patch_node("worker-1", {"metadata": {"labels": {"node-role.kubernetes.io/infra": ""}}})
    _custom(k8s).create_cluster_custom_object(MCO, "v1", "machineconfigpools", {
        "apiVersion": f"{MCO}/v1", "kind": "MachineConfigPool", "metadata": {"name": "infra"},
        "spec": {"machineConfigSelector": {"matchExpressions": [
            {"key": ROLE, "operator": "In", "values": ["worker", "infra"]}]},
            "nodeSelector": {"matchLabels": {"node-role.kubernetes.io/infra": ""}}}})
    create_mc(k8s, "50-infra-rhcos-layer", IMAGE, role="infra")
    create_mc(k8s, "99-worker-other", OTHER)
    with SimulatedMCO(kube_api) as sim:
        assert sim.wait_idle(10)
    target = assert_pool_done(get_pool(k8s, "infra"), 1)
    assert get_mc(k8s, target)["spec"]["osImageURL"] == winner


def test_an_unknown_extension_leaves_the_pool_render_degraded(openshift: OpenShiftSeed, mco: SimulatedMCO,
                                                              k8s: Any) -> None:
    create_mc(k8s, "50-worker-ext", "", extensions=["two-node-ha"])  # 4.20+ only; the seed is 4.16
    assert mco.wait_idle(10)
    pool = get_pool(k8s, "worker")
    assert (cond(pool, "RenderDegraded"), cond(pool, "Degraded")) == ("True", "True")
    assert "invalid extensions found: ['two-node-ha']" in next(
        c["message"] for c in pool["status"]["conditions"] if c["type"] == "RenderDegraded")
    assert pool["spec"]["configuration"]["name"] == openshift.rendered["worker"]  # nothing rolls out


def test_renders_of_a_realistic_cluster_are_as_big_as_real_ones(kube_api: KubeAPI, k8s: Any) -> None:
    from tests.support.kube import seed_openshift

    seed_openshift(kube_api, workers=1, masters=1, rendered_configs=4, rendered_bytes=200_000)
    with SimulatedMCO(kube_api) as sim:
        create_mc(k8s, "99-worker-rhcos-layer", IMAGE)
        assert sim.wait_idle(10)
    target = assert_pool_done(get_pool(k8s, "worker"), 1)
    assert len(json.dumps(get_mc(k8s, target))) >= 180_000  # 00-worker's templates are merged in
    # and the earlier rendered configs are all still there: the seeded current one, the two older ones
    # the seed piled up for worker (4 in all: 1 per pool plus 2), and the new one
    assert len(mc_names(k8s, "rendered-worker-")) == 4

"""The rollout watch of apply, rollback and status under the real MCO rules (tests/support/mco.py) and a
failing, heavy API (tests/support/kube.py): waits that end, outages survived, custom pools followed, and
what a refresh costs in bytes on a cluster that weighs what real ones do."""

from __future__ import annotations

import json
import shlex
import threading
import time
from typing import List

import pytest

from rhcos_layer import machineconfig
from tests.integration.test_apply import LOOPBACK_OK, MC_NAME, _add_infra_pool, cluster, pushed, running_mco
from tests.support import bulk
from tests.support.kube import KubeAPI, seed_openshift

__all__ = ["cluster", "pushed"]  # fixtures, used by name

MCO_API = "/apis/machineconfiguration.openshift.io/v1"
POOL = f"{MCO_API}/machineconfigpools/worker"
IMAGE = "registry.example.com/ops/rhcos-layered@sha256:" + "4" * 64
KB, MB = 1024, 1024 * 1024


@pytest.fixture
def logged_in(kube_api, kubeconfig, tool_env, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    return kubeconfig


def _images(api: KubeAPI, pool: str = "worker") -> List[str]:
    out = []
    for node in api.store.list("nodes", label_selector=f"node-role.kubernetes.io/{pool}"):
        current = node["metadata"]["annotations"]["machineconfiguration.openshift.io/currentConfig"]
        out.append(api.store.get("machineconfigs", current)["spec"]["osImageURL"])
    return out


def _settled(api: KubeAPI, pool: str = "worker") -> bool:
    from rhcos_layer.rollout import settled

    return settled(api.store.get("machineconfigpools", pool))


def _recover_as_told(hint: str, kubectl) -> None:
    """Run the recovery the tool printed, word for word, with kubectl in place of oc."""
    commands = hint.split("recover it with: ", 1)[1].strip().rstrip(")").split(" && ")
    assert commands
    for command in commands:
        words = shlex.split(command)
        assert words[:3] == ["oc", "patch", "node"], command
        done = kubectl(*words[1:])
        assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ waits that end


def test_rollback_wait_ends_naming_the_stuck_node_and_its_recovery_works(tmp_path, kube_api, logged_in, kubectl,
                                                                          rhcos_layer):
    seed = seed_openshift(kube_api)
    with running_mco(kube_api) as sim:
        sim.degrade_node("worker-1", "failed to pull: sentinel reason")
        kube_api.store.put(machineconfig.render("worker", IMAGE, base=seed.base_image))
        assert sim.wait_idle(30)  # worker-0 moved, worker-1 Degraded: the node controller stops there
        result = rhcos_layer(["rollback", "--pool", "worker", "--wait", "--timeout", "0"], tmp_path, timeout=120)
        assert result.code == 13, result.err
        assert ("pool worker: node worker-1 is Degraded on rendered-worker-" in result.err
                and "(failed to pull: sentinel reason), and the node controller does not move a degraded node"
                in result.err), result.err
        assert kube_api.store.get("machineconfigs", MC_NAME) is None  # the rollback itself was written
        assert not _settled(kube_api)
        _recover_as_told(result.err, kubectl)
        assert sim.wait_idle(30)
        assert _settled(kube_api)
        assert set(_images(kube_api)) == {seed.base_image}
        assert kube_api.store.get("machineconfigpools", "worker")["spec"]["configuration"]["name"] == \
            seed.rendered["worker"]


def test_rollback_on_failure_ends_and_names_the_recovery(tmp_path, pushed, cluster, kube_api, kubectl, rhcos_layer):
    with running_mco(kube_api) as sim:
        sim.degrade_node("worker-1", "failed to pull: sentinel reason")
        result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--wait",
                              "--rollback-on-failure", *LOOPBACK_OK], tmp_path, timeout=120)
        assert result.code == 13, result.err
        assert "rolled back the MachineConfigs, but pool worker: node worker-1 is Degraded on" in result.err
        assert kube_api.store.get("machineconfigs", MC_NAME) is None
        _recover_as_told(result.err, kubectl)
        assert sim.wait_idle(30)
        assert _settled(kube_api)
        assert set(_images(kube_api)) == {cluster.base_image}


def test_rollback_on_failure_that_cannot_put_the_machineconfig_back_is_partially_applied(
        tmp_path, pushed, cluster, kube_api, rhcos_layer):
    # the revert shares execute_all's undo path: a failed undo is exit 19 naming what stays and how to undo it
    kube_api.fail(503, method="DELETE", path=f"{MCO_API}/machineconfigs/{MC_NAME}", times=1000)
    with running_mco(kube_api) as sim:
        sim.degrade_node("worker-1", "failed to pull: sentinel reason")
        result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--wait",
                              "--rollback-on-failure", *LOOPBACK_OK], tmp_path, timeout=120)
    assert result.code == 19, result.err
    assert "pool worker: node worker-1 is Degraded: failed to pull: sentinel reason; rolling back" \
           " (--rollback-on-failure) failed; still on the cluster: MachineConfig 99-zz-rhcos-layer-0-worker of pool" \
           f" worker created to {pushed['image']} (undo failed: " in result.err, result.err
    assert f"undo with: oc delete machineconfig {MC_NAME}" in result.err
    assert "rolled back" not in result.err
    assert kube_api.store.get("machineconfigs", MC_NAME) is not None  # what the message says is really there


def test_a_large_pools_degraded_node_without_a_reason_ends_the_wait_and_the_printed_command_finds_it(
        tmp_path, kube_api, logged_in, kubectl, rhcos_layer):
    # over NODE_DETAIL_LIMIT nodes the watch reads counters and the nodes the MCO names; it names only nodes
    # whose daemon wrote a reason (pkg/controller/node/status.go), so this one is counted and never named
    seed = seed_openshift(kube_api, workers=150)
    with running_mco(kube_api, instant=["worker"]) as sim:
        sim.degrade_node("worker-7", silent=True)
        kube_api.store.put(machineconfig.render("worker", IMAGE, base=seed.base_image))
        assert sim.wait_idle(60)
        result = rhcos_layer(["rollback", "--pool", "worker", "--wait", "--timeout", "0"], tmp_path, timeout=120)
    assert result.code == 13, result.err
    assert "pool worker: 1 node(s) Degraded that the Machine Config Operator does not name (their daemon wrote" \
           " no reason)" in result.err, result.err
    find = result.err.split("find them with: ", 1)[1].split("; recover each with: ", 1)[0]
    assert find.startswith("oc get nodes -l node-role.kubernetes.io/worker= ")
    oc, _, pipe = find.partition(" | ")
    listed = kubectl(*shlex.split(oc)[1:])
    assert listed.returncode == 0, listed.stderr
    found = [line.split() for line in listed.stdout.splitlines() if "Degraded" in line]
    assert [row[:2] for row in found] == [["worker-7", "Degraded"]], listed.stdout
    assert pipe == "grep -e Degraded -e Unreconcilable"


def test_no_progress_ends_the_wait_with_a_diagnosis_even_without_a_timeout(tmp_path, kube_api, logged_in,
                                                                            rhcos_layer):
    seed = seed_openshift(kube_api)
    with running_mco(kube_api, instant=["worker"]) as sim:
        kube_api.store.put(machineconfig.render("worker", IMAGE, base=seed.base_image))
        assert sim.wait_idle(30)
    # the MCO stopped: nothing is rendered any more, as with a machine-config-controller that is down
    result = rhcos_layer(["rollback", "--pool", "worker", "--wait", "--timeout", "0", "--progress-deadline", "1s"],
                         tmp_path, timeout=120)
    assert result.code == 14, result.err
    assert ("Error: no progress for 1 s: pool worker: the Machine Config Operator has not rendered a config without"
            " 99-zz-rhcos-layer-0-worker (is the machine-config-controller running?") in result.err
    assert "follow it with `rhcos-layer status --watch --pool worker`" in result.err


def test_status_watch_on_a_pool_held_by_a_degraded_node_ends_after_the_progress_deadline(
        tmp_path, kube_api, logged_in, rhcos_layer):
    seed = seed_openshift(kube_api)
    with running_mco(kube_api) as sim:
        sim.degrade_node("worker-1", "failed to pull: sentinel reason")
        kube_api.store.put(machineconfig.render("worker", IMAGE, base=seed.base_image))
        assert sim.wait_idle(30)  # worker-1 Degraded: the node controller moves nothing more, the pool updates forever
        result = rhcos_layer(["status", "--watch", "--pool", "worker", "--progress-deadline", "1s"], tmp_path,
                             timeout=120)
    assert result.code == 14, result.err
    assert "Error: no progress for 1 s: pool worker: 1/3 nodes updated, 1 unavailable, 1 degraded (see which with:" \
           " oc describe mcp worker" in result.err, result.err
    assert "worker: base " in result.out and "(updating)" in result.out  # it showed the pool before giving up
    bad = rhcos_layer(["status", "--watch", "--progress-deadline", "soon"], tmp_path)
    assert bad.code == 3 and "--progress-deadline soon: expected a duration like 90s" in bad.err, bad.err


def test_status_watch_on_a_paused_pool_ends_after_the_progress_deadline_saying_it_is_paused(
        tmp_path, kube_api, logged_in, rhcos_layer):
    seed_openshift(kube_api)
    kube_api.store.patch("machineconfigpools", "worker", {"spec": {"paused": True,
                                                                   "configuration": {"name": "rendered-worker-new"}}})
    result = rhcos_layer(["status", "--watch", "--pool", "worker", "--progress-deadline", "1s"], tmp_path,
                         timeout=120)
    assert result.code == 14, result.err
    assert "Error: no progress for 1 s: pool worker is paused: nothing moves until it is unpaused (oc patch mcp" \
           " worker --type merge -p '{\"spec\":{\"paused\":false}}'); the rollout goes on" in result.err, result.err


def test_a_bad_progress_deadline_changes_nothing(tmp_path, kube_api, logged_in, rhcos_layer):
    seed = seed_openshift(kube_api)
    kube_api.store.put(machineconfig.render("worker", IMAGE, base=seed.base_image))
    kube_api.reset_requests()
    result = rhcos_layer(["rollback", "--pool", "worker", "--progress-deadline", "soon"], tmp_path)
    assert result.code == 3, result.err
    assert "--progress-deadline soon: expected a duration like 90s" in result.err
    assert kube_api.store.get("machineconfigs", MC_NAME) is not None
    assert not [r for r in kube_api.requests if r.method != "GET"]


# ------------------------------------------------------------------ API outages


def test_the_watch_survives_an_api_outage_and_says_so(tmp_path, kube_api, logged_in, rhcos_layer):
    seed = seed_openshift(kube_api)
    kube_api.store.put(machineconfig.render("worker", IMAGE, base=seed.base_image))
    outage = {"started": 0.0, "ended": 0.0}
    with running_mco(kube_api, step_delay=0.2) as sim:
        assert sim.wait_idle(60)

        def api_down_for_a_while() -> None:
            deadline = time.monotonic() + 60
            while kube_api.count("GET", POOL) < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            sim.pause()  # the rollout stands still while the API is down, as a test of the watch only
            kube_api.fail(503, path="/api*", times=10 ** 6, reason="ServiceUnavailable")
            outage["started"] = time.monotonic()
            time.sleep(3)
            with kube_api._lock:  # the outage ends (KubeAPI.fail counts requests; here it is wall time)
                kube_api._faults.clear()
            outage["ended"] = time.monotonic()
            sim.resume()

        breaker = threading.Thread(target=api_down_for_a_while)
        breaker.start()
        result = rhcos_layer(["rollback", "--pool", "worker", "--wait", "--progress-deadline", "2s"], tmp_path,
                             env={"RHCOS_LAYER_WATCH_BACKOFF_CAP": "0.5"}, timeout=120)
        breaker.join()
    assert result.code == 0, result.err
    assert outage["ended"] - outage["started"] >= 3
    assert "answered HTTP 503 to get machineconfigpool worker: retrying with backoff; the rollout goes on" \
        in result.err
    assert "the API server answers again after" in result.err
    assert "worker: back on" in result.out
    assert set(_images(kube_api)) == {seed.base_image}


# ------------------------------------------------------------------ custom pools


def test_apply_to_worker_follows_the_custom_pools_that_inherit_it(tmp_path, pushed, cluster, kube_api, rhcos_layer):
    _add_infra_pool(kube_api)
    with running_mco(kube_api) as sim:
        assert sim.wait_idle(20)
        sim.degrade_node("worker-2", "failed to pull: sentinel reason")  # infra's only node
        result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--wait", *LOOPBACK_OK],
                             tmp_path, timeout=120)
    assert result.code == 13, result.err
    assert "infra: inherits the worker MachineConfigs: following it too" in result.err
    assert "pool infra: node worker-2 is Degraded: failed to pull: sentinel reason" in result.err


# ------------------------------------------------------------------ bytes


def _sent(calls) -> int:
    return sum(c.sent for c in calls)


def test_the_watch_stays_within_its_byte_budgets_on_a_heavy_cluster(tmp_path, kube_api, logged_in, rhcos_layer):
    """Nodes of ~8 KB of metadata and rendered configs of ~500 KB, as real ones: a quiet refresh moves at most
    64 KB, and a whole rollout back of a 400-node pool (maxUnavailable 10%) at most 20 MB."""
    seed = seed_openshift(kube_api, workers=400)
    kube_api.store.patch("machineconfigpools", "worker", {"spec": {"maxUnavailable": "10%"}})
    bulk.pile_up_rendered(kube_api, "worker", 20, 500 * KB)
    with running_mco(kube_api, instant=["worker"]) as sim:
        kube_api.store.put(machineconfig.render("worker", IMAGE, base=seed.base_image))
        assert sim.wait_idle(120)
        bulk.fatten_nodes(kube_api)
        for name in {n["metadata"]["annotations"]["machineconfiguration.openshift.io/currentConfig"]
                     for n in kube_api.store.list("nodes")}:
            bulk.fatten_rendered(kube_api, name, 500 * KB)
        sim.pause()  # quiet first: the watch refreshes while nothing moves
        kube_api.reset_requests()

        def move_after_quiet_refreshes() -> None:
            deadline = time.monotonic() + 60
            while kube_api.count("GET", POOL) < 12 and time.monotonic() < deadline:
                time.sleep(0.01)
            sim.resume()

        mover = threading.Thread(target=move_after_quiet_refreshes)
        mover.start()
        result = rhcos_layer(["rollback", "--pool", "worker", "--wait", "-o", "json"], tmp_path, timeout=300)
        mover.join()
    assert result.code == 0, result.err
    assert json.loads(result.out)[0]["updated"] == 400
    calls = [c for c in kube_api.calls if c.path.startswith(("/api/", "/apis/"))]
    write = next(i for i, c in enumerate(calls) if c.method == "DELETE")
    watched = calls[write + 1:]
    assert _sent(watched) <= 20 * MB
    gets = [i for i, c in enumerate(watched) if c.path == POOL]
    quiet = [watched[a + 1:b] for a, b in zip(gets[3:10], gets[4:11])]  # between two pool GETs, MCO paused
    assert quiet and all(_sent(between) + watched[a].sent <= 64 * KB for between, a in zip(quiet, gets[3:10]))
    assert not [c for c in watched if c.path.startswith("/api/v1/nodes")]  # a large pool: counters, no nodes


def test_a_small_pool_is_followed_node_by_node_through_one_watch(tmp_path, kube_api, logged_in, rhcos_layer):
    seed = seed_openshift(kube_api, workers=3)
    with running_mco(kube_api, step_delay=0.1) as sim:
        kube_api.store.put(machineconfig.render("worker", IMAGE, base=seed.base_image))
        assert sim.wait_idle(60)
        bulk.fatten_nodes(kube_api)
        kube_api.reset_requests()
        result = rhcos_layer(["rollback", "--pool", "worker", "--wait"], tmp_path, timeout=120)
    assert result.code == 0, result.err
    for node in ("worker-0", "worker-1", "worker-2"):
        assert f"  {node}: done" in result.err
    # each step lasts two refreshes or so: most moves are seen (4.16 marks the reboot: post-config-action)
    assert ": cordoned, draining" in result.err and ": rebooting" in result.err
    node_calls = [c for c in kube_api.calls if c.path == "/api/v1/nodes"]
    lists = [c for c in node_calls if c.query.get("watch") not in ("true", "1", "True")]
    assert len(lists) == 1 and len(node_calls) <= 3, [(c.query, c.status) for c in node_calls]
    pool_gets = kube_api.count("GET", POOL)
    assert pool_gets >= 3


def test_a_small_pool_watches_only_its_own_nodes(kube_api, logged_in):
    # the built-in pools select nodes by a label with an empty value (node-role.kubernetes.io/worker: ""):
    # the watch once asked for every node of the cluster, and showed the masters in the worker pool
    from rhcos_layer.adapters.cluster import Cluster
    from rhcos_layer.rollout import Expectation, Watcher

    seed_openshift(kube_api)
    with Cluster(str(logged_in)) as cluster:
        watcher = Watcher(cluster, "worker", Expectation(MC_NAME, False), on_refresh=lambda *a: None, every=0.05)
        try:
            view = watcher.refresh()
        finally:
            watcher.close()
    assert [n.name for n in view.nodes] == ["worker-0", "worker-1", "worker-2"]
    asked = {c.query.get("labelSelector") for c in kube_api.calls if c.path == "/api/v1/nodes"}
    assert asked == {"node-role.kubernetes.io/worker="}


def test_a_refused_connection_is_an_outage_and_a_403_is_not(tmp_path, kube_api, logged_in, rhcos_layer):
    from rhcos_layer.adapters.cluster import Cluster
    from rhcos_layer.errors import ClusterAccessError, ClusterFlaky

    seed = seed_openshift(kube_api)
    with Cluster(str(logged_in)) as cluster:
        assert cluster.watched_pool("worker")["metadata"]["name"] == "worker"
        assert cluster.watched_machineconfig("rendered-worker-gone") is None  # deleted meanwhile: no error
        assert cluster.watched_node("worker-99") is None
        assert cluster.watched_node("worker-0")["labels"]["node-role.kubernetes.io/worker"] == ""
        kube_api.forbid("get", "machineconfigpools")
        with pytest.raises(ClusterAccessError, match="not allowed to get machineconfigpool worker"):
            cluster.watched_pool("worker")
        kube_api.allow()
        kube_api.stop()
        with pytest.raises(ClusterFlaky, match="did not answer get machineconfigpool worker"):
            cluster.watched_pool("worker")
    api = KubeAPI().start()
    try:
        seed = seed_openshift(api)
        api.store.put(machineconfig.render("worker", IMAGE, base=seed.base_image))
        with running_mco(api, instant=["worker"]) as sim:
            assert sim.wait_idle(30)
            sim.pause()  # the pool stays where it is: the watch goes on until the permission goes
            env = {"KUBECONFIG": str(api.write_kubeconfig(tmp_path / "kubeconfig"))}
            # missing before the command: the access review before the delete finds what the watch would lack
            api.forbid("get", "machineconfigpools")
            refused = rhcos_layer(["rollback", "--pool", "worker", "--wait"], tmp_path, env=env, timeout=120)
            assert refused.code == 10, refused.err
            assert "not allowed to get machineconfigpools" in refused.err and "nothing was changed" in refused.err
            assert api.store.get("machineconfigs", MC_NAME) is not None
            api.allow()

            # taken away once the rollback wrote: the watch's own 403 ends it at once, never retried
            def forbid_after_the_delete() -> None:
                deadline = time.monotonic() + 60
                while api.store.get("machineconfigs", MC_NAME) is not None and time.monotonic() < deadline:
                    time.sleep(0.01)
                api.forbid("get", "machineconfigpools")

            revoker = threading.Thread(target=forbid_after_the_delete)
            revoker.start()
            result = rhcos_layer(["rollback", "--pool", "worker", "--wait"], tmp_path, env=env, timeout=120)
            revoker.join()
        assert "worker: deleted 99-zz-rhcos-layer-0-worker" in result.err, result.err
        assert result.code == 10, result.err  # at once: a permission does not come back by retrying
        assert "not allowed to get machineconfigpool worker" in result.err and "retrying" not in result.err
    finally:
        api.stop()

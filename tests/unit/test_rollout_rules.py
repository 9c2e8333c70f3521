"""The rules apply and the rollout watch decide by: offline, on plain objects."""

from __future__ import annotations

import pytest

from rhcos_layer import apply, lint, objects, pools, rollout, selectors
from rhcos_layer.containerfile import parse
from rhcos_layer.errors import InvalidInput

MCO = "machineconfiguration.openshift.io/"
TARGET = "rendered-worker-new"


def _node(state: str, current: str = "rendered-worker-old", desired: str = TARGET, **extra: str) -> dict:
    ann = {MCO + "state": state, MCO + "currentConfig": current, MCO + "desiredConfig": desired}
    ann.update({MCO + k: v for k, v in extra.items()})
    return {"name": "worker-0", "annotations": ann}


@pytest.mark.parametrize(("node", "phase"), [
    (_node("Done", desired="rendered-worker-old"), rollout.WAITING),
    (_node("Working"), rollout.UPDATING),
    (_node("Working", desiredDrain=f"drain-{TARGET}"), rollout.DRAINING),
    # 4.16+: the daemon stays Working and marks the reboot (pkg/daemon/update.go)
    (_node("Working", desiredDrain=f"drain-{TARGET}", lastAppliedDrain=f"drain-{TARGET}",
           **{"post-config-action": "Rebooting"}), rollout.REBOOTING),
    # 4.14: no marker; a drained node still Working may be rebooting, and is shown as no more than that
    (_node("Working", desiredDrain=f"drain-{TARGET}", lastAppliedDrain=f"drain-{TARGET}"), rollout.APPLYING),
    # the daemon never writes a state "Rebooting" (pkg/daemon/writer.go): no reboot read from it
    (_node("Rebooting", desiredDrain=f"drain-{TARGET}"), rollout.DRAINING),
    (_node("Done", current=TARGET), rollout.DONE),
    (_node("Degraded", reason="pull failed"), rollout.DEGRADED),
    (_node("Unreconcilable"), rollout.DEGRADED),
    # degraded on another config: the node controller will not move it (node_controller.go)
    (_node("Degraded", desired="rendered-worker-other"), rollout.STUCK),
])
def test_node_phases_come_from_the_mco_annotations(node: dict, phase: str) -> None:
    assert rollout.node_phase(node, TARGET).phase == phase


def test_a_degraded_node_carries_its_reason() -> None:
    assert rollout.node_phase(_node("Degraded", reason="pull failed"), TARGET).reason == "pull failed"
    assert rollout.node_phase(_node("Unreconcilable"), TARGET).reason == "Unreconcilable"


def _pool(**status: object) -> dict:
    base = {"configuration": {"name": TARGET}, "machineCount": 3, "updatedMachineCount": 3,
            "degradedMachineCount": 0, "observedGeneration": 4,
            "conditions": [{"type": "Updated", "status": "True"}]}
    base.update(status)
    return {"metadata": {"generation": 4}, "spec": {"configuration": {"name": TARGET}}, "status": base}


def test_the_mcos_done_rule_needs_every_part() -> None:
    assert rollout.settled(_pool())
    assert not rollout.settled(_pool(configuration={"name": "rendered-worker-old"}))
    assert not rollout.settled(_pool(updatedMachineCount=2))
    assert not rollout.settled(_pool(degradedMachineCount=1))
    assert not rollout.settled(_pool(observedGeneration=3))
    assert not rollout.settled(_pool(conditions=[{"type": "Updated", "status": "False"}]))


@pytest.mark.parametrize(("text", "seconds"), [("0", None), ("90", 90.0), ("90s", 90.0), ("30m", 1800.0),
                                                ("2h", 7200.0), ("1h30m", 5400.0), ("1.5m", 90.0),
                                                ("500ms", 0.5), ("1m500ms", 60.5)])
def test_durations(text: str, seconds: object) -> None:
    assert rollout.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "10x", "-5", "1h 30m", "m"])
def test_bad_durations_name_the_flag(text: str) -> None:
    with pytest.raises(InvalidInput, match="--timeout"):
        rollout.parse_duration(text)


def test_the_watch_interval_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(rollout.INTERVAL_ENV, raising=False)
    assert rollout.interval() == rollout.DEFAULT_INTERVAL
    monkeypatch.setenv(rollout.INTERVAL_ENV, "0.5")
    assert rollout.interval() == 0.5
    monkeypatch.setenv(rollout.INTERVAL_ENV, "never")
    with pytest.raises(InvalidInput, match=rollout.INTERVAL_ENV):
        rollout.interval()


def test_ignorable_checks_are_parsed_like_kubeadm() -> None:
    assert apply.parse_ignored(["NodesCanPull,basematches", "PoolDegraded"]) == {
        "NodesCanPull", "BaseMatches", "PoolDegraded"}
    assert apply.parse_ignored(["all"]) == set(apply.IGNORABLE)
    with pytest.raises(InvalidInput, match="Shadowed: never ignorable"):
        apply.parse_ignored(["Shadowed"])
    with pytest.raises(InvalidInput, match="Typo: unknown"):
        apply.parse_ignored(["Typo"])


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1:5000", True), ("localhost", True), ("localhost:5000", True), ("[::1]:5000", True),
    ("registry.localhost", True), ("127.1.2.3", True), ("quay.io", False), ("10.0.0.5:5000", False),
    ("registry.example.com:8443", False), ("[fd00::1]:5000", False),
])
def test_loopback_registries(host: str, loopback: bool) -> None:
    assert apply._loopback(host) is loopback


def test_custom_pools_merge_worker_configs_first() -> None:
    def mc(name: str, role: str) -> dict:
        return {"metadata": {"name": name, "labels": {MCO + "role": role}}}

    ours = mc("99-zz-rhcos-layer-1-infra", "infra")
    # for infra, a worker MachineConfig named after ours still merges before it (4.15 and later)
    assert pools.merge_key("infra", mc("99-zzzz-worker-late", "worker"), (4, 16)) < pools.merge_key("infra", ours)
    assert pools.merge_key("infra", mc("99-zzzz-infra-late", "infra")) > pools.merge_key("infra", ours)
    worker_ours = mc("99-zz-rhcos-layer-0-worker", "worker")
    assert pools.merge_key("worker", mc("99-zzzz-worker-late", "worker")) > pools.merge_key("worker", worker_ours)
    # 4.14 sorts by name alone: there the late worker config wins on infra too
    assert pools.merge_key("infra", mc("99-zzzz-worker-late", "worker"), (4, 14)) > pools.merge_key(
        "infra", ours, (4, 14))


@pytest.mark.parametrize(("selector", "labels", "selected"), [
    (None, {"a": "1"}, False),  # a null selector selects nothing (LabelSelectorAsSelector)
    ({}, {"a": "1"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
    ({"matchLabels": {"a": "1"}}, {"a": "2"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1", "2"]}]}, {"a": "2"}, True),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": ["1"]}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": ""}, False),
])
def test_label_selectors(selector: object, labels: dict, selected: bool) -> None:
    assert selectors.matches(selector, labels) is selected


UPDATED = {"type": "Updated", "status": "True"}


@pytest.mark.parametrize(("status", "expected"), [
    ({"conditions": ["Updated", None, UPDATED]}, {"Updated": UPDATED}),
    ({"conditions": UPDATED}, {}),
    ("not an object", {}),
    (None, {}),
])
def test_conditions_of_any_shape_are_read_without_an_error(status: object, expected: dict) -> None:
    """The API server hands over what a proxy or an old CRD let through: what is not a condition is
    skipped, never an AttributeError (apply's PoolDegraded check and the wait read the same way)."""
    assert objects.conditions({"status": status}) == expected


@pytest.mark.parametrize("obj", [None, "version", ["status"], 7])
def test_conditions_of_an_object_that_is_not_one_are_none(obj: object) -> None:
    # one reader for pools, MachineOSBuilds and ClusterVersion (upgrade apply's wait hands it what it read)
    assert objects.conditions(obj) == {}


def _mcp(name: str, **spec: object) -> dict:
    return {"metadata": {"name": name}, "spec": spec}


def test_only_custom_pools_whose_selector_takes_the_worker_configs_inherit() -> None:
    role = MCO + "role"
    cluster_pools = [
        _mcp("worker", machineConfigSelector={"matchLabels": {role: "worker"}}),
        _mcp("master", machineConfigSelector={}),
        _mcp("infra", machineConfigSelector={"matchExpressions": [{"key": role, "operator": "In",
                                                                    "values": ["worker", "infra"]}]}),
        _mcp("everything", machineConfigSelector={}),
        _mcp("alone", machineConfigSelector={"matchLabels": {role: "alone"}}),
        # a null selector selects nothing (LabelSelectorAsSelector): the MCO merges no worker config into it
        _mcp("unset", machineConfigSelector=None),
        {"metadata": {"name": "nospec"}},
        # a selector the API server would refuse: the render controller renders nothing for the pool
        _mcp("broken", machineConfigSelector={"matchExpressions": [{"key": role, "operator": "Bogus"}]}),
    ]
    assert pools.inheriting(cluster_pools, "worker") == ["everything", "infra"]
    assert pools.inheriting(cluster_pools, "master") == []
    assert pools.inheriting(cluster_pools, "infra") == []


def test_layered_packages_and_their_conflicts_with_a_pool() -> None:
    cf = parse("FROM quay.io/x/y@sha256:" + "a" * 64 + "\n"
               "RUN rpm-ostree install usbguard htop && \\\n"
               "    rpm-ostree override replace https://example.com/kernel-rt-core-5.14.0-1.el9.x86_64.rpm && \\\n"
               "    ostree container commit\n", "Containerfile")
    packages = lint.layered_packages(cf)
    assert packages == {"usbguard", "htop", "kernel-rt-core"}
    facts = lint.PoolFacts("worker", extensions={"usbguard", "ipsec"}, kernel_type="realtime")
    assert lint.conflicts(packages, facts) == [
        "the layered kernel-rt-core conflicts with the pool's kernelType: realtime",
        "the layered usbguard conflicts with the pool's extension usbguard",
    ]
    assert lint.conflicts(packages, lint.PoolFacts("worker")) == []


class _Tty:
    """A terminal-like stream: rich draws on it as on a real one."""

    def __init__(self) -> None:
        import io

        self.buffer = io.StringIO()

    def write(self, text: str) -> int:
        return self.buffer.write(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("live", [True, False])
def test_the_rollout_display_shows_each_node_move(live: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rhcos_layer.terminal import RolloutDisplay, Terminal

    monkeypatch.delenv("TERM", raising=False)
    err = _Tty() if live else io.StringIO()
    terminal = Terminal(color=False, stdout=io.StringIO(), stderr=err)  # type: ignore[arg-type]
    assert terminal.live is live
    view = rollout.PoolView("worker", TARGET, "rendered-worker-old", ["99-zz-rhcos-layer-0-worker"], 3, 1, 3, 0,
                            False, False, detailed=True)
    with RolloutDisplay(terminal) as display:
        display.refresh(view, False, [])
        display.refresh(view, True, [rollout.NodeState("worker-0", rollout.DRAINING)])
        display.refresh(view, True, [rollout.NodeState("worker-1", rollout.DEGRADED, "pull failed")])
    text = err.buffer.getvalue() if live else err.getvalue()  # type: ignore[union-attr]
    assert "worker: waiting for the Machine Config Operator to render the new config" in text
    assert f"worker: rolling out {TARGET} to 3 node(s)" in text
    assert "  worker-0: cordoned, draining" in text
    assert "  worker-1: degraded: pull failed" in text
    assert ("worker: 1/3 nodes updated" in text) is not live  # plain lines; a bar on a terminal


def test_the_rollout_display_of_a_large_pool_shows_counts() -> None:
    import io

    from rhcos_layer.terminal import RolloutDisplay, Terminal

    err = io.StringIO()
    terminal = Terminal(color=False, stdout=io.StringIO(), stderr=err)
    view = rollout.PoolView("worker", TARGET, "rendered-worker-old", [], 2000, 150, 1800, 1, False, False,
                            unavailable=200)
    with RolloutDisplay(terminal) as display:
        display.refresh(view, True, [rollout.NodeState("worker-17", rollout.DEGRADED, "pull failed")])
    assert err.getvalue().splitlines() == [
        f"worker: rolling out {TARGET} to 2000 node(s); showing counts and the nodes that need attention",
        "  worker-17: degraded: pull failed",
        "worker: 150/2000 nodes updated, 200 unavailable, 1 degraded",
    ]


@pytest.mark.parametrize(("value", "machines", "count"), [
    (None, 10, 1), (3, 10, 3), ("20%", 10, 2), ("5%", 10, 1), ("10%", 2000, 200), ("bad", 10, 1), (0, 5, 1)])
def test_max_unavailable_counts_like_the_node_controller(value: object, machines: int, count: int) -> None:
    assert rollout.max_unavailable(value, machines) == count


def test_the_pool_reading_names_the_nodes_the_mco_reports_degraded() -> None:
    pool = _pool(degradedMachineCount=2, conditions=[{"type": "NodeDegraded", "status": "True", "message":
                 'Node worker-1 is reporting: "pull failed", Node worker-7 is reporting: "x"'}])
    view = rollout.read_pool(pool)
    assert view.degraded_names == ["worker-1", "worker-7"] and view.degraded == 2


# ------------------------------------------------------------------ the loop, on a fake cluster and clock


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class _Cluster:
    """Answers the watcher's reads from plain objects; ``outage`` refreshes fail first (HTTP 503)."""

    def __init__(self, pool: dict, nodes: list, outage: int = 0) -> None:
        self.pool, self.nodes, self.outage = pool, nodes, outage

    def watched_pool(self, name: str) -> dict:
        from rhcos_layer.errors import ClusterFlaky

        if self.outage:
            self.outage -= 1
            raise ClusterFlaky("the API server https://api.example answered HTTP 503 to get machineconfigpool")
        return self.pool

    def watched_node(self, name: str) -> dict:
        return next(n for n in self.nodes if n["name"] == name)

    def watched_machineconfig(self, name: str) -> dict:
        return {"spec": {"osImageURL": "img"}}

    def list_node_metadata(self, selector: str) -> tuple:
        return self.nodes, "1"

    def watch_node_metadata(self, selector: str, version: str, opened=None):  # noqa: ANN001, ANN201
        import time

        time.sleep(0.05)
        return iter(())


def _rollback_pool(**status: object) -> dict:
    pool = _pool(**status)
    pool["spec"]["configuration"]["source"] = [{"name": "00-worker"}]
    return pool


def test_a_node_degraded_on_another_config_ends_a_rollback_naming_it_and_its_recovery() -> None:
    from rhcos_layer.errors import RolloutFailed

    stuck = dict(_node("Degraded", current=TARGET, desired="rendered-worker-bad", reason="pull failed"),
                 name="worker-1")
    done = dict(_node("Done", current=TARGET, desired=TARGET), name="worker-0")
    cluster = _Cluster(_rollback_pool(updatedMachineCount=1, degradedMachineCount=1, unavailableMachineCount=1,
                                      machineCount=2), [done, stuck])
    clock = _Clock()
    watcher = rollout.Watcher(cluster, "worker", rollout.Expectation("99-zz-rhcos-layer-0-worker", False),
                              on_refresh=lambda *a: None, every=1)
    with pytest.raises(RolloutFailed) as failed:
        rollout.follow([watcher], None, progress_deadline=None, clock=clock, sleep=clock.sleep, every=1)
    assert "node worker-1 is Degraded on rendered-worker-bad (pull failed)" in failed.value.message
    assert failed.value.hint == ("recover it with: oc patch node worker-1 --type merge -p '{\"metadata\":"
                                 '{"annotations":{"machineconfiguration.openshift.io/desiredConfig":"'
                                 + TARGET + '"}}}\'')


def test_a_stale_degraded_node_does_not_end_the_wait_while_others_still_move() -> None:
    stuck = dict(_node("Degraded", current=TARGET, desired="rendered-worker-bad"), name="worker-1")
    moving = dict(_node("Working", current="rendered-worker-bad", desired=TARGET), name="worker-0")
    cluster = _Cluster(_rollback_pool(updatedMachineCount=0, degradedMachineCount=1, unavailableMachineCount=2,
                                      machineCount=2), [moving, stuck])
    watcher = rollout.Watcher(cluster, "worker", rollout.Expectation("99-zz-rhcos-layer-0-worker", False),
                              on_refresh=lambda *a: None, every=1)
    assert watcher.step() is False
    assert watcher.stuck() == []


def _large_pool(**status: object) -> dict:
    """A pool past NODE_DETAIL_LIMIT, followed by its counters, whose NodeDegraded message names nobody (the
    MCO names only nodes whose daemon wrote a reason: pkg/controller/node/status.go)."""
    pool = _pool(machineCount=200, conditions=[
        {"type": "Updated", "status": "False"},
        {"type": "NodeDegraded", "status": "True", "reason": "1 nodes are reporting degraded status on sync",
         "message": ""}], **status)
    pool["spec"]["configuration"]["source"] = [{"name": "99-zz-rhcos-layer-0-worker"}]
    pool["spec"]["nodeSelector"] = {"matchLabels": {"node-role.kubernetes.io/worker": ""}}
    return pool


def test_an_unnamed_degraded_node_in_a_large_pool_ends_the_wait_once_nothing_moves() -> None:
    from rhcos_layer.errors import RolloutFailed

    pool = _large_pool(updatedMachineCount=199, degradedMachineCount=1, unavailableMachineCount=1)
    clock = _Clock()
    watcher = rollout.Watcher(_Cluster(pool, []), "worker", rollout.Expectation("99-zz-rhcos-layer-0-worker", True,
                                                                               "img"), on_refresh=lambda *a: None,
                              every=1)
    with pytest.raises(RolloutFailed) as failed:  # before: nothing ended it but the progress deadline
        rollout.follow([watcher], None, progress_deadline=600, clock=clock, sleep=clock.sleep, every=1)
    assert failed.value.message == (
        "pool worker: 1 node(s) Degraded that the Machine Config Operator does not name (their daemon wrote no"
        " reason), and the node controller does not move a degraded node: the pool cannot reach"
        f" {TARGET} until they are recovered")
    assert failed.value.hint.startswith(
        "find them with: oc get nodes -l node-role.kubernetes.io/worker= -o 'custom-columns=NAME:.metadata.name,"
        r"STATE:.metadata.annotations.machineconfiguration\.openshift\.io/state,")
    assert clock.now < 5  # at once, not after the deadline


def test_an_unnamed_degraded_node_does_not_end_the_wait_while_others_still_move() -> None:
    moving = _large_pool(updatedMachineCount=100, degradedMachineCount=1, unavailableMachineCount=5)
    watcher = rollout.Watcher(_Cluster(moving, []), "worker", rollout.Expectation("99-zz-rhcos-layer-0-worker", True,
                                                                                 "img"), on_refresh=lambda *a: None,
                              every=1)
    assert watcher.step() is False and watcher.unnamed_degraded() == 0
    free = _large_pool(updatedMachineCount=100, degradedMachineCount=1, unavailableMachineCount=1,
                       maxUnavailable=2)  # a slot left: the node controller starts another node
    free["spec"]["maxUnavailable"] = 2
    watcher = rollout.Watcher(_Cluster(free, []), "worker", rollout.Expectation("99-zz-rhcos-layer-0-worker", True,
                                                                               "img"), on_refresh=lambda *a: None,
                              every=1)
    assert watcher.step() is False and watcher.unnamed_degraded() == 0


def test_no_progress_ends_the_wait_with_a_diagnosis_even_without_a_timeout() -> None:
    from rhcos_layer.errors import RolloutTimeout

    working = dict(_node("Working", desiredDrain=f"drain-{TARGET}", lastAppliedDrain=f"drain-{TARGET}",
                         **{"post-config-action": "Rebooting"}), name="worker-0")
    pool = _pool(updatedMachineCount=2, unavailableMachineCount=1)
    pool["spec"]["configuration"]["source"] = [{"name": "99-zz-rhcos-layer-0-worker"}]
    clock = _Clock()
    watcher = rollout.Watcher(_Cluster(pool, [working]), "worker",
                              rollout.Expectation("99-zz-rhcos-layer-0-worker", True, "img"),
                              on_refresh=lambda *a: None, every=1)
    with pytest.raises(RolloutTimeout) as late:
        rollout.follow([watcher], None, progress_deadline=60, resume="rhcos-layer status --watch --pool worker",
                       clock=clock, sleep=clock.sleep, every=1)
    assert late.value.exit_code == 14
    assert late.value.message == ("no progress for 60 s: pool worker: 2/3 nodes updated, 1 unavailable; still in"
                                  " progress: worker-0 (rebooting); the rollout goes on")
    assert late.value.hint == "follow it with `rhcos-layer status --watch --pool worker`"
    assert 60 <= clock.now <= 62


def test_an_api_outage_is_retried_with_backoff_and_said_once_each_way(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(rollout.BACKOFF_CAP_ENV, raising=False)
    done = dict(_node("Done", current=TARGET, desired=TARGET), name="worker-0")
    pool = _pool(machineCount=1, updatedMachineCount=1)
    pool["spec"]["configuration"]["source"] = [{"name": "99-zz-rhcos-layer-0-worker"}]
    cluster = _Cluster(pool, [done], outage=7)
    clock = _Clock()
    said: list = []
    watcher = rollout.Watcher(cluster, "worker", rollout.Expectation("99-zz-rhcos-layer-0-worker", True, "img"),
                              on_refresh=lambda *a: None, every=1)
    rollout.follow([watcher], None, progress_deadline=5, clock=clock, sleep=clock.sleep, every=1, notice=said.append)
    assert clock.slept == [1, 2, 4, 8, 16, 30, 30]  # 91 s of outage survived, the progress deadline untouched
    assert said == ["the API server https://api.example answered HTTP 503 to get machineconfigpool: retrying with"
                    " backoff; the rollout goes on in the cluster",
                    "the API server answers again after 91 s without an answer; still watching"]


def test_a_long_outage_gives_up_with_exit_11(monkeypatch: pytest.MonkeyPatch) -> None:
    from rhcos_layer.errors import ClusterUnreachable

    monkeypatch.setenv(rollout.BACKOFF_CAP_ENV, "60")
    cluster = _Cluster(_pool(), [], outage=10 ** 6)
    clock = _Clock()
    watcher = rollout.Watcher(cluster, "worker", rollout.Expectation("x", True), on_refresh=lambda *a: None, every=1)
    with pytest.raises(ClusterUnreachable) as gone:
        rollout.follow([watcher], None, clock=clock, sleep=clock.sleep, every=1)
    assert gone.value.exit_code == 11 and "stopped watching, the rollout goes on" in gone.value.message
    assert rollout.OUTAGE_LIMIT <= clock.now <= rollout.OUTAGE_LIMIT + 60


def test_the_backoff_cap_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(rollout.BACKOFF_CAP_ENV, "0.2")
    assert rollout.backoff_cap() == 0.2
    assert [rollout.backoff(n, 0.2) for n in range(3)] == [0.2, 0.2, 0.2]
    monkeypatch.setenv(rollout.BACKOFF_CAP_ENV, "-1")
    with pytest.raises(InvalidInput, match=rollout.BACKOFF_CAP_ENV):
        rollout.backoff_cap()


@pytest.mark.parametrize("text", ["soon", "10x"])
def test_a_bad_progress_deadline_names_its_flag(text: str) -> None:
    with pytest.raises(InvalidInput, match="--progress-deadline"):
        rollout.parse_duration(text, "--progress-deadline")


def test_the_running_release_is_the_newest_completed_update_whatever_the_history_holds():
    from rhcos_layer.objects import completed_update

    done = {"state": "Completed", "version": "4.16.3"}
    assert completed_update({"history": [{"state": "Partial", "version": "4.17.1"}, done,
                                         {"state": "Completed", "version": "4.15.9"}]}) == done
    assert completed_update({"history": ["junk", None, done]}) == done  # a non-object entry is skipped
    assert completed_update({"history": [{"state": "Partial"}]}) == {}  # still installing
    assert completed_update({"history": "junk"}) == {} and completed_update(None) == {}


def test_one_pause_patch_and_its_oc_line_for_every_command() -> None:
    from rhcos_layer.pools import patch_command, pause_patch
    from rhcos_layer.upgrade_apply import IMAGE_ANNOTATION, PAUSED_ANNOTATION, unpause_command, unpause_patch

    assert pause_patch(True) == {"spec": {"paused": True}}
    assert unpause_patch() == {"metadata": {"annotations": {PAUSED_ANNOTATION: None, IMAGE_ANNOTATION: None}},
                               "spec": {"paused": False}}
    assert patch_command("worker", pause_patch(False)) == (
        """oc patch mcp worker --type merge -p '{"spec":{"paused":false}}'""")
    assert unpause_command("infra") == ("oc patch mcp infra --type merge -p '{\"metadata\":{\"annotations\":{"
                                        f"\"{PAUSED_ANNOTATION}\":null,\"{IMAGE_ANNOTATION}\":null}}}},"
                                        "\"spec\":{\"paused\":false}}'")


def test_cluster_strings_and_image_digests_are_read_one_way() -> None:
    from rhcos_layer.reference import digest_of

    assert [objects.text(v) for v in ("4.16.3", None, 7, {"a": 1}, ["x"])] == ["4.16.3", "", "", "", ""]
    assert [objects.mapping(v) for v in ({"a": 1}, None, "x", ["a"])] == [{"a": 1}, {}, {}, {}]
    # a node's currentImage against the built image (apply --on-cluster), the plan's image against the
    # cluster's (upgrade apply): by digest, whatever the repository (a mirror's differs)
    assert digest_of("mirror.example/ocp@sha256:" + "a" * 64) == digest_of("quay.io/ocp@sha256:" + "a" * 64)
    assert digest_of("quay.io/ocp:4.16") == "quay.io/ocp:4.16" and digest_of("") == ""

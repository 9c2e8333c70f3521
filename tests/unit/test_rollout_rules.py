"""The rules apply and the rollout watch decide by: offline, on plain objects."""

from __future__ import annotations

import pytest

from rhcos_layer import apply, lint, pools, rollout
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
    (_node("Rebooting", desiredDrain=f"drain-{TARGET}"), rollout.REBOOTING),
    # 4.16+: the state stays Working, post-config-action says Rebooting (MCO pkg/daemon/update.go)
    (_node("Working", desiredDrain=f"drain-{TARGET}", **{"post-config-action": "Rebooting"}), rollout.REBOOTING),
    (_node("Done", current=TARGET), rollout.DONE),
    (_node("Degraded", reason="pull failed"), rollout.DEGRADED),
    (_node("Unreconcilable"), rollout.DEGRADED),
    # degraded on another config (an old failure): not this rollout's business
    (_node("Degraded", desired="rendered-worker-other"), rollout.WAITING),
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
                                                ("2h", 7200.0), ("1h30m", 5400.0), ("1.5m", 90.0)])
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
    assert pools.selector_matches(selector, labels) is selected  # type: ignore[arg-type]


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
                            False, False)
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

"""Following a pool's rollout: the new rendered config, then each node, until the MCO says done.

One refresh costs two API requests whatever the pool's size: the pool, and its nodes' metadata
(annotations) in one PartialObjectMetadataList. A third, once per new rendered config, reads that
config's ``osImageURL`` to know it is the one we wait for.

Done is the MCO's own rule: ``status.configuration.name == spec.configuration.name`` (the target),
updatedMachineCount == machineCount, condition Updated=True, degradedMachineCount == 0, and
``status.observedGeneration == metadata.generation``. A node on the target in state Degraded or
Unreconcilable stops the wait at once.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from .errors import InvalidInput

MCO = "machineconfiguration.openshift.io/"
DEFAULT_INTERVAL = 2.0
INTERVAL_ENV = "RHCOS_LAYER_WATCH_INTERVAL"

WAITING, UPDATING, DRAINING, REBOOTING, DONE, DEGRADED = (
    "waiting", "updating", "cordoned, draining", "rebooting", "done", "degraded")


def interval() -> float:
    """Seconds between refreshes: RHCOS_LAYER_WATCH_INTERVAL, else 2."""
    raw = os.environ.get(INTERVAL_ENV)
    if not raw:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 600:
        raise InvalidInput(f"{INTERVAL_ENV}={raw}: expected seconds between 0 and 600")
    return value


@dataclass
class NodeState:
    name: str
    phase: str
    reason: str = ""


@dataclass
class PoolView:
    """One refresh of a pool, with the nodes' phases towards ``target``."""

    name: str
    target: str  # spec.configuration.name
    current: str  # status.configuration.name
    sources: List[str]
    machines: int
    updated: int
    ready: int
    degraded: int
    paused: bool
    settled: bool  # the MCO's done rule holds (for whatever target)
    nodes: List[NodeState] = field(default_factory=list)

    def degraded_nodes(self) -> List[NodeState]:
        return [n for n in self.nodes if n.phase == DEGRADED]


def node_phase(meta: Dict[str, Any], target: str) -> NodeState:
    ann = meta.get("annotations") or {}
    name = str(meta.get("name", ""))
    state = ann.get(MCO + "state", "")
    current, desired = ann.get(MCO + "currentConfig", ""), ann.get(MCO + "desiredConfig", "")
    if desired != target:
        return NodeState(name, DONE if current == target and state == "Done" else WAITING)
    if state in ("Degraded", "Unreconcilable"):
        return NodeState(name, DEGRADED, str(ann.get(MCO + "reason", "")) or state)
    if state == "Done" and current == target:
        return NodeState(name, DONE)
    # the daemon's state stays Working through a reboot; 4.16+ marks it in post-config-action
    # (MCO pkg/daemon/update.go); "Rebooting" as a state only comes from older stand-ins
    if state == "Rebooting" or ann.get(MCO + "post-config-action") == "Rebooting":
        return NodeState(name, REBOOTING)
    if ann.get(MCO + "desiredDrain") == f"drain-{target}":
        return NodeState(name, DRAINING)
    return NodeState(name, UPDATING)


def settled(pool: Dict[str, Any]) -> bool:
    """The MCO's rule for a pool that finished rolling out its target config."""
    from .pools import conditions

    meta, spec, status = pool.get("metadata") or {}, pool.get("spec") or {}, pool.get("status") or {}
    target = (spec.get("configuration") or {}).get("name")
    updated = conditions(pool).get("Updated", {}).get("status")
    return (bool(target) and (status.get("configuration") or {}).get("name") == target
            and int(status.get("updatedMachineCount") or 0) == int(status.get("machineCount") or 0)
            and updated == "True" and int(status.get("degradedMachineCount") or 0) == 0
            and status.get("observedGeneration") == meta.get("generation"))


def observe(cluster: Any, pool_name: str, *, with_nodes: bool = True) -> PoolView:
    """Two requests: the pool, and its nodes' metadata."""
    from .pools import selector_string

    pool = cluster.pool(pool_name)
    spec, status = pool.get("spec") or {}, pool.get("status") or {}
    target = str((spec.get("configuration") or {}).get("name") or "")
    view = PoolView(
        name=pool_name, target=target, current=str((status.get("configuration") or {}).get("name") or ""),
        sources=[str(s.get("name")) for s in (spec.get("configuration") or {}).get("source") or []],
        machines=int(status.get("machineCount") or 0), updated=int(status.get("updatedMachineCount") or 0),
        ready=int(status.get("readyMachineCount") or 0), degraded=int(status.get("degradedMachineCount") or 0),
        paused=bool(spec.get("paused")), settled=settled(pool))
    if with_nodes:
        selector = selector_string(spec.get("nodeSelector"))
        view.nodes = [node_phase(meta, target) for meta in cluster.node_metadata(selector)]
    return view


@dataclass
class Expectation:
    """Which rendered config we wait for: one that merges ``machineconfig`` (or no longer does, for a
    rollback) and, when ``image`` is given, boots that image."""

    machineconfig: str
    present: bool
    image: Optional[str] = None


class Watcher:
    """Follows one pool's rollout of the expected config. ``on_refresh(view, ready, changed_nodes)``
    is called after each refresh; ``changed_nodes`` are the nodes whose phase moved since the last."""

    def __init__(self, cluster: Any, pool: str, expect: Expectation, *,
                 on_refresh: Callable[[PoolView, bool, List[NodeState]], None],
                 every: Optional[float] = None) -> None:
        self.cluster = cluster
        self.pool = pool
        self.expect = expect
        self.on_refresh = on_refresh
        self.every = interval() if every is None else every
        self._images: Dict[str, str] = {}
        self._phases: Dict[str, str] = {}
        self.view: Optional[PoolView] = None
        self.refreshes = 0

    def target_ready(self, view: PoolView) -> bool:
        """Whether the pool now targets the rendered config we wait for."""
        if not view.target or (self.expect.machineconfig in view.sources) != self.expect.present:
            return False
        if self.expect.image is None:
            return True
        if view.target not in self._images:
            rendered = self.cluster.machineconfig(view.target) or {}
            self._images[view.target] = str((rendered.get("spec") or {}).get("osImageURL") or "")
        return self._images[view.target] == self.expect.image

    def refresh(self) -> PoolView:
        view = observe(self.cluster, self.pool)
        ready = self.target_ready(view)
        changed = []
        if ready:
            for node in view.nodes:
                before = self._phases.get(node.name, WAITING)
                if node.phase != before:
                    changed.append(node)
                self._phases[node.name] = node.phase
        self.view = view
        self.refreshes += 1
        self.on_refresh(view, ready, changed)
        return view

    def step(self) -> bool:
        """One refresh: True when done; raises RolloutFailed when a node on the target degraded."""
        from .errors import RolloutFailed

        view = self.refresh()
        ready = self.target_ready(view)
        degraded = view.degraded_nodes() if ready else []
        if degraded:
            first = degraded[0]
            raise RolloutFailed(f"pool {self.pool}: node {first.name} is Degraded: {first.reason}"
                                + (f" (+{len(degraded) - 1} more node(s))" if len(degraded) > 1 else ""))
        return ready and view.settled and view.target == view.current


def wait_all(watchers: List[Watcher], timeout: Optional[float], *, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> None:
    """Refresh every pool until all are done (pools roll out side by side, so one degraded node
    anywhere stops the wait at once); RolloutTimeout after ``timeout`` seconds (None: no limit)."""
    from .errors import RolloutTimeout

    deadline = None if timeout is None else clock() + timeout
    pending = list(watchers)
    while pending:
        pending = [w for w in pending if not w.step()]
        if not pending:
            return
        if deadline is not None and clock() >= deadline:
            w = pending[0]
            view = w.view
            done = f"{view.updated}/{view.machines} nodes updated" if view else "not started"
            names = " ".join(f"--pool {p.pool}" for p in pending)
            raise RolloutTimeout(f"pool {w.pool} is not done after {_duration(timeout or 0)}: {done};"
                                 " the rollout goes on", hint=f"follow it with `rhcos-layer status --watch {names}`")
        sleep(min(w.every for w in pending))


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def parse_duration(text: str, flag: str = "--timeout") -> Optional[float]:
    """``90s``, ``30m``, ``2h``, ``1h30m`` or plain seconds; 0 means no limit (None)."""
    import re

    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)(h|m|s)", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise InvalidInput(f"{flag} {text}: expected a duration like 90s, 30m, 2h or 1h30m (0: no limit)")
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts)
    return seconds or None

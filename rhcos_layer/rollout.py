"""Following rollouts: one pool view, one watcher and one loop for ``apply``, ``rollback`` and ``status``.

What a refresh costs, in requests and bytes, whatever the pool's size:

* the pool: one GET (a few KB; polled, since a 2,000-node pool's status changes thousands of times
  in a rollout and a watch would carry every change);
* its nodes, only for pools of at most NODE_DETAIL_LIMIT nodes: their metadata is listed once and then
  kept current by a watch (``resourceVersion``, as ``oc get nodes -w``), so a quiet refresh moves no
  node bytes at all. Real nodes carry ~8 KB of metadata and change a dozen times per update: a large
  pool is followed by its counters, plus the nodes the MCO names as degraded (one GET each);
* the new rendered config, once: its ``osImageURL`` tells whether it is the one we wait for.

Done is the MCO's own rule: ``status.configuration.name == spec.configuration.name`` (the target),
updatedMachineCount == machineCount, condition Updated=True, degradedMachineCount == 0, and
``status.observedGeneration == metadata.generation``. A node Degraded on the target stops the wait at
once. A node Degraded on another config is never moved again by the node controller (it counts as
unavailable; openshift/machine-config-operator pkg/controller/node/node_controller.go,
getAllCandidateMachines): once nothing else moves, the wait ends, naming the node and the command
that recovers it. A rollout without progress for ``--progress-deadline`` ends too (exit 14), and API
failures (5xx, 429, timeouts, resets) are retried with backoff for up to OUTAGE_LIMIT seconds.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple

from .errors import InvalidInput
from .objects import mapping as _mapping

if TYPE_CHECKING:
    from .adapters.cluster_api import ClusterAPI

MCO = "machineconfiguration.openshift.io/"
DEFAULT_INTERVAL = 2.0
INTERVAL_ENV = "RHCOS_LAYER_WATCH_INTERVAL"
BACKOFF_CAP_ENV = "RHCOS_LAYER_WATCH_BACKOFF_CAP"
DEFAULT_BACKOFF_CAP = 30.0  # seconds between retries at most: a 30 s outage costs about six retries
OUTAGE_LIMIT = 600.0  # seconds without an answer before the watch gives up (the rollout goes on)
NODE_DETAIL_LIMIT = 100  # nodes: up to this, each node's moves are followed (and shown)
ATTENTION_LIMIT = 10  # degraded nodes read one by one in a larger pool

WAITING, UPDATING, DRAINING, APPLYING, REBOOTING, DONE, DEGRADED, STUCK = (
    "waiting", "updating", "cordoned, draining", "drained, updating", "rebooting", "done", "degraded",
    "degraded on another config")
IN_FLIGHT = (UPDATING, DRAINING, APPLYING, REBOOTING)
FAILED_STATES = ("Degraded", "Unreconcilable")  # pkg/daemon/constants.go; the daemon writes no "Rebooting"
POST_CONFIG_ACTION = MCO + "post-config-action"  # 4.16+, pkg/daemon/update.go: "Rebooting" while it reboots


def _seconds_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 600:
        raise InvalidInput(f"{name}={raw}: expected seconds between 0 and 600")
    return value


def interval() -> float:
    """Seconds between refreshes: RHCOS_LAYER_WATCH_INTERVAL, else 2."""
    return _seconds_env(INTERVAL_ENV, DEFAULT_INTERVAL)


def backoff_cap() -> float:
    """The longest wait between two retries of a failing API server: RHCOS_LAYER_WATCH_BACKOFF_CAP, else 30."""
    return _seconds_env(BACKOFF_CAP_ENV, DEFAULT_BACKOFF_CAP)


def backoff(attempt: int, cap: float) -> float:
    """1, 2, 4, 8 ... seconds, at most ``cap``."""
    return float(min(cap, 2.0 ** min(attempt, 16)))


# ------------------------------------------------------------------------------------ nodes
@dataclass
class NodeState:
    name: str
    phase: str
    reason: str = ""
    desired: str = ""
    current: str = ""
    state: str = ""

    @property
    def unavailable(self) -> bool:
        """As the node controller counts it (getUnavailableMachines), from what the annotations show."""
        return self.state != "Done" or self.current != self.desired


def node_phase(meta: Dict[str, Any], target: str) -> NodeState:
    """Where a node stands towards ``target``, from the daemon's annotations (pkg/daemon/constants.go).

    The daemon writes ``state`` Done, Working, Degraded or Unreconcilable only (pkg/daemon/writer.go).
    A reboot shows from 4.16 as ``post-config-action: Rebooting`` (pkg/daemon/update.go); 4.14 has no
    marker, so there a drained node that is still Working may be rebooting: shown as "drained, updating".
    """
    ann = _mapping(meta.get("annotations"))
    name = str(meta.get("name", ""))
    state = str(ann.get(MCO + "state", ""))
    current, desired = str(ann.get(MCO + "currentConfig", "")), str(ann.get(MCO + "desiredConfig", ""))
    facts = {"desired": desired, "current": current, "state": state}
    if state in FAILED_STATES:
        reason = str(ann.get(MCO + "reason", "")) or state
        return NodeState(name, DEGRADED if desired == target else STUCK, reason, **facts)
    if desired != target:
        return NodeState(name, DONE if current == target and state == "Done" else WAITING, **facts)
    if state == "Done" and current == target:
        return NodeState(name, DONE, **facts)
    if state == "Working" and ann.get(POST_CONFIG_ACTION) == "Rebooting":
        return NodeState(name, REBOOTING, **facts)
    if ann.get(MCO + "lastAppliedDrain") == f"drain-{target}":
        return NodeState(name, APPLYING, **facts)
    if ann.get(MCO + "desiredDrain") == f"drain-{target}":
        return NodeState(name, DRAINING, **facts)
    return NodeState(name, UPDATING, **facts)


def recovery_command(node: str, config: str) -> str:
    """What recovers a node the node controller will not move again: put its desiredConfig back to the
    config it runs (MCO docs/MachineConfigDaemon.md: the daemon acts on that annotation; with desiredConfig
    == currentConfig it finds nothing to change and reports Done), so the node is available again and the
    node controller moves it to the pool's target like any other."""
    patch = '{"metadata":{"annotations":{"' + MCO + 'desiredConfig":"' + config + '"}}}'
    return f"oc patch node {node} --type merge -p '{patch}'"


def find_degraded_command(selector: str) -> str:
    """An ``oc`` command that lists a pool's nodes with their daemon state: the degraded ones the MCO's
    message does not name show as Degraded or Unreconcilable."""
    where = f" -l {selector}" if selector and "'" not in selector else ""
    column = r"metadata.annotations.machineconfiguration\.openshift\.io/"
    return (f"oc get nodes{where} -o 'custom-columns=NAME:.metadata.name,STATE:.{column}state,"
            f"CURRENT:.{column}currentConfig' | grep -e Degraded -e Unreconcilable")


# ------------------------------------------------------------------------------------ pools
@dataclass
class PoolView:
    """One refresh of a pool: the MCO's counters, and its nodes' phases towards ``target`` when known."""

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
    unavailable: int = 0
    max_unavailable: int = 1
    conditions: Dict[str, str] = field(default_factory=dict)
    degraded_names: List[str] = field(default_factory=list)  # as the MCO's NodeDegraded message names them
    degraded_message: str = ""
    detailed: bool = False  # ``nodes`` holds every node of the pool (else only those needing attention)

    def degraded_nodes(self) -> List[NodeState]:
        return [n for n in self.nodes if n.phase == DEGRADED]

    def stuck_nodes(self) -> List[NodeState]:
        return [n for n in self.nodes if n.phase == STUCK]

    @property
    def updating(self) -> bool:
        return self.conditions.get("Updating") == "True" or (bool(self.target) and self.target != self.current)


def _count(value: Any) -> int:
    """A counter from the API: a non-negative int, 0 for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return 0
    try:
        return max(int(value), 0)
    except ValueError:
        return 0


def settled(pool: Dict[str, Any]) -> bool:
    """The MCO's rule for a pool that finished rolling out its target config."""
    from .objects import conditions

    meta, spec, status = _mapping(pool.get("metadata")), _mapping(pool.get("spec")), _mapping(pool.get("status"))
    target = _mapping(spec.get("configuration")).get("name")
    updated = conditions(pool).get("Updated", {}).get("status")
    return (bool(target) and _mapping(status.get("configuration")).get("name") == target
            and _count(status.get("updatedMachineCount")) == _count(status.get("machineCount"))
            and updated == "True" and _count(status.get("degradedMachineCount")) == 0
            and status.get("observedGeneration") == meta.get("generation"))


def max_unavailable(value: Any, machines: int) -> int:
    """spec.maxUnavailable (a count or a percentage, rounded down), at least 1 (pkg/controller/node/
    node_controller.go, maxUnavailable: intstr.GetScaledValueFromIntOrPercent, then 0 -> 1)."""
    if value is None or value == "":
        return 1
    text = str(value).strip()
    try:
        count = machines * int(text[:-1]) // 100 if text.endswith("%") else int(text)
    except ValueError:
        return 1
    return max(count, 1)


_REPORTING = re.compile(r"Node (\S+) is reporting")


def read_pool(pool: Dict[str, Any]) -> PoolView:
    """The one reading of a MachineConfigPool that status, apply and rollback share."""
    from .objects import conditions

    meta, spec, status = _mapping(pool.get("metadata")), _mapping(pool.get("spec")), _mapping(pool.get("status"))
    present = conditions(pool)
    machines = _count(status.get("machineCount"))
    message = str(present.get("NodeDegraded", {}).get("message") or "")
    sources = _mapping(spec.get("configuration")).get("source")
    return PoolView(
        name=str(meta.get("name") or ""), target=str(_mapping(spec.get("configuration")).get("name") or ""),
        current=str(_mapping(status.get("configuration")).get("name") or ""),
        sources=[str(s.get("name")) for s in (sources if isinstance(sources, list) else []) if isinstance(s, dict)],
        machines=machines, updated=_count(status.get("updatedMachineCount")),
        ready=_count(status.get("readyMachineCount")), degraded=_count(status.get("degradedMachineCount")),
        paused=bool(spec.get("paused")), settled=settled(pool),
        unavailable=_count(status.get("unavailableMachineCount")),
        max_unavailable=max_unavailable(spec.get("maxUnavailable"), machines),
        conditions={kind: str(c.get("status")) for kind, c in present.items()},
        degraded_names=list(dict.fromkeys(_REPORTING.findall(message))), degraded_message=message)


# ------------------------------------------------------------------------------------ the watcher
class NodeFeed:
    """A pool's node metadata, listed once and then kept current by a watch, in a thread of its own
    (a refresh only reads the copy). 410 Gone lists again; transient failures retry with backoff."""

    def __init__(self, cluster: ClusterAPI, selector: str) -> None:
        self.cluster = cluster
        self.selector = selector
        self.failure: Optional[Exception] = None
        self._nodes: Dict[str, Dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._synced = threading.Event()
        self._stop = threading.Event()
        self._close: Optional[Callable[[], None]] = None
        self._thread = threading.Thread(target=self._run, name="rhcos-layer-node-watch", daemon=True)
        self._thread.start()

    def snapshot(self, wait: float) -> Optional[List[Dict[str, Any]]]:
        """The nodes' metadata; None if not listed yet after ``wait`` seconds. Raises what the watch
        cannot get past (a missing permission)."""
        self._synced.wait(wait)
        if self.failure is not None:
            raise self.failure
        if not self._synced.is_set():
            return None
        with self._lock:
            return list(self._nodes.values())

    def close(self) -> None:
        """End the watch and its thread (a thread left in an open TLS read can abort the interpreter's exit)."""
        self._stop.set()
        closer = self._close
        if closer is not None:
            closer()
        self._thread.join(timeout=5)

    def _opened(self, closer: Callable[[], None]) -> None:
        self._close = closer
        if self._stop.is_set():
            closer()

    def _run(self) -> None:
        from .errors import ClusterFlaky, RhcosLayerError

        version, attempt = "", 0
        while not self._stop.is_set():
            try:
                if not version:
                    items, version = self.cluster.list_node_metadata(self.selector)
                    with self._lock:
                        self._nodes = {str(m.get("name")): m for m in items}
                    self._synced.set()
                for kind, meta in self.cluster.watch_node_metadata(self.selector, version, opened=self._opened):
                    if self._stop.is_set():
                        return
                    if kind == "ERROR":  # 410 Gone: our resourceVersion left the server's window
                        version = ""
                        break
                    version = str(meta.get("resourceVersion") or version)
                    if kind == "BOOKMARK":
                        continue
                    with self._lock:
                        if kind == "DELETED":
                            self._nodes.pop(str(meta.get("name")), None)
                        else:
                            self._nodes[str(meta.get("name"))] = meta
                attempt = 0
                self._stop.wait(0.2)  # a server that ends every watch at once is not asked again in a loop
            except ClusterFlaky:
                if self._stop.is_set():
                    return
                self._stop.wait(backoff(attempt, backoff_cap()))
                attempt += 1
            except RhcosLayerError as exc:
                self.failure = exc
                self._synced.set()
                return
            except Exception as exc:  # never a silently stale copy: the refresh reports it
                self.failure = RhcosLayerError(f"the watch of nodes failed: {type(exc).__name__}: {exc}")
                self._synced.set()
                return


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

    def __init__(self, cluster: ClusterAPI, pool: str, expect: Expectation, *,
                 on_refresh: Callable[[PoolView, bool, List[NodeState]], None],
                 every: Optional[float] = None, detail_limit: int = NODE_DETAIL_LIMIT) -> None:
        self.cluster = cluster
        self.pool = pool
        self.expect = expect
        self.on_refresh = on_refresh
        self.every = interval() if every is None else every
        self.detail_limit = detail_limit
        self._images: Dict[str, str] = {}
        self._phases: Dict[str, str] = {}
        self._feed: Optional[NodeFeed] = None
        self._attention: Tuple[Tuple[str, ...], List[NodeState]] = ((), [])
        self.view: Optional[PoolView] = None
        self._node_selector: Dict[str, Any] = {}
        self.ready = False
        self.refreshes = 0

    def target_ready(self, view: PoolView) -> bool:
        """Whether the pool now targets the rendered config we wait for."""
        if not view.target or (self.expect.machineconfig in view.sources) != self.expect.present:
            return False
        if self.expect.image is None:
            return True
        if view.target not in self._images:
            rendered = self.cluster.watched_machineconfig(view.target) or {}
            self._images[view.target] = str((rendered.get("spec") or {}).get("osImageURL") or "")
        return self._images[view.target] == self.expect.image

    def _nodes(self, pool: Dict[str, Any], view: PoolView) -> None:
        from .pools import selector_string

        if view.machines <= self.detail_limit:
            if self._feed is None:
                self._feed = NodeFeed(self.cluster, selector_string((pool.get("spec") or {}).get("nodeSelector")))
            metas = self._feed.snapshot(wait=min(30.0, max(5.0, self.every)))
            if metas is not None:
                view.nodes = sorted((node_phase(m, view.target) for m in metas), key=lambda n: n.name)
                view.detailed = True
                return
        elif self._feed is not None:  # the pool grew past the limit
            self._feed.close()
            self._feed = None
        names = tuple(view.degraded_names[:ATTENTION_LIMIT])
        if names != self._attention[0] or (names and view.target != (self.view.target if self.view else "")):
            named = [self.cluster.watched_node(name) for name in names]
            self._attention = (names, [node_phase(m, view.target) for m in named if m])
        view.nodes = list(self._attention[1])

    def refresh(self) -> PoolView:
        pool = self.cluster.watched_pool(self.pool)
        self._node_selector = _mapping(_mapping(pool.get("spec")).get("nodeSelector"))
        view = read_pool(pool)
        self._nodes(pool, view)
        ready = self.target_ready(view)
        changed = []
        if ready:
            for node in view.nodes:
                before = self._phases.get(node.name, WAITING)
                if node.phase != before:
                    changed.append(node)
                self._phases[node.name] = node.phase
        self.view, self.ready = view, ready
        self.refreshes += 1
        self.on_refresh(view, ready, changed)
        return view

    def step(self) -> bool:
        """One refresh: True when done; RolloutFailed when a node degraded on the target, or when a node
        degraded on another config blocks a pool where nothing else moves."""
        from .errors import RolloutFailed

        view = self.refresh()
        if not self.ready:
            return False
        degraded = view.degraded_nodes()
        if degraded:
            first = degraded[0]
            raise RolloutFailed(f"pool {self.pool}: node {first.name} is Degraded: {first.reason}"
                                + (f" (+{len(degraded) - 1} more node(s))" if len(degraded) > 1 else ""))
        stuck = self.stuck()
        if stuck:
            first = stuck[0]
            raise RolloutFailed(
                f"pool {self.pool}: node {first.name} is Degraded on {first.desired or 'another config'}"
                f" ({first.reason}), and the node controller does not move a degraded node: the pool cannot"
                f" reach {view.target} until it is recovered"
                + (f" (+{len(stuck) - 1} more node(s): {', '.join(n.name for n in stuck[1:])})" if len(stuck) > 1
                   else ""),
                hint="recover it with: " + " && ".join(recovery_command(n.name, n.current or view.target)
                                                        for n in stuck))
        unnamed = self.unnamed_degraded()
        if unnamed:
            raise RolloutFailed(
                f"pool {self.pool}: {unnamed} node(s) Degraded that the Machine Config Operator does not name (their"
                " daemon wrote no reason), and the node controller does not move a degraded node: the pool cannot"
                f" reach {view.target} until they are recovered",
                hint=f"find them with: {find_degraded_command(self._selector_text())}; recover each with: "
                     + recovery_command("NODE", "ITS_CURRENT_CONFIG"))
        return view.settled and view.target == view.current

    def _selector_text(self) -> str:
        from .pools import selector_string
        from .selectors import InvalidSelector

        try:
            return selector_string(self._node_selector)
        except InvalidSelector:  # the whole list then: the command still finds them
            return ""

    def unnamed_degraded(self) -> int:
        """In a pool followed by its counters: degraded nodes the MCO counts but does not name (it names only
        those whose daemon wrote a reason: pkg/controller/node/status.go, calculateStatus), once nothing is in
        flight and the node controller can start nothing more, as ``stuck`` decides for named ones. 0 else."""
        view = self.view
        if view is None or view.detailed or not view.degraded:
            return 0
        unnamed = view.degraded - sum(1 for n in view.nodes if n.phase in (DEGRADED, STUCK))
        if unnamed <= 0:
            return 0
        in_flight = view.unavailable > view.degraded
        left = view.updated + view.degraded < view.machines
        if in_flight or (left and view.unavailable < view.max_unavailable):
            return 0
        return unnamed

    def stuck(self) -> List[NodeState]:
        """Nodes Degraded on another config, once they are all that is left to move (or they hold every
        slot of maxUnavailable) and nothing is in flight: the node controller will not start anything."""
        view = self.view
        if view is None:
            return []
        stuck = view.stuck_nodes()
        if not stuck:
            return []
        if view.detailed:
            in_flight = any(n.phase in IN_FLIGHT for n in view.nodes)
            unavailable = sum(1 for n in view.nodes if n.unavailable)
            left = any(n.phase not in (DONE, STUCK) for n in view.nodes)
        else:  # from the counters: unavailable beyond the degraded nodes are nodes in flight
            in_flight = view.unavailable > view.degraded
            unavailable = view.unavailable
            left = view.updated + view.degraded < view.machines
        if in_flight or (left and unavailable < view.max_unavailable):
            return []
        return stuck

    def progress(self) -> Hashable:
        view = self.view
        if view is None:
            return None
        return (self.ready, view.target, view.current, view.updated, view.ready, view.degraded, view.unavailable,
                tuple((n.name, n.phase) for n in view.nodes))

    def diagnosis(self) -> str:
        view = self.view
        if view is None:
            return f"pool {self.pool}: not read yet"
        if not self.ready:
            what = "with" if self.expect.present else "without"
            return (f"pool {self.pool}: the Machine Config Operator has not rendered a config {what}"
                    f" {self.expect.machineconfig} (is the machine-config-controller running?"
                    " oc -n openshift-machine-config-operator get pods)")
        if view.paused:
            return (f"pool {self.pool} is paused: nothing moves until it is unpaused"
                    f" (oc patch mcp {self.pool} --type merge -p '{{\"spec\":{{\"paused\":false}}}}')")
        flying = [n for n in view.nodes if n.phase in IN_FLIGHT]
        counts = f"{view.updated}/{view.machines} nodes updated, {view.unavailable} unavailable" + (
            f", {view.degraded} degraded ({view.degraded_message})" if view.degraded and view.degraded_message
            else f", {view.degraded} degraded" if view.degraded else "")
        if flying:
            shown = ", ".join(f"{n.name} ({n.phase})" for n in flying[:5])
            return f"pool {self.pool}: {counts}; still in progress: {shown}" + (" ..." if len(flying) > 5 else "")
        return f"pool {self.pool}: {counts}"

    def close(self) -> None:
        if self._feed is not None:
            self._feed.close()
            self._feed = None


def follow(watchers: Sequence[Any], timeout: Optional[float], *, progress_deadline: Optional[float] = None,
           resume: str = "", notice: Callable[[str], None] = lambda text: None,
           clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
           every: Optional[float] = None) -> None:
    """Refresh every watcher (``step() -> done``, ``progress()``, ``diagnosis()``, ``close()``) until all
    are done. Pools roll out side by side, so one failure anywhere stops the wait at once.

    RolloutTimeout after ``timeout`` seconds, or when no watcher's ``progress()`` changed for
    ``progress_deadline`` seconds (None: no limit). An API server that fails (ClusterFlaky) is retried
    with backoff, said once when it starts and once when it ends; after OUTAGE_LIMIT seconds without an
    answer the watch gives up (ClusterUnreachable). The rollout goes on in the cluster in every case.
    """
    from .errors import ClusterFlaky, ClusterUnreachable, RolloutTimeout

    every = interval() if every is None else every
    cap = backoff_cap()
    start = clock()
    deadline = None if timeout is None else start + timeout
    hint = f"follow it with `{resume}`" if resume else ""
    pending = list(watchers)
    last: Any = object()
    moved = start
    outage: Optional[float] = None
    attempt = 0
    try:
        while pending:
            try:
                still = []
                for w in pending:
                    if not w.step():
                        still.append(w)
                pending = still
            except ClusterFlaky as exc:
                now = clock()
                if outage is None:
                    outage = now
                    notice(f"{exc}: retrying with backoff; the rollout goes on in the cluster")
                if now - outage >= OUTAGE_LIMIT:
                    raise ClusterUnreachable(f"{exc}; no answer for {_duration(now - outage)}: stopped watching,"
                                             " the rollout goes on", hint=hint) from None
                if deadline is not None and now >= deadline:
                    raise RolloutTimeout(f"the API server is not answering after {_duration(timeout or 0)};"
                                         " the rollout goes on", hint=hint) from None
                sleep(backoff(attempt, cap))
                attempt += 1
                continue
            now = clock()
            if outage is not None:
                notice(f"the API server answers again after {_duration(now - outage)} without an answer;"
                       " still watching")
                outage, attempt, moved = None, 0, now  # an outage is no lack of progress
            if not pending:
                return
            state = tuple(w.progress() for w in pending)
            if state != last:
                last, moved = state, now
            elif progress_deadline is not None and now - moved >= progress_deadline:
                raise RolloutTimeout(f"no progress for {_duration(progress_deadline)}: "
                                     + "; ".join(w.diagnosis() for w in pending) + "; the rollout goes on",
                                     hint=hint)
            if deadline is not None and now >= deadline:
                w = pending[0]
                view = getattr(w, "view", None)
                done = f"{view.updated}/{view.machines} nodes updated" if view else "not started"
                name = getattr(w, "pool", "?")
                raise RolloutTimeout(f"pool {name} is not done after {_duration(timeout or 0)}: {done};"
                                     " the rollout goes on", hint=hint)
            sleep(every)
    finally:
        for w in watchers:
            w.close()


def _duration(seconds: float) -> str:
    if seconds >= 120:
        return f"{seconds / 60:g} min"
    return f"{seconds:.3g} s" if seconds < 10 else f"{seconds:.0f} s"


def parse_duration(text: str, flag: str = "--timeout") -> Optional[float]:
    """``500ms``, ``90s``, ``30m``, ``2h``, ``1h30m`` or plain seconds; 0 means none (None). The one
    reader of every duration flag (--timeout, --progress-deadline, push's --retry-delay)."""
    text = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        seconds = float(text)
    else:
        # ms before m: "500ms" is half a second, not 500 minutes and a stray s
        parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise InvalidInput(f"{flag} {text}: expected a duration like 90s, 30m, 2h or 1h30m (0: no limit)")
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[u] for n, u in parts)
    return seconds or None

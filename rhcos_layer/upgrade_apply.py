"""``rhcos-layer upgrade apply``: a cluster upgrade in which each layered node reboots once.

A pool with our osImageURL keeps it through an upgrade (MCO docs/UsingLayering.md), so left alone
its nodes reboot twice: once into the new release's configs with the old image, once more when the
image rebuilt on the new base is applied. Here the layered pools are paused before the upgrade (the
node controller does not move a paused pool), the control plane and the other pools upgrade, and
then each layered pool gets its new image and is unpaused: one reboot, into the new base with the
layer.

Everything this needs to go on after an interruption is on the cluster, never in local files: the
pools we paused carry PAUSED_ANNOTATION (the target) and IMAGE_ANNOTATION (the image planned for
them), ClusterVersion says how far the upgrade is, and our MachineConfig which image it names.
``survey()`` reads that; each later step starts from what it found.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple

from .errors import ClusterUpgradeFailed, PartiallyApplied, PreflightFailed, RhcosLayerError, UpgradeNotReady
from .machineconfig import ANNOTATION_PREFIX, PROJECT_ANNOTATION, name_for
from .objects import completed_update, conditions
from .objects import field as _field
from .objects import text as _text
from .pools import patch_command, pause_patch
from .reference import digest_of

if TYPE_CHECKING:
    from .adapters.cluster_api import ClusterAPI
    from .apply import Plan
    from .rollout import Expectation
    from .trust import TLSSettings
    from .upgrade import UpgradePlan

PAUSED_ANNOTATION = ANNOTATION_PREFIX + "upgrade-paused-for"  # the target version we paused the pool for
IMAGE_ANNOTATION = ANNOTATION_PREFIX + "upgrade-image"  # the layered image planned for the pool then
CONTROL_PLANE_POOLS = ("master", "arbiter")

# Where the cluster's upgrade to the target stands (read_upgrade).
NOT_STARTED, UPGRADING, COMPLETED, FAILED, OTHER = "not started", "upgrading", "completed", "failed", "other"

# Where a layered pool stands.
TO_PAUSE, PAUSED, HELD, WRITTEN, ROLLING, DONE = (
    "to pause", "paused", "held (paused by someone else)", "written", "rolling out", "done")


def require_ready(plan: UpgradePlan) -> None:
    """Refuse a plan with a pool that is not ready (exit 20, upgrade plan's own error), before any write."""
    try:
        plan.check()
    except UpgradeNotReady as exc:
        exc.message += f"; upgrade apply --to {plan.target.version} changed nothing"
        raise


# ------------------------------------------------------------------------------------ the cluster upgrade
@dataclass(frozen=True)
class ClusterUpgrade:
    """Where the cluster's upgrade to ``target`` stands, from ClusterVersion ``version``."""

    target: str
    state: str  # NOT_STARTED, UPGRADING, COMPLETED, FAILED, OTHER
    current: str  # the newest Completed release
    desired: str  # what the cluster is asked to run (spec.desiredUpdate, else status.desired)
    message: str = ""  # Failing's message when failed, else Progressing's

    def as_dict(self) -> Dict[str, Any]:
        return {"target": self.target, "state": self.state, "current": self.current, "desired": self.desired,
                "message": self.message}


def read_upgrade(cv: Any, target: str) -> ClusterUpgrade:
    """Read ClusterVersion ``cv`` against ``target`` (openshift/api config/v1 types_cluster_version.go;
    openshift/cluster-version-operator pkg/cvo/status.go writes the history and conditions).

    Completed only when the history's entry for ``target`` is Completed, the cluster desires it and
    Progressing is False (the CVO keeps Progressing True until every operator reports the version).
    Failing=True while the cluster moves to ``target`` is FAILED. Asked for, or moving to, another
    release is OTHER. Whatever shape the object has (it is input), this returns, never raises."""
    present = conditions(cv)
    history = _field(cv, "status", "history")
    entries = [h for h in (history if isinstance(history, list) else []) if isinstance(h, dict)]
    current = _text(completed_update(_field(cv, "status")).get("version"))
    asked = _text(_field(cv, "spec", "desiredUpdate", "version"))
    status_desired = _text(_field(cv, "status", "desired", "version"))
    desired = asked or status_desired
    progressing = _text(_field(present.get("Progressing"), "status"))
    failing = _text(_field(present.get("Failing"), "status")) == "True"
    message = _text(_field(present.get("Progressing"), "message"))
    newest = next((h for h in entries if _text(h.get("version")) == target), None)
    if target and (desired == target or status_desired == target):
        if (status_desired == target and newest is not None and newest.get("state") == "Completed"
                and entries and entries[0] is newest and progressing == "False"):
            return ClusterUpgrade(target, COMPLETED, current, desired, message)
        if failing:
            failing_message = _text(_field(present.get("Failing"), "message")) or "Failing=True"
            return ClusterUpgrade(target, FAILED, current, desired, failing_message)
        accepted = present.get("ReleaseAccepted")
        if status_desired != target and _text(_field(accepted, "status")) == "False":
            # the CVO could not find or load the release asked for (pkg/cvo/cvo.go: VersionNotFound,
            # RetrievePayload): it stays where it is, so waiting would never end
            why = _text(_field(accepted, "message")) or _text(_field(accepted, "reason")) or "ReleaseAccepted=False"
            return ClusterUpgrade(target, FAILED, current, desired, f"the release was not accepted: {why}")
        return ClusterUpgrade(target, UPGRADING, current, desired, message)
    if desired and desired != current or progressing == "True":
        return ClusterUpgrade(target, OTHER, current, desired, message)
    return ClusterUpgrade(target, NOT_STARTED, current, desired, message)


def plan_request(cv: Any, target: str) -> Tuple[Optional[str], Optional[str]]:
    """What to hand ``make_plan``: (``to``, ``release``). Before the upgrade starts, ``to=target`` (one of
    the cluster's updates, as ``upgrade plan --to``); once the cluster is moving to it or there, the target
    is no longer among its updates, so the release image it desires is planned for directly."""
    upgrade = read_upgrade(cv, target)
    if upgrade.state in (UPGRADING, COMPLETED, FAILED):
        image = _text(_field(cv, "spec", "desiredUpdate", "image")) if upgrade.desired == target else ""
        if _text(_field(cv, "status", "desired", "version")) == target:
            image = _text(_field(cv, "status", "desired", "image")) or image
        if image:
            return None, image
    return target, None


# ------------------------------------------------------------------------------------ the pools
@dataclass
class PoolStep:
    """One pool in the upgrade: a layered one (``image`` set) or one that inherits a layered worker's image."""

    pool: str
    image: str  # the image planned for it ("" for a pool that inherits worker's)
    state: str
    project: Optional[str] = None
    inherits: bool = False
    machines: int = 0
    updated: int = 0
    rendered: str = ""
    remark: bool = False  # paused by us with another planned image: record this one (--replan)

    @property
    def machineconfig(self) -> str:
        return name_for("worker" if self.inherits else self.pool)

    def as_dict(self) -> Dict[str, Any]:
        return {"pool": self.pool, "image": self.image or None, "machineconfig": self.machineconfig,
                "state": self.state, "inherits_worker": self.inherits, "rendered": self.rendered or None,
                "machines": self.machines, "updated": self.updated}


@dataclass
class Survey:
    """What the cluster shows now: the upgrade, and each pool this run is about."""

    target: str
    image: str  # the target release image
    upgrade: ClusterUpgrade
    pools: List[PoolStep] = field(default_factory=list)
    risks: List[str] = field(default_factory=list)  # a conditional update's
    cluster_version: Dict[str, Any] = field(default_factory=dict)

    def paused(self) -> List[str]:
        """The pools paused by us and not unpaused yet (what stays held if this run stops now)."""
        return [p.pool for p in self.pools if p.state == PAUSED]

    def as_dict(self) -> Dict[str, Any]:
        return {"target": {"version": self.target, "image": self.image}, "cluster": self.upgrade.as_dict(),
                "pools": [p.as_dict() for p in self.pools]}


def _meta(obj: Any) -> Dict[str, Any]:
    meta = _field(obj, "metadata")
    return meta if isinstance(meta, dict) else {}


def _annotations(obj: Any) -> Dict[str, str]:
    found = _meta(obj).get("annotations")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def paused_by_upgrade(pool: Any) -> bool:
    """Whether upgrade apply paused this MachineConfigPool (and it is still paused): rollback lifts that
    pause with our MachineConfig, since the pool then waits for nothing of ours."""
    return _field(pool, "spec", "paused") is True and PAUSED_ANNOTATION in _annotations(pool)


def unpause_patch() -> Dict[str, Any]:
    """Unpause, and drop our marks (null deletes them in a merge patch)."""
    return pause_patch(False, {PAUSED_ANNOTATION: None, IMAGE_ANNOTATION: None})


def unpause_command(pool: str) -> str:
    """The ``oc`` line that does what unpause_patch does, for a person."""
    return patch_command(pool, unpause_patch())


def survey(cluster: ClusterAPI, plan: UpgradePlan, *, replan: bool = False) -> Survey:
    """Read where the upgrade to the plan's target stands, and refuse (before any write) what this
    command must not do: a plan that is not ready (20), another upgrade in flight, a pool we paused for
    another target, a layered control-plane pool while its upgrade is still ahead, a pool paused for this
    target with another image than the plan's now (another build was pushed: 20, unless ``replan``)."""
    from .pools import inheriting

    require_ready(plan)
    target = plan.target.version
    cv = cluster.cluster_version()
    upgrade = read_upgrade(cv, target)
    if upgrade.state == OTHER:
        raise PreflightFailed(f"the cluster is upgrading to {upgrade.desired or 'another release'}, not {target}"
                              f" ({upgrade.message or 'Progressing'}); nothing was changed",
                              hint="let that upgrade finish (oc adm upgrade shows it), then run this again")
    found = Survey(target, plan.target.image, upgrade, cluster_version=cv)
    pools = {str(_meta(p).get("name") or ""): p for p in cluster.pools()}
    layered = [p for p in plan.pools if p.new_image]
    if upgrade.state != COMPLETED:
        control = [p.pool for p in layered if p.pool in CONTROL_PLANE_POOLS]
        if control:
            pool = control[0]
            raise PreflightFailed(
                f"pool {pool} runs a layered image: pausing it would hold the control-plane upgrade (the cluster"
                f" version operator waits for the {pool} pool), so the one-reboot upgrade cannot take it;"
                " nothing was changed",
                hint=f"roll it back to the base first (rhcos-layer rollback --pool {pool} --wait), run this again,"
                     f" and apply its image after the upgrade (rhcos-layer apply --pool {pool})")
    for item in layered:
        found.pools.append(_pool_step(item.pool, str(item.new_image), pools, target, replan, cluster))
    if any(p.pool == "worker" for p in layered):
        for other in inheriting(pools.values(), "worker"):
            if other not in {p.pool for p in found.pools}:
                found.pools.append(_pool_step(other, "", pools, target, replan, cluster, inherits=True))
    return found


def _pool_step(pool: str, image: str, pools: Dict[str, Any], target: str, replan: bool, cluster: ClusterAPI,
               *, inherits: bool = False) -> PoolStep:
    from .errors import InvalidInput

    obj = pools.get(pool)
    if obj is None:
        raise InvalidInput(f"pool {pool}: no such machine config pool (the plan names it; the cluster has:"
                           f" {', '.join(sorted(pools))})")
    notes = _annotations(obj)
    paused = _field(obj, "spec", "paused") is True
    ours = notes.get(PAUSED_ANNOTATION)
    project = None
    if not inherits:
        mc = cluster.machineconfig(name_for(pool))
        project = _annotations(mc).get(PROJECT_ANNOTATION) if mc else None
    if ours is not None and ours != target:
        raise PreflightFailed(f"pool {pool} was paused by rhcos-layer for an upgrade to {ours}, not {target};"
                              " nothing was changed",
                              hint=f"finish that one (rhcos-layer upgrade apply --to {ours}), or unpause the pool:"
                                   f" {unpause_command(pool)}")
    if ours is None:
        return PoolStep(pool, image, HELD if paused else TO_PAUSE, project, inherits)
    planned = notes.get(IMAGE_ANNOTATION, "")
    if not inherits and planned and planned != image and not replan:
        raise UpgradeNotReady(f"pool {pool} was paused for {target} with {planned}, but the plan now gives {image}"
                              " (another build was pushed meanwhile); nothing was changed",
                              hint=f"check the new image, then take it with: rhcos-layer upgrade apply --to {target}"
                                   " --replan")
    step = PoolStep(pool, image, PAUSED, project, inherits)
    step.remark = bool(planned and planned != image)  # --replan: record the image taken now
    return step


# ------------------------------------------------------------------------------------ preflight
def preflight(cluster: ClusterAPI, found: Survey, *, allow_not_recommended: bool) -> None:
    """What must hold before the first write: the target is an update the cluster offers (a conditional
    one only with ``allow_not_recommended``, as ``oc adm upgrade --allow-not-recommended``) and the plan
    was built for that release image; no pool degraded. Skipped for what already happened (a resumed run
    after the upgrade started)."""
    from .rollout import read_pool

    if found.upgrade.state == NOT_STARTED:
        # make_plan chose the target among the cluster's updates (upgrade.choose_target: one it does not
        # offer is refused there); a conditional one has risks, which need saying yes to
        from .upgrade import read_updates

        _, available, conditional = read_updates(found.cluster_version)
        update = next((u for u in [*available, *conditional] if u.version == found.target), None)
        if update is None:
            raise PreflightFailed(f"{found.target} is not an update this cluster offers (ClusterVersion"
                                  " status.availableUpdates); nothing was changed",
                                  hint="see the updates it offers with: oc adm upgrade")
        risks = [f"{r.name}: {r.message}" if r.message else r.name for r in update.risks] or (
            ["a conditional update"] if update.conditional else [])
        if update.conditional and not allow_not_recommended:
            raise PreflightFailed(f"{found.target} is a conditional update, not recommended for this cluster ("
                                  + "; ".join(risks) + "); nothing was changed",
                                  hint="read the risks (oc adm upgrade --include-not-recommended), and take it"
                                       " anyway with --allow-not-recommended")
        found.risks = risks if update.conditional else []
        _require_healthy(found)
        _require_upgradeable(found)
        if found.image and digest_of(found.image) != digest_of(update.image):
            raise PreflightFailed(f"the plan was made for release image {found.image}, but the cluster offers"
                                  f" {found.target} as {update.image}; nothing was changed",
                                  hint=f"plan again: rhcos-layer upgrade plan --to {found.target}")
        found.image = update.image
    if found.upgrade.state in (NOT_STARTED, UPGRADING) and any(p.state == TO_PAUSE for p in found.pools):
        for obj in cluster.pools():
            view = read_pool(obj)
            if view.degraded or view.conditions.get("Degraded") == "True":
                raise PreflightFailed(f"pool {view.name} is degraded ({view.degraded} degraded node(s)): the"
                                      " upgrade would stall behind it; nothing was changed",
                                      hint=f"fix it first (oc describe mcp {view.name})")


def _require_healthy(found: Survey) -> None:
    """``oc adm upgrade --to`` refuses to start while ClusterVersion says Invalid or Failing (openshift/oc
    pkg/cli/admin/upgrade/upgrade.go checkForUpgrade). Here it matters more: a Failing=True left from
    before would read as the new upgrade's failure as soon as it is asked for, with the pools paused."""
    found_conditions = conditions(found.cluster_version)
    for kind in ("Invalid", "Failing"):
        condition = found_conditions.get(kind)
        if _text(_field(condition, "status")) == "True":
            why = _text(_field(condition, "message")) or _text(_field(condition, "reason")) or f"{kind}=True"
            raise PreflightFailed(f"the cluster reports {kind}=True before the upgrade: {why}; nothing was changed",
                                  hint="fix that first (oc adm upgrade and oc describe clusterversion show it), then"
                                       " run this again")


def _require_upgradeable(found: Survey) -> None:
    """Upgradeable=False on ClusterVersion makes the CVO refuse a minor-version update that is not
    forced (openshift/cluster-version-operator pkg/payload/precondition/clusterversion/upgradeable.go;
    z-streams go ahead), and ``oc adm upgrade`` asks for --force then. Found after the pause, the
    refusal would leave the pools paused for nothing: so it is checked before any write."""
    from .release import version_key

    upgradeable = conditions(found.cluster_version).get("Upgradeable")
    if _text(_field(upgradeable, "status")) != "False":
        return
    target, current = version_key(found.target), version_key(found.upgrade.current)
    if target is None or current is None or target[:2] == current[:2]:
        return
    why = _text(_field(upgradeable, "message")) or _text(_field(upgradeable, "reason")) or "Upgradeable=False"
    raise PreflightFailed(f"the cluster is not upgradeable to another minor version ({current[0]}.{current[1]} to"
                          f" {target[0]}.{target[1]}): {why}; nothing was changed",
                          hint="resolve what ClusterVersion's Upgradeable condition names (oc adm upgrade shows"
                               " it; an admin-ack goes in the openshift-config/admin-acks ConfigMap), then run"
                               " this again")


def require_permissions(cluster: ClusterAPI, found: Survey, *, start: bool, wait: bool) -> None:
    """Every access review the run needs, before the first write (exit 10 naming what is missing)."""
    from .adapters.cluster import CONFIG_GROUP, MCO_GROUP
    from .apply import require_permissions as apply_permissions
    from .errors import ClusterForbidden

    needs = [("patch", "machineconfigpools", MCO_GROUP, "to pause and unpause the layered pools")]
    if start and found.upgrade.state == NOT_STARTED:
        needs.append(("patch", "clusterversions", CONFIG_GROUP, "to start the cluster upgrade"))
    if wait:
        needs.append(("get", "clusterversions", CONFIG_GROUP, "to follow the cluster upgrade"))
    missing = []
    for verb, resource, group, why in needs:
        try:
            if not cluster.can_i(verb, resource, group=group):
                missing.append(f"{verb} {resource}.{group} ({why})")
        except ClusterForbidden:
            return  # the review itself is not allowed: the writes will tell
    if missing:
        raise ClusterForbidden(f"not allowed to {', '.join(missing)}; nothing was changed",
                               hint="ask a cluster admin for these permissions (oc auth can-i VERB RESOURCE)")
    writes = [("create", "to write the pools' MachineConfigs"), ("update", "to write the pools' MachineConfigs")]
    apply_permissions(cluster, writes, wait=wait)


# ------------------------------------------------------------------------------------ the writes
def pause(cluster: ClusterAPI, found: Survey) -> List[str]:
    """Pause each pool still TO_PAUSE, marking it as ours for the target (with its planned image). Each
    patch carries the resourceVersion read, so an admin's change meanwhile is a conflict, not overwritten.
    A failure unpauses those paused here (then "nothing was changed"); if that fails too, PartiallyApplied
    names the pools and the command that unpauses them."""
    done: List[PoolStep] = []
    for step in found.pools:
        if step.remark:
            cluster.patch_pool(step.pool, {"metadata": {"annotations": {IMAGE_ANNOTATION: step.image}}})
            step.remark = False
        if step.state != TO_PAUSE:
            continue
        marks = {PAUSED_ANNOTATION: found.target}
        if step.image:
            marks[IMAGE_ANNOTATION] = step.image
        try:
            version = _meta(cluster.pool(step.pool)).get("resourceVersion")
            cluster.patch_pool(step.pool, pause_patch(True, marks), str(version) if version else None)
        except RhcosLayerError as exc:
            left = []
            for earlier in reversed(done):
                try:
                    cluster.patch_pool(earlier.pool, unpause_patch())
                    earlier.state = TO_PAUSE
                except RhcosLayerError:
                    left.append(earlier.pool)
            if left:
                raise PartiallyApplied(f"pool {step.pool}: {exc.message}; paused before it and still paused: "
                                       + ", ".join(left),
                                       hint="unpause with: " + "; ".join(unpause_command(p) for p in left)) from None
            exc.message = f"pool {step.pool}: {exc.message}; nothing was changed"
            raise
        step.state = PAUSED
        done.append(step)
    return [s.pool for s in done]


def start_command(found: Survey) -> str:
    """What the admin runs to start the upgrade themselves: ``oc adm upgrade --to`` refuses a conditional
    update without --allow-not-recommended (the risks were accepted here already, by the same flag)."""
    return f"oc adm upgrade --to {found.target}" + (" --allow-not-recommended" if found.risks else "")


def start_upgrade(cluster: ClusterAPI, found: Survey) -> None:
    """ClusterVersion spec.desiredUpdate = {version, image}, as ``oc adm upgrade --to`` writes it; the
    resourceVersion read at survey() time guards against a concurrent change."""
    version = _meta(found.cluster_version).get("resourceVersion")
    cluster.set_desired_update(found.target, found.image, str(version) if version else None)


def layer(cluster: ClusterAPI, found: Survey, *, authfile: Optional[str], tls: TLSSettings, ignore: Any,
          ) -> Tuple[List[Plan], List[Tuple[Plan, Dict[str, Any]]]]:
    """After the upgrade: apply's preflight for each layered pool's new image against the upgraded
    cluster (BaseMatches against the new base), our MachineConfigs written with apply's undo path,
    then the pools we paused unpaused. Returns apply's plans and what was written.

    A pool whose unpause fails stays paused with its MachineConfig written: the same command picks it
    up; the error says so."""
    from . import apply as apply_mod

    plans: List[Plan] = []
    try:
        for step in found.pools:
            if step.inherits:
                continue
            for item in apply_mod.plan(cluster, [step.pool], step.image, authfile=authfile, tls=tls, ignore=ignore,
                                       project=step.project):
                item.warnings = [w for w in item.warnings if "is paused" not in w]  # we unpause it next
                plans.append(item)
        apply_mod.refuse(plans)
        written = apply_mod.execute_all(cluster, plans)
    except RhcosLayerError as exc:
        held = found.paused()
        if held:  # apply's "nothing was changed" is about this step: the pools are still held, as they were
            exc.message += f"; pools {', '.join(held)} stay paused (the cluster runs {found.target})"
            exc.hint = (exc.hint + "; " if exc.hint else "") + (
                "then run the same command again; or back out to the new release's plain base (rollback lifts"
                f" the pause too): rhcos-layer rollback {' '.join(f'--pool {p}' for p in held)} --wait")
        raise
    for step in found.pools:
        if step.state == HELD:
            step.state = WRITTEN
            continue
        if step.state != PAUSED:  # never paused by us (the cluster had upgraded already): nothing to undo
            step.state = ROLLING
            continue
        try:
            cluster.patch_pool(step.pool, unpause_patch())
        except RhcosLayerError as exc:
            rest = [s.pool for s in found.pools if s.state == PAUSED]
            exc.message = (f"pool {step.pool}: {exc.message}; MachineConfigs written, pools still paused: "
                           + ", ".join(rest))
            exc.hint = f"run the same command again: it picks up there (or unpause: {unpause_command(step.pool)})"
            raise
        step.state = ROLLING
    return plans, written


def expectations(found: Survey) -> List[Tuple[str, Expectation]]:
    """What the final watch waits for: every pool we unpaused, rendered with our MachineConfig and
    booting its new image (a pool that inherits worker's, with worker's)."""
    from .rollout import Expectation

    images = {s.pool: s.image for s in found.pools}
    wanted = []
    for step in found.pools:
        if step.state == ROLLING:
            image = images.get("worker", "") if step.inherits else step.image
            wanted.append((step.pool, Expectation(step.machineconfig, True, image or None)))
    return wanted


def control_plane_expectations(cluster: ClusterAPI, found: Survey) -> List[Tuple[str, Expectation]]:
    """The pools that upgrade with the cluster (every pool we do not hold): each rendered with the new
    release's base (the ``00-`` MachineConfig of its role now names it) and settled there."""
    from .adapters.cluster import MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP
    from .rollout import Expectation

    base = str(_field(cluster.configmap(MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP), "data", "baseOSContainerImage") or "")
    ours = {s.pool for s in found.pools}
    wanted = []
    for obj in cluster.pools():
        name = str(_meta(obj).get("name") or "")
        if name in ours or _field(obj, "spec", "paused") is True:
            continue
        sources = _field(obj, "spec", "configuration", "source")
        template = next((str(s.get("name")) for s in (sources if isinstance(sources, list) else [])
                         if isinstance(s, dict) and str(s.get("name") or "").startswith("00-")), None)
        if template is not None:
            wanted.append((name, Expectation(template, True, base or None)))
    return wanted


# ------------------------------------------------------------------------------------ waiting for the cluster
class UpgradeWatcher:
    """rollout.follow's watcher protocol (step, progress, diagnosis, close) for ClusterVersion: done when
    the upgrade to the target has started (``until=UPGRADING``) or completed (``until=COMPLETED``).
    A failed upgrade raises ClusterUpgradeFailed at once; so does a switch to another release.

    Progress is ClusterVersion's state *and* the pools' counters: while the machine-config operator rolls
    the control plane, the CVO's message stays "waiting on machine-config" for as long as the master
    nodes take to reboot one by one (tens of minutes), and that is no stall (one pool list per refresh)."""

    def __init__(self, cluster: ClusterAPI, target: str, until: str,
                 on_change: Callable[[ClusterUpgrade], None] = lambda upgrade: None,
                 held: Sequence[str] = ()) -> None:
        self.cluster = cluster
        self.target = target
        self.until = until
        self.on_change = on_change
        self.held = list(held)
        self.pool = "ClusterVersion"
        self.view = None
        self.upgrade: Optional[ClusterUpgrade] = None
        self.pools: Tuple[Tuple[str, str, int, int, int], ...] = ()

    def step(self) -> bool:
        from .rollout import read_pool

        upgrade = read_upgrade(self.cluster.watched_cluster_version(), self.target)
        if self.until == COMPLETED:
            views = [read_pool(p) for p in self.cluster.watched_pools()]
            self.pools = tuple((v.name, v.target, v.updated, v.ready, v.unavailable) for v in views)
        if upgrade != self.upgrade:
            self.upgrade = upgrade
            self.on_change(upgrade)
        if upgrade.state == FAILED:
            raise failed(self.target, upgrade.message, self.held)
        if upgrade.state == OTHER:
            raise ClusterUpgradeFailed(f"the cluster was asked meanwhile to upgrade to {upgrade.desired or '?'},"
                                       f" not {self.target}" + _still_paused(self.held),
                                       hint=_failure_hint(self.target, self.held))
        if self.until == UPGRADING:
            return upgrade.state in (UPGRADING, COMPLETED)
        return upgrade.state == COMPLETED

    def progress(self) -> Hashable:
        return (self.upgrade, self.pools)

    def diagnosis(self) -> str:
        upgrade = self.upgrade
        if upgrade is None:
            return f"the cluster upgrade to {self.target}: not read yet"
        return f"the cluster upgrade to {self.target}: {upgrade.state}" + (
            f" ({upgrade.message})" if upgrade.message else "")

    def close(self) -> None:
        pass


def _still_paused(held: Sequence[str]) -> str:
    return f"; pools {', '.join(held)} stay paused (none of their nodes moved)" if held else ""


def _failure_hint(target: str, held: Sequence[str]) -> str:
    resume = f"once the cluster recovers (oc adm upgrade), pick up with: rhcos-layer upgrade apply --to {target}"
    if not held:
        return resume
    return (resume + "; or unpause without the new image (the nodes then reboot into the new release with the"
            " old layered image: its kubelet and CRI-O stay behind): " + "; ".join(unpause_command(p) for p in held))


def failed(target: str, message: str, held: Sequence[str]) -> ClusterUpgradeFailed:
    return ClusterUpgradeFailed(f"the cluster upgrade to {target} failed: {message}" + _still_paused(held),
                                hint=_failure_hint(target, held))


def wait_for(cluster: ClusterAPI, found: Survey, until: str, *, timeout: Optional[float],
             progress_deadline: Optional[float], notice: Callable[[str], None],
             on_change: Callable[[ClusterUpgrade], None], resume: str,
             clock: Callable[[], float] = time.monotonic) -> ClusterUpgrade:
    """Follow ClusterVersion (through rollout.follow: its backoff on API outages, its deadlines) until the
    upgrade to the target has started or completed. No progress for ``progress_deadline`` while upgrading
    is a stalled upgrade (ClusterUpgradeFailed, 21); waiting for someone to start it has no such limit;
    ``timeout`` ends the wait with RolloutTimeout (14)."""
    from .errors import RolloutTimeout
    from .rollout import follow

    held = found.paused()
    watcher = UpgradeWatcher(cluster, found.target, until, on_change, held)
    started = clock()
    try:
        try:
            follow([watcher], timeout, progress_deadline=progress_deadline if until == COMPLETED else None,
                   resume=resume, notice=notice, clock=clock)
        finally:
            if watcher.upgrade is not None:  # also the state it stopped in, for -o json
                found.upgrade = watcher.upgrade
    except RolloutTimeout as exc:
        if timeout is not None and clock() - started >= timeout:
            what = "started" if until == UPGRADING else "done"
            raise RolloutTimeout(f"the cluster upgrade to {found.target} is not {what} after the --timeout; it goes"
                                 " on in the cluster" + _still_paused(held), hint=f"pick up with: {resume}") from None
        raise ClusterUpgradeFailed(f"the cluster upgrade to {found.target} stalled: {watcher.diagnosis()}, no change"
                                   " for the --progress-deadline" + _still_paused(held),
                                   hint=_failure_hint(found.target, held)) from exc
    return found.upgrade


def apply_views(found: Survey, views: Sequence[Any]) -> None:
    """Record the final watch's views (rollout.PoolView) on the pools: rendered config and node counts."""
    by_name = {v.name: v for v in views if v is not None}
    for step in found.pools:
        view = by_name.get(step.pool)
        if view is not None:
            step.rendered, step.machines, step.updated = view.target, view.machines, view.updated
            if step.state == ROLLING and view.settled and view.target == view.current:
                step.state = DONE

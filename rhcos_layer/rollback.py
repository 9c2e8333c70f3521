"""Putting pools back: delete the MachineConfigs rhcos-layer made, or re-apply the image before.

Like ``apply``: ``plan()`` reads the cluster and says what would change (nothing written);
``execute()`` writes. Only MachineConfigs labelled as managed by rhcos-layer for the pool's role
are ever deleted, each with a resourceVersion precondition (a concurrent change is a conflict,
not a silent delete), never a rendered-* one (deleting those degrades nodes, MCO issue #2010).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set, Tuple

from .machineconfig import MANAGED_BY, MANAGED_BY_LABEL, PREVIOUS_ANNOTATION, ROLE_LABEL, name_for
from .objects import field as read_field

if TYPE_CHECKING:
    from .adapters.cluster_api import ClusterAPI
    from .apply import Plan
    from .trust import TLSSettings


@dataclass
class RollbackPlan:
    """What rollback does to one pool."""

    pool: str
    action: str  # delete, re-apply, unchanged
    machineconfigs: List[Dict[str, Any]] = field(default_factory=list)  # ours, to delete
    reapply: Optional[Plan] = None  # --to-previous: apply's plan for the earlier image
    done: bool = False  # set by execute() once written
    # an on-cluster pool: our MachineOSConfig, deleted, or (--to-previous) replaced by ``restored``
    machineosconfig: Optional[Dict[str, Any]] = None
    restored: Optional[Dict[str, Any]] = None
    paused_for_upgrade: bool = False  # paused by upgrade apply, waiting for its new image: lifted with ours

    @property
    def names(self) -> List[str]:
        if self.reapply is not None:
            return [self.reapply.name]
        return sorted(str(mc["metadata"]["name"]) for mc in self.machineconfigs)

    @property
    def image(self) -> Optional[str]:
        return self.reapply.image if self.reapply is not None else None

    @property
    def expected_name(self) -> str:
        """The MachineConfig the watch expects present (re-apply) or gone (delete)."""
        return name_for(self.pool)

    def as_dict(self, dry_run: bool) -> Dict[str, Any]:
        from .oncluster import name

        return {"pool": self.pool, "action": self.action, "machineconfigs": self.names, "image": self.image,
                "dry_run": dry_run,
                "machineosconfig": name(self.machineosconfig) if self.machineosconfig is not None else None}


def plan(cluster: ClusterAPI, pools: Sequence[str], *, to_previous: bool = False, authfile: Optional[str] = None,
         tls: Optional[TLSSettings] = None, ignore: Optional[Set[str]] = None) -> List[RollbackPlan]:
    """Read what each pool would lose (or get back); refuse before any write: an unknown pool, no
    earlier image for --to-previous, or apply's preflight refusing the earlier image."""
    from . import apply as apply_mod
    from .errors import InvalidInput
    from .pools import require
    from .trust import TLSSettings

    wanted = list(dict.fromkeys(pools))
    pool_objs = cluster.pools()
    require(wanted, (str(p["metadata"]["name"]) for p in pool_objs))
    from .upgrade_apply import paused_by_upgrade

    held = {str(p["metadata"]["name"]) for p in pool_objs if paused_by_upgrade(p)}
    plans: List[RollbackPlan] = []
    on_cluster = _on_cluster(cluster, wanted, to_previous)
    if to_previous:
        for pool in wanted:
            if pool in on_cluster:
                plans.append(on_cluster[pool])
                continue
            mc = cluster.machineconfig(name_for(pool))
            previous = ((mc or {}).get("metadata", {}).get("annotations") or {}).get(PREVIOUS_ANNOTATION)
            if not mc or not previous:
                raise InvalidInput(f"--to-previous: pool {pool} has no earlier image recorded"
                                   + ("" if mc else " (no MachineConfig from rhcos-layer)"),
                                   hint=f"roll back to the base image with: rhcos-layer rollback --pool {pool}")
            found = apply_mod.plan(cluster, [pool], str(previous), authfile=authfile, tls=tls or TLSSettings(),
                                   ignore=ignore or set())
            plans += [RollbackPlan(p.pool, "re-apply" if p.action != "unchanged" else "unchanged", reapply=p)
                      for p in found]
        apply_mod.refuse([p.reapply for p in plans if p.reapply is not None])  # every pool before any change
        return plans
    for pool in wanted:
        selector = f"{MANAGED_BY_LABEL}={MANAGED_BY},{ROLE_LABEL}={pool}"
        ours = [mc for mc in cluster.machineconfigs(selector)
                if not str(mc["metadata"]["name"]).startswith("rendered-")]
        if pool in on_cluster:  # our MachineOSConfig goes, and any MachineConfig of ours with it
            on_cluster[pool].machineconfigs = ours
            on_cluster[pool].paused_for_upgrade = pool in held
            plans.append(on_cluster[pool])
            continue
        plans.append(RollbackPlan(pool, "delete" if ours else "unchanged", ours, paused_for_upgrade=pool in held))
    return plans


def _on_cluster(cluster: ClusterAPI, pools: Sequence[str], to_previous: bool) -> Dict[str, RollbackPlan]:
    """The plans of the pools that build their image on the cluster (a MachineOSConfig). Refused before any
    write: a MachineOSConfig rhcos-layer did not make (someone else's to remove), or --to-previous without
    the spec ``apply --on-cluster`` recorded when it replaced one."""
    import copy
    import json

    from . import oncluster
    from .errors import PreflightFailed

    moscs = cluster.machineosconfigs()  # None: may not list them; apply then could not have made one
    found: Dict[str, RollbackPlan] = {}
    for pool in pools:
        mosc = oncluster.for_pool(moscs, pool)
        if mosc is None:
            continue
        name = oncluster.name(mosc)
        if not oncluster.is_ours(mosc):
            raise PreflightFailed(
                f"pool {pool} builds its image on the cluster with MachineOSConfig {name}, which rhcos-layer did not"
                f" make (no label {MANAGED_BY_LABEL}={MANAGED_BY}): rollback leaves it alone; nothing was changed",
                hint=f"to put the pool back on the base image, delete it yourself: oc delete machineosconfig {name}")
        if not to_previous:
            found[pool] = RollbackPlan(pool, "delete", machineosconfig=mosc)
            continue
        previous = oncluster.previous_spec(mosc, pool)
        current = mosc.get("spec")
        if previous == current:
            found[pool] = RollbackPlan(pool, "unchanged", machineosconfig=mosc)
            continue
        restored = copy.deepcopy(mosc)
        restored.pop("status", None)
        restored["spec"] = previous
        # the spec it replaces becomes the previous one: a second --to-previous goes back again
        restored["metadata"].setdefault("annotations", {})[oncluster.PREVIOUS_SPEC_ANNOTATION] = json.dumps(
            current, sort_keys=True, separators=(",", ":"))
        found[pool] = RollbackPlan(pool, "re-apply", machineosconfig=mosc, restored=restored)
    return found


def writes_for(plans: Sequence[RollbackPlan]) -> List[Any]:
    """The verbs on machineconfigs that ``execute`` needs (for apply.require_permissions)."""
    from . import apply as apply_mod

    reapply = [p.reapply for p in plans if p.reapply is not None]
    needs = apply_mod.writes_for(reapply)
    if any(p.action == "delete" and p.machineconfigs for p in plans):
        needs.append(("delete", "to delete the pools' MachineConfigs"))
    return needs


def on_cluster_needs(plans: Sequence[RollbackPlan], *, wait: bool) -> List[Tuple[str, str, str, str]]:
    """The access (verb, resource, group, why) the on-cluster pools' writes and wait need, for
    apply.require_permissions."""
    from .adapters.cluster import MCO_GROUP

    mine = [p for p in plans if p.machineosconfig is not None and p.action != "unchanged"]
    needs = [("delete" if p.action == "delete" else "update", "machineosconfigs", MCO_GROUP,
              "to put the pool back (its MachineOSConfig)") for p in mine]
    if wait and mine:
        needs += [("get", "machineosconfigs", MCO_GROUP, "to follow the build"),
                  ("list", "machineosbuilds", MCO_GROUP, "to follow the build")]
    return list(dict.fromkeys(needs))


def execute(cluster: ClusterAPI, plans: Sequence[RollbackPlan], *, dry_run: bool = False) -> None:
    """Write the plans, pool by pool. A failure after earlier pools changed names what was changed
    and how to undo it (PartiallyApplied); a failure before, that nothing was."""
    from .errors import PartiallyApplied, RhcosLayerError

    # on-cluster pools first: their MachineOSConfig (a failure after it names it, and how to undo it)
    written = _execute_on_cluster(cluster, plans, dry_run)
    try:
        _execute_machineconfigs(cluster, [p for p in plans if p.machineosconfig is None or p.machineconfigs],
                                dry_run=dry_run)
    except RhcosLayerError as exc:
        if not written:
            raise
        message = exc.message.replace("; nothing was changed", "")
        raise PartiallyApplied(f"{message}; already written before it: " + ", ".join(w for w, _ in written),
                               hint="undo with: " + "; ".join(u for _, u in written)) from None


def _execute_on_cluster(cluster: ClusterAPI, plans: Sequence[RollbackPlan], dry_run: bool) -> List[Tuple[str, str]]:
    """Delete or restore each on-cluster pool's MachineOSConfig (with the resourceVersion it was read at).
    Returns what was written and how to undo each; a failure after earlier writes is PartiallyApplied."""
    from . import oncluster
    from .errors import PartiallyApplied, RhcosLayerError

    written: List[Tuple[str, str]] = []
    for item in plans:
        mosc = item.machineosconfig
        if mosc is None or item.action == "unchanged":
            if mosc is not None:
                item.done = True
            continue
        name = oncluster.name(mosc)
        try:
            if item.restored is not None:
                stored = cluster.replace_machineosconfig(item.restored, dry_run=dry_run)
                if not dry_run:  # its generation tells which build follows the write
                    item.restored = stored
                what = (f"MachineOSConfig {name} of pool {item.pool} set back to its previous spec",
                        f"rhcos-layer rollback --to-previous --pool {item.pool}")
            else:
                if not dry_run:
                    rv = read_field(mosc, "metadata", "resourceVersion")
                    cluster.delete_machineosconfig(name, oncluster.version_of(mosc),
                                                   rv if isinstance(rv, str) and rv else None)
                what = (f"MachineOSConfig {name} of pool {item.pool} deleted",
                        f"rhcos-layer apply --on-cluster --pool {item.pool} (from its project)")
        except RhcosLayerError as exc:
            if not written or dry_run:
                exc.message = f"pool {item.pool}: {exc.message}; nothing was changed"
                raise
            raise PartiallyApplied(f"pool {item.pool}: {exc.message}; already written before it: "
                                   + ", ".join(w for w, _ in written),
                                   hint="undo with: " + "; ".join(u for _, u in written)) from None
        if not dry_run:
            written.append(what)
        item.done = True
    return written


def _execute_machineconfigs(cluster: ClusterAPI, plans: Sequence[RollbackPlan], *, dry_run: bool) -> None:
    from . import apply as apply_mod
    from .errors import PartiallyApplied, RhcosLayerError

    reapply = [p.reapply for p in plans if p.reapply is not None]
    if reapply:
        apply_mod.execute_all(cluster, reapply, dry_run=dry_run)
        for p in plans:
            p.done = True
        return
    deleted: List[Dict[str, Any]] = []
    for item in plans:
        try:
            for mc in item.machineconfigs:
                if not dry_run:
                    meta = mc["metadata"]
                    cluster.delete_machineconfig(str(meta["name"]), str(meta.get("resourceVersion") or "") or None)
                deleted.append(mc)
            if item.paused_for_upgrade and not dry_run:  # without our image there is nothing to wait for
                from .upgrade_apply import unpause_patch

                cluster.patch_pool(item.pool, unpause_patch())
        except RhcosLayerError as exc:
            if not deleted:
                exc.message = f"pool {item.pool}: {exc.message}; nothing was changed"
                raise
            lines = [f"{mc['metadata']['name']} (pool {_role(mc)}, osImageURL {_image(mc)})" for mc in deleted]
            undo = "; ".join(f"rhcos-layer apply --pool {_role(mc)} --image {_image(mc)}" for mc in deleted
                             if _image(mc))
            raise PartiallyApplied(f"pool {item.pool}: {exc.message}; already deleted before it: "
                                   + ", ".join(lines), hint=f"put them back with: {undo}" if undo else "") from None
        item.done = True


def _role(mc: Dict[str, Any]) -> str:
    return str(((mc.get("metadata") or {}).get("labels") or {}).get(ROLE_LABEL) or "?")


def _image(mc: Dict[str, Any]) -> str:
    return str((mc.get("spec") or {}).get("osImageURL") or "")


def builds_before(cluster: ClusterAPI, plans: Sequence[RollbackPlan]) -> Dict[str, List[str]]:
    """The builds (uid, else name) each --to-previous pool's MachineOSConfig has before the write (one list
    each): the build of the restored spec is one that is not among them (oncluster_apply.BuildWatcher)."""
    from . import oncluster

    found: Dict[str, List[str]] = {}
    for p in plans:
        mosc = p.machineosconfig
        if p.restored is not None and mosc is not None:
            listed = cluster.watched_machineosbuilds(oncluster.version_of(mosc),
                                                     oncluster.build_selector(oncluster.name(mosc)))
            found[p.pool] = [str(read_field(b, "metadata", "uid") or oncluster.name(b)) for b in listed]
    return found

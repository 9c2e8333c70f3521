"""Putting pools back: delete the MachineConfigs rhcos-layer made, or re-apply the image before.

Like ``apply``: ``plan()`` reads the cluster and says what would change (nothing written);
``execute()`` writes. Only MachineConfigs labelled as managed by rhcos-layer for the pool's role
are ever deleted, each with a resourceVersion precondition (a concurrent change is a conflict,
not a silent delete), never a rendered-* one (deleting those degrades nodes, MCO issue #2010).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set

from .machineconfig import MANAGED_BY, MANAGED_BY_LABEL, PREVIOUS_ANNOTATION, ROLE_LABEL, name_for

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
        return {"pool": self.pool, "action": self.action, "machineconfigs": self.names, "image": self.image,
                "dry_run": dry_run}


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
    if to_previous:
        for pool in wanted:
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
        plans.append(RollbackPlan(pool, "delete" if ours else "unchanged", ours, paused_for_upgrade=pool in held))
    return plans


def writes_for(plans: Sequence[RollbackPlan]) -> List[Any]:
    """The verbs on machineconfigs that ``execute`` needs (for apply.require_permissions)."""
    from . import apply as apply_mod

    reapply = [p.reapply for p in plans if p.reapply is not None]
    needs = apply_mod.writes_for(reapply)
    if any(p.action == "delete" for p in plans):
        needs.append(("delete", "to delete the pools' MachineConfigs"))
    return needs


def execute(cluster: ClusterAPI, plans: Sequence[RollbackPlan], *, dry_run: bool = False) -> None:
    """Write the plans, pool by pool. A failure after earlier pools changed names what was changed
    and how to undo it (PartiallyApplied); a failure before, that nothing was."""
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

"""``rhcos-layer rollback`` for pools whose image the cluster builds (a MachineOSConfig): what it says
and how it waits. The command itself is in ``apply.py``, beside ``apply``, whose options it shares."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

import click

if TYPE_CHECKING:
    from ..rollback import RollbackPlan
    from ..rollout import PoolView
    from ..terminal import Terminal


def said(plan: RollbackPlan, dry_run: bool) -> str:
    """The progress line of an on-cluster pool's rollback."""
    from ..oncluster import name

    mosc = name(plan.machineosconfig or {})
    if plan.action == "unchanged":
        return f"{plan.pool}: MachineOSConfig {mosc} already has its previous spec: nothing to change"
    if plan.action == "delete":
        text = f"{plan.pool}: {'would delete' if dry_run else 'deleted'} MachineOSConfig {mosc}"
        return text + (f" and {', '.join(plan.names)}" if plan.machineconfigs else "")
    if dry_run:
        return f"{plan.pool}: would set MachineOSConfig {mosc} back to its previous spec"
    return (f"{plan.pool}: set MachineOSConfig {mosc} back to its previous spec: the cluster builds it"
            " (or reuses its earlier build)")


def follow(terminal: Terminal, cluster: Any, plans: Sequence[RollbackPlan], timeout: Optional[float],
           resume: str, before: Dict[str, List[str]]) -> Tuple[Dict[str, PoolView], Dict[str, str]]:
    """Follow each on-cluster pool back: the build of the restored spec first (--to-previous), then the
    nodes to its image, or to the base after a delete. ``before``: each pool's builds before the write
    (rollback.builds_before). Returns each pool's last view and the images built. Ctrl-C stops watching,
    never the cluster."""
    from ..oncluster import ImageWatcher, RestoreFollower, built_image, version_of
    from ..oncluster_apply import BuildWatcher, OnClusterPlan
    from ..rollout import follow as follow_all
    from ..terminal import RolloutDisplay

    context = click.get_current_context(silent=True)
    deadline = context.meta.get("rhcos_layer.progress_deadline") if context is not None else None
    start = time.monotonic()

    def left() -> Optional[float]:
        return None if timeout is None else max(timeout - (time.monotonic() - start), 0.001)

    images: Dict[str, Optional[str]] = {p.pool: None for p in plans}
    watchers: List[ImageWatcher] = []
    with RolloutDisplay(terminal) as display:
        try:
            # apply --on-cluster's follower: the newest build of the pool's config that was not there before
            builds = [RestoreFollower(cluster, BuildWatcher(cluster, OnClusterPlan(
                p.pool, version_of(p.restored), p.restored, action="update", stale_builds=set(before.get(p.pool, ()))),
                display.say), built_image(p.machineosconfig or {}))
                for p in plans if p.restored is not None]
            if builds:
                follow_all(builds, left(), progress_deadline=deadline, resume=resume, notice=display.notice)
                images.update({b.pool: b.image for b in builds})
            watchers = [ImageWatcher(cluster, p.pool, images[p.pool], on_refresh=display.refresh) for p in plans]
            follow_all(watchers, left(), progress_deadline=deadline, resume=resume, notice=display.notice)
        except KeyboardInterrupt:
            display.say(f"Stopped watching; the build and rollout go on in the cluster. Follow them with: {resume}")
            raise
    built = {pool: image for pool, image in images.items() if image}
    return {w.pool: w.view for w in watchers if w.view is not None}, built

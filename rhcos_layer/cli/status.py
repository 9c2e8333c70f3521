"""``rhcos-layer status``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Tuple

import click

from .options import Settings, cluster_options, output_option

if TYPE_CHECKING:
    from ..status import PoolStatus


@click.command("status")
@click.option("--pool", "pools", multiple=True, metavar="POOL", help="Only this pool (repeatable; default all).")
@click.option("-w", "--watch", is_flag=True,
              help="Refresh until every pool shown has finished updating (like `kubectl rollout status`).")
@cluster_options
@output_option
@click.pass_obj
def status_command(settings: Settings, pools: Tuple[str, ...], watch: bool, kubeconfig: Optional[str],
                   kube_context: Optional[str], output: str) -> None:
    """Show what each pool runs: the layered image or the base, drift after an upgrade, nodes.

    With --watch, refreshes (three API requests each, whatever the pool's size) and prints
    what changed, until no pool shown is updating.
    """
    from ..adapters.cluster import Cluster
    from ..status import cluster_status

    terminal = settings.terminal()
    with Cluster(kubeconfig, kube_context) as cluster:
        found = cluster_status(cluster, list(pools) or None)
        if not watch:
            _show(terminal, found, output)
            return
        from ..rollout import interval

        every = interval()
        import time

        last: Any = None
        try:
            while True:
                snapshot = [p.as_dict() for p in found]
                if snapshot != last:
                    last = snapshot
                    if output == "json":
                        import json

                        terminal.result(json.dumps(snapshot, sort_keys=True))
                    else:
                        _show(terminal, found, output)
                if not any(p.updating for p in found):
                    return
                time.sleep(every)
                found = cluster_status(cluster, list(pools) or None)
        except KeyboardInterrupt:
            terminal.info("Stopped watching; nothing in the cluster was changed.")
            raise


def _show(terminal: Any, found: List[PoolStatus], output: str) -> None:
    if output == "json":
        terminal.json([p.as_dict() for p in found])
        return
    for p in found:
        what = f"layered {p.image}" if p.layered else f"base {p.image or p.base}"
        if p.on_cluster:
            what = f"built on the cluster {p.image or '(no build yet)'} (MachineOSConfig {p.on_cluster})"
        state = "paused" if p.paused else "updating" if p.updating else "degraded" if p.degraded else "up to date"
        terminal.result(f"{p.name}: {what}")
        terminal.result(f"  nodes: {p.updated}/{p.machines} updated, {p.ready} ready, {p.degraded} degraded"
                        f" ({state}); rendered config {p.rendered or '-'}")
        if p.managed:
            terminal.result(f"  managed by rhcos-layer: {', '.join(p.managed)}")
        if p.drift:
            terminal.result(f"  DRIFT: built on {p.built_on}, but the cluster's base is now {p.base}:"
                            " rebuild on the new base and push again")

"""``rhcos-layer status``."""

from __future__ import annotations

from typing import Optional, Tuple

import click

from .options import Settings, cluster_options, output_option


@click.command("status")
@click.option("--pool", "pools", multiple=True, metavar="POOL", help="Only this pool (repeatable; default all).")
@cluster_options
@output_option
@click.pass_obj
def status_command(settings: Settings, pools: Tuple[str, ...], kubeconfig: Optional[str],
                   kube_context: Optional[str], output: str) -> None:
    """Show what each pool runs: the layered image or the base, drift after an upgrade, nodes."""
    from ..adapters.cluster import Cluster
    from ..status import cluster_status

    terminal = settings.terminal()
    with Cluster(kubeconfig, kube_context) as cluster:
        found = cluster_status(cluster, list(pools) or None)
    if output == "json":
        terminal.json([p.as_dict() for p in found])
        return
    for p in found:
        what = f"layered {p.image}" if p.layered else f"base {p.image or p.base}"
        state = "paused" if p.paused else "updating" if p.updating else "degraded" if p.degraded else "up to date"
        terminal.result(f"{p.name}: {what}")
        terminal.result(f"  nodes: {p.updated}/{p.machines} updated, {p.ready} ready, {p.degraded} degraded"
                        f" ({state}); rendered config {p.rendered or '-'}")
        if p.managed:
            terminal.result(f"  managed by rhcos-layer: {', '.join(p.managed)}")
        if p.drift:
            terminal.result(f"  DRIFT: built on {p.built_on}, but the cluster's base is now {p.base}:"
                            " rebuild on the new base and push again")

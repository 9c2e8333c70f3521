"""``rhcos-layer status``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Tuple

import click

from .apply import DEFAULT_PROGRESS_DEADLINE
from .options import Settings, cluster_options, output_option

if TYPE_CHECKING:
    from ..status import PoolStatus


@click.command("status")
@click.option("--pool", "pools", multiple=True, metavar="POOL", help="Only this pool (repeatable; default all).")
@click.option("-w", "--watch", is_flag=True,
              help="Refresh until every pool shown has finished updating (like `kubectl rollout status`).")
@click.option("--progress-deadline", default=DEFAULT_PROGRESS_DEADLINE, show_default=True, metavar="DURATION",
              help="With --watch: stop when no pool shown has moved for this long (exit 14), e.g. a pool held by a"
                   " degraded node or paused; 0: no limit. The rollout goes on.")
@cluster_options
@output_option
@click.pass_obj
def status_command(settings: Settings, pools: Tuple[str, ...], watch: bool, progress_deadline: str,
                   kubeconfig: Optional[str], kube_context: Optional[str], output: str) -> None:
    """Show what each pool runs: the layered image or the base, drift after an upgrade, nodes.

    With --watch, refreshes (a few KB each, whatever the pool's size) and prints what changed,
    until no pool shown is updating; a failing API server is retried with backoff.
    """
    from ..adapters.cluster import Cluster
    from ..rollout import parse_duration
    from ..status import StatusWatch, cluster_status

    terminal = settings.terminal()
    wanted = list(pools) or None
    # parsed before the cluster is asked anything: a bad value is exit 3 at once, also without --watch
    deadline = parse_duration(progress_deadline, "--progress-deadline")
    with Cluster(kubeconfig, kube_context) as cluster:
        if not watch:
            _show(terminal, cluster_status(cluster, wanted), output)
            return
        from ..rollout import follow, interval

        every = interval()

        def changed(found: List[PoolStatus]) -> None:
            if output == "json":
                import json

                terminal.result(json.dumps([p.as_dict() for p in found], sort_keys=True))
            else:
                _show(terminal, found, output)

        try:
            # a pool that never stops updating (a degraded node the MCO will not move, a paused pool) would
            # keep the watch forever: like apply's wait, it ends after --progress-deadline without a move
            follow([StatusWatch(cluster, wanted, changed)], None, progress_deadline=deadline,
                   notice=terminal.warning, every=every)
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
            what = (f"built on the cluster {p.image or '(no build yet)'} (MachineOSConfig {p.on_cluster}"
                    + (", made by rhcos-layer)" if p.on_cluster_ours else ")"))
        state = "paused" if p.paused else "updating" if p.updating else "degraded" if p.degraded else "up to date"
        terminal.result(f"{p.name}: {what}")
        if p.on_cluster:
            _show_on_cluster(terminal, p)
        terminal.result(f"  nodes: {p.updated}/{p.machines} updated, {p.ready} ready, {p.degraded} degraded"
                        f" ({state}); rendered config {p.rendered or '-'}")
        if p.managed:
            terminal.result(f"  managed by rhcos-layer: {', '.join(p.managed)}")
        if p.behind is not None:
            terminal.result(f"  BEHIND: built for {p.built_for}, {p.behind} release(s) behind the cluster's"
                            f" {p.cluster_version} ({', '.join(p.behind_versions)}): run `{p.next_command}`")
        if p.drift:
            terminal.result(f"  DRIFT: built on {p.built_on}, but the cluster's base is now {p.base}:"
                            " rebuild on the new base and push again")


def _show_on_cluster(terminal: Any, p: PoolStatus) -> None:
    """The build of the pool's target config, the last finished one (with its log command when it did
    not succeed) and the images the nodes boot."""
    build, last = p.build, p.last_build
    if build is None:
        terminal.result(f"  build: none yet for {p.target or '-'} (the build controller starts one)")
    else:
        terminal.result(f"  build {build['name']}: {build['state']}" + (f" since {build['since']}" if build["since"]
                                                                         else "")
                        + (f" ({build['builder']})" if build["builder"] else ""))
    if last is not None and (build is None or last["name"] != build["name"] or last["state"] != "Succeeded"):
        said = f"  last build {last['name']}: {last['state']}" + (f": {last['message']}" if last["message"]
                                                                  and last["state"] != "Succeeded" else "")
        terminal.result(said)
        if last["state"] != "Succeeded" and last["log_command"]:
            terminal.result(f"  its log: {last['log_command']}")
    images = p.node_images or {}
    for key, label in (("current", "nodes boot"), ("desired", "nodes sent to")):
        counts = images.get(key) or {}
        if counts and (key == "current" or counts != images.get("current")):
            terminal.result(f"  {label}: " + ", ".join(f"{image} ({n})" for image, n in sorted(counts.items())))

"""``rhcos-layer upgrade``: ``plan`` (this module); ``apply`` registers itself on the same group."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Tuple

import click

from .options import Settings, cluster_options, rebuild_options, registry_options
from .upgrade_apply import upgrade_apply_command

if TYPE_CHECKING:
    from ..project import Project
    from ..terminal import Terminal
    from ..upgrade import UpgradePlan


@click.group("upgrade")
def upgrade_group() -> None:
    """Cluster upgrades with layered pools: rebuild each pool's image on the next release, ahead of time."""


@upgrade_group.command("plan")
@click.option("--to", "to", metavar="VERSION",
              help="One of the cluster's updates (ClusterVersion availableUpdates, or a conditional one named"
                   " explicitly); default: the newest recommended one.")
@click.option("--release", metavar="PULLSPEC",
              help="Any release payload instead. With --project and no --kubeconfig/--context: no cluster at all.")
@click.option("--project", "project_files", multiple=True, metavar="FILE",
              help="A project to rebuild (repeatable); default: ./rhcos-layer.yaml when it exists.")
@rebuild_options
@registry_options
@cluster_options
@click.option("-o", "--output", type=click.Choice(["text", "json", "yaml"]), default="text", show_default=True,
              help="Output format for the result.")
@click.pass_obj
def plan_command(settings: Settings, to: Optional[str], release: Optional[str], project_files: Tuple[str, ...],
                 push_authfile: Optional[str], arch: Optional[str], isolation: Optional[str],
                 authfile: Optional[str], cert_dir: Optional[str], tls_verify: bool, kubeconfig: Optional[str],
                 kube_context: Optional[str], output: str) -> None:
    """Rebuild and push each layered pool's image on the target release's base; report skew.

    Changes nothing in the cluster. Exit 0 when every layered pool is ready, 20 when any is not.

    \b
    rhcos-layer upgrade plan                          # the newest recommended update
    rhcos-layer upgrade plan --to 4.16.8
    rhcos-layer upgrade plan --release PULLSPEC --project rhcos-layer.yaml   # no cluster
    """
    from .. import project as project_mod
    from ..upgrade import make_plan
    from .options import tls_settings

    if to is not None and release is not None:
        raise click.UsageError("give --to VERSION or --release PULLSPEC, not both")
    offline = release is not None and bool(project_files) and kubeconfig is None and kube_context is None
    projects = [project_mod.find(path) for path in project_files] or _default_project()
    terminal = settings.terminal()
    tls = tls_settings(terminal, tls_verify, cert_dir)
    with terminal.reporter("Planning the upgrade") as reporter:
        if offline:
            plan = make_plan(None, projects, release=release, authfile=authfile, push_authfile=push_authfile,
                             tls=tls, isolation=isolation, arch=arch, reporter=reporter)
        else:
            from ..adapters.cluster import Cluster

            with Cluster(kubeconfig, kube_context) as cluster:
                plan = make_plan(cluster, projects, to=to, release=release, authfile=authfile,
                                 push_authfile=push_authfile, tls=tls, isolation=isolation, arch=arch,
                                 reporter=reporter)
    _show(terminal, plan, output)
    plan.check()


def _default_project() -> List[Project]:
    """The project of the working folder, when there is one (a project file or a Containerfile)."""
    from .. import project as project_mod

    found = project_mod.find(None)
    if found.path is not None or (found.root / "Containerfile").is_file():
        return [found]
    return []


def _show(terminal: Terminal, plan: UpgradePlan, output: str) -> None:
    if output == "json":
        terminal.json(plan.as_dict())
        return
    if output == "yaml":
        import yaml

        terminal.result(yaml.safe_dump(plan.as_dict(), sort_keys=True, default_flow_style=False).rstrip("\n"))
        return
    for line in text_lines(plan):
        terminal.result(line)


def text_lines(plan: UpgradePlan) -> List[str]:
    """The plan for people: the updates, the target, then each pool."""
    lines: List[str] = []
    if plan.current_version is not None or plan.available or plan.conditional:
        lines.append(f"cluster: {plan.current_version or 'unknown version'}")
        lines.append("  recommended updates: " + (", ".join(u.version for u in plan.available) or "none"))
        for update in plan.conditional:
            risks = "; ".join(f"{r.name}: {r.message}" + (f" ({r.url})" if r.url else "") for r in update.risks)
            lines.append(f"  conditional update {update.version} (only with --to {update.version}): "
                         + (risks or update.reason or "no risk named"))
    if plan.up_to_date:
        lines.append("The cluster is up to date: it offers no recommended update"
                     + (" (conditional ones need --to VERSION)." if plan.conditional else "."))
        return lines
    target = plan.target
    lines.append(f"target: {target.version} {target.image}" + (f" ({plan.chosen})" if plan.chosen else ""))
    for risk in target.risks:
        lines.append(f"  RISK {risk.name}: {risk.message}" + (f" ({risk.url})" if risk.url else ""))
    if not plan.pools:
        lines.append("No pool runs a layered image of rhcos-layer: nothing to rebuild.")
    for pool in plan.pools:
        lines.extend(_pool_lines(pool))
    lines.append("Ready: every layered pool has its image for " + target.version + "." if plan.ready else
                 "Not ready: see the pools above.")
    return lines


def _pool_lines(pool: Any) -> List[str]:
    head = f"pool {pool.pool}" if pool.pool else f"project {pool.project}"
    if pool.state == "ready":
        lines = [f"{head}: ready {pool.new_image}"
                 + ("" if pool.built else " (inputs unchanged: no rebuild)")]
    else:
        lines = [f"{head}: {pool.state.upper()}: {pool.reason}"]
    if pool.new_base:
        lines.append(f"  new base ({pool.stream}): {pool.new_base}")
    if pool.current_image:
        lines.append(f"  today: {pool.current_image}")
    for skew in pool.skew:
        mark = "REPLACED by the layer" if skew.replaced else "as in the base"
        lines.append(f"  {skew.component}: {skew.image_version or '(none)'}"
                     f" ({mark}; base {skew.base_version or '(none)'})")
    if pool.current_kubelet and pool.kubelet_minors_behind is not None:
        lines.append(f"  kubelet today: {pool.current_kubelet}, {pool.kubelet_minors_behind} minor(s) behind the"
                     f" target's control plane (allowed: {pool.kubelet_skew_allowed})")
    for note in pool.notes:
        lines.append(f"  note: {note}")
    if pool.log_tail:
        lines.append("  build log (last lines):")
        lines.extend("    " + line for line in pool.log_tail)
    return lines



upgrade_group.add_command(upgrade_apply_command)

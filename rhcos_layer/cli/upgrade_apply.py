"""``rhcos-layer upgrade apply``: pause the layered pools, let the cluster upgrade, then give each its new
image and unpause it, so each node reboots once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple

import click

from .apply import _cluster_flags, _follow, wait_options
from .options import (
    Settings,
    cluster_options,
    ignore_preflight_option,
    output_option,
    rebuild_options,
    registry_options,
    tls_settings,
)

if TYPE_CHECKING:
    from ..rollout import Expectation
    from ..terminal import Terminal
    from ..trust import TLSSettings
    from ..upgrade import UpgradePlan
    from ..upgrade_apply import Survey


def _make_plan(cluster: Any, projects: Sequence[str], to: str, *, authfile: Optional[str],
               push_authfile: Optional[str], tls: TLSSettings, isolation: Optional[str], arch: Optional[str],
               terminal: Terminal) -> UpgradePlan:
    """upgrade plan's make_plan for the same target (what it rebuilds is cached: a plan made just before
    costs nothing here); once the cluster is moving to the target, for the release image it desires."""
    from .. import project as project_mod
    from ..upgrade import make_plan
    from ..upgrade_apply import plan_request
    from .upgrade import _default_project

    found = [project_mod.find(path) for path in projects] or _default_project()
    wanted, release = plan_request(cluster.cluster_version(), to)
    with terminal.reporter(f"Planning the upgrade to {to}") as reporter:
        return make_plan(cluster, found, to=wanted, release=release, authfile=authfile, push_authfile=push_authfile,
                         tls=tls, isolation=isolation, arch=arch, reporter=reporter)


def _watch_pools(terminal: Terminal, cluster: Any, wanted: List[Tuple[str, Expectation]],
                 timeout: Optional[float], resume: str) -> None:
    """Follow the pools that upgrade with the cluster (never one we hold: it would wait for ever)."""
    from ..rollout import Watcher, follow
    from ..terminal import RolloutDisplay

    context = click.get_current_context(silent=True)
    deadline = context.meta.get("rhcos_layer.progress_deadline") if context is not None else None
    with RolloutDisplay(terminal) as display:
        watchers = [Watcher(cluster, pool, expect, on_refresh=display.refresh) for pool, expect in wanted]
        follow(watchers, timeout, progress_deadline=deadline, resume=resume, notice=display.notice)


@click.command("apply")
@click.option("--to", "to", required=True, metavar="VERSION", help="The release to upgrade to (as upgrade plan).")
@click.option("--start-cluster-upgrade", is_flag=True,
              help="Start the cluster upgrade (ClusterVersion spec.desiredUpdate, as oc adm upgrade --to does);"
                   " without it, the admin starts it and this waits.")
@click.option("--allow-not-recommended", is_flag=True,
              help="Take a conditional update with known risks (as oc adm upgrade --allow-not-recommended).")
@click.option("--replan", is_flag=True,
              help="Take the plan's images for pools paused earlier with other ones (another build was pushed).")
@click.option("--project", "projects", multiple=True, metavar="FILE",
              help="Project file of a layered pool (repeatable; default: as upgrade plan finds them).")
@ignore_preflight_option("As apply, for the new images after the upgrade.")
@rebuild_options
@wait_options
@registry_options
@cluster_options
@output_option
@click.pass_obj
def upgrade_apply_command(settings: Settings, to: str, start_cluster_upgrade: bool, allow_not_recommended: bool,
                          replan: bool, projects: Tuple[str, ...], ignored: Tuple[str, ...],
                          push_authfile: Optional[str], arch: Optional[str], isolation: Optional[str], dry_run: bool,
                          wait: Optional[bool], timeout: str, authfile: Optional[str], cert_dir: Optional[str],
                          tls_verify: bool, kubeconfig: Optional[str], kube_context: Optional[str],
                          output: str) -> None:
    """Upgrade the cluster to VERSION with one reboot per layered node.

    \b
    1. the plan (upgrade plan --to VERSION) must be ready;
    2. the layered pools are paused (marked as paused by rhcos-layer);
    3. the cluster upgrade starts (--start-cluster-upgrade, or the admin);
    4. the control plane and the other pools upgrade;
    5. each layered pool gets its new image and is unpaused: one reboot per node.
    Interrupted, the same command picks up from what the cluster shows.
    """
    from .. import apply as apply_mod
    from .. import upgrade_apply as core
    from ..adapters.cluster import Cluster
    from ..errors import RhcosLayerError
    from ..rollout import interval, parse_duration

    terminal = settings.terminal()
    limit = parse_duration(timeout)
    interval()
    ignore = apply_mod.parse_ignored(ignored)
    tls = tls_settings(terminal, tls_verify, cert_dir)
    flags = _cluster_flags(kubeconfig, kube_context) + "".join(f" --project {p}" for p in projects)
    # the command that picks up repeats what changes the run's outcome (paths only: never a secret)
    again = "".join(f" {flag} {value}" for flag, value in (
        ("--authfile", authfile), ("--push-authfile", push_authfile), ("--cert-dir", cert_dir)) if value)
    again += "".join(f" --ignore-preflight-errors {value}" for value in ignored)
    again += "" if tls_verify else " --tls-verify=false"
    resume = f"rhcos-layer upgrade apply --to {to}{flags}{again} --wait"
    will_wait = terminal.interactive if wait is None else wait
    found: Optional[Survey] = None
    with Cluster(kubeconfig, kube_context) as cluster:
        try:
            plan = _make_plan(cluster, projects, to, authfile=authfile, push_authfile=push_authfile, tls=tls,
                              isolation=isolation, arch=arch, terminal=terminal)
            found = core.survey(cluster, plan, replan=replan)
            core.preflight(cluster, found, allow_not_recommended=allow_not_recommended)
            for risk in found.risks:
                terminal.warning(f"{to} is not recommended for this cluster (--allow-not-recommended): {risk}")
            core.require_permissions(cluster, found, start=start_cluster_upgrade, wait=will_wait and not dry_run)
            if dry_run:
                _report(terminal, found, output, next_step="nothing was changed (--dry-run)")
                return
            try:
                _run(terminal, cluster, found, start=start_cluster_upgrade, wait=will_wait, limit=limit,
                     resume=resume, authfile=authfile, tls=tls, ignore=ignore, output=output, flags=flags)
            except RhcosLayerError as exc:
                if output == "json":  # scripts get the state it stopped in; the error line follows on stderr
                    data = found.as_dict()
                    data.update(error=exc.message, next=exc.hint or None)
                    terminal.json(data)
                raise
        except KeyboardInterrupt:
            held = found.paused() if found is not None else []
            terminal.warning("Stopped; the cluster keeps going where it is"
                             + (f" (pools {', '.join(held)} stay paused until this command unpauses them)"
                                if held else "") + f". Pick up with: {resume}")
            raise


def _run(terminal: Terminal, cluster: Any, found: Survey, *, start: bool, wait: bool, limit: Optional[float],
         resume: str, authfile: Optional[str], tls: TLSSettings, ignore: Any, output: str, flags: str) -> None:
    from .. import upgrade_apply as core
    from ..errors import RolloutFailed

    context = click.get_current_context(silent=True)
    deadline = context.meta.get("rhcos_layer.progress_deadline") if context is not None else None
    target = found.target
    if found.upgrade.state in (core.NOT_STARTED, core.UPGRADING):
        for pool in core.pause(cluster, found):
            terminal.info(f"{pool}: paused for the upgrade to {target} (annotation {core.PAUSED_ANNOTATION})")
        for step in found.pools:
            if step.state == core.HELD:
                terminal.warning(f"pool {step.pool} was paused by someone else: it gets its new image after the"
                                 " upgrade but stays paused; unpause it yourself to roll it out")
    started = False
    if found.upgrade.state == core.NOT_STARTED:
        if start:
            core.start_upgrade(cluster, found)
            started = True
            terminal.info(f"Started the cluster upgrade to {target} (ClusterVersion spec.desiredUpdate"
                          f" {found.image})")
        else:
            terminal.info(f"Start the cluster upgrade when ready: {core.start_command(found)}")
    if not wait:
        _report(terminal, found, output, next_step=f"not waiting (--no-wait); pick up with: {resume}")
        return

    if found.upgrade.state != core.COMPLETED:
        # a spinner with the cluster's state on a terminal (plain lines otherwise): the upgrade takes long
        with terminal.reporter(f"cluster: upgrade to {target}") as reporter:
            said: List[str] = []

            def changed(upgrade: Any) -> None:
                line = f"cluster: {upgrade.state}" + (f": {upgrade.message}" if upgrade.message else "")
                if not said or said[-1] != line:  # the same words again (another field moved) are not news
                    said.append(line)
                    reporter.phase(line)

            if found.upgrade.state == core.NOT_STARTED:
                if not started:
                    reporter.phase(f"Waiting for the cluster upgrade to {target} to start")
                core.wait_for(cluster, found, core.UPGRADING, timeout=limit, progress_deadline=deadline,
                              notice=reporter.warning, on_change=changed, resume=resume)
            core.wait_for(cluster, found, core.COMPLETED, timeout=limit, progress_deadline=deadline,
                          notice=reporter.warning, on_change=changed, resume=resume)
    others = core.control_plane_expectations(cluster, found)
    if others:
        terminal.info("Waiting for the pools that upgrade with the cluster: "
                      + ", ".join(pool for pool, _ in others))
        _watch_pools(terminal, cluster, others, limit, resume)
    plans, written = core.layer(cluster, found, authfile=authfile, tls=tls, ignore=ignore)
    for item in plans:
        for warning in dict.fromkeys(item.warnings):
            terminal.warning(warning)
        for check in item.checks:
            if check.ignored:
                terminal.warning(f"ignoring the failed check {check.name}: {check.message}")
    for item, _ in written:
        verb = {"create": "created", "update": "updated", "unchanged": "unchanged"}[item.action]
        terminal.info(f"{item.pool}: MachineConfig {item.name} {verb} (osImageURL {item.image}); unpaused")
    wanted = core.expectations(found)
    if wanted:
        pool_flags = " ".join(f"--pool {p}" for p, _ in wanted)
        try:
            views = _follow(terminal, cluster, wanted, limit, f"rhcos-layer status --watch {pool_flags}{flags}")
        except RolloutFailed as exc:
            if not exc.hint:
                exc.hint = (f"the pools run the new release; roll back to its plain base with: rhcos-layer rollback"
                            f" {pool_flags}{flags}")
            raise
        core.apply_views(found, views)
    _report(terminal, found, output, next_step="")


def _report(terminal: Terminal, found: Survey, output: str, *, next_step: str) -> None:
    if output == "json":
        data = found.as_dict()
        data["next"] = next_step or None
        terminal.json(data)
        return
    if next_step:
        terminal.info(next_step)
    terminal.result(f"cluster: upgrade to {found.target} {found.upgrade.state} (runs {found.upgrade.current or '?'})")
    for step in found.pools:
        counts = f" on {step.updated}/{step.machines} nodes ({step.rendered})" if step.rendered else ""
        what = f"{step.image}" if step.image else f"worker's image ({step.machineconfig})"
        terminal.result(f"{step.pool}: {step.state}: {what}{counts}")

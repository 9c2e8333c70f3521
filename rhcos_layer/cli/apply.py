"""``rhcos-layer apply`` and ``rhcos-layer rollback``: write the pool's MachineConfig, follow the rollout."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import click

from .options import Settings, cluster_options, output_option, project_option, registry_options, tls_settings

if TYPE_CHECKING:
    from ..apply import Plan
    from ..rollout import Expectation
    from ..terminal import Terminal


def wait_options(func: Any) -> Any:
    func = click.option("--progress-deadline", default=DEFAULT_PROGRESS_DEADLINE, show_default=True,
                        metavar="DURATION", expose_value=False, callback=_remember_progress_deadline,
                        help="Stop waiting when the rollout has not moved for this long (exit 14), whatever"
                             " --timeout says; 0: no limit. The rollout goes on.")(func)
    func = click.option("--timeout", default="0", show_default=True, metavar="DURATION",
                        help="Stop waiting after this long (90s, 30m, 2h); 0: no limit. The rollout goes on.")(func)
    func = click.option("--wait/--no-wait", default=None,
                        help="Follow the rollout until every node is done (default: on a terminal).")(func)
    func = click.option("--dry-run", is_flag=True,
                        help="Run the checks against the cluster and show what would change; change nothing.")(func)
    return func


DEFAULT_PROGRESS_DEADLINE = "30m"  # a node's drain and reboot take minutes, rarely half an hour


def _remember_progress_deadline(ctx: click.Context, param: click.Parameter, value: str) -> Optional[float]:
    """Parsed before the command runs (a bad value writes nothing) and kept for _follow, so the commands'
    own parameters stay as they are."""
    from ..rollout import backoff_cap, parse_duration

    seconds = parse_duration(value, "--progress-deadline")
    backoff_cap()  # a bad RHCOS_LAYER_WATCH_BACKOFF_CAP stops us before anything is written
    ctx.meta["rhcos_layer.progress_deadline"] = seconds
    return seconds


def _cluster_flags(kubeconfig: Optional[str], kube_context: Optional[str]) -> str:
    flags = f" --kubeconfig {kubeconfig}" if kubeconfig else ""
    return flags + (f" --context {kube_context}" if kube_context else "")


def _follow(terminal: Terminal, cluster: Any, expectations: List[Tuple[str, Expectation]],
            timeout: Optional[float], resume: str) -> List[Any]:
    """Watch every pool to the end, and the custom pools that inherit a change to worker; Ctrl-C stops
    watching, never the rollout."""
    from ..pools import inheriting
    from ..rollout import Expectation, Watcher, follow
    from ..terminal import RolloutDisplay

    context = click.get_current_context(silent=True)
    deadline = context.meta.get("rhcos_layer.progress_deadline") if context is not None else None
    watchers: List[Watcher] = []
    with RolloutDisplay(terminal) as display:
        try:
            wanted = list(expectations)
            if any(pool == "worker" for pool, _ in wanted):
                named = {pool for pool, _ in wanted}
                expect = next(e for pool, e in wanted if pool == "worker")
                for other in inheriting(cluster.watched_pools(), "worker"):
                    if other not in named:  # it merges the worker MachineConfigs: it rolls out too
                        wanted.append((other, Expectation(expect.machineconfig, expect.present)))
                        display.say(f"{other}: inherits the worker MachineConfigs: following it too")
            watchers = [Watcher(cluster, pool, expect, on_refresh=display.refresh) for pool, expect in wanted]
            follow(watchers, timeout, progress_deadline=deadline, resume=resume, notice=display.notice)
        except KeyboardInterrupt:
            display.say(f"Stopped watching; the rollout goes on in the cluster. Follow it with: {resume}")
            raise
    return [w.view for w in watchers]


@click.command("apply")
@click.option("--pool", "pools", multiple=True, required=True, metavar="POOL",
              help="Machine config pool to move to the image (repeatable).")
@click.option("--image", metavar="REPO@sha256:DIGEST", help="The layered image (default: this project's last push).")
@click.option("--ignore-preflight-errors", "ignored", multiple=True, metavar="CHECK[,CHECK]",
              help="Apply although these checks fail: NodesCanPull, LoopbackRegistry, BaseMatches, PoolDegraded,"
                   " PackageConflict, or all.")
@click.option("--rollback-on-failure", is_flag=True,
              help="When a node degrades during the rollout, put the pools back as they were.")
@wait_options
@registry_options
@cluster_options
@project_option
@output_option
@click.pass_obj
def apply_command(settings: Settings, pools: Tuple[str, ...], image: Optional[str], ignored: Tuple[str, ...],
                  rollback_on_failure: bool, dry_run: bool, wait: Optional[bool], timeout: str,
                  authfile: Optional[str], cert_dir: Optional[str], tls_verify: bool, kubeconfig: Optional[str],
                  kube_context: Optional[str], project_file: Optional[str], output: str) -> None:
    """Point POOLs at the layered image: check, write one MachineConfig per pool, follow the rollout.

    The checks refuse an image the nodes cannot pull or that was built on another base, a
    degraded pool, a later MachineConfig that would win the merge, and layered RPMs that clash
    with the pool's extensions. The Machine Config Operator then cordons, drains and reboots
    each node. Applying the same image again changes nothing.
    """

    from .. import apply as apply_mod
    from ..adapters.cluster import Cluster
    from ..rollout import Expectation, interval, parse_duration

    terminal = settings.terminal()
    limit = parse_duration(timeout)
    interval()  # a bad RHCOS_LAYER_WATCH_INTERVAL stops us before anything is written
    ignore = apply_mod.parse_ignored(ignored)
    image, source = _image_and_source(image, project_file)
    tls = tls_settings(terminal, tls_verify, cert_dir)
    flags = _cluster_flags(kubeconfig, kube_context)
    pool_flags = " ".join(f"--pool {p}" for p in dict.fromkeys(pools))
    with Cluster(kubeconfig, kube_context) as cluster:
        plans = apply_mod.plan(cluster, list(pools), image, authfile=authfile, tls=tls, ignore=ignore,
                               project=source)
        for item in plans:
            for warning in dict.fromkeys(item.warnings):
                terminal.warning(warning)
            for check in item.checks:
                if check.ignored:
                    terminal.warning(f"ignoring the failed check {check.name}: {check.message}")
                elif check.ok:
                    terminal.detail(f"{item.pool}: ok {check.name}: {check.message}")
        apply_mod.refuse(plans)
        will_wait = terminal.interactive if wait is None else wait
        apply_mod.require_permissions(cluster, apply_mod.writes_for(plans), wait=will_wait and not dry_run)
        if will_wait and not dry_run:
            # import what the watch needs before writing: after the write, the watch (and its Ctrl-C
            # handling, which says the rollout goes on) starts at once instead of after the imports
            cluster.preload_nodes_api()
            from ..terminal import RolloutDisplay  # noqa: F401
        if dry_run:
            apply_mod.execute_all(cluster, plans, dry_run=True)  # the API server validates it too
            _report(terminal, plans, output, dry_run=True)
            return
        try:
            written: List[Tuple[Plan, Dict[str, Any]]] = apply_mod.execute_all(cluster, plans)
        except KeyboardInterrupt:  # the API server may have stored a write whose answer we did not wait for
            terminal.warning("Stopped watching; the rollout goes on in the cluster. (Interrupted while writing: what"
                             " the API server stored stays.) Check and follow it with:"
                             f" rhcos-layer status --watch {pool_flags}{flags}")
            raise
        for item, _ in written:
            verb = {"create": "created", "update": "updated", "unchanged": "unchanged"}[item.action]
            terminal.info(f"{item.pool}: MachineConfig {item.name} {verb} (osImageURL {item.image})")
        if wait is None:
            wait = terminal.interactive
        views: List[Any] = []
        if wait:
            expectations = [(p.pool, Expectation(p.name, True, p.image)) for p in plans]
            try:
                views = _follow(terminal, cluster, expectations, limit,
                                f"rhcos-layer status --watch {pool_flags}{flags}")
            except Exception as exc:
                from ..errors import RolloutFailed

                if not isinstance(exc, RolloutFailed):
                    raise
                if not rollback_on_failure:
                    exc.hint = f"roll back with: rhcos-layer rollback {pool_flags}{flags}"
                    raise
                _revert(terminal, cluster, written, limit, exc, pool_flags + flags)
        else:
            terminal.info(f"The Machine Config Operator rolls it out now; follow it with:"
                          f" rhcos-layer status --watch {pool_flags}{flags}")
    _report(terminal, plans, output, views=views)


def _revert(terminal: Terminal, cluster: Any, written: List[Tuple[Plan, Dict[str, Any]]], limit: Optional[float],
            failure: Exception, flags: str) -> None:
    """--rollback-on-failure: undo each write (core's undo path), follow the pools back, then fail with the cause."""
    from .. import apply as apply_mod
    from ..errors import RolloutFailed

    message = getattr(failure, "message", str(failure))
    terminal.warning(f"{message}: rolling back (--rollback-on-failure)")
    expectations = apply_mod.undo_rollout(cluster, written, message)  # PartiallyApplied if one cannot be undone
    for item, expect in expectations:
        terminal.info(f"{item.pool}: MachineConfig {item.name} "
                      + ("deleted" if item.action == "create" else f"put back to {expect.image}"))
    try:
        _follow(terminal, cluster, [(item.pool, expect) for item, expect in expectations], limit,
                f"rhcos-layer status --watch {flags}")
    except RolloutFailed as stuck:  # the rollback cannot finish: a node the node controller will not move
        raise RolloutFailed(f"{message}; rolled back the MachineConfigs, but {stuck.message}",
                            hint=stuck.hint) from None
    raise RolloutFailed(f"{message}; rolled back: the pools run what they ran before")


def _image_and_source(image: Optional[str], project_file: Optional[str]) -> Tuple[str, Optional[str]]:
    from .. import project as project_mod
    from ..errors import InvalidInput
    from ..machineconfig import project_name

    project = project_mod.find(project_file)
    pushed = project.read_state().get("push", {})
    if image is None:
        image = pushed.get("pullspec")
        if not image:
            raise InvalidInput("no --image given and no push recorded for this project",
                               hint="run `rhcos-layer push` first, or give --image REPO@sha256:...")
        return str(image), project_name(project.root)
    return image, (project_name(project.root) if pushed.get("pullspec") == image else None)


def _report(terminal: Terminal, plans: List[Plan], output: str, *, dry_run: bool = False,
            views: Optional[List[Any]] = None) -> None:
    done = {v.name: v for v in views or [] if v is not None}
    if output == "json":
        items = []
        for item in plans:
            data = item.as_dict()
            data["dry_run"] = dry_run
            view = done.get(item.pool)
            if view is not None:
                data.update(rendered=view.target, machines=view.machines, updated=view.updated)
            items.append(data)
        terminal.json(items)
        return
    for item in plans:
        if dry_run:
            old = ((item.existing or {}).get("spec") or {}).get("osImageURL")
            change = {"create": f"would create MachineConfig {item.name}",
                      "update": f"would update MachineConfig {item.name} (from {old})",
                      "unchanged": f"MachineConfig {item.name} already points at it: nothing to change"}[item.action]
            terminal.result(f"{item.pool}: {change}: osImageURL {item.image}")
            continue
        view = done.get(item.pool)
        if view is not None:
            terminal.result(f"{item.pool}: {item.image} on {view.updated}/{view.machines} nodes ({view.target})")
        else:
            terminal.result(f"{item.pool}: {item.action} {item.name} -> {item.image}")


@click.command("rollback")
@click.option("--pool", "pools", multiple=True, required=True, metavar="POOL",
              help="Machine config pool to put back (repeatable).")
@click.option("--to-previous", is_flag=True,
              help="Re-apply the image that was live before the last apply, instead of the base image.")
@click.option("--ignore-preflight-errors", "ignored", multiple=True, metavar="CHECK[,CHECK]",
              help="With --to-previous: apply although these checks fail (as for apply).")
@wait_options
@registry_options
@cluster_options
@output_option
@click.pass_obj
def rollback_command(settings: Settings, pools: Tuple[str, ...], to_previous: bool, ignored: Tuple[str, ...],
                     dry_run: bool, wait: Optional[bool], timeout: str, authfile: Optional[str],
                     cert_dir: Optional[str], tls_verify: bool, kubeconfig: Optional[str],
                     kube_context: Optional[str], output: str) -> None:
    """Put POOLs back on the release's base image by deleting the MachineConfigs rhcos-layer made.

    Only MachineConfigs labelled as managed by rhcos-layer for that pool are deleted: never a
    rendered-* one, never one rhcos-layer did not create. --to-previous re-applies the image that
    was live before instead (recorded in the MachineConfig).
    """
    from .. import apply as apply_mod
    from .. import rollback as rollback_mod
    from ..adapters.cluster import Cluster
    from ..rollout import Expectation, interval, parse_duration
    from ..trust import TLSSettings
    from . import rollback as rollback_cli

    terminal = settings.terminal()
    limit = parse_duration(timeout)
    interval()  # a bad RHCOS_LAYER_WATCH_INTERVAL stops us before anything is written
    if wait is None:
        wait = terminal.interactive
    flags = _cluster_flags(kubeconfig, kube_context)
    pool_flags = " ".join(f"--pool {p}" for p in dict.fromkeys(pools))
    results: List[Dict[str, Any]] = []
    expectations: List[Tuple[str, Expectation]] = []
    with Cluster(kubeconfig, kube_context) as cluster:
        # only --to-previous reaches a registry (to check the earlier image): only it warns about TLS
        tls = tls_settings(terminal, tls_verify, cert_dir) if to_previous else TLSSettings()
        ignore = apply_mod.parse_ignored(ignored) if to_previous else set()
        plans = rollback_mod.plan(cluster, pools, to_previous=to_previous, authfile=authfile, tls=tls, ignore=ignore)
        watched = any(p.action == "delete" or p.reapply is not None or p.restored is not None for p in plans)
        apply_mod.require_permissions(cluster, rollback_mod.writes_for(plans), wait=wait and watched and not dry_run,
                                      extra=rollback_mod.on_cluster_needs(plans, wait=wait and not dry_run))
        if wait and not dry_run and not to_previous:
            cluster.preload_nodes_api()
        on_cluster = [p for p in plans if p.machineosconfig is not None]
        before = rollback_mod.builds_before(cluster, on_cluster) if wait and not dry_run else {}
        rollback_mod.execute(cluster, plans, dry_run=dry_run)
        for item in plans:
            results.append(item.as_dict(dry_run))
            if item.machineosconfig is not None:  # followed by its images, below (cli/rollback.py)
                continue
            if item.action == "delete":
                expectations.append((item.pool, Expectation(item.expected_name, False)))
            elif item.reapply is not None:
                expectations.append((item.pool, Expectation(item.reapply.name, True, item.reapply.image)))
        for item in on_cluster:
            terminal.info(rollback_cli.said(item, dry_run))
        for r in results:
            if r["machineosconfig"]:
                continue
            if r["action"] == "unchanged" and not r["machineconfigs"]:
                terminal.info(f"{r['pool']}: nothing to roll back: no MachineConfig from rhcos-layer")
                continue
            verb = {"delete": "would delete" if dry_run else "deleted", "unchanged": "already on",
                    "re-apply": "would re-apply" if dry_run else "re-applied"}[r["action"]]
            terminal.info(f"{r['pool']}: {verb} {', '.join(r['machineconfigs'])}"
                          + (f" ({r['image']})" if r["image"] else ""))
        views: List[Any] = []
        if expectations and wait and not dry_run:
            views = _follow(terminal, cluster, expectations, limit, f"rhcos-layer status --watch {pool_flags}{flags}")
        moving = [p for p in on_cluster if p.action != "unchanged"]
        if moving and wait and not dry_run:
            followed, built = rollback_cli.follow(terminal, cluster, moving, limit,
                                                  f"rhcos-layer status --watch {pool_flags}{flags}", before)
            views += list(followed.values())
            for r in results:
                r["image"] = built.get(r["pool"]) or r["image"]
        if views:
            for r in results:
                for view in views:
                    if view is not None and view.name == r["pool"]:
                        r.update(rendered=view.target, machines=view.machines, updated=view.updated)
    if output == "json":
        terminal.json(results)
        return
    for r in results:
        if "rendered" in r:
            terminal.result(f"{r['pool']}: back on {r['rendered']} ({r['updated']}/{r['machines']} nodes)")
        elif r["machineosconfig"]:
            terminal.result(f"{r['pool']}: {r['action']} MachineOSConfig {r['machineosconfig']}"
                            + "".join(f", {name}" for name in r["machineconfigs"]))
        else:
            terminal.result(f"{r['pool']}: {r['action']} {', '.join(r['machineconfigs']) or '-'}")

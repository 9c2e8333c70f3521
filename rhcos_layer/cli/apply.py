"""``rhcos-layer apply`` and ``rhcos-layer rollback``: write the pool's MachineConfig, follow the rollout."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import click

from .options import (
    Settings,
    cluster_options,
    ignore_preflight_option,
    output_option,
    project_option,
    registry_options,
    tls_settings,
)

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
            timeout: Optional[float], resume: str, make: Optional[Any] = None) -> List[Any]:
    """Watch every pool to the end, and the custom pools that inherit a change to worker; Ctrl-C stops
    watching, never the rollout. ``make(pool, expectation, on_refresh)``: the watcher of a named pool
    (apply --on-cluster's waits for the built image too); the inheriting pools get a plain Watcher."""
    from ..pools import inheriting
    from ..rollout import Expectation, Watcher, follow
    from ..terminal import RolloutDisplay

    deadline = _progress_deadline()
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
            named_count = len(expectations)
            watchers = [make(pool, expect, display.refresh) if make is not None and i < named_count
                        else Watcher(cluster, pool, expect, on_refresh=display.refresh)
                        for i, (pool, expect) in enumerate(wanted)]
            follow(watchers, timeout, progress_deadline=deadline, resume=resume, notice=display.notice)
        except KeyboardInterrupt:
            display.say(f"Stopped watching; the rollout goes on in the cluster. Follow it with: {resume}")
            raise
    return [w.view for w in watchers]


@click.command("apply")
@click.option("--pool", "pools", multiple=True, required=True, metavar="POOL",
              help="Machine config pool to move to the image (repeatable).")
@click.option("--image", metavar="REPO@sha256:DIGEST", help="The layered image (default: this project's last push).")
@ignore_preflight_option("Apply although these checks fail: NodesCanPull, LoopbackRegistry, BaseMatches,"
                         " PoolDegraded, PackageConflict, or all.")
@click.option("--rollback-on-failure", is_flag=True,
              help="When a node degrades during the rollout, put the pools back as they were.")
@click.option("--on-cluster", is_flag=True,
              help="Let the cluster build the image from this project (a MachineOSConfig), follow the build,"
                   " then the rollout.")
@click.option("--push-secret", metavar="NAME",
              help="With --on-cluster: the Secret in openshift-machine-config-operator the build pushes with.")
@click.option("--pull-secret", metavar="NAME",
              help="With --on-cluster: the Secret in openshift-machine-config-operator the build pulls its base"
                   " with.")
@click.option("--rebuild", is_flag=True, help="With --on-cluster: ask the cluster for a fresh build.")
@click.option("--replace", is_flag=True,
              help="Move the pool between modes in one step: remove rhcos-layer's osImageURL MachineConfig"
                   " (--on-cluster) or its MachineOSConfig (without), the pool paused meanwhile.")
@wait_options
@registry_options
@cluster_options
@project_option
@output_option
@click.pass_obj
def apply_command(settings: Settings, pools: Tuple[str, ...], image: Optional[str], ignored: Tuple[str, ...],
                  rollback_on_failure: bool, on_cluster: bool, push_secret: Optional[str], pull_secret: Optional[str],
                  rebuild: bool, replace: bool, dry_run: bool, wait: Optional[bool], timeout: str,
                  authfile: Optional[str], cert_dir: Optional[str], tls_verify: bool, kubeconfig: Optional[str],
                  kube_context: Optional[str], project_file: Optional[str], output: str) -> None:
    """Point POOLs at the layered image: check, write one MachineConfig per pool, follow the rollout.

    The checks refuse an image the nodes cannot pull or that was built on another base, a
    degraded pool, a later MachineConfig that would win the merge, and layered RPMs that clash
    with the pool's extensions. The Machine Config Operator then cordons, drains and reboots
    each node. Applying the same image again changes nothing.

    With --on-cluster, the cluster builds the image from this project's Containerfile (a
    MachineOSConfig): the build is followed, then the rollout.
    """

    from .. import apply as apply_mod
    from ..adapters.cluster import Cluster
    from ..rollout import Expectation, interval, parse_duration

    terminal = settings.terminal()
    limit = parse_duration(timeout)
    interval()  # a bad RHCOS_LAYER_WATCH_INTERVAL stops us before anything is written
    if on_cluster:
        _on_cluster(terminal, pools, image, ignored, rollback_on_failure, push_secret, pull_secret, rebuild, replace,
                    dry_run, wait, limit, cert_dir, tls_verify, kubeconfig, kube_context, project_file, output)
        return
    _only_on_cluster(push_secret=push_secret, pull_secret=pull_secret, rebuild=rebuild)
    ignore = apply_mod.parse_ignored(ignored)
    image, source = _image_and_source(image, project_file)
    tls = tls_settings(terminal, tls_verify, cert_dir)
    flags = _cluster_flags(kubeconfig, kube_context)
    pool_flags = " ".join(f"--pool {p}" for p in dict.fromkeys(pools))
    with Cluster(kubeconfig, kube_context) as cluster:
        plans = apply_mod.plan(cluster, list(pools), image, authfile=authfile, tls=tls, ignore=ignore,
                               project=source, replace=replace)
        for item in plans:
            _show_checks(terminal, item)
        apply_mod.refuse(plans)
        will_wait = terminal.interactive if wait is None else wait
        replacing = any(p.replaces is not None for p in plans)
        apply_mod.require_permissions(cluster, apply_mod.writes_for(plans), wait=will_wait and not dry_run,
                                      extra=_replace_permissions() if replacing else ())
        if will_wait and not dry_run:
            # import what the watch needs before writing: after the write, the watch (and its Ctrl-C
            # handling, which says the rollout goes on) starts at once instead of after the imports
            cluster.preload_nodes_api()
            from ..terminal import RolloutDisplay  # noqa: F401
        from ..oncluster_apply import to_machineconfigs

        execute_all = to_machineconfigs if replacing else apply_mod.execute_all
        if dry_run:
            execute_all(cluster, plans, dry_run=True)  # the API server validates it too
            _report(terminal, plans, output, dry_run=True)
            return
        try:
            written: List[Tuple[Plan, Dict[str, Any]]] = execute_all(cluster, plans)
        except KeyboardInterrupt:  # the API server may have stored a write whose answer we did not wait for
            terminal.warning("Stopped watching; the rollout goes on in the cluster. (Interrupted while writing: what"
                             " the API server stored stays.) Check and follow it with:"
                             f" rhcos-layer status --watch {pool_flags}{flags}")
            raise
        for item, _ in written:
            if item.replaces is not None:
                terminal.info(f"{item.pool}: MachineOSConfig {item.replaces['metadata']['name']} deleted (--replace)")
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


def _show_checks(terminal: Terminal, item: Any) -> None:
    """A plan's warnings, its ignored checks (as warnings) and, with -v, the checks that passed."""
    for warning in dict.fromkeys(item.warnings):
        terminal.warning(warning)
    for check in item.checks:
        if check.ignored:
            terminal.warning(f"ignoring the failed check {check.name}: {check.message}")
        elif check.ok:
            terminal.detail(f"{item.pool}: ok {check.name}: {check.message}")


def _only_on_cluster(**given: Any) -> None:
    from ..errors import InvalidInput

    for name, value in given.items():
        if value:
            flag = "--" + name.replace("_", "-")
            raise InvalidInput(f"{flag} is an option of --on-cluster: add --on-cluster, or drop {flag}")


def _replace_permissions() -> List[Tuple[str, str, str, str]]:
    from ..oncluster_apply import MCO_GROUP

    return [("delete", "machineosconfigs", MCO_GROUP, "to remove the pool's MachineOSConfig (--replace)"),
            ("create", "machineosconfigs", MCO_GROUP, "to put the MachineOSConfig back if a later write fails"),
            ("patch", "machineconfigpools", MCO_GROUP, "to pause the pool while its mode changes")]


def _on_cluster(terminal: Terminal, pools: Tuple[str, ...], image: Optional[str], ignored: Tuple[str, ...],
                rollback_on_failure: bool, push_secret: Optional[str], pull_secret: Optional[str], rebuild: bool,
                replace: bool, dry_run: bool, wait: Optional[bool], limit: Optional[float], cert_dir: Optional[str],
                tls_verify: bool, kubeconfig: Optional[str], kube_context: Optional[str], project_file: Optional[str],
                output: str) -> None:
    """apply --on-cluster: preflight, write the MachineOSConfig, follow the build, then the rollout."""
    from .. import apply as apply_mod
    from .. import oncluster_apply as core
    from .. import project as project_mod
    from ..adapters.cluster import Cluster
    from ..errors import InvalidInput

    if image:
        raise InvalidInput("--image: not with --on-cluster (the cluster builds the image from this project's"
                           " Containerfile); drop one of them")
    if rollback_on_failure:
        raise InvalidInput("--rollback-on-failure: not with --on-cluster; roll back with rhcos-layer rollback")
    if len(set(pools)) != 1:
        raise InvalidInput("--on-cluster takes one --pool (one MachineOSConfig per pool): run it once per pool")
    pool = pools[0]
    ignore = apply_mod.parse_ignored(ignored, core.IGNORABLE)
    project = project_mod.find(project_file)
    tls = tls_settings(terminal, tls_verify, cert_dir)
    flags = _cluster_flags(kubeconfig, kube_context)
    resume = f"rhcos-layer status --watch --pool {pool}{flags}"
    with Cluster(kubeconfig, kube_context) as cluster:
        item = core.plan(cluster, pool, project, push_secret=push_secret, pull_secret=pull_secret, replace=replace,
                         rebuild=rebuild, ignore=ignore, tls=tls)
        _show_checks(terminal, item)
        core.refuse(item)
        will_wait = (terminal.interactive if wait is None else wait) and not dry_run
        writes, extra = core.permissions(item, wait=will_wait)
        apply_mod.require_permissions(cluster, writes, wait=will_wait, extra=extra)
        if will_wait:
            cluster.preload_nodes_api()
        result = item.as_dict()
        result["dry_run"] = dry_run
        if dry_run:
            core.execute(cluster, item, dry_run=True)
            _report_on_cluster(terminal, item, result, output)
            return
        try:
            core.execute(cluster, item)
        except KeyboardInterrupt:
            terminal.warning("Interrupted while writing: what the API server stored stays. Check it with: " + resume)
            raise
        if item.replaced is not None:
            terminal.info(f"{pool}: MachineConfig {item.replaced['metadata']['name']} deleted (--replace)")
        verb = {"create": "created", "update": "updated", "unchanged": "unchanged"}[item.action]
        terminal.info(f"{pool}: MachineOSConfig {item.name} {verb}" + (", rebuild asked" if rebuild else "")
                      + f" (pushes to {item.push_spec})")
        if not will_wait:
            terminal.info(f"The cluster builds the image and rolls it out now; follow it with: {resume}")
            _report_on_cluster(terminal, item, result, output)
            return
        builder = core.BuildWatcher(cluster, item, terminal.info)
        try:
            from ..rollout import follow

            follow([builder], limit, progress_deadline=_progress_deadline(), resume=resume, notice=terminal.warning)
        except KeyboardInterrupt:
            terminal.warning(f"Stopped watching; the build and the rollout go on in the cluster. Follow them with:"
                             f" {resume}")
            raise
        built = builder.image or ""
        result["build"] = {"name": builder.build["metadata"]["name"] if builder.build else None,
                           "state": builder.state, "job": builder.job, "image": built, "rendered": builder.target}
        terminal.info(f"{pool}: built {built}")
        from ..machineconfig import name_for
        from ..rollout import Expectation

        expect = [(pool, Expectation(name_for(pool), False))]

        def make(name: str, expectation: Any, on_refresh: Any) -> Any:
            from ..oncluster import ImageWatcher

            return ImageWatcher(cluster, name, built, without=name_for(name), on_refresh=on_refresh)

        try:
            views = _follow(terminal, cluster, expect, limit, resume, make=make)
        except Exception as exc:
            from ..errors import RolloutFailed

            if isinstance(exc, RolloutFailed):
                exc.hint = f"roll back with: rhcos-layer rollback --pool {pool}{flags}"
            raise
        view = views[0] if views else None
        if view is not None:
            result.update(rendered=view.target, machines=view.machines, updated=view.updated)
    _report_on_cluster(terminal, item, result, output)


def _progress_deadline() -> Optional[float]:
    context = click.get_current_context(silent=True)
    return context.meta.get("rhcos_layer.progress_deadline") if context is not None else None


def _report_on_cluster(terminal: Terminal, item: Any, result: Dict[str, Any], output: str) -> None:
    if output == "json":
        terminal.json(result)
        return
    build = result.get("build") or {}
    if "rendered" in result and build.get("image"):
        terminal.result(f"{item.pool}: {build['image']} on {result['updated']}/{result['machines']} nodes"
                        f" (built by {build['name']}, {result['rendered']})")
    elif result.get("dry_run"):
        change = {"create": "would create", "update": "would update",
                  "unchanged": "would leave unchanged"}[item.action]
        terminal.result(f"{item.pool}: {change} MachineOSConfig {item.name} (pushes to {item.push_spec})"
                        + (f", would remove MachineConfig {item.replaced['metadata']['name']}" if item.replaced
                           else ""))
    else:
        terminal.result(f"{item.pool}: {item.action} MachineOSConfig {item.name} -> {item.push_spec}")


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
              help="Re-apply the image that was live before the last apply, instead of the base image (an"
                   " on-cluster pool: its MachineOSConfig's previous spec, built again).")
@ignore_preflight_option("With --to-previous: apply although these checks fail (as for apply).")
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

    A pool the cluster builds for (apply --on-cluster) gets its MachineOSConfig deleted instead, if
    rhcos-layer made it, and its nodes go back to the base; --to-previous sets the MachineOSConfig's
    spec back to the one before the last apply, and --wait follows its build, then the rollout.
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

"""``rhcos-layer lint``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import click

from .options import Settings, cluster_options, output_option, project_option

if TYPE_CHECKING:
    from ..project import Project
    from ..terminal import Terminal


@click.command("lint")
@click.argument("containerfile", required=False, type=click.Path(dir_okay=False), metavar="[CONTAINERFILE]")
@click.option("--pool", metavar="POOL",
              help="Also compare with this machine config pool's extensions and kernelType (needs a login).")
@click.option("--on-cluster", is_flag=True,
              help="Check it as a MachineOSConfig's content (on-cluster build) instead: rules RL118-RL125.")
@cluster_options
@project_option
@output_option
@click.pass_obj
def lint_command(settings: Settings, containerfile: Optional[str], pool: Optional[str], on_cluster: bool,
                 kubeconfig: Optional[str], kube_context: Optional[str], project_file: Optional[str],
                 output: str) -> None:
    """Check a Containerfile for what breaks RHCOS nodes (default: the project's, else ./Containerfile).

    Each finding has a rule id, severity, line, message and fix. Exits 3 when there is an
    error; warnings alone exit 0. The rules:

    \b
      RL100 no-from                   RL109 add-remote-url
      RL101 from-not-pinned           RL110 secret-build-arg
      RL102 not-committed             RL111 unknown-instruction
      RL103 partial-kernel            RL112 heredoc
      RL104 realtime-kernel           RL113 copy-source-missing
      RL105 extension-rpm             RL114 from-release-payload
      RL106 cliwrap-install-to-root   RL115 base-not-set
      RL107 writes-var                RL116 trailing-continuation
      RL108 entitlement-in-image      RL117 brace-limit

    With --on-cluster (the project's Containerfiles as `render --on-cluster` turns them into
    a MachineOSConfig; the FROM line is the cluster's to pick):

    \b
      RL118 copy-local-file           RL122 other-stage-image
      RL119 content-too-long          RL123 stage-name-clash
      RL120 build-secret              RL124 arg-not-passed
      RL121 arch-specific-content     RL125 escape-directive
    """
    from .. import containerfile as containerfile_mod
    from .. import project as project_mod
    from ..context import collect
    from ..errors import ContainerfileError
    from ..lint import errors, lint
    from ..project import PROJECT_FILE, STATE_FILE

    terminal = settings.terminal()
    project = project_mod.find(project_file)
    if on_cluster:
        if pool:
            from ..errors import InvalidInput

            raise InvalidInput("--pool cannot be used with --on-cluster: the cluster's build adds the pool's"
                               " extensions itself", hint="drop --pool")
        _on_cluster(terminal, project, Path(containerfile) if containerfile else None, output)
        return
    if containerfile:
        path = Path(containerfile)
    elif project.containerfile:
        path = project.root / project.containerfile
    else:
        path = project.root / "Containerfile" if project.path else Path("Containerfile")
    parsed = containerfile_mod.load(path, str(path))
    facts = None
    if pool:
        from ..adapters.cluster import Cluster
        from ..pools import pool_facts

        with Cluster(kubeconfig, kube_context) as cluster:
            facts = pool_facts(cluster, pool)
    overridden = bool(project.base or project.base_release) and not containerfile
    # the context build would send, so COPY/ADD sources are looked for where build looks (RL113)
    skip = [project.root / STATE_FILE, project.path or project.root / PROJECT_FILE]
    skip += [project.root / src for src in project.secrets.values()]
    context = collect(project.root / project.context if project.context else project.root, skip=skip)
    findings = lint(parsed, build_args=project.build_args, pool=facts, base_overridden=overridden, context=context)
    if output == "json":
        terminal.json({"containerfile": str(path), "on_cluster": parsed.is_on_cluster(),
                       "findings": [f.as_dict() for f in findings]})
    else:
        for finding in findings:
            terminal.result(finding.format(str(path)))
    failed = errors(findings)
    if failed:
        raise ContainerfileError(f"{path}: {len(failed)} error(s) found by lint",
                                 hint="fix them, or build anyway with rhcos-layer build --skip-lint")
    if output != "json":
        terminal.info(f"{path}: no errors, {len(findings)} warning(s)")


def _on_cluster(terminal: Terminal, project: Project, containerfile: Optional[Path], output: str) -> None:
    from ..errors import ContainerfileError
    from ..mosc import findings

    found = findings(project, containerfile)
    if output == "json":
        main = str(containerfile) if containerfile else project.containerfile or "Containerfile"
        terminal.json({"containerfile": main, "on_cluster": True,
                       "findings": [dict(f.as_dict(), file=path) for path, f in found]})
    else:
        for path, finding in found:
            terminal.result(finding.format(path))
    failed = [(path, f) for path, f in found if f.severity == "error"]
    files = sorted({path for path, _ in found} or {"Containerfile"})
    if failed:
        raise ContainerfileError(f"{', '.join(sorted({p for p, _ in failed}))}: {len(failed)} error(s) found by"
                                 " lint --on-cluster", hint="fix them: render --on-cluster refuses them too")
    if output != "json":
        terminal.info(f"{', '.join(files)}: no errors for an on-cluster build, {len(found)} warning(s)")

"""``rhcos-layer lint``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from .options import Settings, cluster_options, output_option, project_option


@click.command("lint")
@click.argument("containerfile", required=False, type=click.Path(dir_okay=False), metavar="[CONTAINERFILE]")
@click.option("--pool", metavar="POOL",
              help="Also compare with this machine config pool's extensions and kernelType (needs a login).")
@cluster_options
@project_option
@output_option
@click.pass_obj
def lint_command(settings: Settings, containerfile: Optional[str], pool: Optional[str], kubeconfig: Optional[str],
                 kube_context: Optional[str], project_file: Optional[str], output: str) -> None:
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
    """
    from .. import containerfile as containerfile_mod
    from .. import project as project_mod
    from ..context import collect
    from ..errors import ContainerfileError
    from ..lint import errors, lint
    from ..project import PROJECT_FILE, STATE_FILE

    terminal = settings.terminal()
    project = project_mod.find(project_file)
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

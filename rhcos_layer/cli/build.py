"""``rhcos-layer build``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import click

from .options import Settings, cluster_options, isolation_option, output_option, project_option, registry_options


def _key_values(flag: str, values: Tuple[str, ...]) -> Dict[str, str]:
    """NAME=VALUE pairs; a bare NAME takes its value from the environment, as podman does."""
    result = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not name:
            raise click.BadParameter(f"{item!r}: expected NAME=VALUE", param_hint=flag)
        if not sep:
            if name not in os.environ:
                raise click.BadParameter(f"{name!r} has no value and is not in the environment",
                                         param_hint=flag)
            value = os.environ[name]
        result[name] = value
    return result


def _secrets(values: Tuple[str, ...]) -> Dict[str, Path]:
    """``id=ID,src=PATH`` (podman's --secret syntax, file secrets only)."""
    result: Dict[str, Path] = {}
    for item in values:
        fields = dict(part.partition("=")[::2] for part in item.split(","))
        secret_id, src = fields.get("id"), fields.get("src")
        if not secret_id or not src or set(fields) - {"id", "src", "type"} or fields.get("type", "file") != "file":
            raise click.BadParameter(f"{item!r}: expected id=ID,src=FILE", param_hint="--secret")
        path = Path(src).expanduser()
        if not path.is_file():
            raise click.BadParameter(f"id={secret_id}: src {src} is not a file", param_hint="--secret")
        result[secret_id] = path
    return result


def _not_shown(detail: str, logged: List[str], verbosity: int, quiet: bool) -> str:
    """The lines of a failed build's log that the progress output has not shown yet (the STEP
    lines always are, unless -q; every line is with -v), so none is printed twice."""
    from collections import Counter

    from ..build import is_step_line

    if quiet:
        return detail
    shown = Counter(line.rstrip() for line in logged if verbosity > 0 or is_step_line(line))
    kept = []
    for line in detail.splitlines():
        if shown[line.rstrip()] > 0:
            shown[line.rstrip()] -= 1
            continue
        kept.append(line)
    return "\n".join(kept)


def _base(ctx: click.Context, param: click.Parameter, value: Optional[str]) -> Optional[str]:
    """--base is checked as it is parsed: an empty value is not "no override", and a tag or a
    malformed reference is refused (exit 3, as the same mistake in FROM) before Podman starts."""
    if value is None:
        return None
    from ..errors import InvalidInput
    from ..reference import InvalidReference, parse_pinned

    try:
        return parse_pinned(value).pinned()
    except InvalidReference as exc:
        raise InvalidInput(f"--base: {exc}", hint="give the base by digest: REPO@sha256:<64 hex>") from None


@click.command("build")
@click.argument("context", required=False, type=click.Path(file_okay=False), metavar="[CONTEXT]")
@click.option("-f", "--file", "containerfile", type=click.Path(dir_okay=False), metavar="FILE",
              help="Containerfile (default: the project file's, else CONTEXT/Containerfile).")
@click.option("--base", metavar="REPO@sha256:DIGEST", callback=_base,
              help="Build on this base image instead of the FROM image.")
@click.option("-t", "--tag", "tags", multiple=True, metavar="NAME",
              help="Name the image (repeatable); it is also named localhost/rhcos-layer/<folder>:<inputs digest>.")
@click.option("--build-arg", "build_args", multiple=True, metavar="NAME=VALUE", help="Build argument (repeatable).")
@click.option("--secret", "secrets", multiple=True, metavar="id=ID,src=FILE",
              help="Give FILE to `RUN --mount=type=secret,id=ID` steps (at /run/secrets/ID), never to a"
                   " layer: entitlement certs, redhat.repo.")
@isolation_option
@click.option("--no-cache", is_flag=True, help="Build even when an image with the same inputs exists.")
@click.option("--skip-lint", is_flag=True, help="Build even when `rhcos-layer lint` finds errors.")
@registry_options
@cluster_options
@project_option
@output_option
@click.pass_obj
def build_command(settings: Settings, context: Optional[str], containerfile: Optional[str], base: Optional[str],
                  tags: Tuple[str, ...], build_args: Tuple[str, ...], secrets: Tuple[str, ...],
                  isolation: Optional[str], no_cache: bool, skip_lint: bool, authfile: Optional[str],
                  cert_dir: Optional[str], tls_verify: bool, kubeconfig: Optional[str],
                  kube_context: Optional[str], project_file: Optional[str], output: str) -> None:
    """Build the layered image from a Containerfile whose FROM is a digest-pinned RHCOS base.

    With no arguments, reads rhcos-layer.yaml. Skips the build when an image built from the
    same inputs (Containerfile, context files, base, build args) exists; --no-cache forces it.
    Prints the image ID.
    """
    from ..adapters import engine as engine_mod

    # first: a private Podman service starts while we import, read, hash and lint
    with engine_mod.start(isolation) as engine:
        from .. import project as project_mod
        from ..build import BuildOptions, build
        from ..trust import TLSSettings

        terminal = settings.terminal()
        options = BuildOptions(
            project=project_mod.find(project_file),
            containerfile=Path(containerfile) if containerfile else None,
            context_dir=Path(context) if context else None,
            base=base,
            build_args=_key_values("--build-arg", build_args),
            secrets=_secrets(secrets),
            tags=list(tags),
            isolation=isolation,
            no_cache=no_cache,
            skip_lint=skip_lint,
            kubeconfig=kubeconfig,
            kube_context=kube_context,
            authfile=authfile,
            tls=TLSSettings(verify=tls_verify, cert_dir=Path(cert_dir) if cert_dir else None),
        )
        with terminal.reporter("Building") as reporter:
            try:
                result = build(options, reporter, engine)
            except Exception as exc:
                from ..errors import BuildFailed

                if isinstance(exc, BuildFailed):
                    exc.detail = _not_shown(exc.detail or "\n".join(reporter.lines), reporter.lines,
                                            terminal.verbosity, terminal.quiet)
                raise
    if result.skipped:
        terminal.info(f"Inputs unchanged ({result.inputs_digest[:19]}): reused {result.image_id[:12]};"
                      " use --no-cache to build anyway")
    if output == "json":
        terminal.json(result.as_dict())
    else:
        terminal.result(result.image_id)

"""``rhcos-layer init`` and ``rhcos-layer schema``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from .options import Settings, registry_options, tls_settings

TEMPLATES = ["config-files", "hotfix", "kernel", "on-cluster", "rhel-packages", "third-party"]


def _templates_epilog() -> str:
    """The templates and what each does, for --help (a pip-installed user has no docs/ folder)."""
    from ..templates import SUMMARIES

    width = max(len(name) for name in TEMPLATES)
    return "\b\nTemplates:\n" + "\n".join(f"  {name:<{width}}  {SUMMARIES[name]}" for name in TEMPLATES)


@click.command("init", epilog=_templates_epilog())
@click.argument("folder", required=False, default=".", type=click.Path(file_okay=False), metavar="[DIR]")
@click.option("--template", "template", type=click.Choice(TEMPLATES), default="config-files", show_default=True,
              help="What the layer does (the templates are listed below).")
@click.option("--base", metavar="REPO@sha256:DIGEST", help="The cluster's RHCOS image, by digest.")
@click.option("--release", metavar="PULLSPEC", help="Read the base from this release payload (and record it).")
@click.option("--arch", metavar="ARCH", help="With --release: the architecture (default amd64).")
@click.option("--stream", metavar="TAG", help="With --release: the OS stream's tag, e.g. rhel-coreos-10.")
@click.option("--image", metavar="REPOSITORY", help="Where `push` will send the image.")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@registry_options
@click.pass_obj
def init_command(settings: Settings, folder: str, template: str, base: Optional[str], release: Optional[str],
                 arch: Optional[str], stream: Optional[str], image: Optional[str], force: bool,
                 authfile: Optional[str], cert_dir: Optional[str], tls_verify: bool) -> None:
    """Write a commented rhcos-layer.yaml and a Containerfile from a template into DIR.

    With --release (or --base) the Containerfile builds as it is: `rhcos-layer build`.
    """
    from .. import reference
    from ..errors import InvalidInput
    from ..templates import init

    terminal = settings.terminal()
    if base and release:
        raise InvalidInput("give --base or --release, not both")
    if base:
        try:
            base = reference.parse_pinned(base).pinned()
        except reference.InvalidReference as exc:
            raise InvalidInput(f"--base: {exc}") from None
    if release and template != "on-cluster":
        from ..release import resolve_release

        tls = tls_settings(terminal, tls_verify, cert_dir)
        base = resolve_release(release, arch=arch, stream=stream, authfile=authfile, tls=tls).os_image
    elif (arch or stream) and not release:
        raise InvalidInput("--arch and --stream choose from a release: give --release too")
    written = init(Path(folder), template, base=base, release=release, image=image, force=force,
                   arch=arch, stream=stream)
    for path in written.files:
        terminal.result(str(path))
    if base is None and template != "on-cluster":
        terminal.warning("no --base or --release: set the base in rhcos-layer.yaml before building")


@click.command("schema")
@click.pass_obj
def schema_command(settings: Settings) -> None:
    """Print the JSON Schema of rhcos-layer.yaml (for editors: yaml-language-server)."""
    from ..project import schema

    settings.terminal().json(schema())

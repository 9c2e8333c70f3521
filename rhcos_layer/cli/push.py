"""``rhcos-layer push``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from .options import output_option, project_option, registry_options


@click.command("push")
@click.argument("image", required=False, metavar="[IMAGE]")
@click.argument("destination", required=False, metavar="[DESTINATION]")
@click.option("--push-authfile", type=click.Path(dir_okay=False), metavar="FILE",
              help="Credentials for the destination only (default: --authfile's).")
@click.option("--digestfile", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Also write the pushed digest to FILE, like podman.")
@registry_options
@project_option
@output_option
@click.pass_obj
def push_command(settings, image: Optional[str], destination: Optional[str],  # type: ignore[no-untyped-def]
                 push_authfile: Optional[str], digestfile: Optional[str], authfile: Optional[str],
                 cert_dir: Optional[str], tls_verify: bool, project_file: Optional[str], output: str) -> None:
    """Push IMAGE to DESTINATION and print its digest-pinned pullspec (REPO@sha256:...).

    IMAGE defaults to this project's last build; DESTINATION to the project file's image:
    (tagged layer-<inputs digest> when it has no tag). The digest printed is the one the
    registry serves, checked after the push.
    """
    from .. import project as project_mod
    from ..push import PushOptions, push
    from ..trust import TLSSettings

    terminal = settings.terminal()
    options = PushOptions(
        project=project_mod.find(project_file),
        image=image,
        destination=destination,
        authfile=authfile,
        push_authfile=push_authfile,
        tls=TLSSettings(verify=tls_verify, cert_dir=Path(cert_dir) if cert_dir else None),
        digestfile=Path(digestfile) if digestfile else None,
    )
    with terminal.reporter("Pushing") as reporter:
        result = push(options, reporter)
    if output == "json":
        terminal.json(result.as_dict())
    else:
        terminal.result(result.pullspec)

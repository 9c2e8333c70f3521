"""``rhcos-layer push``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from .options import Settings, output_option, project_option, push_authfile_option, registry_options


def _retry_delay(text: str) -> float:
    """rollout.parse_duration's forms (``500ms``, ``2s``, ``1m``, seconds), from 0 to 1 hour; a bad one
    is a usage error (2), as podman's --retry-delay."""
    from ..errors import InvalidInput
    from ..rollout import parse_duration

    try:
        value = parse_duration(text, "--retry-delay") or 0.0
    except InvalidInput:
        raise click.BadParameter(f"{text!r}: give a duration like 500ms or 2s", param_hint="--retry-delay") from None
    if value > 3600:
        raise click.BadParameter(f"{text!r}: give a duration from 0 to 1h, like 500ms or 2s",
                                 param_hint="--retry-delay")
    return value


def _image_flag(text: str) -> str:
    """--image names where to push, like the project file's image: (a digest is the push's result)."""
    from .. import reference
    from ..errors import InvalidInput

    try:
        ref = reference.parse(text)
    except reference.InvalidReference as exc:
        raise InvalidInput(f"--image: {exc}", hint="give REGISTRY/REPOSITORY[:TAG], where the image goes") from None
    if ref.digest:
        raise InvalidInput(f"--image: {text!r} has a digest: give the repository (and tag) to push to;"
                           " the digest is the result", hint="render and apply take the pushed REPO@sha256:...")
    return text


@click.command("push")
@click.argument("image", required=False, metavar="[IMAGE]")
@click.argument("destination", required=False, metavar="[DESTINATION]")
@click.option("--image", "image_flag", metavar="REPOSITORY[:TAG]",
              help="Where to push, as the project file's image: says (the same as DESTINATION).")
@push_authfile_option
@click.option("--digestfile", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Also write the pushed digest to FILE, like podman.")
@click.option("--retry", default=3, show_default=True, type=click.IntRange(0, 20), metavar="N",
              help="Retries after a transient failure (connection reset, 5xx), like podman's.")
@click.option("--retry-delay", default="1s", show_default=True, metavar="DURATION",
              help="First delay between retries (doubles each time): 500ms, 2s...")
@registry_options
@project_option
@output_option
@click.pass_obj
def push_command(settings: Settings, image: Optional[str], destination: Optional[str], image_flag: Optional[str],
                 push_authfile: Optional[str], digestfile: Optional[str], retry: int, retry_delay: str,
                 authfile: Optional[str],
                 cert_dir: Optional[str], tls_verify: bool, project_file: Optional[str], output: str) -> None:
    """Push IMAGE to DESTINATION and print its digest-pinned pullspec (REPO@sha256:...).

    IMAGE defaults to this project's last build; DESTINATION (or --image, as in init) to the
    project file's image: (tagged layer-<inputs digest> when it has no tag). The digest printed
    is the one the registry serves, checked after the push; render and apply take it as --image.
    """
    from .. import project as project_mod
    from ..push import PushOptions, push
    from ..trust import TLSSettings

    if image_flag is not None:
        if destination is not None and destination != image_flag:
            raise click.UsageError("give the destination once: as DESTINATION or as --image, not both")
        destination = _image_flag(image_flag)
    terminal = settings.terminal()
    options = PushOptions(
        project=project_mod.find(project_file),
        image=image,
        destination=destination,
        authfile=authfile,
        push_authfile=push_authfile,
        tls=TLSSettings(verify=tls_verify, cert_dir=Path(cert_dir) if cert_dir else None),
        digestfile=Path(digestfile) if digestfile else None,
        attempts=retry + 1,
        backoff=_retry_delay(retry_delay),
    )
    with terminal.reporter("Pushing") as reporter:
        result = push(options, reporter)
    if output == "json":
        terminal.json(result.as_dict())
    else:
        terminal.result(result.pullspec)

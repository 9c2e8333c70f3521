"""``rhcos-layer resolve``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import click

from .options import Settings, output_option, registry_options


@click.command("resolve")
@click.option("--release", metavar="PULLSPEC",
              help="Release image, by tag or digest (e.g. quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64).")
@click.option("--arch", default="amd64", show_default=True, metavar="ARCH",
              help="Architecture to pick from a multi-arch release (amd64, arm64, ppc64le, s390x).")
@click.option("--stream", metavar="TAG",
              help="OS stream by its exact tag, e.g. rhel-coreos-10 (default: the release's rhel-coreos tag).")
@click.option("--via", type=click.Choice(["registry", "oc"]), default="registry", show_default=True,
              help="Read the payload natively over the registry API, or run `oc adm release info --image-for`.")
@registry_options
@output_option
@click.pass_obj
def resolve_command(settings: Settings, release: Optional[str], arch: str, stream: Optional[str], via: str,
                    authfile: Optional[str], cert_dir: Optional[str], tls_verify: bool, output: str) -> None:
    """Print the release's RHCOS base image, digest-pinned: what FROM must name.

    Reads only the payload layer that holds release-manifests/, checks every blob's digest,
    and caches the answer by release digest. 4.11 and older releases are refused: image
    layering needs 4.12+.
    """
    from ..errors import InvalidInput
    from ..release import resolve_release, resolve_via_oc
    from ..trust import TLSSettings

    terminal = settings.terminal()
    if via == "oc":
        info = resolve_via_oc(release, stream=stream, authfile=authfile)
    elif release:
        tls = TLSSettings(verify=tls_verify, cert_dir=Path(cert_dir) if cert_dir else None)
        info = resolve_release(release, arch=arch, stream=stream, authfile=authfile, tls=tls)
    else:
        raise InvalidInput("give the release: --release PULLSPEC (or --via oc to ask the logged-in cluster)",
                           hint="`oc get clusterversion version -o jsonpath='{.status.desired.image}'` prints it")
    if output == "json":
        terminal.json(info.as_dict())
    else:
        terminal.result(info.os_image)

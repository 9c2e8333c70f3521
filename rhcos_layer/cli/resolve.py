"""``rhcos-layer resolve``."""

from __future__ import annotations

from typing import Optional

import click

from .options import Settings, cluster_options, output_option, registry_options, tls_settings


@click.command("resolve")
@click.option("--release", metavar="PULLSPEC",
              help="Release image, by tag or digest (e.g. quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64).")
@click.option("--arch", metavar="ARCH",
              help="Architecture: picked from a multi-arch release (default amd64), checked on a single-arch one"
                   " (amd64, arm64, ppc64le, s390x).")
@click.option("--stream", metavar="TAG",
              help="OS stream by its exact tag, e.g. rhel-coreos-10 (default: the release's rhel-coreos tag).")
@click.option("--via", type=click.Choice(["registry", "oc"]), default="registry", show_default=True,
              help="Read the payload natively over the registry API, or run `oc adm release info --image-for`.")
@registry_options
@cluster_options
@output_option
@click.pass_obj
def resolve_command(settings: Settings, release: Optional[str], arch: Optional[str], stream: Optional[str], via: str,
                    authfile: Optional[str], cert_dir: Optional[str], tls_verify: bool, kubeconfig: Optional[str],
                    kube_context: Optional[str], output: str) -> None:
    """Print the RHCOS base image, digest-pinned: what FROM must name.

    With --release, read it from that release payload (only the layer holding
    release-manifests/ is fetched, every blob's digest checked, the answer cached by release
    digest). Without, ask the logged-in cluster what its Machine Config Operator renders with.
    4.11 and older releases are refused: image layering needs 4.12+.
    """
    from ..adapters.cluster import usable_kubeconfig
    from ..errors import InvalidInput
    from ..release import check_arch, resolve_from_cluster, resolve_release, resolve_via_oc

    if arch is not None:  # whatever the source, a value that names no architecture is refused first
        check_arch(arch)
    terminal = settings.terminal()
    if via == "oc":
        if cert_dir is not None:
            # oc reads no CA folder (its --certificate-authority is a single bundle, and only in
            # newer releases): refused rather than silently dropped
            raise click.UsageError("--cert-dir cannot be used with --via oc: oc does not read a certificate"
                                   " folder; add the registry's CA to the system's trust, or drop --via oc")
        if not tls_verify:
            tls_settings(terminal, tls_verify, cert_dir)  # the same warning as every registry command
        info = resolve_via_oc(release, stream=stream, authfile=authfile, kubeconfig=kubeconfig,
                              context=kube_context, tls_verify=tls_verify)
    elif release:
        tls = tls_settings(terminal, tls_verify, cert_dir)
        info = resolve_release(release, arch=arch, stream=stream, authfile=authfile, tls=tls)
    elif usable_kubeconfig(kubeconfig):
        info = resolve_from_cluster(kubeconfig, kube_context, stream)
        if info.target_version:
            terminal.warning(f"the cluster is upgrading from {info.version} to {info.target_version}: nodes run"
                             f" {info.os_image} now; for the target, run"
                             f" `rhcos-layer resolve --release {info.target_release}`")
    else:
        raise InvalidInput("give the release (--release PULLSPEC), or log in to the cluster (oc login)"
                           " so resolve can ask it",
                           hint="`oc get clusterversion version -o jsonpath='{.status.desired.image}'` prints it")
    if output == "json":
        terminal.json(info.as_dict())
    else:
        terminal.result(info.os_image)

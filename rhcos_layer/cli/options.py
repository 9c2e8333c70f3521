"""Options shared by several commands, spelled like podman's and oc's."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, Optional

import click

if TYPE_CHECKING:
    from ..terminal import Terminal
    from ..trust import TLSSettings

F = Callable[..., Any]


class Settings:
    """Global options, handed to every command through click's context object."""

    def __init__(self, verbose: int, quiet: bool, no_color: bool, debug: bool) -> None:
        self.verbose = verbose
        self.quiet = quiet
        self.no_color = no_color or bool(os.environ.get("NO_COLOR"))
        self.debug = debug

    def terminal(self) -> Terminal:
        from ..terminal import Terminal

        return Terminal(verbosity=self.verbose, quiet=self.quiet, color=not self.no_color)


def registry_options(func: F) -> F:
    """--authfile, --cert-dir, --tls-verify/--no-tls-verify."""
    func = click.option(
        "--tls-verify/--no-tls-verify", default=True, show_default=True,
        help="Require HTTPS and a trusted certificate (podman's --tls-verify=false works too).",
    )(func)
    func = click.option(
        "--cert-dir", type=click.Path(file_okay=False, exists=True), metavar="DIR",
        help="CA certificates (*.crt) and client certificates for the registry, like podman's; default"
             " ~/.config/containers/certs.d/HOST:PORT/, then /etc/containers/certs.d/HOST:PORT/.",
    )(func)
    func = click.option(
        "--authfile", type=click.Path(dir_okay=False), metavar="FILE",
        help="Registry credentials, e.g. the cluster's pull secret (default: REGISTRY_AUTH_FILE,"
             " then podman's auth.json).",
    )(func)
    return func


def tls_settings(terminal: Terminal, tls_verify: bool, cert_dir: Optional[str]) -> TLSSettings:
    """The registry trust of --tls-verify / --cert-dir, for a command about to reach a registry; with
    --tls-verify=false it warns first, as build and push do (their core code names the registry)."""
    from pathlib import Path

    from ..progress import tls_warning
    from ..trust import TLSSettings

    if not tls_verify:
        terminal.warning(tls_warning())
    return TLSSettings(verify=tls_verify, cert_dir=Path(cert_dir) if cert_dir else None)


def cluster_options(func: F) -> F:
    """--kubeconfig and --context, as oc and kubectl spell them."""
    func = click.option("--context", "kube_context", metavar="NAME", help="The kubeconfig context to use.")(func)
    func = click.option("--kubeconfig", metavar="FILE",
                        help="Cluster login, as `oc login` leaves it (default: KUBECONFIG, then ~/.kube/config).")(func)
    return func


def output_option(func: F) -> F:
    return click.option(
        "-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True,
        help="Output format for the result.",
    )(func)


def project_option(func: F) -> F:
    return click.option(
        "--project", "project_file", metavar="FILE",
        help="Project file (default: ./rhcos-layer.yaml when it exists).",
    )(func)


def push_authfile_option(func: F) -> F:
    return click.option("--push-authfile", type=click.Path(dir_okay=False), metavar="FILE",
                        help="Credentials for pushing only (default: --authfile's).")(func)


def isolation_option(func: F) -> F:
    return click.option("--isolation", envvar="BUILDAH_ISOLATION", metavar="TYPE",
                        type=click.Choice(["oci", "chroot", "rootless"]),
                        help="Process isolation for RUN steps (default: BUILDAH_ISOLATION, else podman's default).",
                        )(func)


def rebuild_options(func: F) -> F:
    """--push-authfile, --arch, --isolation: what upgrade plan and upgrade apply hand their rebuilds."""
    func = isolation_option(func)
    func = click.option("--arch", metavar="ARCH",
                        help="The architecture to pick from a multi-arch release (default amd64).")(func)
    return push_authfile_option(func)


def ignore_preflight_option(help: str) -> Callable[[F], F]:
    """--ignore-preflight-errors, with what it means for the command at hand."""
    return click.option("--ignore-preflight-errors", "ignored", multiple=True, metavar="CHECK[,CHECK]", help=help)

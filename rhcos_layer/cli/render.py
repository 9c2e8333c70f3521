"""``rhcos-layer render``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import click

from .options import Settings, cluster_options, project_option

if TYPE_CHECKING:
    from ..project import Project
    from ..terminal import Terminal


@click.command("render")
@click.option("--pool", "pools", multiple=True, required=True, metavar="POOL",
              help="Machine config pool to point at the image (repeatable).")
@click.option("--image", metavar="REPO@sha256:DIGEST", help="The layered image (default: this project's last push).")
@click.option("--on-cluster", is_flag=True,
              help="Print the MachineOSConfig that has the cluster build this project instead (on-cluster layering).")
@click.option("--api-version", type=click.Choice(["v1", "v1alpha1"]),
              help="MachineOSConfig version: v1 (4.18+, GA in 4.19) or v1alpha1 (4.16/4.17 Tech Preview);"
                   " default: what the logged-in cluster serves, else v1.")
@click.option("--push-secret", metavar="NAME",
              help="With --on-cluster: the Secret (in openshift-machine-config-operator) the build pushes with"
                   " (default: on-cluster.push-secret in rhcos-layer.yaml).")
@click.option("--pull-secret", metavar="NAME",
              help="With --on-cluster: the Secret the build pulls the base with (default: on-cluster.pull-secret;"
                   " v1: else the cluster's pull secret).")
@click.option("--push-spec", metavar="REPO:TAG",
              help="With --on-cluster: where the cluster pushes the image (default: the project's image:, tagged"
                   " with the pool's name when it has no tag).")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="YAML documents, or a JSON v1 List.")
@cluster_options
@project_option
@click.pass_obj
def render_command(settings: Settings, pools: Tuple[str, ...], image: Optional[str], on_cluster: bool,
                   api_version: Optional[str], push_secret: Optional[str], pull_secret: Optional[str],
                   push_spec: Optional[str], output: str, kubeconfig: Optional[str], kube_context: Optional[str],
                   project_file: Optional[str]) -> None:
    """Print the MachineConfig(s) that point POOLs at the layered image; offline, nothing applied.

    One per pool, named to sort after the pool's other MachineConfigs (the last osImageURL
    wins), labelled with the pool's role and as managed by rhcos-layer.

    With --on-cluster, the MachineOSConfig(s) instead: the cluster builds the project's
    Containerfile itself (after the checks of `lint --on-cluster`; errors exit 3) and pushes it
    with --push-secret. It reads the cluster only to pick --api-version when not given.
    """
    from .. import project as project_mod
    from ..errors import InvalidInput

    terminal = settings.terminal()
    project = project_mod.find(project_file)
    if on_cluster:
        if image is not None:
            raise InvalidInput("--image cannot be used with --on-cluster: the cluster builds the image itself",
                               hint="drop --image; the cluster pushes to --push-spec, or the project's image:")
        objects = _on_cluster(terminal, project, pools, api_version, push_secret, pull_secret, push_spec, kubeconfig,
                              kube_context)
    else:
        for flag, value in (("--api-version", api_version), ("--push-secret", push_secret),
                            ("--pull-secret", pull_secret), ("--push-spec", push_spec)):
            if value is not None:
                raise InvalidInput(f"{flag} is for --on-cluster", hint="add --on-cluster, or drop it")
        objects = _machineconfigs(project, pools, image)
    if output == "json":
        terminal.json({"apiVersion": "v1", "kind": "List", "items": objects})
    else:
        terminal.result(_yaml(objects))


def _machineconfigs(project: Project, pools: Tuple[str, ...], image: Optional[str]) -> List[Dict[str, Any]]:
    from ..errors import InvalidInput
    from ..machineconfig import project_name, render

    state = project.read_state()
    pushed, built = state.get("push", {}), state.get("build", {})
    if image is None:
        image = pushed.get("pullspec")
        if not image:
            raise InvalidInput("no --image given and no push recorded for this project",
                               hint="run `rhcos-layer push` first, or give --image REPO@sha256:...")
    same = bool(pushed.get("image_id")) and pushed.get("image_id") == built.get("image_id") \
        and pushed.get("pullspec") == image
    source = project_name(project.root)
    return [render(pool, image, base=built.get("base") if same else None,
                   inputs_digest=built.get("inputs_digest") if same else None, project=source)
            for pool in dict.fromkeys(pools)]


def _on_cluster(terminal: Terminal, project: Project, pools: Tuple[str, ...], api_version: Optional[str],
                push_secret: Optional[str], pull_secret: Optional[str], push_spec: Optional[str],
                kubeconfig: Optional[str], kube_context: Optional[str]) -> List[Dict[str, Any]]:
    from .. import mosc

    if not (push_secret or project.on_cluster.get("push-secret")):
        # before asking the cluster anything: the same error render gives
        mosc.render(project, pools[0], api_version=api_version or "v1", push_secret=None)
    if api_version is None:
        api_version = _served(terminal, kubeconfig, kube_context)
    for path, finding in mosc.findings(project):
        if finding.severity != "error":
            terminal.info(finding.format(path))
    return [mosc.render(project, pool, api_version=api_version, push_secret=push_secret, pull_secret=pull_secret,
                        push_spec=push_spec) for pool in dict.fromkeys(pools)]


def _served(terminal: Terminal, kubeconfig: Optional[str], kube_context: Optional[str]) -> str:
    """The version the logged-in cluster serves; v1 with a note when there is no login to ask."""
    from ..adapters.cluster import usable_kubeconfig
    from ..errors import ClusterObjectNotFound

    if not (kubeconfig or kube_context) and not usable_kubeconfig(None):
        terminal.info("note: no cluster login to ask which MachineOSConfig version it serves: rendering v1"
                      " (OpenShift 4.18 and later; --api-version v1alpha1 for 4.16/4.17 Tech Preview)")
        return "v1"
    from .. import mosc
    from ..adapters.cluster import Cluster

    with Cluster(kubeconfig, kube_context) as cluster:
        served = mosc.served_api_version(cluster)
        server = cluster.server
    if served is None:
        raise ClusterObjectNotFound(
            f"{server} serves no MachineOSConfig: on-cluster layering needs OpenShift 4.19 (4.18, 4.16 and 4.17 with"
            " the TechPreviewNoUpgrade feature set)",
            hint="give --api-version to render for another cluster, or build here: rhcos-layer build, push, apply")
    terminal.info(f"note: {server} serves MachineOSConfig {served}")
    return served


def _yaml(objects: List[Dict[str, Any]]) -> str:
    """YAML documents; a multi-line string (a containerFile's content) as a literal block, readable
    as the Containerfile it is."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump_all(objects, Dumper=Dumper, sort_keys=False, default_flow_style=False).rstrip("\n")

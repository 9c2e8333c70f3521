"""``rhcos-layer render``."""

from __future__ import annotations

from typing import Optional, Tuple

import click

from .options import Settings, project_option


@click.command("render")
@click.option("--pool", "pools", multiple=True, required=True, metavar="POOL",
              help="Machine config pool to point at the image (repeatable).")
@click.option("--image", metavar="REPO@sha256:DIGEST", help="The layered image (default: this project's last push).")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="YAML documents, or a JSON v1 List.")
@project_option
@click.pass_obj
def render_command(settings: Settings, pools: Tuple[str, ...], image: Optional[str], output: str,
                   project_file: Optional[str]) -> None:
    """Print the MachineConfig(s) that point POOLs at the layered image; offline, nothing applied.

    One per pool, named to sort after the pool's other MachineConfigs (the last osImageURL
    wins), labelled with the pool's role and as managed by rhcos-layer.
    """
    from .. import project as project_mod
    from ..errors import InvalidInput
    from ..machineconfig import project_name, render

    terminal = settings.terminal()
    project = project_mod.find(project_file)
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
    configs = [render(pool, image, base=built.get("base") if same else None,
                      inputs_digest=built.get("inputs_digest") if same else None, project=source)
               for pool in dict.fromkeys(pools)]
    if output == "json":
        terminal.json({"apiVersion": "v1", "kind": "List", "items": configs})
    else:
        import yaml

        terminal.result(yaml.safe_dump_all(configs, sort_keys=False, default_flow_style=False).rstrip("\n"))

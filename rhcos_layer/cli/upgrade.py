"""``rhcos-layer upgrade``: cluster upgrades with layered pools (issue 10)."""

from __future__ import annotations

import click

from .upgrade_apply import upgrade_apply_command


@click.group("upgrade")
def upgrade_group() -> None:
    """Upgrade the cluster with layered pools: plan the rebuilds, then one reboot per node."""


upgrade_group.add_command(upgrade_apply_command)

"""``rhcos-layer completion SHELL``: print the shell completion script."""

from __future__ import annotations

import click


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion_command(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
    bash:  source <(rhcos-layer completion bash)
    zsh:   source <(rhcos-layer completion zsh)
    fish:  rhcos-layer completion fish | source
    """
    from click.shell_completion import get_completion_class

    from . import cli

    completion_class = get_completion_class(shell)
    assert completion_class is not None
    script = completion_class(cli, {}, "rhcos-layer", "_RHCOS_LAYER_COMPLETE").source()
    click.echo(script)

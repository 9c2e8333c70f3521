"""The ``rhcos-layer`` command line: parsing and printing only; the work is in the core modules.

Only click is imported at start-up; each command imports what it needs when it runs, so
``rhcos-layer --help`` stays fast (a test checks the heavy modules stay unloaded).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, List, NoReturn, Optional

import click

from .. import __version__
from .options import Settings

if TYPE_CHECKING:
    from ..errors import NoSpaceLeft
    from ..terminal import Terminal

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# command -> (module, function, one-line help). `--help` lists these without importing a
# command's module; the module is imported when its command runs (a test keeps them in step).
COMMANDS = {
    "resolve": ("resolve", "resolve_command", "Print the RHCOS base image, digest-pinned: what FROM must name."),
    "init": ("init", "init_command", "Write a commented rhcos-layer.yaml and a Containerfile from a template."),
    "lint": ("lint", "lint_command", "Check a Containerfile for what breaks RHCOS nodes."),
    "build": ("build", "build_command", "Build the layered image (skipped when its inputs are unchanged)."),
    "push": ("push", "push_command", "Push the image and print its digest-pinned pullspec."),
    "render": ("render", "render_command", "Print the MachineConfig(s) that point pools at the image."),
    "apply": ("apply", "apply_command", "Check, then point pools at the image and follow the rollout."),
    "status": ("status", "status_command", "Show what each pool runs, drift after an upgrade, and its nodes."),
    "upgrade": ("upgrade", "upgrade_group", "Plan a cluster upgrade (rebuild layered pools), then apply it."),
    "rollback": ("apply", "rollback_command", "Put pools back on the base image (or the previous one)."),
    "schema": ("init", "schema_command", "Print the JSON Schema of rhcos-layer.yaml."),
    "completion": ("completion", "completion_command", "Print the shell completion script."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> List[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute, _ = COMMANDS[cmd_name]
        import importlib

        module = importlib.import_module(f"{__name__}.{module_name}")
        command: click.Command = getattr(module, attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, _, short) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="rhcos-layer")
@click.option("-v", "--verbose", count=True, help="Show the engine's full output (build log, push progress).")
@click.option("-q", "--quiet", is_flag=True, help="Print only results, warnings and errors.")
@click.option("--no-color", is_flag=True, help="No colour (also: NO_COLOR=1).")
@click.option("--debug", is_flag=True, help="Show a traceback on errors.")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool, no_color: bool, debug: bool) -> None:
    """Build, push and roll out layered RHCOS images for OpenShift nodes.

    \b
    Typical loop:
      rhcos-layer resolve --release PULLSPEC   # the release's RHCOS image, by digest
      rhcos-layer init --release PULLSPEC DIR  # a project from a template
      rhcos-layer build                        # lint, then build (skipped if unchanged)
      rhcos-layer push                         # -> REGISTRY/REPO@sha256:...
      rhcos-layer render --pool worker         # the MachineConfig for the pool

    \b
    Exit codes:
      0 done                       10 no usable cluster login (kubeconfig, token, permission)
      1 other error                11 the cluster's API server did not answer
      2 wrong flag or argument     12 apply refused by a preflight check; nothing written
      3 a file or value is wrong   13 a node went Degraded, or is stuck, during the rollout
      4 credentials refused        14 the rollout timed out or made no progress
      5 untrusted certificate      15 a command to run is not installed (oc for --via oc)
      6 registry unavailable       16 no space left on a disk (TMPDIR)
      7 image not found            17 an object is not on the cluster (HTTP 404)
      8 the build failed           18 changed on the cluster meanwhile (HTTP 409)
      9 no Podman service          19 partly applied: what is left and how to undo it
                                   20 upgrade plan: a layered pool is not ready
                                   21 the cluster upgrade failed or stalled; pools stay paused
                                   22 the cluster's build of the image failed (--on-cluster)
                                  130 interrupted (Ctrl-C)
    """
    ctx.obj = Settings(verbose, quiet, no_color, debug)



def _podman_style(args: List[str]) -> List[str]:
    """Accept podman's ``--tls-verify=false`` spelling as well as click's ``--no-tls-verify``."""
    out = []
    for arg in args:
        if arg.lower() in ("--tls-verify=false", "--tls-verify=0"):
            out.append("--no-tls-verify")
        elif arg.lower() in ("--tls-verify=true", "--tls-verify=1"):
            out.append("--tls-verify")
        else:
            out.append(arg)
    return out


def main(args: Optional[List[str]] = None) -> None:
    """Entry point: run the command, turn project errors into one line and an exit code."""
    argv = _podman_style(list(sys.argv[1:] if args is None else args))
    _stop_cleanly_on_signals()
    debug = "--debug" in argv
    from ..errors import Interrupted, RhcosLayerError

    try:
        cli.main(args=argv, prog_name="rhcos-layer", standalone_mode=False)
    except RhcosLayerError as exc:
        if debug:
            _print_traceback()
        _terminal(argv).error(exc.message, exc.hint, exc.detail)
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        # click turns a KeyboardInterrupt into Abort; the signal that caused it sets the code
        cause = exc if isinstance(exc, _Signalled) else exc.__context__
        if isinstance(cause, EOFError):  # click turns an EOFError into Abort too: a bug, not Ctrl-C
            _internal_error(cause, debug)
        sys.stderr.write("Interrupted.\n")
        sys.exit(128 + cause.signum if isinstance(cause, _Signalled) else Interrupted.exit_code)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:
        full = _disk_full(exc)
        if full is None:
            _internal_error(exc, debug)
        if debug:
            _print_traceback()
        _terminal(argv).error(full.message, full.hint)
        sys.exit(full.exit_code)
    except Exception as exc:  # a bug of ours: one line, the traceback only with --debug
        _internal_error(exc, debug)
    sys.exit(0)


def _internal_error(exc: BaseException, debug: bool) -> NoReturn:
    if debug:
        _print_traceback()
    advice = "" if debug else " (run with --debug for details)"
    sys.stderr.write(f"Error: internal error: {type(exc).__name__}: {exc}{advice}\n")
    sys.exit(1)


def _disk_full(exc: OSError) -> Optional[NoSpaceLeft]:
    """A full disk or quota (ENOSPC, EDQUOT) as one line naming the folder: the file written when
    the error says so, else TMPDIR's folder, where the spooled context and layers go."""
    import errno

    if exc.errno not in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return None
    import tempfile

    from ..errors import NoSpaceLeft

    # tempfile.gettempdir() would probe the full disk again (and may raise): use what it found, or TMPDIR
    temp = tempfile.tempdir or os.environ.get("TMPDIR") or "/tmp"
    folder = os.path.dirname(os.fsdecode(exc.filename)) if exc.filename else temp
    what = "no space left" if exc.errno == errno.ENOSPC else "disk quota exceeded"
    return NoSpaceLeft(f"{what} in {folder} while writing a temporary or state file",
                       hint="free some space there, or set TMPDIR to a folder on a disk with room")


def _print_traceback() -> None:
    import traceback  # only with --debug: its imports cost every command a few ms

    traceback.print_exc()


class _Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C, exits 128 + the signal's number like a shell."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop_cleanly_on_signals() -> None:
    """SIGTERM and SIGHUP end the command like Ctrl-C does, so cleanup still runs: a private
    Podman service is stopped and temporary files are removed."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise _Signalled(signum)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), interrupt)


def _terminal(argv: List[str]) -> Terminal:
    from ..terminal import Terminal

    no_color = "--no-color" in argv or bool(os.environ.get("NO_COLOR"))
    return Terminal(color=not no_color)

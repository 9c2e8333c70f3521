"""The one place that writes to the terminal: results to stdout, everything else to stderr.

On a terminal, progress is drawn with rich; when stderr is not a terminal (CI logs, pipes) it
is written as plain lines. ``NO_COLOR`` / ``--no-color`` turn colour off. rich is imported
only when a live display is drawn, so plain runs and ``--help`` stay fast.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, List, Optional, TextIO, Tuple

from .progress import Reporter


class Terminal:
    def __init__(self, verbosity: int = 0, quiet: bool = False, color: Optional[bool] = None,
                 stdout: Optional[TextIO] = None, stderr: Optional[TextIO] = None) -> None:
        self.verbosity = verbosity
        self.quiet = quiet
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        if color is None:
            color = not os.environ.get("NO_COLOR")
        self.color = color
        #: a person is watching stderr (commands that wait by default do so then, even with -q)
        self.interactive = _isatty(self.stderr)
        self.live = self.interactive and not quiet and os.environ.get("TERM") != "dumb"

    # -- results: stdout ---------------------------------------------------------------------

    def result(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def json(self, data: Any) -> None:
        self.result(json.dumps(data, indent=2, sort_keys=True))

    # -- messages: stderr --------------------------------------------------------------------

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color and _isatty(self.stderr) else text

    def info(self, text: str) -> None:
        if not self.quiet:
            self.stderr.write(text + "\n")
            self.stderr.flush()

    def detail(self, text: str) -> None:
        if self.verbosity > 0 and not self.quiet:
            self.stderr.write(text + "\n")

    def warning(self, text: str) -> None:
        self.stderr.write(self._paint("Warning:", "33") + f" {text}\n")

    def error(self, message: str, hint: str = "", detail: str = "") -> None:
        if detail:
            self.stderr.write(detail.rstrip("\n") + "\n")
        line = self._paint("Error:", "1;31") + f" {message}"
        if hint:
            line += f" ({hint})" if len(message) + len(hint) < 100 else f"\n  hint: {hint}"
        self.stderr.write(line + "\n")
        self.stderr.flush()

    def reporter(self, title: str) -> ProgressReporter:
        return ProgressReporter(self, title)


class ProgressReporter(Reporter):
    """Shows build and push progress: a rich progress bar on a terminal, plain lines otherwise."""

    def __init__(self, terminal: Terminal, title: str) -> None:
        self.terminal = terminal
        self.title = title
        self._progress: Any = None
        self._task: Any = None
        self.lines: List[str] = []

    def __enter__(self) -> ProgressReporter:
        if self.terminal.live:
            self._progress = _start_progress(self.terminal)
            self._task = self._progress.add_task(self.title, total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        _stop_progress(self._progress)
        self._progress = None

    def _print(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            self.terminal.info(text)

    def phase(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)
        if not self.terminal.quiet:
            self._print(text)

    def step(self, index: int, total: int, text: str, stage: Optional[Tuple[int, int]] = None) -> None:
        prefix = f"[{stage[0]}/{stage[1]}] " if stage else ""
        line = f"{prefix}STEP {index}/{total}: {text}"
        if self._progress is not None:
            self._progress.update(self._task, total=total, completed=index - 1, description=line[:70])
            self._print(line)
        else:
            self.terminal.info(line)

    def warning(self, text: str) -> None:
        if self._progress is not None:
            self._progress.console.print(f"Warning: {text}", markup=False, highlight=False)
        else:
            self.terminal.warning(text)

    def log(self, line: str) -> None:
        self.lines.append(line)
        if self.terminal.verbosity > 0 and not self.terminal.quiet and "STEP " not in line[:12]:
            self._print("  " + line.rstrip())


def _start_progress(terminal: Terminal, unit: str = "") -> Any:
    """A started rich progress display on the terminal's stderr: spinner, text, bar, n/m (unit)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

    console = Console(file=terminal.stderr, no_color=not terminal.color)
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    if unit:
        columns.append(TextColumn(unit))
    progress = Progress(*columns, console=console, transient=True)
    progress.start()
    return progress


def _stop_progress(progress: Any) -> None:
    if progress is not None:
        progress.stop()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class RolloutDisplay:
    """A pool rollout as it happens: a rich bar of updated/machine count per pool on a terminal, a
    line per node as it moves (cordon and drain, reboot, done), plain lines when not a terminal."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal
        self._progress: Any = None
        self._tasks: dict[str, Any] = {}
        self._announced: dict[str, str] = {}
        self._counts: dict[str, Tuple[int, ...]] = {}

    def __enter__(self) -> RolloutDisplay:
        if self.terminal.live:
            self._progress = _start_progress(self.terminal, "nodes updated")
        return self

    def __exit__(self, *exc: object) -> None:
        _stop_progress(self._progress)
        self._progress = None

    def say(self, text: str) -> None:
        if self.terminal.quiet:
            return
        if self._progress is not None:
            self._progress.console.print(text, markup=False, highlight=False)
        else:
            self.terminal.info(text)

    def notice(self, text: str) -> None:
        """Something about the watch itself (an API outage and its end), as a warning."""
        if self._progress is not None:
            self._progress.console.print(f"Warning: {text}", markup=False, highlight=False)
        else:
            self.terminal.warning(text)

    def refresh(self, view: Any, ready: bool, changed: List[Any]) -> None:
        """Called by rollout.Watcher after each refresh. A pool whose nodes are followed one by one shows
        each move; a larger one shows counts, and the nodes that need attention (degraded)."""
        pool = view.name
        if not ready:
            if self._announced.get(pool) is None:
                self._announced[pool] = ""
                self.say(f"{pool}: waiting for the Machine Config Operator to render the new config"
                         + (" (the pool is paused)" if view.paused else ""))
            self._bar(pool, f"{pool}: rendering", view)
            return
        if self._announced.get(pool) != view.target:
            self._announced[pool] = view.target
            self.say(f"{pool}: rolling out {view.target} to {view.machines} node(s)"
                     + ("; the pool is paused, nothing moves until it is unpaused" if view.paused else "")
                     + ("" if view.detailed else "; showing counts and the nodes that need attention"))
        for node in changed:
            self.say(f"  {node.name}: {node.phase}" + (f": {node.reason}" if node.reason else ""))
        self._bar(pool, f"{pool}: {view.target}", view)
        counts = (view.updated, view.machines) if view.detailed else (
            view.updated, view.machines, view.unavailable, view.degraded)
        if self._progress is None and self._counts.get(pool) != counts:
            self._counts[pool] = counts
            self.say(f"{pool}: {view.updated}/{view.machines} nodes updated"
                     + ("" if view.detailed else f", {view.unavailable} unavailable, {view.degraded} degraded"))

    def _bar(self, pool: str, text: str, view: Any) -> None:
        if self._progress is None:
            return
        if pool not in self._tasks:
            self._tasks[pool] = self._progress.add_task(text, total=view.machines or None)
        self._progress.update(self._tasks[pool], description=text, total=view.machines or None,
                              completed=view.updated)

"""How core code reports progress without knowing who is watching."""

from __future__ import annotations


class Reporter:
    """Receives progress; the CLI shows it, tests record it. Every method may be ignored."""

    def phase(self, text: str) -> None:
        """A stage of the command begins (connect, pull, build, push...)."""

    def step(self, index: int, total: int, text: str) -> None:
        """The build reached ``STEP index/total``."""

    def log(self, line: str) -> None:
        """A line of engine output."""

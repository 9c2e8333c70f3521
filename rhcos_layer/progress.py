"""How core code reports progress without knowing who is watching."""

from __future__ import annotations

from typing import Optional, Tuple


class Reporter:
    """Receives progress; the CLI shows it, tests record it. Every method may be ignored."""

    def phase(self, text: str) -> None:
        """A stage of the command begins (connect, pull, build, push...)."""

    def step(self, index: int, total: int, text: str, stage: Optional[Tuple[int, int]] = None) -> None:
        """The build reached ``STEP index/total`` (of ``stage`` = (n, of m) in a multi-stage build)."""

    def log(self, line: str) -> None:
        """A line of engine output."""

    def warning(self, text: str) -> None:
        """Something the user should know that does not stop the command."""


def tls_warning(registry: Optional[str] = None) -> str:
    """The one warning every command that reaches a registry gives with --tls-verify=false."""
    where = f"for {registry} and any other registry" if registry else "for every registry"
    return f"TLS verification is off (--tls-verify=false) {where} this command reaches: use that only for a" \
           " test registry"


def safety_warnings(engine_url: str, tls_verify: bool, registry: str) -> list[str]:
    """What to warn about before credentials or images travel."""
    warnings = []
    if not tls_verify:
        warnings.append(tls_warning(registry))
    if engine_url.startswith("tcp://"):
        warnings.append(f"CONTAINER_HOST={engine_url} is plain TCP: registry credentials travel to it"
                        " unencrypted; prefer ssh:// or a local socket")
    return warnings

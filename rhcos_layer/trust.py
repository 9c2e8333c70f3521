"""TLS trust for a registry, decided the way podman decides it.

``--cert-dir DIR`` wins; otherwise the first of ``$HOME/.config/containers/certs.d/HOST:PORT/``,
``/etc/containers/certs.d/HOST:PORT/`` and ``/etc/docker/certs.d/HOST:PORT/`` that exists
(containers/image's order). In that folder ``*.crt`` files are extra CA roots (added to
the system's), and a ``NAME.cert`` / ``NAME.key`` pair is a client certificate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple

if TYPE_CHECKING:
    import ssl

SYSTEM_CERTS_D: Tuple[Path, ...] = (Path("/etc/containers/certs.d"), Path("/etc/docker/certs.d"))


def certs_d_search_path() -> Tuple[Path, ...]:
    home = Path(os.environ.get("HOME") or Path.home())
    return (home / ".config" / "containers" / "certs.d", *SYSTEM_CERTS_D)


@dataclass(frozen=True)
class TLSSettings:
    """What the user asked for: verify or not, and an explicit certificate folder."""

    verify: bool = True
    cert_dir: Optional[Path] = None

    def cert_dir_for(self, host: str, search: Optional[Sequence[Path]] = None) -> Optional[Path]:
        """The folder whose certificates apply to ``host`` (``host:port``), if any."""
        if self.cert_dir is not None:
            return self.cert_dir
        for root in certs_d_search_path() if search is None else search:
            candidate = root / host
            if candidate.is_dir():
                return candidate
        return None


@dataclass(frozen=True)
class HostTrust:
    ca_files: List[Path]
    client_pairs: List[Tuple[Path, Path]]

    def load_into(self, context: ssl.SSLContext) -> None:
        """Trust the folder's CA roots and present its client certificates on ``context``: the
        requests session and the manifest HEAD fast path must trust exactly the same files."""
        for ca in self.ca_files:
            context.load_verify_locations(cafile=str(ca))
        for cert, key in self.client_pairs:
            context.load_cert_chain(str(cert), str(key))


def read_cert_dir(folder: Optional[Path]) -> HostTrust:
    if folder is None or not folder.is_dir():
        return HostTrust([], [])
    cas = sorted(folder.glob("*.crt"))
    pairs = []
    for cert in sorted(folder.glob("*.cert")):
        key = cert.with_suffix(".key")
        if key.is_file():
            pairs.append((cert, key))
    return HostTrust(cas, pairs)

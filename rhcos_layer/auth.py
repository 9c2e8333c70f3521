"""Registry credentials, found the way podman finds them, and kept out of sight.

Lookup order (containers-auth.json(5)): ``--authfile``, then ``REGISTRY_AUTH_FILE``, else all
of ``$XDG_RUNTIME_DIR/containers/auth.json`` (``/run/containers/<uid>/auth.json``),
``$XDG_CONFIG_HOME/containers/auth.json`` and ``~/.docker/config.json`` that exist, the first
one listing a registry winning. Entries kept by credential helpers are skipped. The cluster's pull
secret has the same ``{"auths": {...}}`` shape, so it works as an authfile as it is.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional

from .errors import InvalidInput

# a pull secret with a few dozen registries is a few KB
MAX_BYTES = 16 << 20


@dataclass(frozen=True)
class Credentials:
    """A user name and secret for one registry. The secret never shows in repr or str."""

    username: str
    password: str = field(repr=False)

    def __str__(self) -> str:
        return f"{self.username}:***"


@dataclass
class AuthFile:
    """The parsed ``auths`` of one authfile; ``path`` is None when no file was found.

    ``fallbacks`` are further files consulted in order when this one has no match, as podman
    does with its default locations.
    """

    path: Optional[Path]
    entries: Dict[str, Credentials] = field(default_factory=dict, repr=False)
    fallbacks: List[AuthFile] = field(default_factory=list, repr=False)

    def lookup(self, image_name: str) -> Optional[Credentials]:
        """Credentials for ``registry/repo``: the first file with a match, and in it the most
        specific key (``quay.io/org`` before ``quay.io``)."""
        for source in [self, *self.fallbacks]:
            for key in _candidate_keys(image_name):
                creds = source.entries.get(key)
                if creds is not None:
                    return creds
        return None

    def registry_config(self) -> Dict[str, Dict[str, str]]:
        """All entries, in the shape of podman's ``X-Registry-Config`` header (earlier files win)."""
        merged: Dict[str, Dict[str, str]] = {}
        for source in [self, *self.fallbacks]:
            for key, c in source.entries.items():
                merged.setdefault(key, {"username": c.username, "password": c.password})
        return merged


def _normalise_key(key: str) -> str:
    key = key.strip()
    for prefix in ("https://", "http://"):
        if key.startswith(prefix):
            key = key[len(prefix) :]
    key = key.rstrip("/")
    if key in ("index.docker.io/v1", "index.docker.io", "registry-1.docker.io"):
        key = "docker.io"
    return key


def _candidate_keys(image_name: str) -> Iterator[str]:
    parts = image_name.split("/")
    for end in range(len(parts), 0, -1):
        yield "/".join(parts[:end])


def default_locations(environ: Optional[Mapping[str, str]] = None) -> List[Path]:
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    if env.get("XDG_RUNTIME_DIR"):
        runtime_path = Path(env["XDG_RUNTIME_DIR"]) / "containers" / "auth.json"
    else:
        runtime_path = Path(f"/run/containers/{os.getuid()}/auth.json")
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return [runtime_path, config_home / "containers" / "auth.json", home / ".docker" / "config.json"]


def find_authfile(explicit: Optional[str], environ: Optional[Mapping[str, str]] = None) -> Optional[Path]:
    """The authfile the user named: the flag, else REGISTRY_AUTH_FILE (None: use the defaults)."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get("REGISTRY_AUTH_FILE"):
        return Path(env["REGISTRY_AUTH_FILE"])
    return None


def resolve(explicit: Optional[str], flag: str = "--authfile",
            environ: Optional[Mapping[str, str]] = None) -> AuthFile:
    """Credentials as podman finds them: the flag, else REGISTRY_AUTH_FILE, else every default
    location that exists, the earlier ones winning for a registry listed in several."""
    env = os.environ if environ is None else environ
    if explicit:
        return load(Path(explicit), source=f"{flag} {explicit}")
    if env.get("REGISTRY_AUTH_FILE"):
        return load(Path(env["REGISTRY_AUTH_FILE"]), source=f"REGISTRY_AUTH_FILE={env['REGISTRY_AUTH_FILE']}")
    found = [load(c, source=str(c), strict=False) for c in default_locations(env) if c.is_file()]
    if not found:
        return AuthFile(None)
    return AuthFile(found[0].path, found[0].entries, found[1:])


def load(path: Path, *, source: Optional[str] = None, strict: bool = True) -> AuthFile:
    """Parse one authfile. Errors name the file (``source``) and never quote its content.

    ``strict=False`` (default locations) accepts a file without ``auths``, such as a Docker
    config that only names a credential helper."""
    where = source or str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise InvalidInput(f"{where}: no such file: give the pull secret / auth.json to use") from None
    except OSError as exc:
        raise InvalidInput(f"{where}: cannot read: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise InvalidInput(f"{where}: larger than {MAX_BYTES >> 20} MiB: not an authfile")
    try:
        raw = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{where}: not UTF-8 text: not an authfile") from None
    return parse(raw, where, path=path, strict=strict)


def parse(raw: str, where: str, *, path: Optional[Path] = None, strict: bool = True) -> AuthFile:
    """Parse authfile text (``where`` names it in errors, which never quote it)."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{where}: not valid JSON (line {exc.lineno})") from None
    except RecursionError:  # thousands of nested brackets: no authfile looks like that
        raise InvalidInput(f"{where}: not an authfile (nested too deeply)") from None
    auths = data.get("auths") if isinstance(data, dict) else None
    if auths is None and isinstance(data, dict) and not strict:
        auths = {}
    if not isinstance(auths, dict):
        raise InvalidInput(f'{where}: no "auths" object: expected {{"auths": {{"REGISTRY": {{"auth": ...}}}}}}')
    entries: Dict[str, Credentials] = {}
    for key, entry in auths.items():
        if not isinstance(entry, dict):
            raise InvalidInput(f"{where}: entry {key!r} is not an object")
        if not any(field in entry for field in ("auth", "username", "password")):
            continue  # kept by a credential helper (credsStore): nothing here to use
        creds = _entry_credentials(entry)
        if creds is None:
            raise InvalidInput(f"{where}: entry {key!r} has no usable auth (expected base64 'user:password')")
        entries[_normalise_key(key)] = creds
    return AuthFile(path, entries)


def _entry_credentials(entry: Mapping[str, object]) -> Optional[Credentials]:
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
        user, sep, secret = decoded.partition(":")
        return Credentials(user, secret) if sep else None
    name, password = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(password, str):
        return Credentials(name, password)
    return None


def header_value(payload: object) -> str:
    """URL-safe base64 JSON, as podman's X-Registry-Auth / X-Registry-Config headers want."""
    return base64.urlsafe_b64encode(json.dumps(payload).encode("utf-8")).decode("ascii")

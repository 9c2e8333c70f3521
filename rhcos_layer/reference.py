"""Container image references: parse them and tell a digest-pinned one from the rest.

The grammar follows the distribution reference format (github.com/distribution/reference,
regexp.go and reference.go): ``[host[:port]/]path[:tag][@digest]``, where host is a DNS name
(letters, digits, inner hyphens, dot-separated) or a bracketed IPv6 address, each path
component is lowercase (``[a-z0-9]+`` joined by ``.``, ``_``, ``__`` or dashes), the path is
at most 255 characters and a tag at most 128. Digests are stricter than upstream: only
``sha256:`` and 64 lowercase hex digits, the one form a node's osImageURL may carry.

Every pattern is matched with ``fullmatch``: a trailing newline, a space or a control
character anywhere is an error, never silently accepted or stripped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from .errors import InvalidInput

DEFAULT_REGISTRY = "docker.io"
# reference.go NameTotalLengthMax / RepositoryNameTotalLengthMax
PATH_MAX = 255
# no upstream cap on a whole reference; this one keeps error messages and regex work small
TEXT_MAX = 1024
_DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST_RE = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::([0-9]+))?")


class InvalidReference(InvalidInput):
    """A string is not a valid image reference; the message says why."""


@dataclass(frozen=True)
class ImageReference:
    """A parsed image reference. ``registry`` is always set (docker.io when omitted)."""

    registry: str
    repository: str
    tag: Optional[str] = None
    digest: Optional[str] = None

    @property
    def name(self) -> str:
        """``registry/repository``, without tag or digest."""
        return f"{self.registry}/{self.repository}"

    @property
    def is_pinned(self) -> bool:
        return self.digest is not None

    def pinned(self) -> str:
        """``registry/repository@sha256:...``; raises when there is no digest."""
        if self.digest is None:
            raise InvalidReference(f"{self} has no digest")
        return f"{self.name}@{self.digest}"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def digest_of(pullspec: str) -> str:
    """The ``sha256:...`` part of ``repo@sha256:...`` (the text itself when there is none): images are
    compared by digest, since a mirror's name differs and its digest does not."""
    return pullspec.rpartition("@")[2] or pullspec


def is_valid_digest(value: str) -> bool:
    return _DIGEST_RE.fullmatch(value) is not None


def _looks_like_host(component: str) -> bool:
    # reference.go splitDomain: a first component with a dot, a colon, upper case, or `localhost`
    return "." in component or ":" in component or component == "localhost" or component != component.lower()


def _check_host(original: str, host: str) -> None:
    match = _HOST_RE.fullmatch(host)
    if match is None:
        raise InvalidReference(f"{original!r}: invalid registry host {host!r}"
                               " (expected a DNS name or [IPv6 address], then an optional :PORT)")
    port = match.group(1)
    if port is not None and not 0 < int(port) <= 65535:
        raise InvalidReference(f"{original!r}: invalid registry port {port!r} (1 to 65535)")


def parse(text: str) -> ImageReference:
    """Parse ``text`` into an ImageReference, raising InvalidReference with the reason."""
    if not text:
        raise InvalidReference("empty image reference")
    if len(text) > TEXT_MAX:
        raise InvalidReference(f"image reference of {len(text)} characters: too long (at most {TEXT_MAX})")
    original = text
    if any(ch.isspace() or not ch.isprintable() for ch in text):
        raise InvalidReference(f"{original!r}: an image reference has no spaces or control characters")
    if "://" in text:
        raise InvalidReference(f"{original!r}: give the image without a transport or scheme")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not is_valid_digest(digest):
            raise InvalidReference(
                f"{original!r}: malformed digest {digest!r} (expected sha256: and 64 lowercase hex digits)"
            )
    parts = text.split("/")
    if len(parts) > 1 and _looks_like_host(parts[0]):
        registry, path = parts[0], parts[1:]
        _check_host(original, registry)
    else:
        registry, path = DEFAULT_REGISTRY, parts
    tag = None
    last = path[-1]
    if ":" in last:
        last, tag = last.rsplit(":", 1)
        if _TAG_RE.fullmatch(tag) is None:
            raise InvalidReference(f"{original!r}: invalid tag {tag!r} (letters, digits, _ . -; at most 128)")
        path = [*path[:-1], last]
    repository = "/".join(path)
    if len(repository) > PATH_MAX:
        raise InvalidReference(f"{original!r}: repository name of {len(repository)} characters"
                               f" (at most {PATH_MAX})")
    for component in path:
        if _COMPONENT_RE.fullmatch(component) is None:
            raise InvalidReference(f"{original!r}: invalid repository name component {component!r}"
                                   " (lowercase letters and digits, joined by . _ __ or -)")
    if registry == DEFAULT_REGISTRY and len(path) == 1:
        repository = f"library/{repository}"
    return ImageReference(registry, repository, tag, digest)


def parse_local(text: str) -> ImageReference:
    """Parse an image name as ``podman build -t`` does: a name without a registry is local
    (``mine:1`` is ``localhost/mine:1``), and no tag means ``latest``."""
    qualified = text
    if "/" not in text or not _looks_like_host(text.split("/", 1)[0]):
        qualified = "localhost/" + text
    try:
        ref = parse(qualified)
    except InvalidReference as exc:
        raise InvalidReference(str(exc).replace(repr(qualified), repr(text))) from None
    return ref if ref.tag or ref.digest else ImageReference(ref.registry, ref.repository, "latest")


def parse_pinned(text: str) -> ImageReference:
    """Parse a reference that must carry a digest (``repo@sha256:<64 hex>``)."""
    ref = parse(text)
    if not ref.is_pinned:
        what = f"the tag {ref.tag!r}" if ref.tag else "no digest"
        raise InvalidReference(
            f"{text!r} uses {what}: give the image by digest (REPO@sha256:<64 hex>)"
        )
    return ref

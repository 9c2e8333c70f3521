"""Container image references: parse them and tell a digest-pinned one from the rest.

The grammar follows the distribution reference format (``host[:port]/path[:tag][@digest]``)
closely enough to catch what breaks nodes: a tag where a digest is needed, a digest with the
wrong length or alphabet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

DEFAULT_REGISTRY = "docker.io"
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")


class ReferenceError(ValueError):
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
            raise ReferenceError(f"{self} has no digest")
        return f"{self.name}@{self.digest}"

    def with_digest(self, digest: str) -> ImageReference:
        return ImageReference(self.registry, self.repository, None, digest)

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
    return bool(_DIGEST_RE.match(value))


def _looks_like_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def parse(text: str) -> ImageReference:
    """Parse ``text`` into an ImageReference, raising ReferenceError with the reason."""
    original = text
    text = text.strip()
    if not text:
        raise ReferenceError("empty image reference")
    if "://" in text:
        raise ReferenceError(f"{original!r}: give the image without a transport or scheme")
    digest = None
    if "@" in text:
        text, digest = text.split("@", 1)
        if not is_valid_digest(digest):
            raise ReferenceError(
                f"{original!r}: malformed digest {digest!r} (expected sha256: and 64 lowercase hex digits)"
            )
    parts = text.split("/")
    if len(parts) > 1 and _looks_like_host(parts[0]):
        registry, path = parts[0], parts[1:]
    else:
        registry, path = DEFAULT_REGISTRY, parts
    tag = None
    last = path[-1]
    if ":" in last:
        last, tag = last.rsplit(":", 1)
        if not _TAG_RE.match(tag):
            raise ReferenceError(f"{original!r}: invalid tag {tag!r}")
        path = [*path[:-1], last]
    for component in path:
        if not _COMPONENT_RE.match(component):
            raise ReferenceError(f"{original!r}: invalid repository name component {component!r}")
    if registry == DEFAULT_REGISTRY and len(path) == 1:
        path = ["library", *path]
    return ImageReference(registry, "/".join(path), tag, digest)


def parse_local(text: str) -> ImageReference:
    """Parse an image name as ``podman build -t`` does: a name without a registry is local
    (``mine:1`` is ``localhost/mine:1``), and no tag means ``latest``."""
    original = text.strip()
    qualified = original
    if "/" not in original or not _looks_like_host(original.split("/", 1)[0]):
        qualified = "localhost/" + original
    try:
        ref = parse(qualified)
    except ReferenceError as exc:
        raise ReferenceError(str(exc).replace(repr(qualified), repr(original))) from None
    return ref if ref.tag or ref.digest else ImageReference(ref.registry, ref.repository, "latest")


def parse_pinned(text: str) -> ImageReference:
    """Parse a reference that must carry a digest (``repo@sha256:<64 hex>``)."""
    ref = parse(text)
    if not ref.is_pinned:
        what = f"the tag {ref.tag!r}" if ref.tag else "no digest"
        raise ReferenceError(
            f"{text.strip()!r} uses {what}: give the image by digest (REPO@sha256:<64 hex>)"
        )
    return ref

"""The build context: which files go to the build, their tarball, and the inputs digest.

The inputs digest is what makes a rebuild a no-op: it covers the Containerfile text as built
(after ``--base``), the base image, the build arguments and every context file's path, mode and
content. Secrets are not part of it (their content must not leave a trace in a label).
"""

from __future__ import annotations

import io
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Dict, List, Mapping, Optional, Pattern, Sequence, Tuple

from .errors import InvalidInput

if TYPE_CHECKING:
    import tarfile
    from typing import Protocol

    class _Hash(Protocol):
        def update(self, data: bytes, /) -> None: ...
        def hexdigest(self) -> str: ...

IGNORE_FILES = (".containerignore", ".dockerignore")
GENERATED_PREFIX = ".rhcos-layer-"


@dataclass(frozen=True)
class ContextFile:
    relpath: str
    path: Path
    mode: int
    link_target: Optional[str] = None  # symlinks are sent as links, not followed


@dataclass
class BuildContext:
    root: Path
    files: List[ContextFile]
    excluded: List[str] = field(default_factory=list)
    size: int = 0  # bytes in the regular files, as collected


class PatternError(ValueError):
    """A path pattern Go's filepath.Match refuses (so does Podman); the message says why."""


def _class_char(pattern: str, j: int) -> Tuple[str, int]:
    """One character of a ``[...]`` class (Go filepath getEsc): not ``-`` or ``]`` unescaped,
    and the class must go on after it."""
    if j >= len(pattern) or pattern[j] in "-]":
        raise PatternError("malformed character class")
    if pattern[j] == "\\":
        j += 1
        if j >= len(pattern):
            raise PatternError("malformed character class")
    ch = pattern[j]
    j += 1
    if j >= len(pattern):
        raise PatternError("'[' is never closed")
    return ch, j


def _class(pattern: str, i: int) -> Tuple[str, int]:
    """The class starting at ``pattern[i] == '['`` as a Python regex class, and where it ends.
    Go negates with ``^`` (``!`` is a plain character there); a reversed range (``z-a``) makes
    Go's regexp compiler, and so Podman, fail: refused here too."""
    j = i + 1
    negate = j < len(pattern) and pattern[j] == "^"
    j += 1 if negate else 0
    items: List[str] = []
    while True:
        if j < len(pattern) and pattern[j] == "]" and items:
            return "[" + ("^" if negate else "") + "".join(items) + "]", j + 1
        lo, j = _class_char(pattern, j)
        hi = lo
        if pattern[j] == "-":
            hi, j = _class_char(pattern, j + 1)
            if hi < lo:
                raise PatternError(f"the range {lo}-{hi} is reversed")
        items.append(re.escape(lo) if lo == hi else f"{re.escape(lo)}-{re.escape(hi)}")


_SPECIAL = frozenset("*?[\\")


def _translate(pattern: str, globstar: bool) -> str:
    """A path pattern as a regex: ``*`` and ``?`` stay within one path component, ``[...]`` is a
    class, ``\\`` escapes; with ``globstar``, ``**`` spans components (moby patternmatcher)."""
    if globstar and pattern.startswith("**") and not _SPECIAL & set(pattern[2:]):
        # patternmatcher's suffix match: **/x is x at any depth, **x any path ending in x
        rest = pattern[2:]
        return "(?:.*/)?" + re.escape(rest[1:]) if rest.startswith("/") else ".*" + re.escape(rest)
    out: List[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*" and globstar and pattern.startswith("**", i):
            i += 2
            if i < n and pattern[i] == "/":
                i += 1
            out.append(".*" if i >= n else "(?:.*/)?")
            continue
        if ch == "[":
            cls, i = _class(pattern, i)
            out.append(cls)
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            i += 1
            if i >= n:
                raise PatternError("it ends with an escape character")
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def compile_glob(pattern: str) -> Pattern[str]:
    """A COPY/ADD source glob (Go filepath.Match, as Buildah expands it); PatternError if bad."""
    return re.compile(_translate(pattern, globstar=False) + r"\Z", re.DOTALL)


def _compile(pattern: str) -> Pattern[str]:
    """A .containerignore pattern as a regex (moby patternmatcher, which Podman applies):
    ``*`` and ``?`` stay within one path component, ``**`` spans any number of them."""
    return re.compile(_translate(pattern, globstar=True) + r"\Z", re.DOTALL)


def _read_ignore(root: Path) -> List[Tuple[bool, Pattern[str]]]:
    for name in IGNORE_FILES:
        candidate = root / name
        if candidate.is_file():
            rules = []
            text = candidate.read_text(encoding="utf-8", errors="replace")
            for number, line in enumerate(text.split("\n"), start=1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                negate = line.startswith("!")
                pattern = (line[1:] if negate else line).strip().strip("/")
                if negate and not pattern:
                    raise InvalidInput(f"{candidate}:{number}: '!' alone excludes nothing: remove the line"
                                       " (Podman refuses it: illegal exclusion pattern)")
                if not pattern:
                    continue
                try:
                    rules.append((negate, _compile(os.path.normpath(pattern))))
                except PatternError as exc:
                    raise InvalidInput(
                        f"{candidate}:{number}: the pattern '{line}' is malformed: {exc} (Podman stops the build"
                        " with 'syntax error in pattern'); write a literal [ as \\[, or fix the range"
                    ) from None
            return rules
    return []


def _ignored(relpath: str, rules: Sequence[Tuple[bool, Pattern[str]]]) -> bool:
    """Last matching rule wins; a pattern matching a folder covers everything in it."""
    parts = relpath.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negate, regex in rules:
        if any(regex.match(prefix) for prefix in prefixes):
            result = not negate
    return result


def collect(root: Path, skip: Sequence[Path] = ()) -> BuildContext:
    """Walk ``root`` in a stable order, honouring .containerignore / .dockerignore."""
    if not root.is_dir():
        raise InvalidInput(f"{root}: build context is not a folder: give an existing folder as CONTEXT")
    rules = _read_ignore(root)
    skip_resolved = {p.resolve() for p in skip}
    files: List[ContextFile] = []
    excluded: List[str] = []
    size = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames) + [d for d in dirnames if (base / d).is_symlink()]:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if path.resolve() in skip_resolved and not path.is_symlink():
                continue
            if _ignored(rel, rules):
                excluded.append(rel)
                continue
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                files.append(ContextFile(rel, path, stat.S_IMODE(info.st_mode), os.readlink(path)))
            elif stat.S_ISREG(info.st_mode):
                files.append(ContextFile(rel, path, stat.S_IMODE(info.st_mode)))
                size += info.st_size
        dirnames[:] = [d for d in dirnames if not (base / d).is_symlink()]
    return BuildContext(root, files, excluded, size)


# Below this many bytes of context, hash with CPython's built-in SHA-256: importing hashlib
# loads OpenSSL's libcrypto, which costs more (a few ms at every build) than it saves.
_SMALL_CONTEXT = 1 << 20


def _sha256(small: bool) -> _Hash:
    """A new SHA-256 hash object (the same digests either way)."""
    if small:
        try:
            from _sha256 import sha256 as builtin  # CPython up to 3.11
        except ImportError:
            try:
                from _sha2 import sha256 as builtin  # CPython 3.12+
            except ImportError:
                builtin = None
        if builtin is not None:
            hasher: _Hash = builtin()
            return hasher
    import hashlib

    return hashlib.sha256()


def _file_sha256(path: Path, small: bool = False) -> str:
    digest = _sha256(small)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def inputs_digest(containerfile_text: str, base: str, build_args: Mapping[str, str], context: BuildContext,
                  extra: Optional[Mapping[str, str]] = None) -> str:
    """sha256 over the build's inputs; ``extra`` adds what goes into labels (the release version)."""
    small = context.size <= _SMALL_CONTEXT
    files = []
    for item in context.files:
        content = "link:" + item.link_target if item.link_target is not None else _file_sha256(item.path, small)
        files.append([item.relpath, oct(item.mode & 0o7777), content])
    document = {
        "containerfile": containerfile_text,
        "base": base,
        "build_args": sorted(build_args.items()),
        "files": files,
    }
    if extra:
        document["extra"] = sorted(extra.items())
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
    digest = _sha256(small)
    digest.update(canonical)
    return "sha256:" + digest.hexdigest()


@dataclass
class ContextTar:
    """The tarball sent to the service, and the names it gave the generated entries."""

    stream: IO[bytes]
    containerfile_name: str
    secret_names: Dict[str, str]  # secret id -> name inside the tarball

    def close(self) -> None:
        self.stream.close()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    import tarfile

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    tar.addfile(info, io.BytesIO(data))


def make_tar(context: BuildContext, containerfile_text: str, secret_files: Mapping[str, Path]) -> ContextTar:
    """Write the context tarball to a spooled temporary file (0600, deleted on close).

    Secret files travel inside it under random names; the Podman service moves them out of
    the context before the build starts, so they never reach a layer.
    """
    import secrets as _secrets
    import tarfile
    import tempfile

    spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=64 << 20, prefix="rhcos-layer-ctx-")
    token = _secrets.token_hex(8)
    cf_name = f"{GENERATED_PREFIX}{token}.Containerfile"
    names: Dict[str, str] = {}
    with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in context.files:
            info = tarfile.TarInfo(item.relpath)
            info.mode = item.mode
            info.mtime = int(item.path.lstat().st_mtime)
            if item.link_target is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = item.link_target
                tar.addfile(info)
                continue
            info.size = item.path.stat().st_size
            with item.path.open("rb") as handle:
                tar.addfile(info, handle)
        _add_bytes(tar, cf_name, containerfile_text.encode("utf-8"), 0o644)
        for secret_id, path in secret_files.items():
            name = f"{GENERATED_PREFIX}secret-{_secrets.token_hex(8)}"
            try:
                data = path.read_bytes()
            except OSError as exc:
                spool.close()
                raise InvalidInput(f"--secret id={secret_id}: cannot read src {path}: {exc.strerror}") from None
            _add_bytes(tar, name, data, 0o600)
            names[secret_id] = name
    spool.seek(0)
    return ContextTar(spool, cf_name, names)

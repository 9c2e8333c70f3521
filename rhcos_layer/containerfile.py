"""Read a Containerfile the way Buildah does, with line numbers.

The line rules (byte-order mark, ``# escape=`` directive, comments, line continuations, empty
continuation lines) follow the Dockerfile frontend's parser (moby/buildkit
``frontend/dockerfile/parser/parser.go``; openshift/imagebuilder's copy of it is what Podman
4.3 / Buildah 1.28 run). Variable expansion follows the shell lexer Buildah 1.28 uses
(moby ``builder/dockerfile/shell_parser.go``: ``$VAR``, ``${VAR}``, ``${VAR:-word}``,
``${VAR:+word}``, quotes and escapes).

Heredocs (``RUN <<EOF``) are recognised as BuildKit does: only as a word
``[N]<<[-]WORD`` / ``<<"WORD"`` on ``RUN``, ``COPY`` and ``ADD``. Podman 4.3 does not know
them at all and reads their body as instructions, so the file records both readings where
they differ: lint reports every heredoc, and a ``FROM`` that only one reading sees is refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from . import reference
from .errors import ContainerfileError

# The image OpenShift's on-cluster builds put the rendered MachineConfigs in.
ON_CLUSTER_STAGE = "configs"
# What `init` writes as the FROM image when it was given no base: not a valid reference (upper
# case), so nothing can pull it, and lint and build name it (RL115) instead of a fake digest.
BASE_NOT_SET = "RHCOS-BASE-NOT-SET"
# A Containerfile is a few kilobytes; refusing megabytes keeps memory and time bounded.
MAX_BYTES = 1 << 20
# ${a:-${b:-...}} nesting Buildah would follow; deeper is refused rather than recursed into.
MAX_NESTING = 32

# Instructions Buildah 1.28 (openshift/imagebuilder dispatchers) knows.
KEYWORDS = frozenset({"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
                      "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
                      "WORKDIR"})
HEREDOC_KEYWORDS = frozenset({"RUN", "COPY", "ADD"})

_DIRECTIVE_RE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
# buildkit's reHeredoc, applied to one whole shell word
_HEREDOC_WORD_RE = re.compile(r"^(\d*)<<(-?)([^<]*)$", re.DOTALL)
_WHITESPACE_RE = re.compile(r"[\t\v\f\r ]+")


@dataclass(frozen=True)
class Heredoc:
    name: str  # the terminator word, quotes removed
    line: int  # 1-based line of the instruction that opens it
    body_start: int  # first body line (== end when the body is empty)
    end: int  # the terminator's line
    chomp: bool = False  # <<-: leading tabs stripped


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # the text after the keyword, continuation lines joined as Buildah joins them
    line: int  # 1-based line where the instruction starts
    end_line: int = 0  # last line of the instruction (its heredoc bodies included)
    heredocs: Tuple[Heredoc, ...] = ()


@dataclass(frozen=True)
class FromLine:
    image: str  # as written, variables not expanded
    alias: Optional[str]
    line: int


@dataclass
class Containerfile:
    path: str  # for messages: the file name as the user gave it
    text: str  # without a byte-order mark
    instructions: List[Instruction]
    global_args: Dict[str, str] = field(default_factory=dict)
    escape: str = "\\"
    # the line of an instruction whose last line ends in the escape character at the end of
    # the file: text appended after it would join that instruction
    open_continuation: int = 0
    # the instructions as Podman 4.3 reads them, when heredocs make that differ
    legacy_instructions: Optional[List[Instruction]] = None

    @property
    def froms(self) -> List[FromLine]:
        return [_parse_from(self.path, ins) for ins in self.instructions if ins.keyword == "FROM"]

    @property
    def heredocs(self) -> List[Heredoc]:
        return [doc for ins in self.instructions for doc in ins.heredocs]

    def is_on_cluster(self) -> bool:
        """True for the on-cluster form, whose final stage builds on ``configs``."""
        froms = self.froms
        return bool(froms) and froms[-1].image == ON_CLUSTER_STAGE

    def hidden_from(self) -> Optional[Tuple[int, Heredoc]]:
        """(line, heredoc) of a FROM inside a heredoc body: Podman 4.3 builds on it, BuildKit
        and newer Podman do not. None when both readings see the same FROM lines."""
        if self.legacy_instructions is None:
            return None
        new = {ins.line for ins in self.instructions if ins.keyword == "FROM"}
        old = {ins.line for ins in self.legacy_instructions if ins.keyword == "FROM"}
        differing = sorted(new ^ old)
        if not differing:
            return None
        line = differing[0]
        docs = self.heredocs
        doc = next((d for d in docs if d.body_start <= line <= d.end), docs[0])
        return line, doc

    def base(self, build_args: Optional[Mapping[str, str]] = None) -> BaseImage:
        """The external image the final stage builds on, following stage aliases."""
        hidden = self.hidden_from()
        if hidden is not None:
            line, doc = hidden
            raise ContainerfileError(
                f"{self.path}:{line}: the heredoc of line {doc.line} changes which FROM lines count: Podman 4.3"
                " (Buildah 1.28) does not know heredocs and reads their bodies as instructions, newer Podman"
                " does not. Put the heredoc's content in a file and COPY it"
            )
        froms = self.froms
        if not froms:
            raise ContainerfileError(f"{self.path}: no FROM instruction: start with FROM <base>@sha256:...")
        if self.is_on_cluster():
            raise ContainerfileError(
                f"{self.path}:{froms[-1].line}: 'FROM {ON_CLUSTER_STAGE}' is an on-cluster"
                " Containerfile (MachineOSConfig): put it in the MachineOSConfig's containerFile; for a local"
                " build, start the final stage with FROM <base>@sha256:..."
            )
        stages = {f.alias.lower(): f for f in froms if f.alias}
        current = froms[-1]
        seen = set()
        while current.image.lower() in stages and current.image.lower() not in seen:
            seen.add(current.image.lower())
            current = stages[current.image.lower()]
        values = dict(self.global_args)
        values.update(build_args or {})
        try:
            expanded = expand(current.image, values, self.escape)
        except ContainerfileError as exc:
            raise ContainerfileError(f"{self.path}:{current.line}: FROM {current.image}: {exc}") from None
        return BaseImage(written=current.image, expanded=expanded, line=current.line)

    def with_base(self, base: BaseImage, new_image: str) -> str:
        """The Containerfile text with the base FROM's image replaced, line numbers kept."""
        lines = self.text.split("\n")  # line numbers count \n only, as Buildah's do
        index = base.line - 1
        original = lines[index]
        pattern = re.compile(r"(^\s*FROM\s+(?:--\S+\s+)*)" + re.escape(base.written) + r"(?=\s|$)", re.IGNORECASE)
        replaced, count = pattern.subn(lambda m: m.group(1) + new_image, original, count=1)
        if count != 1:
            raise ContainerfileError(
                f"{self.path}:{base.line}: cannot replace the base image on this line;"
                " write the FROM image on the same line as FROM"
            )
        lines[index] = replaced
        return "\n".join(lines)


@dataclass(frozen=True)
class BaseImage:
    written: str
    expanded: str
    line: int

    def checked(self, path: str) -> reference.ImageReference:
        """The base as a digest-pinned reference, or a ContainerfileError naming the line."""
        if self.expanded == BASE_NOT_SET:
            raise ContainerfileError(f"{path}:{self.line}: FROM {BASE_NOT_SET}: {BASE_NOT_SET_MESSAGE}",
                                     hint=BASE_NOT_SET_FIX)
        payload = release_payload(self.expanded)
        if payload:
            raise ContainerfileError(f"{path}:{self.line}: FROM {self.expanded}: {payload}", hint=PAYLOAD_FIX)
        try:
            return reference.parse_pinned(self.expanded)
        except reference.InvalidReference as exc:
            raise ContainerfileError(
                f"{path}:{self.line}: FROM {exc}; OpenShift needs the layered image built on the"
                " release's RHCOS image by digest (`oc adm release info --image-for rhel-coreos`)"
            ) from None


BASE_NOT_SET_MESSAGE = "the base image is not set (init was given no --base or --release)"
BASE_NOT_SET_FIX = ("set `base:` in rhcos-layer.yaml, or write the RHCOS image by digest here:"
                    " `rhcos-layer resolve --release RELEASE` prints it")
PAYLOAD_FIX = ("build on the release's RHCOS image instead: `rhcos-layer resolve --release RELEASE`"
               " prints it by digest (or set `base: {release: RELEASE}` in rhcos-layer.yaml)")
# Repository names OpenShift publishes release payloads under (quay.io/openshift-release-dev/
# ocp-release, quay.io/openshift/origin-release, quay.io/okd/scos-release, ...nightly) and
# oc-mirror v2's `openshift/release-images`. A repository named just `release` is left alone:
# oc-mirror puts the payload's component images, RHCOS included, there.
_PAYLOAD_REPO_RE = re.compile(r"(^|[-_.])release([-_.]|$)")
# a payload tag: 4.16.3-x86_64, 4.17.0-rc.1-multi, 4.16.0-0.nightly-2024-05-01-111315-aarch64
_PAYLOAD_TAG_RE = re.compile(r"^\d+\.\d+\.\d+(?:-[a-z0-9.-]+)?-(?:x86_64|aarch64|ppc64le|s390x|multi)$")


def release_payload(image: str) -> str:
    """Why ``image`` looks like an OpenShift release payload ('' when it does not)."""
    name, _, _ = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    repo, _, tag = last.partition(":")
    if repo != "release" and _PAYLOAD_REPO_RE.search(repo.lower()):
        return (f"the repository {repo} holds OpenShift release payloads, not the RHCOS image;"
                " a layered image must be built on the release's RHCOS image")
    if tag and _PAYLOAD_TAG_RE.match(tag):
        return (f"the tag {tag} names an OpenShift release payload, not the RHCOS image;"
                " a layered image must be built on the release's RHCOS image")
    return ""


# -- the shell lexer (variables, quotes, escapes) ------------------------------------------


class _Lexer:
    """Buildah 1.28's word processing: removes quotes, applies escapes, expands variables.
    Unsupported forms raise ContainerfileError, as Buildah refuses them."""

    def __init__(self, text: str, values: Mapping[str, str], escape: str) -> None:
        self.text = text
        self.pos = 0
        self.values = values
        self.escape = escape
        self.depth = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        ch = self.peek()
        self.pos += 1 if ch else 0
        return ch

    def words(self, stop: str = "") -> str:
        """Everything up to ``stop`` (consumed) or the end."""
        out: List[str] = []
        while self.pos < len(self.text):
            ch = self.peek()
            if stop and ch == stop:
                self.pos += 1
                return "".join(out)
            if ch == "'":
                out.append(self.single_quoted())
            elif ch == '"':
                out.append(self.double_quoted())
            elif ch == "$":
                out.append(self.dollar())
            else:
                self.pos += 1
                if ch == self.escape:
                    ch = self.next()
                    if not ch:
                        break
                out.append(ch)
        if stop:
            raise ContainerfileError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out)

    def single_quoted(self) -> str:
        self.pos += 1
        end = self.text.find("'", self.pos)
        if end < 0:
            raise ContainerfileError("unexpected end of statement while looking for matching single-quote")
        value = self.text[self.pos:end]
        self.pos = end + 1
        return value

    def double_quoted(self) -> str:
        self.pos += 1
        out: List[str] = []
        while True:
            ch = self.peek()
            if not ch:
                raise ContainerfileError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            self.pos += 1
            if ch == self.escape:
                following = self.peek()
                if not following:
                    continue
                if following in ('"', "$", self.escape):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        start = self.pos
        if self.peek().isdigit():  # $1: a positional parameter, one digit
            self.pos += 1
            return self.text[start:self.pos]
        while self.pos < len(self.text) and (self.text[self.pos].isalnum() or self.text[self.pos] == "_"):
            self.pos += 1
        return self.text[start:self.pos]

    def dollar(self) -> str:
        self.pos += 1
        if self.peek() != "{":
            name = self.name()
            return self.values.get(name, "") if name else "$"
        self.pos += 1
        name = self.name()
        ch = self.peek()
        if ch == "}":
            self.pos += 1
            return self.values.get(name, "")
        if ch != ":":
            raise ContainerfileError(f"missing ':' in substitution: ${{{name}{ch}...")
        self.pos += 1
        modifier = self.next()
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ContainerfileError(f"substitutions nested more than {MAX_NESTING} deep")
        word = self.words("}")
        self.depth -= 1
        value = self.values.get(name, "")
        if modifier == "-":
            return value or word
        if modifier == "+":
            return word if value else ""
        raise ContainerfileError(f"unsupported modifier ({modifier}) in substitution ${{{name}:{modifier}...}}:"
                                 " Podman 4.3 knows ${VAR:-default} and ${VAR:+alternative}")


def expand(text: str, values: Mapping[str, str], escape: str = "\\") -> str:
    """One word as Buildah 1.28 reads it: ``$VAR``, ``${VAR}``, ``${VAR:-word}``,
    ``${VAR:+word}`` expanded (unset is empty), quotes removed, escapes applied."""
    return _Lexer(text, values, escape).words()


def shell_words(text: str, *, keep_quotes: bool = False) -> Optional[List[str]]:
    """POSIX shell words: split at unquoted blanks; None when a quote is not closed.

    By default quotes are removed and backslash escapes applied, as the shell does (lint reads
    RUN lines so). With ``keep_quotes`` they stay as written: that is how BuildKit's heredoc
    detection sees words (and it finds no heredoc after an open quote either). Linear in the
    text, where shlex grows each token by concatenation (quadratic).
    """
    words: List[str] = []
    current: List[str] = []
    in_word = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\r\n\v\f":
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
            i += 1
            continue
        in_word = True
        if ch == "\\":
            current.append(text[i:i + 2] if keep_quotes else text[i + 1:i + 2])
            i += 2
        elif ch == "'":
            end = text.find("'", i + 1)
            if end < 0:
                return None
            current.append(text[i:end + 1] if keep_quotes else text[i + 1:end])
            i = end + 1
        elif ch == '"':
            start = i
            i += 1
            while i < n and text[i] != '"':
                # inside double quotes a backslash escapes only these (POSIX 2.2.3)
                if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\$`':
                    i += 1
                if not keep_quotes:
                    current.append(text[i])
                i += 1
            if i >= n:
                return None
            if keep_quotes:
                current.append(text[start:i + 1])
            i += 1
        else:
            current.append(ch)
            i += 1
    if in_word:
        words.append("".join(current))
    return words


def _heredoc_words(args: str) -> List[Tuple[str, bool]]:
    """(terminator, chomp) for each heredoc word in an instruction's arguments."""
    found: List[Tuple[str, bool]] = []
    for word in shell_words(args, keep_quotes=True) or []:
        match = _HEREDOC_WORD_RE.match(word)
        if not match or not match.group(3):
            continue
        inner = shell_words(match.group(3), keep_quotes=True)
        if inner is None or len(inner) != 1:
            continue
        try:
            name = _Lexer(match.group(3), {}, "\\").words()
        except ContainerfileError:
            continue
        found.append((name, match.group(2) == "-"))
    return found


def _is_json_form(args: str) -> bool:
    text = args.strip()
    if not text.startswith("["):
        return False
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _parse_from(path: str, ins: Instruction) -> FromLine:
    words = ins.args.split()
    while words and words[0].startswith("--"):
        words.pop(0)
    if len(words) == 1:
        return FromLine(words[0], None, ins.line)
    if len(words) == 3 and words[1].lower() == "as":
        return FromLine(words[0], words[2], ins.line)
    raise ContainerfileError(f"{path}:{ins.line}: FROM needs 'FROM IMAGE [AS NAME]', got 'FROM {ins.args}'")


def flags_and_rest(args: str) -> Tuple[Dict[str, str], str]:
    """An instruction's leading ``--name[=value]`` flags and the text after them."""
    flags: Dict[str, str] = {}
    rest = args.lstrip()
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        name, _, value = word[2:].partition("=")
        flags[name.lower()] = value
        rest = rest.lstrip()
    return flags, rest


def _split_lines(text: str) -> List[str]:
    """Lines as Go's scanner splits them: at \\n only, a trailing \\r dropped."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _continues(path: str, line: str, number: int, escape: str,
               continuation: re.Pattern[str]) -> Optional[re.Match[str]]:
    """Where the line's continuation starts (None: the instruction ends here). Podman 4.3
    continues after an escaped escape character (``\\\\`` at the end), newer Podman does not:
    refused rather than guessed."""
    match = continuation.search(line)
    if match and match.start() > 0 and line[match.start() - 1] == escape:
        raise ContainerfileError(
            f"{path}:{number}: the line ends with two escape characters ({escape}{escape}): Podman 4.3 reads a"
            " line continuation there, newer Podman an escaped character; write the line without them"
        )
    return match


def _read(path: str, lines: List[str], heredocs: bool) -> Tuple[List[Instruction], str, int]:
    """(instructions, escape character, line of an open continuation at the end or 0)."""
    instructions: List[Instruction] = []
    escape = "\\"
    directives_done = False
    seen_directives = set()
    continuation = re.compile(r"\\[ \t]*$")
    i, n = 0, len(lines)
    open_continuation = 0
    while i < n:
        raw = lines[i].lstrip()
        if not directives_done:
            directive = _DIRECTIVE_RE.match(raw)
            key = directive.group(1).lower() if directive else ""
            if key == "escape":
                if "syntax" in seen_directives or "check" in seen_directives:
                    raise ContainerfileError(
                        f"{path}:{i + 1}: put '# escape=' on the first line: after '# syntax=' or '# check='"
                        " Podman 4.3 reads it as a comment, newer Podman as the escape directive")
                if key in seen_directives:
                    raise ContainerfileError(f"{path}:{i + 1}: only one escape parser directive can be used")
                seen_directives.add(key)
                value = directive.group(2) if directive else ""
                if value not in ("\\", "`"):
                    raise ContainerfileError(f"{path}:{i + 1}: invalid escape token '{value}' does not match ` or \\")
                escape = value
                continuation = re.compile(re.escape(escape) + r"[ \t]*$")
                i += 1
                continue
            if key in ("syntax", "check"):  # BuildKit's other directives: a comment to Podman 4.3
                seen_directives.add(key)
                i += 1
                continue
            directives_done = True
        if not raw or raw.startswith("#"):
            i += 1
            continue
        start = i + 1
        match = _continues(path, raw, i + 1, escape, continuation)
        parts = [raw[: match.start()] if match else raw]
        i += 1
        while match is not None:
            if i >= n:
                open_continuation = start
                break
            line = lines[i]
            i += 1
            stripped = line.lstrip()
            if stripped.startswith("#") or not stripped:
                continue  # comments and empty lines inside a continuation are dropped
            match = _continues(path, line, i, escape, continuation)
            parts.append(line[: match.start()] if match else line)
        joined = "".join(parts).strip()
        if not joined:
            continue
        split = _WHITESPACE_RE.split(joined, maxsplit=1)
        keyword = split[0].upper()
        args = split[1] if len(split) > 1 else ""
        docs: List[Heredoc] = []
        inner = keyword
        if keyword == "ONBUILD":
            inner = _WHITESPACE_RE.split(args.strip(), maxsplit=1)[0].upper()
        if heredocs and inner in HEREDOC_KEYWORDS and "<<" in args and not _is_json_form(args):
            for name, chomp in _heredoc_words(args):
                body_start = i + 1
                while True:
                    if i >= n:
                        raise ContainerfileError(f"{path}:{start}: unterminated heredoc <<{name}: no line"
                                                 f" '{name}' ends it")
                    candidate = lines[i].lstrip("\t") if chomp else lines[i]
                    i += 1
                    if candidate == name:
                        break
                docs.append(Heredoc(name, start, body_start, i, chomp))
        instructions.append(Instruction(keyword, args.strip(), start, i, tuple(docs)))
    return instructions, escape, open_continuation


def parse(text: str, path: str = "Containerfile") -> Containerfile:
    """Split ``text`` into instructions with their starting line numbers."""
    if len(text) > MAX_BYTES:
        raise ContainerfileError(f"{path}: larger than {MAX_BYTES >> 10} KiB: this is not a Containerfile")
    if text.startswith("\ufeff"):
        text = text[1:]  # a UTF-8 byte-order mark, as buildkit's discardBOM
    lines = _split_lines(text)
    instructions, escape, open_continuation = _read(path, lines, heredocs=True)
    legacy = None
    if any(ins.heredocs for ins in instructions):
        legacy = _read(path, lines, heredocs=False)[0]
    cf = Containerfile(path=path, text=text, instructions=instructions, escape=escape,
                       open_continuation=open_continuation, legacy_instructions=legacy)
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        if ins.keyword == "ARG":
            for word in shell_words(ins.args, keep_quotes=True) or []:
                name, sep, default = word.partition("=")
                try:
                    cf.global_args[name] = expand(default, cf.global_args, escape) if sep else ""
                except ContainerfileError as exc:
                    raise ContainerfileError(f"{path}:{ins.line}: ARG {word}: {exc}") from None
    return cf


def load(path: Path, display: Optional[str] = None) -> Containerfile:
    shown = display or str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ContainerfileError(
            f"{shown}: no such Containerfile: give one with -f, or run in the folder that has it"
        ) from None
    except IsADirectoryError:
        raise ContainerfileError(f"{shown}: is a folder: give the Containerfile itself with -f") from None
    except UnicodeDecodeError as exc:
        raise ContainerfileError(f"{shown}: not UTF-8 text (byte {exc.start}): save it as UTF-8") from None
    except OSError as exc:
        raise ContainerfileError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    return parse(text, shown)

"""Read a Containerfile far enough to know, with line numbers, which image it builds on.

This is not a full parser: it joins continuation lines, skips comments and heredoc bodies, and
understands ``ARG`` before the first ``FROM`` and ``FROM [--platform=..] IMAGE [AS NAME]``.
That is what is needed to check the base image is pinned by digest and to swap it for
``--base``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from . import reference
from .errors import ContainerfileError

# The image OpenShift's on-cluster builds put the rendered MachineConfigs in.
ON_CLUSTER_STAGE = "configs"

_HEREDOC_RE = re.compile(r"<<-?\s*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?")
_VAR_RE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::[-+]([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    args: str  # the text after the keyword, continuation lines joined
    line: int  # 1-based line where the instruction starts


@dataclass(frozen=True)
class FromLine:
    image: str  # as written, variables not expanded
    alias: Optional[str]
    line: int


@dataclass
class Containerfile:
    path: str  # for messages: the file name as the user gave it
    text: str
    instructions: List[Instruction]
    global_args: Dict[str, str] = field(default_factory=dict)

    @property
    def froms(self) -> List[FromLine]:
        return [_parse_from(self.path, ins) for ins in self.instructions if ins.keyword == "FROM"]

    def is_on_cluster(self) -> bool:
        """True for the on-cluster form, whose final stage builds on ``configs``."""
        froms = self.froms
        return bool(froms) and froms[-1].image == ON_CLUSTER_STAGE

    def base(self, build_args: Optional[Mapping[str, str]] = None) -> BaseImage:
        """The external image the final stage builds on, following stage aliases."""
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
        expanded = expand(current.image, values)
        return BaseImage(written=current.image, expanded=expanded, line=current.line)

    def with_base(self, base: BaseImage, new_image: str) -> str:
        """The Containerfile text with the base FROM's image replaced, line numbers kept."""
        lines = self.text.splitlines(keepends=True)
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
        return "".join(lines)


@dataclass(frozen=True)
class BaseImage:
    written: str
    expanded: str
    line: int

    def checked(self, path: str) -> reference.ImageReference:
        """The base as a digest-pinned reference, or a ContainerfileError naming the line."""
        try:
            return reference.parse_pinned(self.expanded)
        except reference.InvalidReference as exc:
            raise ContainerfileError(
                f"{path}:{self.line}: FROM {exc}; OpenShift needs the layered image built on the"
                " release's RHCOS image by digest (`oc adm release info --image-for rhel-coreos`)"
            ) from None


def expand(text: str, values: Mapping[str, str]) -> str:
    """Expand ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR:+alt}`` like buildah."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        value = values.get(name, "")
        modifier = match.group(0)[len(name) + 3 : len(name) + 5] if match.group(2) is not None else ""
        if modifier == ":-":
            return value or match.group(2)
        if modifier == ":+":
            return match.group(2) if value else ""
        return value

    return _VAR_RE.sub(replace, text)


def _parse_from(path: str, ins: Instruction) -> FromLine:
    words = ins.args.split()
    while words and words[0].startswith("--"):
        words.pop(0)
    if len(words) == 1:
        return FromLine(words[0], None, ins.line)
    if len(words) == 3 and words[1].lower() == "as":
        return FromLine(words[0], words[2], ins.line)
    raise ContainerfileError(f"{path}:{ins.line}: FROM needs 'FROM IMAGE [AS NAME]', got 'FROM {ins.args}'")


def parse(text: str, path: str = "Containerfile") -> Containerfile:
    """Split ``text`` into instructions with their starting line numbers."""
    instructions: List[Instruction] = []
    lines = text.splitlines()
    escape = "\\"
    i = 0
    seen_instruction = False
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if not seen_instruction:
            directive = re.match(r"^#\s*escape\s*=\s*(\S)\s*$", stripped, re.IGNORECASE)
            if directive:
                escape = directive.group(1)
                i += 1
                continue
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i + 1
        parts = []
        while True:
            line = lines[i].rstrip()
            if line.endswith(escape) and i + 1 < len(lines):
                parts.append(line[: -len(escape)])
                i += 1
                # comment lines inside a continued instruction are dropped, as buildah does
                while i < len(lines) and lines[i].strip().startswith("#"):
                    i += 1
                if i >= len(lines):
                    break
                continue
            parts.append(line)
            i += 1
            break
        joined = " ".join(p.strip() for p in parts)
        keyword, _, args = joined.partition(" ")
        keyword = keyword.upper()
        seen_instruction = True
        for marker in _HEREDOC_RE.findall(args) if keyword in ("RUN", "COPY") else []:
            while i < len(lines) and lines[i].strip() != marker:
                i += 1
            i += 1
        instructions.append(Instruction(keyword, args.strip(), start))
    cf = Containerfile(path=path, text=text, instructions=instructions)
    for ins in instructions:
        if ins.keyword == "FROM":
            break
        if ins.keyword == "ARG":
            name, _, default = ins.args.partition("=")
            cf.global_args[name.strip()] = default.strip().strip("\"'")
    return cf


def load(path: Path, display: Optional[str] = None) -> Containerfile:
    shown = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContainerfileError(
            f"{shown}: no such Containerfile: give one with -f, or run in the folder that has it"
        ) from None
    except IsADirectoryError:
        raise ContainerfileError(f"{shown}: is a folder: give the Containerfile itself with -f") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContainerfileError(f"{shown}: cannot read: {exc}") from None
    return parse(text, shown)

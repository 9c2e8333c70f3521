"""The project file ``rhcos-layer.yaml`` and the state file beside it.

The project file carries what stays the same between runs (which Containerfile, which base,
where to push). The state file ``.rhcos-layer.state.json`` records the last build and push,
so ``push`` and later ``apply`` need no copy-paste. Neither ever holds a secret.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .errors import ProjectFileError

PROJECT_FILE = "rhcos-layer.yaml"
STATE_FILE = ".rhcos-layer.state.json"
STATE_LOCK = ".rhcos-layer.lock"
# bounds on the project file: a real one is a dozen lines
MAX_BYTES = 1 << 20
MAX_DEPTH = 8
MAX_NODES = 10_000

# key -> (kind, description). The one description of the project file: load() validates
# against it and schema() turns it into the JSON Schema editors use.
FIELDS: Dict[str, Tuple[str, str]] = {
    "containerfile": ("string", "Path of the Containerfile, relative to this file (default: Containerfile)."),
    "context": ("string", "Build context folder, relative to this file (default: this folder)."),
    "image": ("string", "Where `push` sends the image: REPOSITORY[:TAG] (the tag defaults to layer-<inputs>)."),
    "base": ("base", "The RHCOS base image: REPO@sha256:<64 hex>; `cluster` to ask the logged-in cluster;"
                     " or {release: PULLSPEC, arch, stream} to read it from a release payload."),
    "build-args": ("map", "Build arguments (NAME: value). Never secrets: they stay in the image's history."),
    "secrets": ("map", "Build secrets (ID: path of a file), e.g. entitlement certs; given to"
                       " `RUN --mount=type=secret,id=ID`, never stored in the image."),
    "on-cluster": ("on-cluster", "For `render --on-cluster` (MachineOSConfig): push-secret and pull-secret, names of"
                                 " Secrets in openshift-machine-config-operator; containerfile-ARCH: a Containerfile"
                                 " for one architecture (amd64, arm64, ppc64le, s390x)."),
}
# the keys under on-cluster: (the values are Secret names and file paths, never secrets)
ON_CLUSTER_SECRETS = ("push-secret", "pull-secret")
# a Kubernetes object name (RFC 1123 subdomain), as the MachineOSConfig CRD checks secret names
_SECRET_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
MAP_KINDS = ("map", "on-cluster")
KEYS = {key: description for key, (_, description) in FIELDS.items()}
BASE_RELEASE_KEYS = ("release", "arch", "stream")
ARCHES = ("amd64", "arm64", "ppc64le", "s390x")


def schema() -> Dict[str, Any]:
    """The JSON Schema of rhcos-layer.yaml."""
    properties: Dict[str, Any] = {}
    for key, (kind, description) in FIELDS.items():
        if kind == "string":
            properties[key] = {"type": "string", "minLength": 1, "description": description}
        elif kind == "map":
            properties[key] = {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                               "description": description}
        elif kind == "on-cluster":
            names = {k: {"type": "string", "maxLength": 253, "pattern": _SECRET_NAME_RE.pattern}
                     for k in ON_CLUSTER_SECRETS}
            files = {f"containerfile-{arch}": {"type": "string", "minLength": 1} for arch in ARCHES}
            properties[key] = {"type": "object", "additionalProperties": False, "description": description,
                               "properties": {**names, **files}}
        else:
            properties[key] = {"description": description, "oneOf": [
                {"type": "string", "pattern": r"^[^@\s]+@sha256:[0-9a-f]{64}$"},
                {"const": "cluster"},
                {"type": "object", "required": ["release"], "additionalProperties": False,
                 "properties": {"release": {"type": "string", "minLength": 1},
                                "arch": {"type": "string", "enum": [*ARCHES, "x86_64", "aarch64"]},
                                "stream": {"type": "string", "minLength": 1}}},
            ]}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "rhcos-layer project file (rhcos-layer.yaml)",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }


@dataclass
class Project:
    """A loaded project file. ``path`` is None when there is none (then ``root`` is the cwd)."""

    root: Path
    path: Optional[Path] = None
    containerfile: Optional[str] = None
    context: Optional[str] = None
    image: Optional[str] = None
    base: Optional[str] = None
    base_release: Dict[str, str] = field(default_factory=dict)  # base: {release: ..., arch, stream}
    build_args: Dict[str, str] = field(default_factory=dict)
    secrets: Dict[str, str] = field(default_factory=dict)
    on_cluster: Dict[str, str] = field(default_factory=dict)  # on-cluster: {push-secret, pull-secret, ...}
    lines: Dict[str, int] = field(default_factory=dict)

    @property
    def state_path(self) -> Path:
        return self.root / STATE_FILE

    @property
    def lock_path(self) -> Path:
        """Beside the state file, kept (removing a lock file others may hold would break the lock)."""
        return self.root / STATE_LOCK

    def where(self, key: str) -> str:
        """``file:line`` of a key, for messages."""
        line = self.lines.get(key)
        name = self.path.name if self.path else PROJECT_FILE
        return f"{name}:{line}" if line else name

    def read_state(self) -> Dict[str, Any]:
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            raise ProjectFileError(
                f"{self.state_path}: state file is unreadable: delete it and run `rhcos-layer build` again"
            ) from None
        return data if isinstance(data, dict) else {}

    def record(self, section: str, entry: Dict[str, Any]) -> None:
        """Replace one section of the state file: read, change and replace it under an exclusive
        lock, so a build and a push finishing together both keep their section."""
        import fcntl
        import tempfile

        lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)  # released by close(), also if we are killed
            state = self.read_state()
            state[section] = entry
            fd, tmp = tempfile.mkstemp(prefix=".rhcos-layer.state.", dir=str(self.root))  # 0600
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(state, handle, indent=2, sort_keys=True)
                    handle.write("\n")
                os.replace(tmp, self.state_path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        finally:
            os.close(lock_fd)


def find(explicit: Optional[str], cwd: Optional[Path] = None) -> Project:
    """Load ``--project FILE``, else ./rhcos-layer.yaml when it exists, else an empty project."""
    here = cwd or Path.cwd()
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            path = path / PROJECT_FILE
        if not path.is_file():
            raise ProjectFileError(
                f"--project {explicit}: no such project file: create one with `rhcos-layer init`"
            )
        return load(path)
    candidate = here / PROJECT_FILE
    if candidate.is_file():
        return load(candidate)
    return Project(root=here)


# The plain project files `init` writes and most people keep: top-level `key: value` lines and
# one level of two-space `  key: value` under a key with no value (base: {release...}, build-args,
# secrets), with comments and blank lines. Read without PyYAML, whose import alone costs a no-op
# push ~40 ms (docs/engine.md); anything else (quotes, flow style, tabs, anchors, another
# indentation, a key twice...) goes to PyYAML, which also words every error.
_PLAIN_VALUE = r"[A-Za-z0-9_./][A-Za-z0-9_./:@=+-]*(?<!:)"
_PLAIN_LINE = re.compile(rf"^(  )?([A-Za-z0-9_][A-Za-z0-9_.-]*):(?: +({_PLAIN_VALUE}))?(?: +#.*)? *$")
_BLANK_OR_COMMENT = re.compile(r"^ *(?:#.*)?$")
_PLAIN_MAX_LINES = 1000  # well inside MAX_NODES, which PyYAML's reading enforces


def _plain_entries(text: str) -> Optional[List[Tuple[str, int, Union[str, Dict[str, str]]]]]:
    """(key, line, value or {subkey: value}) of a plain project file, in order; None when the
    text is not in that simple shape, or is in it but would be refused (load then reads it with
    PyYAML and says why)."""
    if not text.isascii() or "\t" in text or "\r" in text or text.count("\n") > _PLAIN_MAX_LINES:
        return None
    entries: List[Tuple[str, int, Union[str, Dict[str, str]]]] = []
    nested: Optional[Dict[str, str]] = None
    for number, line in enumerate(text.split("\n"), 1):
        if _BLANK_OR_COMMENT.match(line):
            continue
        match = _PLAIN_LINE.match(line)
        if match is None:
            return None
        indent, key, value = match.groups()
        if indent:
            if nested is None or value is None or key in nested:
                return None
            nested[key] = value
            continue
        if nested is not None and not nested:
            return None  # a key with no value and nothing under it: null, refused by load's rules
        if key not in FIELDS or any(key == seen for seen, _, _ in entries):
            return None
        kind = FIELDS[key][0]
        if value is None:
            if kind == "string":
                return None
            nested = {}
            entries.append((key, number, nested))
        else:
            if kind in MAP_KINDS:
                return None
            nested = None
            entries.append((key, number, value))
    if nested is not None and not nested:
        return None
    return entries


def _plain_project(path: Path, text: str) -> Optional[Project]:
    entries = _plain_entries(text)
    if entries is None:
        return None
    project = Project(root=path.parent.resolve(), path=path)
    for key, line, value in entries:
        project.lines[key] = line
        if isinstance(value, str):
            setattr(project, key, value)
        elif key == "base":
            if "release" not in value or set(value) - set(BASE_RELEASE_KEYS):
                return None
            project.base_release = value
        else:
            setattr(project, key.replace("-", "_"), value)
    return project


def load(path: Path) -> Project:
    """Read and check ``path``: every error names the file and line and says what to change."""
    name = path.name
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ProjectFileError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise ProjectFileError(f"{name}: larger than {MAX_BYTES >> 20} MiB: not a project file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ProjectFileError(f"{name}:{line}: not UTF-8 text: save the file as UTF-8") from None
    plain = _plain_project(path, text)
    return _finish(plain, name) if plain is not None else _load_yaml(path, text)


def _load_yaml(path: Path, text: str) -> Project:
    import yaml

    from . import yamlshape

    name = path.name
    try:
        yamlshape.check(text, max_depth=MAX_DEPTH, max_nodes=MAX_NODES)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yamlshape.ShapeError as exc:
        raise ProjectFileError(f"{name}:{exc.line}: {exc.problem}: a project file is a flat list of keys") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ProjectFileError(f"{where}: {problem}: fix the YAML syntax") from None
    project = Project(root=path.parent.resolve(), path=path)
    if node is None:
        return project
    if not isinstance(node, yaml.MappingNode):
        raise ProjectFileError(f"{name}:{node.start_mark.line + 1}: the project file must be a mapping of keys")
    for key_node, value_node in node.value:
        line = key_node.start_mark.line + 1
        key = _plain_key(name, key_node)
        if key not in FIELDS:
            known = ", ".join(FIELDS)
            raise ProjectFileError(f"{name}:{line}: unknown key {key!r}: the keys are {known}")
        if key in project.lines:
            raise ProjectFileError(f"{name}:{line}: {key} is given twice (also on line {project.lines[key]})")
        project.lines[key] = line
        kind = FIELDS[key][0]
        if kind in MAP_KINDS:
            setattr(project, key.replace("-", "_"), _string_map(name, key, line, value_node))
        elif kind == "base" and isinstance(value_node, yaml.MappingNode):
            project.base_release = _string_map(name, key, line, value_node)
            unknown = sorted(set(project.base_release) - set(BASE_RELEASE_KEYS))
            if unknown or "release" not in project.base_release:
                raise ProjectFileError(f"{name}:{line}: base as a mapping needs release: PULLSPEC (and optionally"
                                       f" arch, stream){'; unknown: ' + ', '.join(unknown) if unknown else ''}")
        elif not isinstance(value_node, yaml.ScalarNode) or not value_node.value:
            raise ProjectFileError(f"{name}:{line}: {key} must be a string: {KEYS[key]}")
        else:
            setattr(project, key, str(value_node.value))
    return _finish(project, name)


def _finish(project: Project, name: str) -> Project:
    """The checks both readers share: references, base.arch and on-cluster."""
    _check_references(project, name)
    _check_on_cluster(project, name)
    if "arch" in project.base_release:
        from .release import normalise_arch

        project.base_release["arch"] = normalise_arch(project.base_release["arch"])
        if project.base_release["arch"] not in ARCHES:
            raise ProjectFileError(f"{name}:{project.lines['base']}: base.arch {project.base_release['arch']!r}:"
                                   f" one of {', '.join(ARCHES)}")
    return project


def _check_on_cluster(project: Project, name: str) -> None:
    """``on-cluster:`` keys and Secret names checked now, as the MachineOSConfig CRD would later."""
    if not project.on_cluster:
        return
    where = f"{name}:{project.lines.get('on-cluster', 0)}"
    known = (*ON_CLUSTER_SECRETS, *(f"containerfile-{arch}" for arch in ARCHES))
    for key, value in project.on_cluster.items():
        if key not in known:
            raise ProjectFileError(f"{where}: on-cluster.{key[:40]}: unknown key: the keys are {', '.join(known)}")
        if key in ON_CLUSTER_SECRETS and (len(value) > 253 or not _SECRET_NAME_RE.match(value)):
            raise ProjectFileError(f"{where}: on-cluster.{key} {value[:60]!r} is not a Secret name",
                                   hint="lowercase letters, digits, '-' and '.', at most 253 characters: the name"
                                        " of a Secret in openshift-machine-config-operator, never its content")
        if key.startswith("containerfile-") and not value.strip():
            raise ProjectFileError(f"{where}: on-cluster.{key} is empty: give the path of a Containerfile")


def _check_references(project: Project, name: str) -> None:
    """``image:`` and ``base:`` checked now, not after a build: a typo costs nothing yet."""
    from . import reference

    checks = []
    if project.image is not None:
        checks.append(("image", project.image, "REGISTRY/REPOSITORY[:TAG]"))
    if project.base is not None and project.base != "cluster":
        checks.append(("base", project.base, "REPO@sha256:<64 hex>, or cluster"))
    if "release" in project.base_release:
        checks.append(("base", project.base_release["release"], "release: REGISTRY/REPOSITORY[:TAG|@sha256:...]"))
    for key, value, expected in checks:
        where = f"{name}:{project.lines[key]}"
        try:
            parsed = reference.parse_pinned(value) if expected.startswith("REPO@") else reference.parse(value)
        except reference.InvalidReference as exc:
            raise ProjectFileError(f"{where}: {key}: {exc}", hint=f"expected {expected}") from None
        if key == "image" and parsed.digest:
            raise ProjectFileError(f"{where}: image {value!r} has a digest: give a repository or a tag;"
                                   " the digest is what push prints")


def _plain_key(name: str, node: Any) -> str:
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        raise ProjectFileError(f"{name}:{node.start_mark.line + 1}: a key must be a plain word, not a"
                               f" {'list' if isinstance(node, yaml.SequenceNode) else 'mapping'}")
    return str(node.value)


def _string_map(name: str, key: str, line: int, node: Any) -> Dict[str, str]:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        raise ProjectFileError(f"{name}:{line}: {key} must be a mapping (NAME: value)")
    result: Dict[str, str] = {}
    for item_key, item_value in node.value:
        item = _plain_key(name, item_key)
        item_line = item_key.start_mark.line + 1
        if not isinstance(item_value, yaml.ScalarNode):
            raise ProjectFileError(f"{name}:{item_line}: {key}.{item} must be a plain value")
        if item in result:
            raise ProjectFileError(f"{name}:{item_line}: {key}.{item} is given twice")
        result[item] = str(item_value.value)
    return result

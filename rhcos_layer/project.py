"""The project file ``rhcos-layer.yaml`` and the state file beside it.

The project file carries what stays the same between runs (which Containerfile, which base,
where to push). The state file ``.rhcos-layer.state.json`` records the last build and push,
so ``push`` and later ``apply`` need no copy-paste. Neither ever holds a secret.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

from .errors import ProjectFileError

PROJECT_FILE = "rhcos-layer.yaml"
STATE_FILE = ".rhcos-layer.state.json"

# key -> (expected type, description); the description feeds error messages
KEYS: Dict[str, str] = {
    "containerfile": "path of the Containerfile, relative to this file",
    "context": "build context folder, relative to this file",
    "image": "where `push` sends the image: REPOSITORY[:TAG]",
    "base": "the RHCOS base image by digest: REPO@sha256:<64 hex>",
    "build-args": "map of build arguments (NAME: value)",
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
    build_args: Dict[str, str] = field(default_factory=dict)
    lines: Dict[str, int] = field(default_factory=dict)

    @property
    def state_path(self) -> Path:
        return self.root / STATE_FILE

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
        """Replace one section of the state file, atomically."""
        import tempfile

        state = self.read_state()
        state[section] = entry
        fd, tmp = tempfile.mkstemp(prefix=".rhcos-layer.state.", dir=str(self.root))
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle, indent=2, sort_keys=True)
                handle.write("\n")
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.state_path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def find(explicit: Optional[str], cwd: Optional[Path] = None) -> Project:
    """Load ``--project FILE``, else ./rhcos-layer.yaml when it exists, else an empty project."""
    here = cwd or Path.cwd()
    if explicit:
        path = Path(explicit)
        if path.is_dir():
            path = path / PROJECT_FILE
        if not path.is_file():
            raise ProjectFileError(
                f"--project {explicit}: no such project file: create it with the keys in docs/project-file.md"
            )
        return load(path)
    candidate = here / PROJECT_FILE
    if candidate.is_file():
        return load(candidate)
    return Project(root=here)


def load(path: Path) -> Project:
    import yaml

    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProjectFileError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
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
        key = key_node.value
        line = key_node.start_mark.line + 1
        if key not in KEYS:
            known = ", ".join(KEYS)
            raise ProjectFileError(f"{name}:{line}: unknown key {key!r}: the keys are {known}")
        project.lines[key] = line
        if key == "build-args":
            if not isinstance(value_node, yaml.MappingNode):
                raise ProjectFileError(f"{name}:{line}: build-args must be a mapping (NAME: value)")
            for arg_key, arg_value in value_node.value:
                if not isinstance(arg_value, yaml.ScalarNode):
                    raise ProjectFileError(
                        f"{name}:{arg_key.start_mark.line + 1}: build-args.{arg_key.value} must be a plain value"
                    )
                project.build_args[str(arg_key.value)] = str(arg_value.value)
            continue
        if not isinstance(value_node, yaml.ScalarNode) or not value_node.value:
            raise ProjectFileError(f"{name}:{line}: {key} must be a string: {KEYS[key]}")
        setattr(project, key, str(value_node.value))
    return project

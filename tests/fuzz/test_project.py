"""Property-based tests of the project file loader: any bytes, any YAML shape (complex keys,
nesting, aliases, tags). Only ProjectFileError may come out, naming the file."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rhcos_layer import project
from rhcos_layer.errors import ProjectFileError

_KEYS = st.sampled_from(["containerfile", "context", "image", "base", "build-args", "secrets", "release", "arch",
                         "stream", "x", "? [a]", "? {a: 1}", "<<", "&a k", "*a"])
_SCALARS = st.sampled_from(["quay.io/me/os", "quay.io/r/rhcos@sha256:" + "a" * 64, "cluster", "''", "~", "1.10",
                            "yes", "[]", "{}", "*a", "&a v", "!!binary aGk=", "!!python/object:os.system x",
                            "\"\\x00\"", "amd64", "sparc", "Quay.io/X"])


@st.composite
def _yaml(draw: st.DrawFn, depth: int = 0) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 4))):
        key = draw(_KEYS)
        indent = "  " * depth
        if depth < 3 and draw(st.booleans()):
            lines.append(f"{indent}{key}:")
            lines.append(draw(_yaml(depth + 1)))
        elif draw(st.booleans()):
            lines.append(f"{indent}{key}: [{', '.join(draw(st.lists(_SCALARS, max_size=3)))}]")
        else:
            lines.append(f"{indent}{key}: {draw(_SCALARS)}")
    return "\n".join(lines)


def _load(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "rhcos-layer.yaml"
    path.write_bytes(data)
    try:
        project.load(path)
    except ProjectFileError as exc:
        assert str(exc).startswith("rhcos-layer.yaml")


_TMP_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@_TMP_OK
@given(_yaml())
def test_structured_yaml_is_loaded_or_refused_cleanly(tmp_path: Path, text: str) -> None:
    _load(tmp_path, text.encode())


@_TMP_OK
@given(st.binary(max_size=300))
def test_any_bytes_are_loaded_or_refused_cleanly(tmp_path: Path, data: bytes) -> None:
    _load(tmp_path, data)


@_TMP_OK
@given(st.text(alphabet="[]{}:,?-&*!|>'\" \n\tabik", max_size=300))
def test_yaml_punctuation_is_loaded_or_refused_cleanly(tmp_path: Path, text: str) -> None:
    _load(tmp_path, text.encode())

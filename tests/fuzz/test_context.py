"""Property-based tests of the .containerignore matcher and COPY globs on hostile patterns:
a pattern is compiled or refused with the project's error, never a crash."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer.context import PatternError, _compile, collect, compile_glob
from rhcos_layer.errors import InvalidInput

PIECES = ["[", "]", "^", "!", "-", "\\", "*", "**", "?", "/", ".", "..", "a", "z", "é", "{", "}", "(", ")", "$",
          "|", "+", "[]", "[z-a]", "[a-z]", "[!]", "[^a]", "**/", "\n", "#", " ", "\x00"]
patterns = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=30).map("".join)
PATHS = ["a", "!", "z", "a/b", "sub/deep/file.conf", "[", "]", "x.conf", "é"]

_ROOT = tempfile.TemporaryDirectory(prefix="rhcos-layer-fuzz-")  # one context for every example
for _name in ("a", "x.conf", "sub/deep/file.conf"):
    (Path(_ROOT.name) / _name).parent.mkdir(parents=True, exist_ok=True)
    (Path(_ROOT.name) / _name).write_text("x")


@given(patterns)
def test_a_pattern_compiles_or_is_refused_as_malformed(pattern: str) -> None:
    for compile_ in (_compile, compile_glob):
        try:
            regex = compile_(pattern)
        except PatternError:
            continue
        for path in PATHS:
            regex.match(path)


@given(st.lists(patterns, max_size=8).map("\n".join))
def test_a_containerignore_file_gives_a_context_or_one_clear_error(text: str) -> None:
    root = Path(_ROOT.name)
    (root / ".containerignore").write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        context = collect(root)
    except InvalidInput as exc:
        assert str(exc).startswith(f"{root / '.containerignore'}:")
        return
    sent = {f.relpath for f in context.files}
    assert sent.isdisjoint(context.excluded)
    assert sent | set(context.excluded) == {".containerignore", "a", "x.conf", "sub/deep/file.conf"}

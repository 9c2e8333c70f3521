"""Property-based tests of the Containerfile parser and lint on hostile input: only the
project's own errors may come out, and the output stays bounded by the input."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer import containerfile
from rhcos_layer.context import BuildContext, ContextFile
from rhcos_layer.errors import RhcosLayerError
from rhcos_layer.lint import MAX_BRACE_WORDS, _brace_expand, layered_packages, lint

DIGEST = "sha256:" + "a" * 64
# The grammar's pieces: instructions, flags, continuations, heredoc markers, quotes,
# substitutions, directives, a BOM, NULs and other line breaks Python would split at.
PIECES = [
    "FROM ", "FROM quay.io/x/y@" + DIGEST, "FROM quay.io/x/ocp-release:4.16.3-x86_64", "from ", " AS ", " as stage",
    "RUN ", "run ", "COPY ", "ADD ", "ARG ", "ENV ", "LABEL ", "ONBUILD ", "RUNN ", "EOF ", "FROM configs",
    containerfile.BASE_NOT_SET, "--from=stage ", "--chown=0:0 ", "--checksum=sha256:x ", "--mount=type=secret ",
    "\n", "\r\n", "\\\n", "\\  \n", "`\n", "\\\\\n", "\\", "`", "# escape=`\n", "# escape=\\\n", "# comment\n",
    "#", "<<EOF", "<<-EOF", "<<'EOF'", '<<"EOF"', "3<<X", "<<<", "<<", "EOF\n", "\tEOF\n", "X\n", "$((1<<X))",
    '"', "'", "${A:-x}", "${A:+y}", "${A:?z}", "${", "${A:-${B:-", "}", "$A", "$", "\\$",
    "\ufeff", "\x00", "\x0b", "\u2028", " ", "\t", "[", "]", '["a", "b"]', "{a,b}", "{,}", "{a,{b,c}}",
    "rpm-ostree install ", "rpm-ostree override replace ", "kernel-rt-core ", "usbguard ", "/r/kernel-1.rpm ",
    "ostree container commit", "&& ", "> /var/x ", "a.conf ", "*.conf ", "s?b/ ", "[z-a] ", "/etc/ ",
    "https://x/y ", "redhat.repo ", "REGISTRY_PASSWORD=1 ",
]
piece_texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=12)), max_size=40).map("".join)
# a piece repeated into a long line (up to ~300 KB): cheap to generate, costly for a parser that backtracks
long_lines = st.tuples(st.sampled_from(PIECES), st.integers(0, 8000), st.sampled_from(PIECES)).map(
    lambda t: "FROM quay.io/x/y@" + DIGEST + "\nRUN rpm-ostree install " + t[0] * t[1] + t[2] + "\n")
CONTEXT = BuildContext(Path("/nonexistent-context"),
                       [ContextFile("a.conf", Path("/nonexistent-context/a.conf"), 0o644),
                        ContextFile("sub/b.conf", Path("/nonexistent-context/sub/b.conf"), 0o644)],
                       excluded=["secret.pem", "logs/x.log"])


def _check(text: str) -> None:
    try:
        cf = containerfile.parse(text)
    except RhcosLayerError:
        return
    assert all(ins.line >= 1 and ins.end_line >= ins.line for ins in cf.instructions)
    assert text.count("\n") + 1 >= max((ins.end_line for ins in cf.instructions), default=0)
    try:
        findings = lint(cf, context=CONTEXT, build_args={"A": "1"})
    except RhcosLayerError:
        return
    # a handful of rules can fire per instruction, per heredoc and for the file: never more
    assert len(findings) <= 12 * (len(cf.instructions) + len(cf.heredocs) + 1)
    layered_packages(cf)
    try:
        cf.base({"A": "quay.io/x/y@" + DIGEST}).checked(cf.path)
    except RhcosLayerError:
        pass


@given(piece_texts)
def test_text_from_the_grammar_gives_findings_or_project_errors(text: str) -> None:
    _check(text)


@given(st.text(max_size=400))
def test_arbitrary_text_gives_findings_or_project_errors(text: str) -> None:
    _check(text)


@given(long_lines)
def test_long_lines_give_findings_or_project_errors(text: str) -> None:
    _check(text)


@given(st.lists(st.sampled_from(["{", "}", ",", "a", "b", "{a,b}", "{,}", "{a,b,c,d}"]), max_size=120).map("".join))
def test_brace_expansion_is_bounded(word: str) -> None:
    words, cut = _brace_expand(word)
    assert len(words) <= MAX_BRACE_WORDS + 1
    assert sum(len(w) for w in words) <= (1 << 20) + MAX_BRACE_WORDS * len(word)
    if not cut:  # finished: every group with a comma was expanded
        assert not any(re.search(r"\{[^{}]*,[^{}]*\}", w) for w in words)


@given(piece_texts, st.dictionaries(st.sampled_from(["A", "B", "BASE"]), st.sampled_from(["", "x", "${A}", "$"])))
def test_expansion_gives_a_string_or_a_project_error(word: str, values: dict) -> None:
    try:
        result = containerfile.expand(word, values)
    except RhcosLayerError:
        return
    # each character of the input yields at most one value's worth of output
    assert len(result) <= len(word) * (1 + max((len(v) for v in values.values()), default=0))


@given(st.text(alphabet=st.sampled_from(list("ab \t\n\\'\"$`<-")), max_size=60))
def test_shell_words_with_and_without_quotes_split_alike(text: str) -> None:
    # one splitter serves heredoc detection (quotes kept) and lint (quotes removed): both modes
    # must find the same words, and removing a kept word's quotes must give the plain word
    kept = containerfile.shell_words(text, keep_quotes=True)
    plain = containerfile.shell_words(text)
    assert (kept is None) == (plain is None)
    if kept is not None and plain is not None:
        assert [containerfile.shell_words(word) for word in kept] == [[word] for word in plain]

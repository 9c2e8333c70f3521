"""Property-based tests of the image reference parser: only InvalidReference comes out, and
what parses prints back to itself."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer import reference
from rhcos_layer.errors import RhcosLayerError

# the characters the grammar gives meaning to, plus what must be refused
_ALPHABET = st.sampled_from(list("abcz09AZ.-_:/@[]") + ["sha256:", "a" * 64, "\n", " ", "\t", "\x00", "é", "localhost"])
_ALNUM = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
# a path component: alphanumeric runs joined by the separators the grammar allows
_COMPONENT = st.builds(lambda first, rest: first + "".join(sep + run for sep, run in rest), _ALNUM,
                       st.lists(st.tuples(st.sampled_from([".", "_", "__", "-", "---"]), _ALNUM), max_size=3))
_LABEL = st.builds(lambda a, mid: a + (mid + a if mid else ""), _ALNUM, st.sampled_from(["", "-", "x-y"]))
_HOST = st.one_of(st.just("localhost"), st.just("[::1]"),
                  st.builds(lambda labels: ".".join(labels), st.lists(_LABEL, min_size=2, max_size=3)))
_PORT = st.one_of(st.none(), st.integers(1, 65535))
_TAG = st.builds(lambda first, rest: first + rest, st.sampled_from(list("aZ9_")),
                 st.text(alphabet="aZ9_.-", max_size=20))
_DIGEST = st.builds(lambda hexes: "sha256:" + hexes, st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))

@given(st.lists(_ALPHABET, max_size=30).map("".join))
def test_any_text_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        ref = reference.parse(text)
    except RhcosLayerError as exc:
        assert isinstance(exc, reference.InvalidReference)
        return
    assert not any(ch.isspace() or not ch.isprintable() for ch in str(ref))
    assert reference.parse(str(ref)) == ref


@given(st.text(max_size=300))
def test_arbitrary_unicode_parses_or_is_refused_cleanly(text: str) -> None:
    for parse in (reference.parse, reference.parse_local, reference.parse_pinned):
        try:
            parse(text)
        except reference.InvalidReference:
            pass


@given(_HOST, _PORT, st.lists(_COMPONENT, min_size=1, max_size=4), st.one_of(st.none(), _TAG),
       st.one_of(st.none(), _DIGEST))
def test_references_built_from_the_grammar_round_trip(host: str, port: object, path: list, tag: object,
                                                      digest: object) -> None:
    text = host + (f":{port}" if port else "") + "/" + "/".join(path)
    text += f":{tag}" if tag else ""
    text += f"@{digest}" if digest else ""
    if len("/".join(path)) > reference.PATH_MAX:
        return
    ref = reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (
        host + (f":{port}" if port else ""), "/".join(path), tag, digest)
    assert str(ref) == text

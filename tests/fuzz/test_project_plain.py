"""The project file's plain reader (no PyYAML) must read exactly what PyYAML's reader reads, and
leave everything else to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer import project
from rhcos_layer.errors import RhcosLayerError

PATH = Path("/nonexistent/rhcos-layer.yaml")
KEYS = ["image", "containerfile", "context", "base", "build-args", "secrets", "unknown", "A", "release", "arch",
        "stream", "x.y", "<<", "- image", "image ", "? image", "on-cluster", "push-secret", "containerfile-amd64"]
SEPARATORS = [":", ": ", ":  ", " : ", ":\t"]
VALUES = ["quay.io/x/y", "reg.example.com:5000/a:b", "x:", "-x", "@x", "a#b", "'q'", '"q"', "cluster", "amd64",
          "x86_64", "null", "~", "", "a b", "=x", "Containerfile", "1", "quay.io/x/y@sha256:" + "a" * 64, "[a]",
          "{release: quay.io/r/r:4.16.3}", "&a x", "*a", "|", ">", "http://x/y", "Upper/Case", "é"]
INDENTS = ["", "", "  ", "  ", " ", "   ", "    ", "\t", "- "]
COMMENTS = ["", "", " # note", "#x", "  #"]
ENDS = ["\n", "\n", "\r\n", ""]
line = st.tuples(st.sampled_from(INDENTS), st.sampled_from(KEYS), st.sampled_from(SEPARATORS),
                 st.sampled_from(VALUES), st.sampled_from(COMMENTS), st.sampled_from(ENDS)).map("".join)
noise = st.sampled_from(["\n", "# c\n", "---\n", "  \n", "\ufeff"])
# mostly the plain shape, so that the plain reader's answers are compared often, not only its refusals


def _mostly(valid: List[str], invalid: List[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(valid * (6 * len(invalid)) + invalid)  # each valid one 6 times as likely


_value = _mostly(["quay.io/x/y", "reg.example.com:5000/a:b", "cluster", "amd64", "arm64", "x86_64",
                  "quay.io/r/release:4.16.3", "1", "Containerfile", "null", "quay.io/x/y@sha256:" + "b" * 64],
                 ["x:", "-x", "a#b", "", "Upper/x", "arm"])
_children = ["release", "arch", "stream", "A", "B_2", "ent", "push-secret", "pull-secret", "containerfile-arm64"]
_child = st.tuples(_mostly(["  "], [" ", "   "]), _mostly(_children, ["x y"]),
                   _mostly([": "], [":", " : "]), _value, st.sampled_from(["", "", " # c"]),
                   st.just("\n")).map("".join)
_entry = st.tuples(_mostly(["image", "containerfile", "context", "base", "build-args", "secrets", "on-cluster"],
                           ["nope"]),
                   st.one_of(_value.map(lambda v: f": {v}\n"),
                             st.lists(_child, max_size=3).map(lambda c: ":\n" + "".join(c)))).map("".join)
near = st.lists(_entry, max_size=4, unique_by=lambda e: e.split(":")[0]).map("".join)
documents = st.lists(st.one_of(line, noise), max_size=10).map("".join)


def _outcome(read: Any) -> Any:
    try:
        got = read()
    except RhcosLayerError as exc:
        return ("error", exc.message)
    return (got.image, got.containerfile, got.context, got.base, got.base_release, got.build_args, got.secrets,
            got.on_cluster, got.lines)


def _agrees_or_steps_aside(text: str) -> bool:
    plain = project._plain_project(PATH, text)
    if plain is None:
        return False  # PyYAML reads it
    assert _outcome(lambda: project._finish(plain, PATH.name)) == _outcome(lambda: project._load_yaml(PATH, text))
    return True


@given(documents)
def test_the_plain_reader_agrees_with_pyyaml_or_steps_aside(text: str) -> None:
    _agrees_or_steps_aside(text)


@given(near)
def test_plain_files_read_the_same_without_pyyaml(text: str) -> None:
    _agrees_or_steps_aside(text)


def test_the_files_init_writes_and_the_docs_show_are_read_without_pyyaml() -> None:
    # the comparison above must not be vacuous: these common files take the plain path
    from rhcos_layer.templates import project_file

    release = "quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64"
    for text in [project_file("x", None, release, "reg.example.com/ops/x", "arm64", "rhel-coreos-10"),
                 project_file("x", "quay.io/r/rhcos@sha256:" + "c" * 64, None, None),
                 project_file("x", None, None, "reg.example.com/ops/x"),
                 "image: quay.io/x/y\n",
                 "# a comment\ncontainerfile: Containerfile\nimage: reg.example.com:5000/ops/layered # where\n"
                 "base:\n  release: quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64\n  arch: amd64\n",
                 "base: cluster\nbuild-args:\n  VERSION: 1.2\nsecrets:\n  ent: ../ent.pem\n"]:
        assert _agrees_or_steps_aside(text), text

from __future__ import annotations

import pytest

from rhcos_layer import reference

DIGEST = "sha256:" + "a" * 64


def test_pinned_reference_parses_into_parts() -> None:
    ref = reference.parse_pinned(f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@{DIGEST}")
    assert ref.registry == "quay.io"
    assert ref.repository == "openshift-release-dev/ocp-v4.0-art-dev"
    assert ref.digest == DIGEST
    assert ref.pinned() == f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@{DIGEST}"


def test_registry_with_port_is_not_mistaken_for_a_tag() -> None:
    ref = reference.parse("127.0.0.1:5000/rhcos/base:4.16")
    assert (ref.registry, ref.repository, ref.tag) == ("127.0.0.1:5000", "rhcos/base", "4.16")
    assert not ref.is_pinned


def test_docker_hub_short_names_are_expanded() -> None:
    assert reference.parse("busybox").name == "docker.io/library/busybox"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("quay.io/a/b:4.16", "uses the tag '4.16'"),
        ("quay.io/a/b", "uses no digest"),
    ],
)
def test_unpinned_references_are_refused(text: str, reason: str) -> None:
    with pytest.raises(reference.InvalidReference, match=reason):
        reference.parse_pinned(text)


@pytest.mark.parametrize(
    "text",
    [
        "quay.io/a/b@sha256:abc",  # too short
        "quay.io/a/b@sha256:" + "A" * 64,  # upper case
        "quay.io/a/b@sha256:" + "g" * 64,  # not hex
        "quay.io/a/b@sha256...",  # the docs' placeholder
        "quay.io/a/b@md5:" + "a" * 32,
    ],
)
def test_malformed_digests_are_refused(text: str) -> None:
    with pytest.raises(reference.InvalidReference, match="digest"):
        reference.parse(text)


def test_invalid_repository_component_is_refused() -> None:
    with pytest.raises(reference.InvalidReference, match="invalid repository name component 'Bad'"):
        reference.parse("quay.io/Bad/name")


@pytest.mark.parametrize(
    "tag, expected",
    [
        ("mine:1", "localhost/mine:1"),
        ("mine", "localhost/mine:latest"),
        ("ops/mine:2", "localhost/ops/mine:2"),
        ("registry.example.com/ops/mine:3", "registry.example.com/ops/mine:3"),
        ("localhost/mine:4", "localhost/mine:4"),
    ],
)
def test_build_tags_are_qualified_like_podman(tag: str, expected: str) -> None:
    assert str(reference.parse_local(tag)) == expected


# ------------------------------------------------------------------ the distribution grammar, strictly
@pytest.mark.parametrize("text, reason", [
    ("quay.io/a/b:1\n", "no spaces or control characters"),  # `$` would have let the newline through
    (" quay.io/a/b:1", "no spaces or control characters"),
    ("quay.io/a b/c", "no spaces or control characters"),
    ("quay.io/a/b\x00:1", "no spaces or control characters"),
    ("quay.io/a/b@" + DIGEST + "\n", "no spaces or control characters"),
    ("quay.io:99999/a/b", "invalid registry port '99999' (1 to 65535)"),
    ("quay.io:0/a/b", "invalid registry port '0'"),
    ("quay.io:/a/b", "invalid registry host 'quay.io:'"),
    ("-quay.io/a/b", "invalid registry host '-quay.io'"),
    ("quay-.io/a/b", "invalid registry host 'quay-.io'"),
    ("qu_ay.io/a/b", "invalid registry host 'qu_ay.io'"),
    ("quay..io/a/b", "invalid registry host 'quay..io'"),
    ("[::1/a/b", "invalid registry host"),
    ("quay.io/Upper/b", "invalid repository name component 'Upper'"),
    ("quay.io/a//b", "invalid repository name component ''"),
    ("quay.io/a/b-", "invalid repository name component 'b-'"),
    ("quay.io/a/b:", "invalid tag ''"),
    ("quay.io/a/b:-x", "invalid tag '-x'"),
    ("quay.io/a/b:" + "t" * 129, "invalid tag"),
    ("quay.io/a/b:tág", "invalid tag"),
    ("quay.io/" + "/".join(["abcdefghij"] * 24), "repository name of 263 characters (at most 255)"),
    ("q" * 2000, "too long (at most 1024)"),
    ("", "empty image reference"),
    ("docker://quay.io/a/b", "without a transport or scheme"),
])
def test_references_outside_the_grammar_are_refused(text: str, reason: str) -> None:
    with pytest.raises(reference.InvalidReference) as info:
        reference.parse(text)
    assert reason in str(info.value)


@pytest.mark.parametrize("text, parts", [
    ("localhost:5000/a/b:1", ("localhost:5000", "a/b", "1", None)),
    ("[::1]:5000/a/b", ("[::1]:5000", "a/b", None, None)),
    ("registry-1.example.com/a__b/c.d/e-f---g:v1.2_3", ("registry-1.example.com", "a__b/c.d/e-f---g", "v1.2_3", None)),
    ("quay.io/" + "/".join(["abcdefghij"] * 23) + "/ab", ("quay.io", "/".join(["abcdefghij"] * 23) + "/ab", None,
                                                          None)),
    (f"quay.io/a/b:1@{DIGEST}", ("quay.io", "a/b", "1", DIGEST)),
    ("ubuntu", ("docker.io", "library/ubuntu", None, None)),
])
def test_references_inside_the_grammar_parse(text: str, parts: tuple) -> None:
    ref = reference.parse(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == parts


def test_an_invalid_reference_is_an_input_error_with_exit_3() -> None:
    from rhcos_layer.errors import InvalidInput

    assert issubclass(reference.InvalidReference, InvalidInput)
    assert reference.InvalidReference.exit_code == 3
    assert not hasattr(reference, "ReferenceError")  # no longer shadows the builtin
    assert not hasattr(reference.ImageReference, "with_digest")

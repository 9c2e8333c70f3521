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

"""Choosing the OS image from a payload's image-references (no network)."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

import pytest

from rhcos_layer import release
from rhcos_layer.errors import ImageNotFound, InvalidInput, RhcosLayerError

D = {name: "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + c * 64
     for name, c in [("rhel-coreos", "1"), ("rhel-coreos-extensions", "2"), ("rhel-coreos-10", "3"),
                     ("rhel-coreos-10-extensions", "4"), ("rhel-coreos-8", "5"), ("rhel-coreos-8-extensions", "6"),
                     ("machine-os-content", "7"), ("cli", "8"), ("installer", "9")]}


def _tags(*names: str) -> dict:
    return {n: D[n] for n in names}


def test_default_stream_is_matched_by_exact_name() -> None:
    tags = _tags("rhel-coreos-10", "rhel-coreos-10-extensions", "rhel-coreos", "rhel-coreos-extensions", "cli")
    tag, image, extensions = release.pick("4.21.0", tags, None)
    assert (tag, image, extensions) == ("rhel-coreos", D["rhel-coreos"], D["rhel-coreos-extensions"])


def test_stream_selects_rhel_10() -> None:
    tags = _tags("rhel-coreos-10", "rhel-coreos-10-extensions", "rhel-coreos", "rhel-coreos-extensions")
    assert release.pick("4.21.0", tags, "rhel-coreos-10")[1] == D["rhel-coreos-10"]


def test_412_uses_rhel_coreos_8_and_not_the_legacy_tag() -> None:
    tags = _tags("rhel-coreos-8", "rhel-coreos-8-extensions", "machine-os-content", "installer")
    assert release.pick("4.12.5", tags, None)[:2] == ("rhel-coreos-8", D["rhel-coreos-8"])


def test_411_is_refused_with_the_reason() -> None:
    with pytest.raises(release.ReleaseNotLayerable, match="release 4.11.9 has only machine-os-content: RHCOS image"
                                                          " layering needs OpenShift 4.12 or newer"):
        release.pick("4.11.9", _tags("machine-os-content", "cli"), None)


def test_unknown_or_extension_stream_lists_what_exists() -> None:
    tags = _tags("rhel-coreos", "rhel-coreos-extensions")
    with pytest.raises(InvalidInput, match=r"--stream rhel-coreos-10: .* \(it has: rhel-coreos\)"):
        release.pick("4.16.3", tags, "rhel-coreos-10")
    with pytest.raises(InvalidInput, match="no such OS stream"):
        release.pick("4.16.3", tags, "rhel-coreos-extensions")


def test_payload_without_os_image() -> None:
    with pytest.raises(ImageNotFound):
        release.pick("4.16.3", _tags("cli"), None)


def test_unpinned_os_image_in_payload_is_refused() -> None:
    with pytest.raises(RhcosLayerError, match="not digest-pinned"):
        release.pick("4.16.3", {"rhel-coreos": "quay.io/x/rhcos:latest"}, None)


def _layer(files: dict, compress: bool = True) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue()) if compress else raw.getvalue()


def test_release_manifests_are_read_from_the_layer() -> None:
    stream = {"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "metadata": {"name": "4.16.3"},
              "spec": {"tags": [{"name": n, "from": {"kind": "DockerImage", "name": D[n]}}
                                for n in ("rhel-coreos", "cli")]}}
    layer = _layer({
        "release-manifests/image-references": json.dumps(stream).encode(),
        "./release-manifests/release-metadata": b'{"kind": "cincinnati-metadata-v0", "version": "4.16.4"}',
        "release-manifests/0000_00_other.yaml": b"kind: Other\n",
    })
    files = release.read_release_manifests(layer)
    assert set(files) == {"image-references", "release-metadata"}
    version, tags = release.parse_manifests(files, "r")
    assert version == "4.16.4"  # release-metadata wins over the ImageStream's name
    assert tags == {"rhel-coreos": D["rhel-coreos"], "cli": D["cli"]}
    assert release.read_release_manifests(_layer({"release-manifests/image-references": b"{}"}, compress=False))


def test_a_layer_without_image_references_is_not_a_release() -> None:
    with pytest.raises(RhcosLayerError, match="is not a release image"):
        release.parse_manifests(release.read_release_manifests(_layer({"etc/x": b"1"})), "quay.io/x/y:1")


@pytest.mark.parametrize("given, expected", [("x86_64", "amd64"), ("AMD64", "amd64"), ("aarch64", "arm64")])
def test_arch_aliases(given: str, expected: str) -> None:
    assert release.normalise_arch(given) == expected

"""Tests of the synthetic release payloads (tests/support/payload.py)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from typing import Any, Dict

import pytest
import requests

from tests.support import FakeBase, Registry
from tests.support.payload import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    PayloadImage,
    ReleasePayload,
    access_mark,
    blob_requests,
    fetched_blobs,
    push_release_payload,
    upload_url,
)

ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX))
PINNED = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
OS_PREFIXES = ("rhel-coreos", "machine-os-content")
Payloads = Dict[str, ReleasePayload]


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _get_manifest(registry: Registry, payload: ReleasePayload, ref: str) -> requests.Response:
    r = registry.request("GET", f"/v2/{payload.repo_path}/manifests/{ref}", headers={"Accept": ACCEPT})
    r.raise_for_status()
    return r


def _get_blob(registry: Registry, payload: ReleasePayload, digest: str) -> bytes:
    r = registry.request("GET", f"/v2/{payload.repo_path}/blobs/{digest}")
    r.raise_for_status()
    assert _sha256(r.content) == digest
    return r.content


def _untar(layer: bytes) -> Dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer)), mode="r:") as tar:
        for member in tar:
            assert member.mtime == 0 and member.uid == 0
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                out[member.name] = handle.read()
    return out


def _os_tags(stream: Dict[str, Any]) -> Dict[str, str]:
    return {t["name"]: t["from"]["name"] for t in stream["spec"]["tags"] if t["name"].startswith(OS_PREFIXES)}


def _served_stream(registry: Registry, payload: ReleasePayload, image: PayloadImage) -> Dict[str, Any]:
    files = _untar(_get_blob(registry, payload, image.last_layer_digest))
    assert "release-manifests/image-references" in files
    assert json.loads(files["release-manifests/release-metadata"]) == image.release_metadata
    stream: Dict[str, Any] = json.loads(files["release-manifests/image-references"])
    return stream


# ------------------------------------------------------------------ manifests
def test_standard_set_and_refs(release_payloads: Payloads, registry: Registry) -> None:
    assert sorted(release_payloads) == ["4.11", "4.12", "4.16", "4.16-multi", "4.21"]
    p = release_payloads["4.16"]
    assert (p.version, p.tag, p.arches) == ("4.16.3", "4.16.3-x86_64", ["amd64"])
    assert p.repo == f"{registry.host}/openshift/release"
    assert p.pullspec_tag == f"{p.repo}:4.16.3-x86_64"
    assert p.pullspec_digest == f"{p.repo}@{p.digest}"
    multi = release_payloads["4.16-multi"]
    assert (multi.tag, multi.arches, multi.is_index) == ("4.16.3-multi", ["amd64", "arm64"], True)
    assert "4.16.3-multi" in registry.tags("openshift/release")


@pytest.mark.parametrize("key", ["4.11", "4.12", "4.16", "4.21", "4.16-multi"])
def test_manifest_served_with_media_type_and_digest(release_payloads: Payloads, registry: Registry,
                                                    key: str) -> None:
    p = release_payloads[key]
    for ref in (p.tag, p.digest):
        r = _get_manifest(registry, p, ref)
        assert r.headers["Content-Type"] == p.media_type
        assert r.headers["Docker-Content-Digest"] == p.digest == _sha256(r.content)
        assert r.json()["mediaType"] == p.media_type
    assert p.media_type == (OCI_INDEX if key.endswith("-multi") else OCI_MANIFEST)
    assert registry.manifest_digest(p.repo, p.tag) == p.digest


@pytest.mark.parametrize("key", ["4.11", "4.16", "4.16-multi"])
def test_config_and_layers(release_payloads: Payloads, registry: Registry, key: str) -> None:
    p = release_payloads[key]
    for arch, image in p.images.items():
        manifest = _get_manifest(registry, p, image.manifest_digest).json()
        assert manifest == image.manifest
        assert manifest["config"]["mediaType"] == OCI_CONFIG
        assert [layer["mediaType"] for layer in manifest["layers"]] == [OCI_LAYER_GZIP] * 4
        assert [layer["digest"] for layer in manifest["layers"]] == [*p.image(arch).other_layer_digests,
                                                                     image.last_layer_digest]
        config = json.loads(_get_blob(registry, p, image.config_digest))
        assert (config["architecture"], config["os"]) == (arch, "linux")
        assert config["config"]["Labels"]["io.openshift.release"] == p.version
        diff_ids = [_sha256(gzip.decompress(_get_blob(registry, p, d))) for d in image.layer_digests]
        assert config["rootfs"] == {"type": "layers", "diff_ids": diff_ids}
        for layer in manifest["layers"]:
            assert layer["size"] == len(_get_blob(registry, p, layer["digest"]))
        # filler layers are big enough to notice, and hold no release-manifests
        for digest in image.other_layer_digests:
            blob = _get_blob(registry, p, digest)
            assert 64 * 1024 <= len(blob) <= 300 * 1024
            assert not any(n.startswith("release-manifests") for n in _untar(blob))


def test_all_blobs_match_their_digests(release_payloads: Payloads, registry: Registry) -> None:
    seen = set()
    for p in release_payloads.values():
        for digest in p.blob_digests:
            _get_blob(registry, p, digest)  # asserts sha256
            seen.add(digest)
    assert len(seen) == sum(len(p.blob_digests) for p in release_payloads.values())  # nothing shared


# ---------------------------------------------------------- release-manifests
@pytest.mark.parametrize("key", ["4.11", "4.12", "4.16", "4.21"])
def test_last_layer_holds_release_manifests(release_payloads: Payloads, registry: Registry, key: str) -> None:
    p = release_payloads[key]
    files = _untar(_get_blob(registry, p, p.last_layer_digest))
    assert all(n.startswith("release-manifests/") for n in files)
    assert "release-manifests/0000_80_machine-config_01_machineconfig.crd.yaml" in files
    stream = json.loads(files["release-manifests/image-references"])
    assert stream == p.image_references
    assert (stream["kind"], stream["apiVersion"]) == ("ImageStream", "image.openshift.io/v1")
    assert stream["metadata"]["name"] == p.version
    assert stream["metadata"]["annotations"]["release.openshift.io/from-image-stream"].startswith("ocp/")
    tags = stream["spec"]["tags"]
    assert 18 <= len(tags) <= 22
    for entry in tags:
        assert entry["from"]["kind"] == "DockerImage"
        assert PINNED.match(entry["from"]["name"]), entry
        assert entry["referencePolicy"] == {"type": "Source"}
    assert len({t["from"]["name"] for t in tags}) == len(tags)
    assert {"cli", "installer", "machine-config-operator", "cluster-version-operator"} <= {t["name"] for t in tags}
    assert _os_tags(stream) == p.os_tags
    metadata = json.loads(files["release-manifests/release-metadata"])
    assert metadata["kind"] == "cincinnati-metadata-v0"
    assert metadata["version"] == p.version
    assert metadata["previous"] and all(v.startswith(p.version.rsplit(".", 2)[0]) for v in metadata["previous"])


def test_os_tags_per_version(release_payloads: Payloads, fake_base: FakeBase) -> None:
    assert set(release_payloads["4.11"].os_tags) == {"machine-os-content"}
    assert set(release_payloads["4.12"].os_tags) == {"rhel-coreos-8", "rhel-coreos-8-extensions",
                                                     "machine-os-content"}
    assert set(release_payloads["4.16"].os_tags) == {"rhel-coreos", "rhel-coreos-extensions"}
    assert set(release_payloads["4.21"].os_tags) == {"rhel-coreos", "rhel-coreos-extensions", "rhel-coreos-10",
                                                     "rhel-coreos-10-extensions"}
    assert release_payloads["4.16"].os_tags["rhel-coreos"] == fake_base.pullspec
    assert release_payloads["4.21"].os_tags["rhel-coreos"] != fake_base.pullspec
    assert release_payloads["4.16"].os_tags["rhel-coreos-extensions"].startswith("quay.io/openshift-release-dev/")


def test_multi_arch_index(release_payloads: Payloads, registry: Registry, fake_base: FakeBase) -> None:
    p = release_payloads["4.16-multi"]
    index = _get_manifest(registry, p, p.tag).json()
    assert index["mediaType"] == OCI_INDEX
    platforms = {(m["platform"]["os"], m["platform"]["architecture"]): m for m in index["manifests"]}
    assert sorted(platforms) == [("linux", "amd64"), ("linux", "arm64")]
    served = {}
    for (_, arch), entry in platforms.items():
        assert entry["mediaType"] == OCI_MANIFEST
        assert entry["digest"] == p.images[arch].manifest_digest
        r = _get_manifest(registry, p, entry["digest"])
        assert r.headers["Content-Type"] == OCI_MANIFEST and int(entry["size"]) == len(r.content)
        image = p.images[arch]
        assert r.json()["layers"][-1]["digest"] == image.last_layer_digest
        served[arch] = _os_tags(_served_stream(registry, p, image))
        assert served[arch] == p.os_tags_by_arch[arch] == image.os_tags
    assert served["amd64"]["rhel-coreos"] == fake_base.pullspec
    for tag in ("rhel-coreos", "rhel-coreos-extensions"):
        assert served["amd64"][tag] != served["arm64"][tag]
    assert p.os_tags == p.os_tags_by_arch["amd64"]
    assert p.images["amd64"].last_layer_digest != p.images["arm64"].last_layer_digest
    # not the same image as the single-arch 4.16 payload
    assert p.images["amd64"].manifest_digest != release_payloads["4.16"].digest


# ------------------------------------------------------------------ access log
def test_access_log_shows_which_blobs_were_fetched(release_payloads: Payloads, registry: Registry) -> None:
    p = release_payloads["4.21"]
    mark = access_mark(registry)
    _get_blob(registry, p, p.last_layer_digest)
    got = fetched_blobs(registry, p.repo, since=mark, min_count=1)
    assert got == [p.last_layer_digest]
    assert not set(got) & set(p.other_layer_digests)
    assert [e.status for e in blob_requests(registry, p.repo, since=mark)] == [200]


def test_push_again_is_deterministic_and_skips_blobs(release_payloads: Payloads, registry: Registry,
                                                    fake_base: FakeBase) -> None:
    before = release_payloads["4.16"]
    mark = access_mark(registry)
    again = push_release_payload(registry, "4.16.3", os_pullspecs={"rhel-coreos": fake_base.pullspec})
    assert (again.digest, again.tag) == (before.digest, before.tag)
    assert again.blob_digests == before.blob_digests
    entries = registry.access_entries()[mark:]
    assert not [e for e in entries if e.method in ("POST", "PATCH") or "/blobs/uploads/" in e.path]
    assert not blob_requests(registry, before.repo, since=mark)  # HEADs only, no GETs


def test_custom_payload_in_other_repo(registry: Registry) -> None:
    p = push_release_payload(
        registry, "4.14.9", repo=f"{registry.host}/rig/custom-release", tag="custom",
        os_pullspecs={"rhel-coreos": "example.com/os:latest", "stream-coreos": "example.com/okd@sha256:" + "a" * 64},
        manifest_files={"release-metadata": None, "extra.yaml": b"kind: Nothing\n"},
    )
    assert p.repo_path == "rig/custom-release" and p.tag == "custom"
    assert set(p.os_tags) == {"rhel-coreos", "rhel-coreos-extensions", "machine-os-content", "stream-coreos"}
    assert p.os_tags["rhel-coreos"] == "example.com/os:latest"
    files = _untar(_get_blob(registry, p, p.last_layer_digest))
    assert "release-manifests/release-metadata" not in files
    assert files["release-manifests/extra.yaml"] == b"kind: Nothing\n"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/v2/r/blobs/uploads/u1?_state=a%3D", "https://h:1/v2/r/blobs/uploads/u1?_state=a%3D&digest=sha256%3Aab"),
        ("/v2/r/blobs/uploads/u1", "https://h:1/v2/r/blobs/uploads/u1?digest=sha256%3Aab"),
        ("https://h:2/v2/r/blobs/uploads/u1?x=1", "https://h:2/v2/r/blobs/uploads/u1?x=1&digest=sha256%3Aab"),
        ("https://h:2/up/u1", "https://h:2/up/u1?digest=sha256%3Aab"),
        ("u1?", "https://h:1/v2/r/blobs/uploads/u1?digest=sha256%3Aab"),
    ],
)
def test_upload_url(location: str, expected: str) -> None:
    assert upload_url("https://h:1/v2/r/blobs/uploads/", location, "sha256:ab") == expected


def test_last_layer_is_served_as_given(registry: Registry) -> None:
    damaged = b"\x1f\x8b\x08\x00" + b"not really gzip"
    payload = push_release_payload(registry, "4.16.3", repo="openshift/rig-damaged", last_layer=damaged)
    assert payload.last_layer_digest == _sha256(damaged)
    assert _get_blob(registry, payload, payload.last_layer_digest) == damaged
    manifest = json.loads(_get_manifest(registry, payload, payload.tag).content)
    assert manifest["layers"][-1] == {"mediaType": OCI_LAYER_GZIP, "digest": _sha256(damaged), "size": len(damaged)}

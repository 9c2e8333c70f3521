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


# ------------------------------------------------------------------ limits and damaged layers
STREAM = {"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "metadata": {"name": "4.16.3"},
          "spec": {"tags": [{"name": "rhel-coreos", "from": {"kind": "DockerImage", "name": D["rhel-coreos"]}}]}}


def _tar_header(name: str, size: int, kind: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = kind
    return info.tobuf(format=tarfile.USTAR_FORMAT)


def _zeros_bomb(total_mib: int, first: bytes) -> bytes:
    """``first`` then ``total_mib`` MiB of zeros, gzipped: a 16 MiB member compressed once and repeated
    (RFC 1952 allows members back to back), so building it takes a fraction of a second."""
    member = gzip.compress(bytes(16 << 20), compresslevel=9)
    return gzip.compress(first) + member * (total_mib // 16)


def test_a_gzip_bomb_is_refused_past_the_cap() -> None:
    # a 300 MiB file of zeros ahead of release-manifests/: 300 KiB compressed
    bomb = _zeros_bomb(320, _tar_header("usr/lib/big", 300 << 20))
    assert len(bomb) < 1 << 20
    with pytest.raises(release.InvalidPayload, match=r"^layer sha256:ab unpacks to more than 256 MiB before"
                                                     r" release-manifests/ is read: refused"):
        release.read_release_manifests(bomb, digest="sha256:ab")


def test_reading_a_bomb_holds_little_memory() -> None:
    import tracemalloc

    limits = release.PayloadLimits(decompressed=64 << 20)  # the same code path, a cheaper run under tracemalloc
    bomb = _zeros_bomb(80, _tar_header("usr/lib/big", 72 << 20))
    tracemalloc.start()
    try:
        with pytest.raises(release.InvalidPayload, match="unpacks to more than 64 MiB"):
            release.read_release_manifests(bomb, digest="sha256:ab", limits=limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak >> 20} MiB held while reading"


def test_an_oversized_image_references_is_refused_before_it_is_read() -> None:
    bomb = _zeros_bomb(32, _tar_header("release-manifests/image-references", 32 << 20))
    with pytest.raises(release.InvalidPayload, match=r"release-manifests/image-references is 32 MiB \(at most 16"
                                                     r" MiB\): refused"):
        release.read_release_manifests(bomb, digest="sha256:ab")


def test_a_huge_pax_header_is_refused_before_tarfile_reads_it_whole() -> None:
    # PAX records claiming 100 MiB: tarfile reads a PAX header into memory in one go
    bomb = _zeros_bomb(112, _tar_header("././@PaxHeader", 100 << 20, tarfile.XHDTYPE))
    with pytest.raises(release.InvalidPayload, match="^layer sha256:ab: a tar header or entry is bigger than it"
                                                     " says: refused"):
        release.read_release_manifests(bomb, digest="sha256:ab")


def test_a_truncated_gzip_layer_says_so() -> None:
    layer = _layer({"release-manifests/image-references": json.dumps(STREAM).encode() * 50})
    with pytest.raises(release.InvalidPayload, match=r"^layer sha256:cd is truncated: its gzip stream ends early"):
        release.read_release_manifests(layer[: len(layer) // 2], digest="sha256:cd")


def test_a_corrupt_or_zstd_layer_says_so() -> None:
    with pytest.raises(release.InvalidPayload, match=r"^layer sha256:cd is not valid gzip"):
        release.read_release_manifests(b"\x1f\x8b\x08\x00" + b"\xff" * 64, digest="sha256:cd")
    with pytest.raises(release.InvalidPayload, match="is zstd-compressed"):
        release.read_release_manifests(b"\x28\xb5\x2f\xfd" + b"\x00" * 64, digest="sha256:cd")
    with pytest.raises(release.InvalidPayload, match="not a readable tarball"):
        release.read_release_manifests(b"not a tar at all" * 64, digest="sha256:cd")


def test_reading_stops_once_both_files_are_found() -> None:
    metadata = b'{"version": "4.16.3"}'
    good = _layer({"release-manifests/image-references": json.dumps(STREAM).encode(),
                   "release-manifests/release-metadata": metadata})
    # what follows the two files is never unpacked: here, a stream that would fail if it were
    broken = good[:-8] + b"garbage!"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in (("release-manifests/image-references", json.dumps(STREAM).encode()),
                           ("release-manifests/release-metadata", metadata)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    followed = gzip.compress(raw.getvalue()[:-1024] + bytes(8 << 20))  # no end-of-archive, 8 MiB after
    for layer in (good, followed):
        assert set(release.read_release_manifests(layer)) == {"image-references", "release-metadata"}
    assert broken != good


def test_several_gzip_members_are_read_like_podman_does() -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = json.dumps(STREAM).encode()
        info = tarfile.TarInfo("release-manifests/image-references")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    body = raw.getvalue()
    layer = gzip.compress(body[:700]) + gzip.compress(body[700:])
    assert release.read_release_manifests(layer)["image-references"] == json.dumps(STREAM).encode()


# ------------------------------------------------------------------ image-references and release-metadata
@pytest.mark.parametrize("document, problem", [
    (b"[1, 2]", "is not an image.openshift.io/v1 ImageStream"),
    (b"kind: ImageStream\n", "is not an image.openshift.io/v1 ImageStream"),
    (b'{"kind": "ImageStream", "apiVersion": "v1"}', "is not an image.openshift.io/v1 ImageStream"),
    (b'{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": []}', "has no spec.tags list"),
    (b'{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": {"tags": {}}}', "has no spec.tags"),
    (b'{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": {"tags": [7]}}',
     "spec.tags entry 1 is not {name: TAG, from: {kind: DockerImage, name: PULLSPEC}}"),
    (b'{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": {"tags": [{"name": ["x"]}]}}',
     "spec.tags entry 1 is not"),
    (b'{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": {"tags": [{"name": "a",'
     b' "from": "quay.io/x"}]}}', "spec.tags entry 1 is not"),
    (b'{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": {"tags": ['
     b'{"name": "a", "from": {"kind": "DockerImage", "name": "q/a@sha256:1"}},'
     b'{"name": "a", "from": {"kind": "DockerImage", "name": "q/b@sha256:1"}}]}}', "names the tag 'a' twice"),
    (b"[" * 5000, "is nested too deeply|neither JSON nor YAML"),
    (b"a: &x [1]\nb: *x\n", r":2: YAML alias \*x is not allowed here"),
    (b"- " * 100 + b"x\n", ":1: nested deeper than 32 levels"),
    (b"\xff\xfe", "is not UTF-8 text"),
    (b"{: [", "is neither JSON nor YAML"),
])
def test_malformed_image_references_are_refused_cleanly(document: bytes, problem: str) -> None:
    pattern = r"^quay.io/x/y:1: release-manifests/image-references.*" + f"(?:{problem})"
    with pytest.raises(release.InvalidPayload, match=pattern):
        release.parse_manifests({"image-references": document}, "quay.io/x/y:1")


@pytest.mark.parametrize("version", ['4.16.3"\nLABEL evil=1', "4.16", "x" * 200, "4.16.3 ", "", "04.1.1"])
def test_a_payload_version_that_is_not_a_version_is_refused(version: str) -> None:
    metadata = json.dumps({"version": version}).encode()
    files = {"image-references": json.dumps(STREAM).encode(), "release-metadata": metadata}
    if not version:  # an empty version falls back to the ImageStream's name
        assert release.parse_manifests(files, "r")[0] == "4.16.3"
        return
    with pytest.raises(release.InvalidPayload, match=r"^r: release version .* is not a version \(like 4.16.3\)"):
        release.parse_manifests(files, "r")


@pytest.mark.parametrize("version", ["4.16.3", "4.17.0-rc.1", "4.16.0-0.okd-2024-07-20-012345", "4.18.0-ec.2"])
def test_real_versions_are_accepted(version: str) -> None:
    files = {"image-references": json.dumps(STREAM).encode(),
             "release-metadata": json.dumps({"kind": "cincinnati-metadata-v0", "version": version}).encode()}
    assert release.parse_manifests(files, "r") == (version, {"rhel-coreos": D["rhel-coreos"]})


def test_release_metadata_that_is_not_an_object_is_refused() -> None:
    files = {"image-references": json.dumps(STREAM).encode(), "release-metadata": b"[4]"}
    with pytest.raises(release.InvalidPayload, match="release-metadata is not Cincinnati metadata"):
        release.parse_manifests(files, "r")


def test_arch_is_checked_before_any_network(tmp_path) -> None:
    # nothing listens on port 1: reaching the registry would end in RegistryUnavailable, after retries
    with pytest.raises(InvalidInput, match=r"^--arch 'sparc': one of amd64, arm64, ppc64le, s390x"):
        release.resolve_release("127.0.0.1:1/x/release:4.16.3", arch="sparc", cache=tmp_path)


def test_a_damaged_cache_file_is_ignored(tmp_path) -> None:
    digest = "sha256:" + "c" * 64
    path = tmp_path / f"sha256-{'c' * 64}-default.json"
    for content in ('{"format": 1, "tags": 3}', '{"format": 1, "release": "r", "version": "x\\ny", "tags": {}}',
                    '{"format": 1, "release": "r", "version": "4.16.3", "tags": {"a": 1}}'):
        path.write_text(content)
        assert release._cache_read(path) is None, content
    path.write_text('{"format": 1, "release": "r", "version": "4.16.3", "arch": null, "tags": {"a": "b"}}')
    assert release._cache_read(path) is not None
    assert digest


@pytest.mark.parametrize(("version", "key"), [
    ("4.16.3", (4, 16, 3)), ("4.17.0-rc.1", (4, 17, 0)), ("4.16.0-0.okd-2024-07-20-123456", (4, 16, 0)),
    ("4.16.3+build.7", (4, 16, 3)),
    # not versions, whoever sent them (a payload, ClusterVersion, our annotation)
    ("4.16", None), ("4.16.3-", None), ("04.16.3", None), ("4.16.3 ", None), ("4." + "1" * 200 + ".0", None),
])
def test_one_reader_of_release_versions(version: str, key: object) -> None:
    from rhcos_layer.release import version_key

    assert version_key(version) == key


def test_a_minor_of_thousands_of_digits_is_no_version_and_no_error() -> None:
    from rhcos_layer.pools import parse_version
    from rhcos_layer.upgrade import Package

    assert parse_version("4.16.0-rc.1") == (4, 16) and parse_version("4.16") == (4, 16)
    assert parse_version("9" * 5000 + ".16.3") is None  # int() of 5000 digits raises ValueError
    assert Package("openshift-kubelet", "4.16.0-202406.el9").minor == (4, 16)

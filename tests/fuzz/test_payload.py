"""Property-based tests of the release payload reader: crafted layers (tar members of any name,
size and type, gzip or not, cut or corrupted anywhere) and crafted image-references and
release-metadata documents. Only the project's own errors may come out."""

from __future__ import annotations

import gzip
import io
import json
import tarfile

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer import release
from rhcos_layer.errors import RhcosLayerError

# small caps, so that a generated example can cross them; the code paths are the real ones
LIMITS = release.PayloadLimits(decompressed=256 << 10, file=16 << 10, header=8 << 10, tags=50)

_NAMES = st.sampled_from(["release-manifests/image-references", "./release-manifests/image-references",
                          "release-manifests/release-metadata", "release-manifests/", "release-manifests/x.yaml",
                          "etc/passwd", "../release-manifests/image-references", "a" * 120])
_TYPES = st.sampled_from([tarfile.REGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["kind", "apiVersion", "spec", "tags", "name", "from", "metadata", "version", "x"]),
        children, max_size=5),
    max_leaves=25,
)
_STREAM_LIKE = st.builds(
    lambda tags, api, meta: {"kind": "ImageStream", "apiVersion": api, "metadata": meta, "spec": {"tags": tags}},
    st.lists(st.one_of(_JSON, st.fixed_dictionaries({"name": st.one_of(st.text(max_size=10), _JSON),
                                                     "from": st.one_of(_JSON, st.fixed_dictionaries(
                                                         {"kind": st.sampled_from(["DockerImage", "x"]),
                                                          "name": st.one_of(st.text(max_size=80), _JSON)}))})),
             max_size=60),
    st.sampled_from(["image.openshift.io/v1", "v1"]),
    st.one_of(_JSON, st.fixed_dictionaries({"name": st.one_of(st.text(max_size=12), _JSON)})),
)
_DOCUMENT = st.one_of(
    _STREAM_LIKE.map(lambda d: json.dumps(d).encode()),
    _JSON.map(lambda d: json.dumps(d).encode()),
    st.binary(max_size=200),
    st.text(alphabet="[]{}:,-&*! \n\tab\"'", max_size=200).map(str.encode),
)


def _tar(members: list) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.REGTYPE:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                info.linkname = "release-manifests/image-references"
                tar.addfile(info)
    return raw.getvalue()


_MEMBER = st.tuples(_NAMES, _TYPES, st.one_of(_DOCUMENT, st.integers(0, 40_000).map(bytes)))


@st.composite
def _layers(draw: st.DrawFn) -> bytes:
    body = _tar(draw(st.lists(_MEMBER, max_size=5)))
    mode = draw(st.sampled_from(["gzip", "plain", "double-gzip", "members"]))
    if mode == "gzip":
        body = gzip.compress(body, compresslevel=1)
    elif mode == "double-gzip":
        body = gzip.compress(gzip.compress(body, compresslevel=1), compresslevel=1)
    elif mode == "members":
        cut = draw(st.integers(0, len(body)))
        body = gzip.compress(body[:cut], compresslevel=1) + gzip.compress(body[cut:], compresslevel=1)
    damage = draw(st.sampled_from(["none", "cut", "flip", "append"]))
    if damage == "cut":
        body = body[: draw(st.integers(0, len(body)))]
    elif damage == "flip" and body:
        at = draw(st.integers(0, len(body) - 1))
        body = body[:at] + bytes([body[at] ^ draw(st.integers(1, 255))]) + body[at + 1:]
    elif damage == "append":
        body += draw(st.binary(min_size=1, max_size=64))
    return body


@given(_layers())
def test_crafted_layers_are_read_or_refused_cleanly(layer: bytes) -> None:
    try:
        files = release.read_release_manifests(layer, digest="sha256:fuzz", limits=LIMITS)
        release.parse_manifests(files, "fuzz")
    except RhcosLayerError:
        pass


@given(_DOCUMENT, st.one_of(st.none(), _DOCUMENT))
def test_crafted_image_references_and_metadata_are_read_or_refused_cleanly(refs: bytes, meta: object) -> None:
    files = {"image-references": refs}
    if meta is not None:
        files["release-metadata"] = meta  # type: ignore[assignment]
    try:
        version, tags = release.parse_manifests(files, "fuzz")
    except RhcosLayerError:
        return
    assert version == "unknown" or release._VERSION_RE.fullmatch(version)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())
    try:  # what a payload offers then goes through pick(), which must hold too
        release.pick(version, tags, None)
    except RhcosLayerError:
        pass

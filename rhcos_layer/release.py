"""Find a release's RHCOS base image by reading its payload, the way `oc adm release info` does.

A release payload is an image whose last layer holds ``release-manifests/``; there,
``image-references`` (an ImageStream) maps component tags to digest-pinned images and
``release-metadata`` (Cincinnati JSON) gives the version. Only that last layer is downloaded,
each blob's sha256 is checked, and the answer is cached on disk by the release's digest.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Tuple, Union

from . import auth, reference
from .errors import ImageNotFound, InvalidInput, InvalidPayload, RhcosLayerError
from .objects import completed_update
from .trust import TLSSettings

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
ARCHES = ("amd64", "arm64", "ppc64le", "s390x")
ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}
LEGACY_OS_TAG = "machine-os-content"
OKD_OS_TAGS = ("stream-coreos", "fedora-coreos")
_MANIFESTS_DIR = "release-manifests/"
_CACHE_FORMAT = 1
# OpenShift versions are semver (openshift/cluster-version-operator validates them with blang/semver)
_VERSION_RE = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
                         r"(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?")
# an ImageStream tag name, as a Docker tag (openshift/api image/v1 validation)
_TAG_NAME_RE = re.compile(r"[\w][\w.-]{0,127}", re.ASCII)


class ReleaseNotLayerable(InvalidInput):
    """The release has no OS image that can be layered on (4.11 and older)."""


@dataclass
class ReleaseInfo:
    """What `resolve` reports about a release's OS image."""

    release: str  # the release image, digest-pinned
    version: str
    arch: Optional[str]  # None: a single-arch release not checked (no --arch), or the cluster's
    os_tag: Optional[str]  # None when read from the cluster, which names only the image
    os_image: str  # digest-pinned
    extensions_image: Optional[str]
    source: str = "release"
    os_tags: List[str] = field(default_factory=list)  # every OS stream the payload offers
    # source "cluster" during an upgrade: the release the cluster is moving to
    target_version: Optional[str] = None
    target_release: Optional[str] = None

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def normalise_arch(arch: str) -> str:
    arch = arch.strip().lower()
    return ARCH_ALIASES.get(arch, arch)


def default_os_tag(version: str, tags: Mapping[str, str]) -> str:
    """The OS tag a release uses for its default stream, matched by exact name.

    4.12 named it ``rhel-coreos-8``; 4.13 and later ``rhel-coreos`` (4.21 adds ``rhel-coreos-10``
    beside it); OKD uses ``stream-coreos`` or ``fedora-coreos``; 4.11 and older have only
    ``machine-os-content``, which image layering cannot use.
    """
    if "rhel-coreos" in tags:
        return "rhel-coreos"
    if "rhel-coreos-8" in tags:
        return "rhel-coreos-8"
    for okd in OKD_OS_TAGS:
        if okd in tags:
            return okd
    if LEGACY_OS_TAG in tags:
        raise ReleaseNotLayerable(
            f"release {version} has only {LEGACY_OS_TAG}: RHCOS image layering needs OpenShift 4.12 or newer",
            hint="upgrade the cluster to 4.12+ before layering its nodes",
        )
    raise ImageNotFound(f"release {version} names no RHCOS image (no rhel-coreos tag in image-references)")


def os_stream_tags(tags: Mapping[str, str]) -> List[str]:
    names = [t for t in tags if (t.startswith("rhel-coreos") or t in OKD_OS_TAGS) and not t.endswith("-extensions")]
    return sorted(names)


def pick(version: str, tags: Mapping[str, str], stream: Optional[str]) -> Tuple[str, str, Optional[str]]:
    """(tag, OS image, extensions image) for the requested stream, refusing anything unpinned."""
    if stream:
        tag = stream
        if tag not in tags or tag.endswith("-extensions") or tag not in os_stream_tags(tags):
            offered = ", ".join(os_stream_tags(tags)) or "none"
            raise InvalidInput(f"--stream {stream}: release {version} has no such OS stream (it has: {offered})")
    else:
        tag = default_os_tag(version, tags)
    image = tags[tag]
    try:
        pinned = reference.parse_pinned(image).pinned()
    except reference.InvalidReference as exc:
        raise RhcosLayerError(f"release {version}: tag {tag} is not digest-pinned ({exc})") from None
    extensions = tags.get(f"{tag}-extensions")
    return tag, pinned, extensions


def _payload_error(release: str, problem: str) -> InvalidPayload:
    return InvalidPayload(f"{release}: release-manifests/{problem}",
                          hint="this image is not a well-formed release payload: check the --release pullspec")


def _decode_document(raw: bytes, release: str, name: str) -> Any:
    """JSON (what payloads ship), else YAML bounded in depth and size, with no aliases."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _payload_error(release, f"{name} is not UTF-8 text") from None
    try:
        return json.loads(text)
    except RecursionError:
        raise _payload_error(release, f"{name} is nested too deeply") from None
    except ValueError:
        pass
    import yaml

    from . import yamlshape

    try:
        yamlshape.check(text, max_depth=LIMITS.yaml_depth, max_nodes=LIMITS.yaml_nodes, aliases=False)
        return yaml.safe_load(text)
    except yamlshape.ShapeError as exc:
        raise _payload_error(release, f"{name}:{exc.line}: {exc.problem}") from None
    except (yaml.YAMLError, RecursionError):
        raise _payload_error(release, f"{name} is neither JSON nor YAML") from None


def version_key(version: str) -> Optional[Tuple[int, int, int]]:
    """(major, minor, patch) of a release version as OpenShift writes it (4.16.3, 4.17.0-rc.1,
    4.16.0-0.okd-2024-07-20-...), or None when it is not one: the one reader of release versions
    (payloads, ClusterVersion's updates and history, our annotations)."""
    if not isinstance(version, str) or len(version) > 128:
        return None
    found = _VERSION_RE.fullmatch(version)
    return (int(found.group(1)), int(found.group(2)), int(found.group(3))) if found else None


def check_version(version: str, where: str) -> str:
    """A release version (version_key): it goes into an image LABEL and a cache file name, so nothing
    else is let through."""
    if version_key(version) is None:
        shown = version if len(version) <= 64 else version[:64] + "..."
        raise InvalidPayload(f"{where}: release version {shown!r} is not a version (like 4.16.3)")
    return version


def _stream_tags(stream: Any, fail: Callable[[str], InvalidPayload]) -> Dict[str, str]:
    """tag -> image of an ImageStream, refusing any other shape (``fail`` words the error)."""
    if not isinstance(stream, dict) or stream.get("kind") != "ImageStream" \
            or stream.get("apiVersion") != "image.openshift.io/v1":
        raise fail(" is not an image.openshift.io/v1 ImageStream")
    spec = stream.get("spec")
    entries = spec.get("tags") if isinstance(spec, dict) else None
    if not isinstance(entries, list) or not entries:
        raise fail(" has no spec.tags list")
    if len(entries) > LIMITS.tags:
        raise fail(f" has {len(entries)} tags (at most {LIMITS.tags})")
    tags: Dict[str, str] = {}
    for number, entry in enumerate(entries, 1):
        source = entry.get("from") if isinstance(entry, dict) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or _TAG_NAME_RE.fullmatch(name) is None or not isinstance(source, dict) \
                or not isinstance(source.get("kind"), str) or not isinstance(source.get("name"), str):
            raise fail(f": spec.tags entry {number} is not {{name: TAG, from: {{kind: DockerImage, name: PULLSPEC}}}}")
        if name in tags:
            raise fail(f" names the tag {name!r} twice")
        if source["kind"] == "DockerImage" and source["name"]:
            if len(source["name"]) > reference.TEXT_MAX:
                raise fail(f": the image of tag {name!r} is too long")
            tags[name] = source["name"]
    return tags


def _stream_name(stream: Mapping[str, Any]) -> str:
    """An ImageStream's metadata.name: the release version when release-metadata does not say."""
    metadata = stream.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) else ""


def parse_manifests(files: Mapping[str, bytes], release: str) -> Tuple[str, Dict[str, str]]:
    """(version, tag -> image) from ``image-references`` and ``release-metadata``.

    Anything that is not an ``image.openshift.io/v1`` ImageStream whose ``spec.tags`` are
    ``{name, from: {kind, name}}`` entries with distinct names is refused: a payload that names
    ``rhel-coreos`` twice has no one answer."""
    raw_refs = files.get("image-references")
    if raw_refs is None:
        raise RhcosLayerError(
            f"{release} is not a release image: its last layer has no release-manifests/image-references"
        )
    stream = _decode_document(raw_refs, release, "image-references")
    tags = _stream_tags(stream, lambda problem: _payload_error(release, f"image-references{problem}"))
    version = _stream_name(stream)
    raw_metadata = files.get("release-metadata")
    if raw_metadata is not None:
        metadata = _decode_document(raw_metadata, release, "release-metadata")
        if not isinstance(metadata, dict) or not isinstance(metadata.get("version", ""), str):
            raise _payload_error(release, "release-metadata is not Cincinnati metadata ({\"version\": ...})")
        version = metadata.get("version") or version
    if not version:
        return "unknown", tags
    return check_version(version, release), tags


@dataclass(frozen=True)
class PayloadLimits:
    """Caps on what reading a release payload may cost. A real release-manifests layer is a few
    MB compressed and tens of MB once unpacked, image-references about 200 tags: these leave an
    order of magnitude of room and stop a crafted layer (a gzip bomb) long before memory runs out."""

    compressed: int = 128 << 20  # the layer as downloaded
    decompressed: int = 256 << 20  # unpacked bytes read before both files are found
    file: int = 16 << 20  # image-references or release-metadata
    header: int = 1 << 20  # one tar header, PAX records included
    tags: int = 10_000  # entries of image-references
    yaml_depth: int = 32
    yaml_nodes: int = 200_000


LIMITS = PayloadLimits()
_MIB = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _LayerStream(io.RawIOBase):
    """The tar stream of a layer, gunzipped as it is read, with every byte counted against the caps.

    The decompression is ours, not tarfile's, so that the output of each call is bounded
    (``max_length``) and counted. ``allow(n)`` sets how many more bytes may be read before
    tarfile yields its next member: that bounds the PAX header tarfile would otherwise read
    whole into memory.
    """

    def __init__(self, source: IO[bytes], digest: str, limits: PayloadLimits) -> None:
        super().__init__()
        self._source = source
        self._digest = digest
        self._limits = limits
        self._pending = source.read(4)
        self._compressed = len(self._pending)
        if self._pending.startswith(_ZSTD_MAGIC):
            raise InvalidPayload(f"layer {digest} is zstd-compressed: only gzip and plain tar layers are read")
        # wbits 16 + MAX_WBITS: a gzip member, header and trailer checked (CRC32, size)
        self._inflater: Optional[Any] = zlib.decompressobj(31) if self._pending.startswith(_GZIP_MAGIC) else None
        self.total = 0
        self._window = limits.header

    def readable(self) -> bool:
        return True

    def allow(self, count: int) -> None:
        self._window = count

    def _source_read(self, size: int = 64 * 1024) -> bytes:
        if self._pending:  # the bytes read to tell gzip from tar, already counted
            chunk, self._pending = self._pending[:size], self._pending[size:]
            return chunk
        chunk = self._source.read(size)
        self._compressed += len(chunk)
        if self._compressed > self._limits.compressed:
            raise InvalidPayload(f"layer {self._digest} is larger than {self._limits.compressed // _MIB} MiB:"
                                 " refused (no release-manifests layer is that big)")
        return chunk

    def _inflate(self, size: int) -> bytes:
        inflater = self._inflater
        assert inflater is not None
        while True:
            if inflater.eof:
                data = inflater.unused_data or self._source_read()
                if not data:
                    return b""
                # gzip allows members back to back (RFC 1952 2.2); Go's reader, so podman, reads them all
                inflater = self._inflater = zlib.decompressobj(31)
            else:
                data = inflater.unconsumed_tail or self._source_read()
                if not data:
                    raise InvalidPayload(f"layer {self._digest} is truncated: its gzip stream ends early",
                                         hint="the image in the registry is damaged: push the release again")
            try:
                out: bytes = inflater.decompress(data, size)
            except zlib.error as exc:
                raise InvalidPayload(f"layer {self._digest} is not valid gzip ({exc})") from None
            if out:
                return out

    def readinto(self, buffer: Any) -> int:
        size = min(len(buffer), 1 << 20)
        out = self._inflate(size) if self._inflater is not None else self._source_read(size)
        self.total += len(out)
        self._window -= len(out)
        if self.total > self._limits.decompressed:
            raise InvalidPayload(f"layer {self._digest} unpacks to more than {self._limits.decompressed // _MIB}"
                                 " MiB before release-manifests/ is read: refused (a decompression bomb?)")
        if self._window < 0:
            raise InvalidPayload(f"layer {self._digest}: a tar header or entry is bigger than it says:"
                                 " refused")
        buffer[: len(out)] = out
        return len(out)


def read_release_manifests(layer: Union[bytes, IO[bytes]], wanted: Tuple[str, ...] = ("image-references",
                                                                                     "release-metadata"),
                           *, digest: str = "the last layer", limits: PayloadLimits = LIMITS) -> Dict[str, bytes]:
    """The wanted files of ``release-manifests/`` from a (gzip or plain) layer tarball, read as a
    stream: it stops as soon as every wanted file is read, and every cap of ``limits`` holds."""
    source: IO[bytes] = io.BytesIO(layer) if isinstance(layer, (bytes, bytearray)) else layer
    found: Dict[str, bytes] = {}
    stream = _LayerStream(source, digest, limits)
    try:
        # "r|": a plain tar stream, since the decompression (and its counting) is _LayerStream's;
        # "r|*" would also let tarfile gunzip a layer gzipped twice, past every cap
        with tarfile.open(fileobj=io.BufferedReader(stream, 1 << 20), mode="r|") as archive:
            for member in archive:
                # the member's data and the next header are all that may be read before the next member
                stream.allow(member.size + 2 * tarfile.BLOCKSIZE + limits.header)
                name = member.name[2:] if member.name.startswith("./") else member.name
                if not name.startswith(_MANIFESTS_DIR) or not member.isfile():
                    continue
                short = name[len(_MANIFESTS_DIR):]
                if short not in wanted or short in found:
                    continue
                if member.size > limits.file:
                    raise InvalidPayload(f"layer {digest}: release-manifests/{short} is {member.size // _MIB} MiB"
                                         f" (at most {limits.file // _MIB} MiB): refused")
                handle = archive.extractfile(member)
                if handle is not None:
                    found[short] = handle.read(member.size)
                if len(found) == len(wanted):
                    break
    except InvalidPayload:
        raise
    except (tarfile.TarError, EOFError, ValueError, OverflowError, UnicodeError) as exc:
        raise InvalidPayload(f"layer {digest} is not a readable tarball ({exc or type(exc).__name__})") from None
    return found


def cache_dir(environ: Optional[Mapping[str, str]] = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".cache")
    return Path(base) / "rhcos-layer" / "releases"


def _cache_path(folder: Path, digest: str, arch: str) -> Path:
    return folder / f"{digest.replace(':', '-')}-{arch}.json"


def _cache_read(path: Path) -> Optional[Dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    # the file is ours, but a damaged or hand-edited one is read again from the registry, never trusted
    if not isinstance(data, dict) or data.get("format") != _CACHE_FORMAT or not isinstance(data.get("release"), str) \
            or not isinstance(data.get("version"), str) or not isinstance(data.get("tags"), dict) \
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in data["tags"].items()) \
            or data.get("arch") is not None and data.get("arch") not in ARCHES:
        return None
    if data["version"] != "unknown":
        try:
            check_version(data["version"], str(path))
        except InvalidPayload:
            return None
    return data


def _cache_write(path: Path, data: Dict[str, Any]) -> None:
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".release-", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"format": _CACHE_FORMAT, **data}, handle)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _select_platform(index: Mapping[str, Any], arch: str, release: str) -> str:
    offered = []
    entries = index.get("manifests")
    for entry in entries if isinstance(entries, list) else []:
        platform = entry.get("platform") if isinstance(entry, dict) else None
        if not isinstance(platform, dict):
            continue
        offered.append(str(platform.get("architecture")))
        if platform.get("os", "linux") == "linux" and normalise_arch(str(platform.get("architecture", ""))) == arch:
            return _descriptor_digest(entry, release, "index entry")
    raise ImageNotFound(f"{release} has no linux/{arch} image (it has: {', '.join(offered) or 'none'})",
                        hint="choose one with --arch")


def _descriptor_digest(descriptor: Any, release: str, what: str) -> str:
    """The digest of a manifest's descriptor, checked: it goes into a registry URL."""
    digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
    if not isinstance(digest, str) or not reference.is_valid_digest(digest):
        raise InvalidPayload(f"{release}: the {what} has no valid sha256 digest")
    return digest


def _json_document(body: bytes, release: str) -> Dict[str, Any]:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise InvalidPayload(f"{release}: the registry sent a manifest that is not JSON") from None
    if not isinstance(document, dict):
        raise InvalidPayload(f"{release}: the registry sent a manifest that is not a JSON object")
    return document


def check_arch(arch: str, flag: str = "--arch") -> str:
    """``arch`` normalised (x86_64 -> amd64), or an error naming the flag, before any network."""
    normalised = normalise_arch(arch)
    if normalised not in ARCHES:
        raise InvalidInput(f"{flag} {arch!r}: one of {', '.join(ARCHES)} (or x86_64, aarch64)")
    return normalised


def resolve_release(pullspec: str, *, arch: Optional[str] = None, stream: Optional[str] = None,
                    authfile: Optional[str] = None, tls: Optional[TLSSettings] = None,
                    cache: Optional[Path] = None) -> ReleaseInfo:
    """Read the release payload ``pullspec`` and return its OS image for ``arch``/``stream``."""
    try:
        ref = reference.parse(pullspec)
    except reference.InvalidReference as exc:
        raise InvalidInput(f"--release: {exc}") from None
    wanted = check_arch(arch) if arch else None
    key = wanted or "default"
    folder = cache if cache is not None else cache_dir()
    if ref.digest:  # a pinned release needs no network at all once seen
        cached = _cache_read(_cache_path(folder, ref.digest, key))
        if cached is not None:
            return _info(cached, stream)
    from .adapters.registry import RegistryClient

    creds = auth.resolve(authfile).lookup(ref.name)
    with RegistryClient(ref.registry, creds, tls or TLSSettings()) as registry:
        body, media_type, digest = registry.get_manifest(ref.repository, ref.digest or ref.tag or "latest")
        top_digest = digest
        cached = _cache_read(_cache_path(folder, top_digest, key))
        if cached is not None:
            return _info(cached, stream)
        document = _json_document(body, pullspec)
        found_arch = wanted
        if media_type in INDEX_TYPES or document.get("manifests"):
            found_arch = wanted or "amd64"
            digest = _select_platform(document, found_arch, pullspec)
            body, media_type, digest = registry.get_manifest(ref.repository, digest)
            document = _json_document(body, pullspec)
        elif wanted:  # a single-arch release: its config says which one (a small extra blob)
            found_arch = _config_arch(registry, ref.repository, document, pullspec)
            if found_arch != wanted:
                raise ImageNotFound(f"{pullspec} is a linux/{found_arch} release, not {wanted}",
                                    hint="give the release image for that architecture, or its multi-arch one")
        layers = document.get("layers")
        if not isinstance(layers, list) or not layers:
            raise RhcosLayerError(f"{pullspec} has no layers: not a release image")
        layer = _descriptor_digest(layers[-1], pullspec, "last layer")
        files = _read_layer(registry, ref.repository, layer)
    version, tags = parse_manifests(files, pullspec)
    data = {"release": f"{ref.name}@{top_digest}", "version": version, "arch": found_arch, "tags": tags}
    _cache_write(_cache_path(folder, top_digest, key), data)
    return _info(data, stream)


def _read_layer(registry: Any, repository: str, digest: str) -> Dict[str, bytes]:
    """Download the layer (checked against its digest before a byte of it is unpacked), then
    stream it through the tar reader. Past 8 MiB the download spills to a 0600 file in TMPDIR,
    removed on close."""
    import tempfile

    with tempfile.SpooledTemporaryFile(max_size=8 << 20, prefix="rhcos-layer-layer-") as sink:
        registry.get_blob(repository, digest, sink, max_size=LIMITS.compressed)
        sink.seek(0)
        return read_release_manifests(sink, digest=digest)


def _config_arch(registry: Any, repository: str, manifest: Mapping[str, Any], release: str) -> str:
    config = _descriptor_digest(manifest.get("config"), release, "release manifest's config")
    document = registry.get_json_blob(repository, config)
    found = document.get("architecture") if isinstance(document, dict) else None
    return normalise_arch(found) if isinstance(found, str) and found else "unknown"


def _info(data: Mapping[str, Any], stream: Optional[str]) -> ReleaseInfo:
    tags = dict(data["tags"])
    version = str(data["version"])
    tag, image, extensions = pick(version, tags, stream)
    return ReleaseInfo(release=str(data["release"]), version=version, arch=data.get("arch"), os_tag=tag,
                       os_image=image, extensions_image=extensions, os_tags=os_stream_tags(tags))



def resolve_via_oc(pullspec: Optional[str], *, stream: Optional[str] = None, authfile: Optional[str] = None,
                   kubeconfig: Optional[str] = None, context: Optional[str] = None,
                   tls_verify: bool = True) -> ReleaseInfo:
    """The documented path: `oc adm release info --image-for TAG`, TAG chosen by the same rules.

    With no ``pullspec`` oc reads the cluster's current release from the kubeconfig. With
    ``tls_verify`` False, oc is run with ``--insecure=true``.
    """
    from .adapters import oc

    config = auth.find_authfile(authfile)
    login = oc.Login(kubeconfig, context, insecure=not tls_verify)
    info = oc.release_info(pullspec, config, login)
    if not isinstance(info, dict):
        raise InvalidPayload("oc adm release info -o json printed no JSON object")
    stream_doc: Dict[str, Any] = info.get("references") or {}
    tags = _stream_tags(stream_doc, lambda problem: InvalidPayload(f"oc adm release info: references{problem}"))
    metadata: Dict[str, Any] = info["metadata"] if isinstance(info.get("metadata"), dict) else {}
    version = metadata.get("version") or _stream_name(stream_doc)
    if not isinstance(version, str):
        raise InvalidPayload("oc adm release info: metadata.version is not text")
    if version:
        check_version(version, "oc adm release info")
    tag, listed, extensions = pick(version or "unknown", tags, stream)
    image = oc.image_for(tag, pullspec, config, login)
    try:
        pinned = reference.parse_pinned(image).pinned()
    except reference.InvalidReference as exc:
        raise RhcosLayerError(f"oc adm release info --image-for {tag} printed {image!r}: {exc}") from None
    if pinned != listed:
        raise RhcosLayerError(f"oc gave two answers for {tag}: {pinned} and {listed}")
    release_image = str(info.get("image") or pullspec or "")
    digest = str(info.get("digest") or "")
    if digest and "@" not in release_image:
        release_image = f"{reference.parse(release_image).name}@{digest}" if release_image else digest
    return ReleaseInfo(release=release_image, version=version or "unknown", arch=normalise_arch(
        str((info.get("config") or {}).get("architecture") or "amd64")), os_tag=tag, os_image=pinned,
        extensions_image=extensions, source="oc", os_tags=os_stream_tags(tags))


def resolve_from_cluster(kubeconfig: Optional[str] = None, context: Optional[str] = None,
                         stream: Optional[str] = None) -> ReleaseInfo:
    """The base the Machine Config Operator renders with now (ConfigMap machine-config-osimageurl),
    cross-checked with ClusterVersion: during an upgrade the two differ, and both are reported."""
    from .adapters.cluster import MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP, Cluster

    if stream:
        raise InvalidInput("--stream needs --release: the cluster's ConfigMap names only its default stream")
    with Cluster(kubeconfig, context) as cluster:
        data = cluster.configmap(MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP).get("data") or {}
        version_doc = cluster.cluster_version()
    image = str(data.get("baseOSContainerImage") or "")
    if not image:
        raise RhcosLayerError(f"ConfigMap {MCO_NAMESPACE}/{OSIMAGEURL_CONFIGMAP} has no baseOSContainerImage:"
                              " this cluster predates image layering (4.12+)")
    try:
        pinned = reference.parse_pinned(image).pinned()
    except reference.InvalidReference as exc:
        raise RhcosLayerError(f"the cluster's baseOSContainerImage is not digest-pinned ({exc})") from None
    status = version_doc.get("status") or {}
    desired = status.get("desired") or {}
    current = completed_update(status)
    version = str(data.get("releaseVersion") or current.get("version") or desired.get("version") or "unknown")
    if version != "unknown":  # it becomes a LABEL of the image built on this base
        check_version(version, f"ConfigMap {MCO_NAMESPACE}/{OSIMAGEURL_CONFIGMAP}")
    info = ReleaseInfo(release=str(current.get("image") or desired.get("image") or ""), version=version,
                       arch=None, os_tag=None, os_image=pinned,
                       extensions_image=data.get("baseOSExtensionsContainerImage") or None, source="cluster")
    if desired.get("version") and desired.get("version") != version:
        info.target_version = str(desired.get("version"))
        info.target_release = str(desired.get("image") or "")
    return info

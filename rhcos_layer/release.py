"""Find a release's RHCOS base image by reading its payload, the way `oc adm release info` does.

A release payload is an image whose last layer holds ``release-manifests/``; there,
``image-references`` (an ImageStream) maps component tags to digest-pinned images and
``release-metadata`` (Cincinnati JSON) gives the version. Only that last layer is downloaded,
each blob's sha256 is checked, and the answer is cached on disk by the release's digest.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

from . import auth, reference
from .errors import ImageNotFound, InvalidInput, RhcosLayerError
from .trust import TLSSettings

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64le", "s390x": "s390x"}
LEGACY_OS_TAG = "machine-os-content"
OKD_OS_TAGS = ("stream-coreos", "fedora-coreos")
_MANIFESTS_DIR = "release-manifests/"
_CACHE_FORMAT = 1


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
    except reference.ReferenceError as exc:
        raise RhcosLayerError(f"release {version}: tag {tag} is not digest-pinned ({exc})") from None
    extensions = tags.get(f"{tag}-extensions")
    return tag, pinned, extensions


def parse_manifests(files: Mapping[str, bytes], release: str) -> Tuple[str, Dict[str, str]]:
    """(version, tag -> image) from ``image-references`` and ``release-metadata``."""
    raw_refs = files.get("image-references")
    if raw_refs is None:
        raise RhcosLayerError(
            f"{release} is not a release image: its last layer has no release-manifests/image-references"
        )
    try:
        stream = json.loads(raw_refs)
    except ValueError:
        import yaml

        try:
            stream = yaml.safe_load(raw_refs)
        except yaml.YAMLError:
            raise RhcosLayerError(f"{release}: release-manifests/image-references is neither JSON nor YAML") from None
    if not isinstance(stream, dict) or stream.get("kind") != "ImageStream":
        raise RhcosLayerError(f"{release}: release-manifests/image-references is not an ImageStream")
    tags: Dict[str, str] = {}
    for entry in (stream.get("spec") or {}).get("tags") or []:
        source = entry.get("from") or {}
        if entry.get("name") and source.get("kind") == "DockerImage" and source.get("name"):
            tags[str(entry["name"])] = str(source["name"])
    version = str((stream.get("metadata") or {}).get("name") or "")
    metadata = files.get("release-metadata")
    if metadata is not None:
        try:
            version = str(json.loads(metadata).get("version") or version)
        except (ValueError, AttributeError):
            pass
    return version or "unknown", tags


def read_release_manifests(layer: bytes, wanted: Tuple[str, ...] = ("image-references", "release-metadata")
                           ) -> Dict[str, bytes]:
    """The wanted files of ``release-manifests/`` from a (gzip or plain) layer tarball."""
    data = gzip.decompress(layer) if layer[:2] == b"\x1f\x8b" else layer
    found: Dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for member in archive:
                name = member.name[2:] if member.name.startswith("./") else member.name
                if not name.startswith(_MANIFESTS_DIR) or not member.isfile():
                    continue
                short = name[len(_MANIFESTS_DIR):]
                if short in wanted:
                    handle = archive.extractfile(member)
                    if handle is not None:
                        found[short] = handle.read()
    except tarfile.TarError as exc:
        raise RhcosLayerError(f"the release's last layer is not a readable tarball ({exc})") from None
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
    return data if isinstance(data, dict) and data.get("format") == _CACHE_FORMAT else None


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


def _select_platform(index: Dict[str, Any], arch: str, release: str) -> str:
    offered = []
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") or {}
        offered.append(str(platform.get("architecture")))
        if platform.get("os", "linux") == "linux" and normalise_arch(str(platform.get("architecture", ""))) == arch:
            return str(entry["digest"])
    raise ImageNotFound(f"{release} has no linux/{arch} image (it has: {', '.join(offered) or 'none'})",
                        hint="choose one with --arch")


def resolve_release(pullspec: str, *, arch: Optional[str] = None, stream: Optional[str] = None,
                    authfile: Optional[str] = None, tls: Optional[TLSSettings] = None,
                    cache: Optional[Path] = None) -> ReleaseInfo:
    """Read the release payload ``pullspec`` and return its OS image for ``arch``/``stream``."""
    try:
        ref = reference.parse(pullspec)
    except reference.ReferenceError as exc:
        raise InvalidInput(f"--release: {exc}") from None
    wanted = normalise_arch(arch) if arch else None
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
        document = json.loads(body)
        found_arch = wanted
        if media_type in INDEX_TYPES or document.get("manifests"):
            found_arch = wanted or "amd64"
            digest = _select_platform(document, found_arch, pullspec)
            body, media_type, digest = registry.get_manifest(ref.repository, digest)
            document = json.loads(body)
        elif wanted:  # a single-arch release: its config says which one (a small extra blob)
            found_arch = _config_arch(registry, ref.repository, document)
            if found_arch != wanted:
                raise ImageNotFound(f"{pullspec} is a linux/{found_arch} release, not {wanted}",
                                    hint="give the release image for that architecture, or its multi-arch one")
        layers = document.get("layers") or []
        if not layers:
            raise RhcosLayerError(f"{pullspec} has no layers: not a release image")
        with io.BytesIO() as sink:
            registry.get_blob(ref.repository, str(layers[-1]["digest"]), sink)
            files = read_release_manifests(sink.getvalue())
    version, tags = parse_manifests(files, pullspec)
    data = {"release": f"{ref.name}@{top_digest}", "version": version, "arch": found_arch, "tags": tags}
    _cache_write(_cache_path(folder, top_digest, key), data)
    return _info(data, stream)


def _config_arch(registry: Any, repository: str, manifest: Mapping[str, Any]) -> str:
    config = (manifest.get("config") or {}).get("digest")
    if not config:
        raise RhcosLayerError(f"{repository}: the release manifest has no config")
    return normalise_arch(str(registry.get_json_blob(repository, str(config)).get("architecture") or "unknown"))


def _info(data: Mapping[str, Any], stream: Optional[str]) -> ReleaseInfo:
    tags = dict(data["tags"])
    version = str(data["version"])
    tag, image, extensions = pick(version, tags, stream)
    return ReleaseInfo(release=str(data["release"]), version=version, arch=data.get("arch"), os_tag=tag,
                       os_image=image, extensions_image=extensions, os_tags=os_stream_tags(tags))



def resolve_via_oc(pullspec: Optional[str], *, stream: Optional[str] = None, authfile: Optional[str] = None,
                   kubeconfig: Optional[str] = None, context: Optional[str] = None) -> ReleaseInfo:
    """The documented path: `oc adm release info --image-for TAG`, TAG chosen by the same rules.

    With no ``pullspec`` oc reads the cluster's current release from the kubeconfig.
    """
    from .adapters import oc

    config = auth.find_authfile(authfile)
    login = oc.Login(kubeconfig, context)
    info = oc.release_info(pullspec, config, login)
    stream_doc = info.get("references") or {}
    tags = {str(t["name"]): str((t.get("from") or {}).get("name", ""))
            for t in (stream_doc.get("spec") or {}).get("tags") or [] if t.get("name")}
    version = str((info.get("metadata") or {}).get("version") or (stream_doc.get("metadata") or {}).get("name") or "")
    tag, listed, extensions = pick(version or "unknown", tags, stream)
    image = oc.image_for(tag, pullspec, config, login)
    try:
        pinned = reference.parse_pinned(image).pinned()
    except reference.ReferenceError as exc:
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
    except reference.ReferenceError as exc:
        raise RhcosLayerError(f"the cluster's baseOSContainerImage is not digest-pinned ({exc})") from None
    status = version_doc.get("status") or {}
    desired = status.get("desired") or {}
    history = status.get("history") or []
    current: Dict[str, Any] = next((h for h in history if h.get("state") == "Completed"), {})
    version = str(data.get("releaseVersion") or current.get("version") or desired.get("version") or "unknown")
    info = ReleaseInfo(release=str(current.get("image") or desired.get("image") or ""), version=version,
                       arch=None, os_tag=None, os_image=pinned,
                       extensions_image=data.get("baseOSExtensionsContainerImage") or None, source="cluster")
    if desired.get("version") and desired.get("version") != version:
        info.target_version = str(desired.get("version"))
        info.target_release = str(desired.get("image") or "")
    return info

"""Synthetic OpenShift release payloads, pushed to the rig registry over the v2 API.

A release payload is an image whose *last* layer holds ``release-manifests/``:

* ``image-references``: an ``image.openshift.io/v1`` ImageStream (JSON) whose
  ``spec.tags[].from.name`` pin every component image by digest;
* ``release-metadata``: Cincinnati metadata (``cincinnati-metadata-v0``);
* a few ordinary manifests (CRDs, the machine-config osimageurl ConfigMap).

Earlier layers are filler (pseudo-random bytes, 64-192 KiB each) so that a
client which downloads more than the last layer shows up in the registry's
access log (see :func:`fetched_blobs`).

Everything is deterministic: tar entries have mtime 0 and root ownership,
gzip headers have mtime 0 and no file name, the "random" bytes and made-up
digests come from SHAKE/SHA-256 of a seed built from version, tag and arch.
Pushing the same payload twice gives the same digests (blobs are skipped).

OS tags per minor (``os_tag_names``): 4.11 and older ``machine-os-content``;
4.12 ``rhel-coreos-8`` + ``-extensions`` + ``machine-os-content``; 4.13-4.15
``rhel-coreos`` + ``-extensions`` + ``machine-os-content``; 4.16-4.20
``rhel-coreos`` + ``-extensions``; 4.21+ adds ``rhel-coreos-10`` + ``-extensions``.
(4.11, 4.12, 4.16 and 4.21 are the documented shapes; the rows in between
are interpolated.)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import quote, urljoin, urlsplit

import requests

from ._util import RigError, wait_until
from .fakebase import NODE_VERSIONS, FakeBase, NodeVersions, build_fake_base, build_fake_extensions
from .podman import PodmanStore
from .registry import AccessEntry, Registry

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"

ART_DEV_REPO = "quay.io/openshift-release-dev/ocp-v4.0-art-dev"
DEFAULT_REPO = "openshift/release"
PUSH_USER_AGENT = "rig-payload-push"
MANIFESTS_DIR = "release-manifests"

# Go arch -> the spelling used in release tags ("4.16.3-x86_64").
RELEASE_ARCH_NAMES: Dict[str, str] = {"amd64": "x86_64", "arm64": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x"}

# Full versions behind the keys of standard_payloads().
STANDARD_VERSIONS: Dict[str, str] = {"4.11": "4.11.59", "4.12": "4.12.60", "4.16": "4.16.3", "4.21": "4.21.0"}

# Non-OS components (each payload has these plus its OS tags: 18-21 tags in all).
COMPONENT_TAGS: Tuple[str, ...] = (
    "cli",
    "cli-artifacts",
    "cluster-network-operator",
    "cluster-version-operator",
    "console",
    "console-operator",
    "coredns",
    "driver-toolkit",
    "etcd",
    "haproxy-router",
    "hyperkube",
    "installer",
    "installer-artifacts",
    "machine-config-operator",
    "must-gather",
    "oauth-server",
    "ovn-kubernetes",
)

_FILLER_KIB = (192, 128, 64)
_RHCOS_BUILD_STAMP = "202406251923-0"
_CREATED = "2024-07-09T12:00:00Z"


# ---------------------------------------------------------------- data types
@dataclass
class PayloadImage:
    """One single-arch release image (the whole payload, or one entry of an index)."""

    arch: str
    manifest_digest: str
    manifest: Dict[str, Any]
    config_digest: str
    config: Dict[str, Any]
    last_layer_digest: str
    other_layer_digests: List[str]
    os_tags: Dict[str, str]  # OS tag -> pullspec as written in image-references
    image_references: Dict[str, Any]  # the ImageStream
    release_metadata: Dict[str, Any]
    manifest_files: Dict[str, bytes]  # release-manifests/<name> -> content

    @property
    def layer_digests(self) -> List[str]:
        return [*self.other_layer_digests, self.last_layer_digest]

    @property
    def blob_digests(self) -> List[str]:
        return [self.config_digest, *self.layer_digests]

    @property
    def tags(self) -> Dict[str, str]:
        """Every tag of image-references -> its pullspec."""
        return {t["name"]: t["from"]["name"] for t in self.image_references["spec"]["tags"]}


@dataclass
class ReleasePayload:
    """A pushed payload.  For an index, the single-arch fields describe
    ``arches[0]``; the per-arch ones are in ``images`` / ``os_tags_by_arch``."""

    version: str
    repo: str  # "127.0.0.1:PORT/openshift/release"
    tag: str
    digest: str  # of the manifest (single arch) or index, as served
    media_type: str  # OCI_MANIFEST or OCI_INDEX
    pullspec_tag: str
    pullspec_digest: str
    arches: List[str]
    os_tags: Dict[str, str]
    os_tags_by_arch: Dict[str, Dict[str, str]]
    last_layer_digest: str
    other_layer_digests: List[str]
    image_references: Dict[str, Any]
    images: Dict[str, PayloadImage]

    @property
    def is_index(self) -> bool:
        return self.media_type == OCI_INDEX

    @property
    def repo_path(self) -> str:
        """The repository inside the registry ("openshift/release")."""
        return self.repo.split("/", 1)[1]

    def image(self, arch: Optional[str] = None) -> PayloadImage:
        return self.images[arch or self.arches[0]]

    @property
    def blob_digests(self) -> List[str]:
        """Configs and layers of every arch (no manifests)."""
        out: List[str] = []
        for img in self.images.values():
            out.extend(d for d in img.blob_digests if d not in out)
        return out


# ---------------------------------------------------------- version helpers
def _major_minor(version: str) -> Tuple[int, int]:
    parts = version.split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        raise ValueError(f"not an OpenShift version: {version!r}") from None


def os_tag_names(version: str) -> Tuple[str, ...]:
    """The OS tags a release of *version* carries in image-references."""
    mm = _major_minor(version)
    if mm <= (4, 11):
        return ("machine-os-content",)
    if mm == (4, 12):
        return ("rhel-coreos-8", "rhel-coreos-8-extensions", "machine-os-content")
    if mm <= (4, 15):
        return ("rhel-coreos", "rhel-coreos-extensions", "machine-os-content")
    if mm <= (4, 20):
        return ("rhel-coreos", "rhel-coreos-extensions")
    return ("rhel-coreos", "rhel-coreos-extensions", "rhel-coreos-10", "rhel-coreos-10-extensions")


def _rhel_of(version: str, os_tag: str) -> str:
    """RHEL x.y squashed as in RHCOS build ids ("94" in 416.94.2024...)."""
    mm = _major_minor(version)
    if os_tag.startswith("rhel-coreos-10"):
        return "100"
    if os_tag.startswith("rhel-coreos-8") or mm <= (4, 12):
        return "86"
    if mm <= (4, 15):
        return "92"
    return "94" if mm <= (4, 18) else "96"


def _previous(version: str) -> List[str]:
    major, minor = _major_minor(version)
    parts = version.split(".")
    patch = int(parts[2]) if len(parts) > 2 and parts[2].isdigit() else 0
    if patch > 0:
        return [f"{major}.{minor}.{p}" for p in range(max(0, patch - 2), patch)]
    return [f"{major}.{minor - 1}.8", f"{major}.{minor - 1}.9"]


def made_up_digest(seed: str) -> str:
    """A valid-looking "sha256:<64 lowercase hex>" derived from *seed*."""
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _noise(seed: str, size: int) -> bytes:
    return hashlib.shake_256(seed.encode()).digest(size)


# ------------------------------------------------------------ tar and gzip
def _tar(entries: Sequence[Tuple[str, Optional[bytes], int]]) -> bytes:
    """An uncompressed tar of (name, data or None for a directory, mode)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    # GzipFile (not gzip.compress) so the header is the same on every Python.
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return buf.getvalue()


@dataclass(frozen=True)
class _Blob:
    media_type: str
    data: bytes
    diff_id: str = ""  # sha256 of the uncompressed tar, for layers

    @property
    def digest(self) -> str:
        return _sha256(self.data)

    def descriptor(self) -> Dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": len(self.data)}


def _layer(entries: Sequence[Tuple[str, Optional[bytes], int]]) -> _Blob:
    raw = _tar(entries)
    return _Blob(OCI_LAYER_GZIP, _gzip(raw), _sha256(raw))


# ----------------------------------------------------------- payload content
def _tag_entry(name: str, pullspec: str, annotations: Dict[str, str]) -> Dict[str, Any]:
    return {
        "name": name,
        "annotations": annotations,
        "from": {"kind": "DockerImage", "name": pullspec},
        "generation": None,
        "importPolicy": {},
        "referencePolicy": {"type": "Source"},
    }


def _os_annotations(version: str, os_tag: str) -> Dict[str, str]:
    major, minor = _major_minor(version)
    build = f"{major}{minor:02d}.{_rhel_of(version, os_tag)}.{_RHCOS_BUILD_STAMP}"
    display = "machine-os=Red Hat Enterprise Linux CoreOS"
    if os_tag.endswith("-extensions"):
        return {"io.openshift.build.version-display-names": display + " Extensions",
                "io.openshift.build.versions": f"machine-os={build}"}
    return {"io.openshift.build.version-display-names": display, "io.openshift.build.versions": f"machine-os={build}"}


def _image_stream(version: str, stream_name: str, tags: Mapping[str, str], os_names: Sequence[str],
                  seed: str) -> Dict[str, Any]:
    entries = []
    for name in sorted(tags):
        if name in os_names:
            annotations = _os_annotations(version, name)
        else:
            annotations = {
                "io.openshift.build.commit.id": hashlib.sha1(f"{seed}/commit/{name}".encode()).hexdigest(),
                "io.openshift.build.commit.ref": "",
                "io.openshift.build.source-location": f"https://github.com/openshift/{name}",
            }
        entries.append(_tag_entry(name, tags[name], annotations))
    return {
        "kind": "ImageStream",
        "apiVersion": "image.openshift.io/v1",
        "metadata": {
            "name": version,
            "creationTimestamp": None,
            "annotations": {"release.openshift.io/from-image-stream": stream_name},
        },
        "spec": {"lookupPolicy": {"local": False}, "tags": entries},
        "status": {"dockerImageRepository": ""},
    }


def _release_metadata(version: str) -> Dict[str, Any]:
    return {
        "kind": "cincinnati-metadata-v0",
        "version": version,
        "previous": _previous(version),
        "metadata": {"url": "https://access.redhat.com/errata/RHSA-2024:0000"},
    }


_MC_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: machineconfigs.machineconfiguration.openshift.io
spec:
  group: machineconfiguration.openshift.io
  names:
    kind: MachineConfig
    listKind: MachineConfigList
    plural: machineconfigs
    singular: machineconfig
  scope: Cluster
"""

_CV_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: clusterversions.config.openshift.io
spec:
  group: config.openshift.io
  names:
    kind: ClusterVersion
    plural: clusterversions
  scope: Cluster
"""


def _osimageurl_configmap(version: str, tags: Mapping[str, str]) -> str:
    """machine-config-osimageurl as oc leaves it after substituting pullspecs."""
    if "rhel-coreos" in tags:
        base, ext = tags["rhel-coreos"], tags.get("rhel-coreos-extensions", "")
    elif "rhel-coreos-8" in tags:
        base, ext = tags["rhel-coreos-8"], tags.get("rhel-coreos-8-extensions", "")
    else:
        base = ext = ""
    return (
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: machine-config-osimageurl\n"
        "  namespace: openshift-machine-config-operator\n"
        "data:\n"
        f'  releaseVersion: "{version}"\n'
        f'  baseOSContainerImage: "{base}"\n'
        f'  baseOSExtensionsContainerImage: "{ext}"\n'
        f'  osImageURL: "{tags.get("machine-os-content", "")}"\n'
    )


@dataclass
class _BuiltImage:
    arch: str
    config: _Blob
    layers: List[_Blob]
    manifest_bytes: bytes
    os_tags: Dict[str, str]
    image_references: Dict[str, Any]
    release_metadata: Dict[str, Any]
    manifest_files: Dict[str, bytes]

    @property
    def manifest_digest(self) -> str:
        return _sha256(self.manifest_bytes)


def _build_image(version: str, arch: str, seed: str, stream_name: str, os_pullspecs: Mapping[str, str],
                 manifest_files: Optional[Mapping[str, Optional[bytes]]],
                 last_layer: Optional[bytes] = None) -> _BuiltImage:
    os_names = list(os_tag_names(version))
    os_names += [t for t in os_pullspecs if t not in os_names]  # caller may add unusual OS tags
    tags: Dict[str, str] = {}
    for name in [*COMPONENT_TAGS, *os_names]:
        tags[name] = os_pullspecs.get(name) or f"{ART_DEV_REPO}@{made_up_digest(f'{seed}/tag/{name}')}"
    os_tags = {name: tags[name] for name in os_names}
    stream = _image_stream(version, stream_name, tags, os_names, seed)
    metadata = _release_metadata(version)

    files: Dict[str, bytes] = {
        "0000_00_cluster-version-operator_01_clusterversions.crd.yaml": _CV_CRD.encode(),
        "0000_80_machine-config_01_machineconfig.crd.yaml": _MC_CRD.encode(),
        "0000_80_machine-config_05_osimageurl.yaml": _osimageurl_configmap(version, tags).encode(),
        "image-references": (json.dumps(stream, indent=2) + "\n").encode(),
        "release-metadata": (json.dumps(metadata, indent=2) + "\n").encode(),
    }
    for name, content in (manifest_files or {}).items():
        if content is None:
            files.pop(name, None)
        else:
            files[name] = content

    fillers = [
        _layer([("etc", None, 0o755), ("etc/redhat-release", b"Red Hat Enterprise Linux release 9.4 (Plow)\n", 0o644),
                ("usr", None, 0o755), ("usr/lib", None, 0o755),
                ("usr/lib/rig-base.bin", _noise(f"{seed}/filler/0", _FILLER_KIB[0] * 1024), 0o644)]),
        _layer([("usr", None, 0o755), ("usr/bin", None, 0o755),
                ("usr/bin/cluster-version-operator", _noise(f"{seed}/filler/1", _FILLER_KIB[1] * 1024), 0o755)]),
        _layer([("usr", None, 0o755), ("usr/share", None, 0o755), ("usr/share/rig", None, 0o755),
                ("usr/share/rig/bootstrap.bin", _noise(f"{seed}/filler/2", _FILLER_KIB[2] * 1024), 0o644)]),
    ]
    last = _layer([(MANIFESTS_DIR, None, 0o755)]
                  + [(f"{MANIFESTS_DIR}/{name}", files[name], 0o644) for name in sorted(files)])
    if last_layer is not None:  # served as given: a damaged or hostile layer, for negative tests
        last = _Blob(OCI_LAYER_GZIP, last_layer, _sha256(last_layer))
    layers = [*fillers, last]

    config_doc = {
        "created": _CREATED,
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Entrypoint": ["/usr/bin/cluster-version-operator"],
            "Labels": {
                "io.openshift.release": version,
                "io.openshift.release.base-image-digest": made_up_digest(f"{seed}/base-image"),
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [{"created": _CREATED, "created_by": f"rig: layer {i}"} for i in range(len(layers))],
    }
    config = _Blob(OCI_CONFIG, json.dumps(config_doc, separators=(",", ":")).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor() for layer in layers],
    }
    return _BuiltImage(
        arch=arch,
        config=config,
        layers=layers,
        manifest_bytes=json.dumps(manifest, separators=(",", ":")).encode(),
        os_tags=os_tags,
        image_references=stream,
        release_metadata=metadata,
        manifest_files=files,
    )


# --------------------------------------------------------------------- push
def upload_url(base_url: str, location: str, digest: str) -> str:
    """The PUT URL finishing a monolithic upload: *location* (absolute or
    relative to *base_url*, with or without a query) plus ``digest=``."""
    url = urljoin(base_url, location)
    query = urlsplit(url).query
    sep = "" if url.endswith(("?", "&")) else ("&" if query else "?")
    return f"{url}{sep}digest={quote(digest, safe='')}"


class _Pusher:
    def __init__(self, registry: Registry, repo: str) -> None:
        self.registry = registry
        self.repo = repo
        self.session = requests.Session()
        self.session.headers["User-Agent"] = PUSH_USER_AGENT

    def close(self) -> None:
        self.session.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        # verify= per request: REQUESTS_CA_BUNDLE would win over session.verify.
        return self.session.request(method, url, verify=str(self.registry.ca_path), auth=self.registry.auth,
                                    timeout=30, **kwargs)

    @staticmethod
    def _fail(what: str, resp: requests.Response) -> RigError:
        return RigError(f"{what}: HTTP {resp.status_code} {resp.text[:500]}")

    def blob(self, blob: _Blob) -> None:
        base = f"{self.registry.url}/v2/{self.repo}/blobs/"
        head = self._request("HEAD", base + blob.digest)
        if head.status_code == 200:
            return
        start = self._request("POST", base + "uploads/")
        if start.status_code != 202 or "Location" not in start.headers:
            raise self._fail(f"starting upload to {self.repo}", start)
        put = self._request(
            "PUT",
            upload_url(base + "uploads/", start.headers["Location"], blob.digest),
            data=blob.data,
            headers={"Content-Type": "application/octet-stream"},
        )
        if put.status_code != 201:
            raise self._fail(f"uploading {blob.digest} to {self.repo}", put)
        served = put.headers.get("Docker-Content-Digest")
        if served and served != blob.digest:
            raise RigError(f"registry stored {blob.digest} as {served}")

    def manifest(self, ref: str, body: bytes, media_type: str) -> str:
        resp = self._request("PUT", f"{self.registry.url}/v2/{self.repo}/manifests/{ref}", data=body,
                             headers={"Content-Type": media_type})
        if resp.status_code != 201:
            raise self._fail(f"putting manifest {self.repo}:{ref}", resp)
        digest = resp.headers.get("Docker-Content-Digest", "")
        if digest != _sha256(body):
            raise RigError(f"registry answered digest {digest!r} for a manifest whose sha256 is {_sha256(body)}")
        return digest


def push_release_payload(
    registry: Registry,
    version: str,
    *,
    os_pullspecs: Optional[Dict[str, str]] = None,
    repo: str = DEFAULT_REPO,
    tag: Optional[str] = None,
    arches: Sequence[str] = ("amd64",),
    os_pullspecs_by_arch: Optional[Dict[str, Dict[str, str]]] = None,
    manifest_files: Optional[Mapping[str, Optional[bytes]]] = None,
    last_layer: Optional[bytes] = None,
) -> ReleasePayload:
    """Build a release payload for *version* ("4.16.3") and push it.

    One arch gives a plain OCI manifest, several an OCI index (children
    pushed by digest, the index under *tag*).  *tag* defaults to
    "<version>-x86_64" (etc.) or "<version>-multi".

    *os_pullspecs* (tag -> pullspec) is written into image-references for
    every arch; *os_pullspecs_by_arch* overrides it per arch.  Tags not
    given get made-up ``quay.io/...@sha256:`` pullspecs (distinct per
    version, tag and arch).  A given tag that the version does not normally
    carry is added as an extra OS tag.  Pullspecs are written as given (an
    unpinned one is allowed, for negative tests).

    *manifest_files* adds/replaces files of release-manifests/ (None
    removes one, e.g. {"image-references": None} for a non-release image).

    *last_layer* replaces the whole last layer blob with these bytes, pushed
    as they are (a truncated gzip, a gzip bomb): it is still served under its
    own sha256, so only the reader's checks can catch it.
    """
    arch_list = list(arches)
    if not arch_list or len(set(arch_list)) != len(arch_list):
        raise ValueError(f"arches must be distinct and non-empty: {arches!r}")
    prefix = registry.host + "/"
    repo_path = repo[len(prefix):] if repo.startswith(prefix) else repo
    multi = len(arch_list) > 1
    if tag is None:
        tag = f"{version}-multi" if multi else f"{version}-{RELEASE_ARCH_NAMES.get(arch_list[0], arch_list[0])}"
    major, minor = _major_minor(version)
    stream_name = (f"ocp-multi/{major}.{minor}-art-latest-multi-2024-07-09-120000" if multi
                   else f"ocp/{major}.{minor}-art-latest-2024-07-09-120000")

    built: List[_BuiltImage] = []
    for arch in arch_list:
        specs = dict(os_pullspecs or {})
        specs.update((os_pullspecs_by_arch or {}).get(arch, {}))
        seed = f"{repo_path}:{tag}/{version}/{arch}"
        built.append(_build_image(version, arch, seed, stream_name, specs, manifest_files, last_layer))

    pusher = _Pusher(registry, repo_path)
    try:
        for img in built:
            for blob in (img.config, *img.layers):
                pusher.blob(blob)
        if multi:
            for img in built:
                pusher.manifest(img.manifest_digest, img.manifest_bytes, OCI_MANIFEST)
            index = {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {"mediaType": OCI_MANIFEST, "digest": img.manifest_digest, "size": len(img.manifest_bytes),
                     "platform": {"architecture": img.arch, "os": "linux"}}
                    for img in built
                ],
            }
            media_type = OCI_INDEX
            digest = pusher.manifest(tag, json.dumps(index, separators=(",", ":")).encode(), OCI_INDEX)
        else:
            media_type = OCI_MANIFEST
            digest = pusher.manifest(tag, built[0].manifest_bytes, OCI_MANIFEST)
    finally:
        pusher.close()

    images = {
        img.arch: PayloadImage(
            arch=img.arch,
            manifest_digest=img.manifest_digest,
            manifest=json.loads(img.manifest_bytes),
            config_digest=img.config.digest,
            config=json.loads(img.config.data),
            last_layer_digest=img.layers[-1].digest,
            other_layer_digests=[layer.digest for layer in img.layers[:-1]],
            os_tags=img.os_tags,
            image_references=img.image_references,
            release_metadata=img.release_metadata,
            manifest_files=img.manifest_files,
        )
        for img in built
    }
    first = images[arch_list[0]]
    full_repo = prefix + repo_path
    return ReleasePayload(
        version=version,
        repo=full_repo,
        tag=tag,
        digest=digest,
        media_type=media_type,
        pullspec_tag=f"{full_repo}:{tag}",
        pullspec_digest=f"{full_repo}@{digest}",
        arches=arch_list,
        os_tags=dict(first.os_tags),
        os_tags_by_arch={a: dict(images[a].os_tags) for a in arch_list},
        last_layer_digest=first.last_layer_digest,
        other_layer_digests=list(first.other_layer_digests),
        image_references=first.image_references,
        images=images,
    )


def standard_payloads(registry: Registry, fake_base_pullspec: str) -> Dict[str, ReleasePayload]:
    """"4.11", "4.12", "4.16", "4.21" (x86_64) and "4.16-multi" (amd64 + arm64).

    The rhel-coreos tag of "4.16" and of the amd64 half of "4.16-multi" is
    *fake_base_pullspec*; every other OS tag is a made-up digest.
    """
    jobs: Dict[str, Dict[str, Any]] = {
        key: {"version": version, "os_pullspecs": {"rhel-coreos": fake_base_pullspec} if key == "4.16" else None}
        for key, version in STANDARD_VERSIONS.items()
    }
    jobs["4.16-multi"] = {
        "version": STANDARD_VERSIONS["4.16"],
        "arches": ("amd64", "arm64"),
        "os_pullspecs_by_arch": {"amd64": {"rhel-coreos": fake_base_pullspec}},
    }
    # Payloads share no blobs, so they can be pushed side by side (each
    # push has its own session); the result does not depend on the order.
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {key: pool.submit(push_release_payload, registry, **kw) for key, kw in jobs.items()}
        return {key: fut.result() for key, fut in futures.items()}


# ------------------------------------------------------------- releases to upgrade to
# The chain the upgrade rig offers (issue 10): the seed's 4.16.3, a z-stream 4.16.8, the next minor 4.17.2,
# and 4.21.0, the first release with a RHEL 10 OS image (rhel-coreos-10). RHCOS build ids as on real nodes
# (4<minor>.<rhel>.<stamp>-0); 4.16.3's is the session fake base's.
UPGRADE_RHCOS: Dict[str, str] = {
    "4.16.3": "416.94.202406251923-0",
    "4.16.8": "416.94.202408131506-0",
    "4.17.2": "417.94.202410211206-0",
    "4.21.0": "421.96.202602101206-0",
    # the demo's pair: a release that serves MachineOSConfig v1, so one cluster shows the upgrade and on-cluster
    "4.19.2": "419.96.202507011206-0",
    "4.19.5": "419.96.202507221206-0",
}
UPGRADE_VERSIONS = ("4.16.3", "4.16.8", "4.17.2", "4.21.0")  # what the upgrade_releases fixture builds
UPGRADE_RHCOS_10 = {"4.21.0": "421.100.202602101206-0"}
UPGRADE_REPO = "openshift-release-dev/ocp-release"  # apart from standard_payloads()' openshift/release tags


@dataclass(frozen=True)
class UpgradeRelease:
    """One release of the upgrade chain, all pushed to the rig registry.

    *kubelet* is the Kubernetes version the node's kubelet reports ("1.29.6"); *crio* and *kernel* the
    VERSION-RELEASE of the cri-o and kernel packages in *base* (``rpm -q`` there answers with them)."""

    version: str
    payload: str  # release pullspec by digest (openshift-release-dev/ocp-release@sha256:...)
    base: str  # rhel-coreos pullspec by digest
    extensions: str  # rhel-coreos-extensions pullspec by digest
    kubelet: str
    crio: str
    kernel: str
    rhcos_version: str  # the base's OSTREE_VERSION / version label
    node: NodeVersions
    release: ReleasePayload
    os_images: Dict[str, str]  # every OS tag of the payload -> pullspec (4.21: also rhel-coreos-10 ...)


def build_upgrade_releases(store: PodmanStore, registry: Registry, fake_base: Optional[FakeBase] = None,
                           versions: Sequence[str] = UPGRADE_VERSIONS) -> Dict[str, UpgradeRelease]:
    """Build and push, per version of *versions*, its own fake base (own os-release, rpm database,
    digest), extensions image and a payload naming them (tag ``<version>-x86_64`` in
    :data:`UPGRADE_REPO`). *fake_base* (the session one, 4.16.3's shape) is reused for 4.16.3."""
    out: Dict[str, UpgradeRelease] = {}
    for version in versions:
        rhcos, node = UPGRADE_RHCOS[version], NODE_VERSIONS[version]
        if version == "4.16.3" and fake_base is not None and fake_base.version == rhcos:
            base = fake_base
        else:
            base = build_fake_base(store, registry, tag=version, version=rhcos, node=node)
        ext = build_fake_extensions(store, registry, version, rhcos, node)
        os_images = {"rhel-coreos": base.pullspec, "rhel-coreos-extensions": ext.pullspec}
        if version in UPGRADE_RHCOS_10:
            rhcos10, node10 = UPGRADE_RHCOS_10[version], NODE_VERSIONS[f"{version}/rhel-10"]
            base10 = build_fake_base(store, registry, "rhcos/rhel-coreos-10", tag=version, version=rhcos10,
                                     node=node10)
            ext10 = build_fake_extensions(store, registry, version, rhcos10, node10,
                                          repo="rhcos/rhel-coreos-10-extensions")
            os_images.update({"rhel-coreos-10": base10.pullspec, "rhel-coreos-10-extensions": ext10.pullspec})
        payload = push_release_payload(registry, version, os_pullspecs=dict(os_images), repo=UPGRADE_REPO)
        out[version] = UpgradeRelease(
            version=version, payload=payload.pullspec_digest, base=base.pullspec, extensions=ext.pullspec,
            kubelet=node.kubernetes, crio=node.crio, kernel=node.kernel, rhcos_version=rhcos, node=node,
            release=payload, os_images=os_images)
    return out


# ------------------------------------------------------------- access log
def access_mark(registry: Registry) -> int:
    """Pass as ``since=`` to :func:`fetched_blobs` to see only later requests."""
    return len(registry.access_entries())


def blob_requests(registry: Registry, repo: str, *, since: int = 0, method: str = "GET") -> List[AccessEntry]:
    """Access-log entries for ``/v2/<repo>/blobs/<digest>`` (uploads excluded)."""
    prefix = registry.host + "/"
    repo_path = repo[len(prefix):] if repo.startswith(prefix) else repo
    path_prefix = f"/v2/{repo_path}/blobs/sha256:"
    return [e for e in registry.access_entries()[since:]
            if e.method == method and e.path.split("?", 1)[0].startswith(path_prefix)]


def fetched_blobs(registry: Registry, repo: str, *, since: int = 0, min_count: int = 0,
                  timeout: float = 2.0) -> List[str]:
    """Digests of blobs of *repo* successfully GET'ed (status < 400) after
    mark *since*, in order, repeats kept.

    The registry writes its log line around the time the response ends, so
    with *min_count* > 0 this waits (up to *timeout* s) for that many.
    """
    def digests() -> List[str]:
        return [e.path.split("?", 1)[0].rsplit("/", 1)[1]
                for e in blob_requests(registry, repo, since=since) if e.status < 400]

    if min_count > 0:
        wait_until(lambda: len(digests()) >= min_count, timeout, f"{min_count} blob GETs in the access log")
    return digests()


__all__ = [
    "ART_DEV_REPO",
    "COMPONENT_TAGS",
    "DEFAULT_REPO",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER_GZIP",
    "OCI_MANIFEST",
    "PUSH_USER_AGENT",
    "RELEASE_ARCH_NAMES",
    "STANDARD_VERSIONS",
    "PayloadImage",
    "ReleasePayload",
    "access_mark",
    "blob_requests",
    "fetched_blobs",
    "made_up_digest",
    "os_tag_names",
    "push_release_payload",
    "standard_payloads",
    "upload_url",
]

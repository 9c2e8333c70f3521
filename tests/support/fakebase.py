"""A tiny, offline stand-in for an RHCOS base image.

The image is busybox (static) plus:

* ``/etc/os-release`` (and ``/usr/lib/os-release``) shaped like RHCOS's,
* stub ``/usr/bin/rpm-ostree``, ``/usr/bin/ostree``, ``/usr/bin/bootc`` and ``/usr/bin/systemctl``
  that append their argv as one line ("rpm-ostree install foo") to
  ``/usr/share/rhcos-stub/calls.log`` and exit 0.  ``rpm-ostree install``
  of a package whose name starts with ``rig-fail`` exits 1 instead, so a
  failing build step can be provoked on purpose.
* labels ``ostree.bootable=true``, ``containers.bootc=1`` and ``version``.

Layout follows RHCOS: /bin, /sbin and /lib are symlinks into /usr.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from .podman import PodmanStore
from .registry import Registry

STUB_LOG = "/usr/share/rhcos-stub/calls.log"
DEFAULT_VERSION = "416.94.202406251923-0"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_STUB = """#!/bin/sh
# rhcos-layer test rig stub: records its command line, pretends success.
printf '%s\\n' "{name} $*" >> {log}
{extra}exit 0
"""

_RPM_OSTREE_EXTRA = """case "$1" in
  install)
    for arg in "$@"; do
      case "$arg" in
        rig-fail*) echo "error: Packages not found: $arg" >&2; exit 1 ;;
      esac
    done ;;
  --version) printf 'rpm-ostree:\\n Version: 2024.5\\n' ;;
esac
"""


@dataclass(frozen=True)
class FakeBase:
    repo: str  # "127.0.0.1:PORT/rhcos/rhel-coreos"
    digest: str  # "sha256:..."
    pullspec: str  # repo@digest
    tag_ref: str  # repo:tag
    tag: str
    version: str
    image_id: str
    stub_log: str = STUB_LOG


def os_release(version: str) -> str:
    """os-release text in RHCOS's shape (VERSION is the long build id,
    VERSION_ID the OpenShift minor, as on real RHCOS nodes)."""
    ocp = f"{int(version[0])}.{int(version[1:3])}" if version[:3].isdigit() else "4.16"
    return (
        'NAME="Red Hat Enterprise Linux CoreOS"\n'
        'ID="rhcos"\n'
        'ID_LIKE="rhel fedora"\n'
        f'VERSION="{version}"\n'
        f'VERSION_ID="{ocp}"\n'
        'VARIANT="CoreOS"\n'
        "VARIANT_ID=coreos\n"
        'PLATFORM_ID="platform:el9"\n'
        f'PRETTY_NAME="Red Hat Enterprise Linux CoreOS {version} (Plow)"\n'
        'ANSI_COLOR="0;31"\n'
        'CPE_NAME="cpe:/o:redhat:enterprise_linux:9::coreos"\n'
        'HOME_URL="https://www.redhat.com/"\n'
        f'OPENSHIFT_VERSION="{ocp}"\n'
        'RHEL_VERSION="9.4"\n'
        f'OSTREE_VERSION="{version}"\n'
    )


def _add(tar: tarfile.TarFile, name: str, data: Optional[bytes] = None, *, mode: int = 0o644,
         kind: bytes = tarfile.REGTYPE, link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    info.mtime = 0
    info.type = kind
    info.mode = mode
    if kind == tarfile.SYMTYPE:
        info.linkname = link
        tar.addfile(info)
    elif kind == tarfile.DIRTYPE:
        tar.addfile(info)
    else:
        payload = data or b""
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))


def _busybox_applets(busybox: str) -> List[str]:
    out = subprocess.run([busybox, "--list"], check=True, stdout=subprocess.PIPE, text=True).stdout
    return sorted({a.strip() for a in out.split() if a.strip() and "/" not in a})


def write_rootfs_tar(path: Path, version: str = DEFAULT_VERSION, busybox: Optional[str] = None) -> Path:
    """Write the fake RHCOS rootfs as an uncompressed tar at *path*."""
    bb = busybox or shutil.which("busybox") or "/usr/bin/busybox"
    stubs: Dict[str, str] = {
        "rpm-ostree": _STUB.format(name="rpm-ostree", log=STUB_LOG, extra=_RPM_OSTREE_EXTRA),
        "ostree": _STUB.format(name="ostree", log=STUB_LOG, extra=""),
        "bootc": _STUB.format(name="bootc", log=STUB_LOG, extra=""),
        "systemctl": _STUB.format(name="systemctl", log=STUB_LOG, extra=""),
    }
    release = os_release(version).encode()
    with tarfile.open(str(path), "w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("usr", "usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "usr/share",
                  "usr/share/rhcos-stub", "etc", "var", "run", "proc", "sys",
                  "dev", "root", "sysroot", "boot"):
            _add(tar, d, kind=tarfile.DIRTYPE, mode=0o755)
        _add(tar, "tmp", kind=tarfile.DIRTYPE, mode=0o1777)
        _add(tar, "var/tmp", kind=tarfile.DIRTYPE, mode=0o1777)
        for link, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"),
                             ("lib64", "usr/lib64")):
            _add(tar, link, kind=tarfile.SYMTYPE, link=target)
        with open(bb, "rb") as fh:
            _add(tar, "usr/bin/busybox", fh.read(), mode=0o755)
        for applet in _busybox_applets(bb):
            if applet in stubs or applet == "busybox":
                continue
            _add(tar, f"usr/bin/{applet}", kind=tarfile.SYMTYPE, link="busybox")
        for name, script in stubs.items():
            _add(tar, f"usr/bin/{name}", script.encode(), mode=0o755)
        _add(tar, "usr/share/rhcos-stub/calls.log", b"", mode=0o666)
        _add(tar, "usr/lib/os-release", release)
        _add(tar, "etc/os-release", kind=tarfile.SYMTYPE, link="../usr/lib/os-release")
        _add(tar, "etc/redhat-release", b"Red Hat Enterprise Linux CoreOS release 4.16\n")
        _add(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\ncore:x:1000:1000::/var/home/core:/bin/sh\n")
        _add(tar, "etc/group", b"root:x:0:\ncore:x:1000:\n")
        _add(tar, "etc/hostname", b"rhcos-stub\n")
    return path


def build_fake_base(
    store: PodmanStore,
    registry: Registry,
    repo: str = "rhcos/rhel-coreos",
    tag: str = "4.16",
    *,
    version: str = DEFAULT_VERSION,
) -> FakeBase:
    """Create the fake base in *store*, push it to *registry*, return refs.

    Use a store that the code under test does NOT use: a FROM repo@digest
    is satisfied by any local image with that digest.
    """
    full_repo = f"{registry.host}/{repo}"
    tag_ref = f"{full_repo}:{tag}"
    work = Path(tempfile.mkdtemp(prefix="fakebase-", dir=str(store.tmp_dir)))
    try:
        tar_path = write_rootfs_tar(work / "rootfs.tar", version=version)
        changes = [
            f"ENV PATH={DEFAULT_PATH}",
            'CMD ["/bin/sh"]',
            "LABEL ostree.bootable=true",
            "LABEL containers.bootc=1",
            f"LABEL version={version}",
            f"LABEL org.opencontainers.image.version={version}",
        ]
        args: List[str] = ["import", "--quiet"]
        for c in changes:
            args += ["--change", c]
        image_id = store.podman(*args, str(tar_path), tag_ref).stdout.strip().splitlines()[-1]

        authfile = work / "auth.json"
        registry.write_authfile(authfile)
        digestfile = work / "digest"
        store.podman(
            "push", "--quiet",
            "--cert-dir", str(registry.cert_dir),
            "--authfile", str(authfile),
            "--digestfile", str(digestfile),
            tag_ref, f"docker://{tag_ref}",
        )
        digest = digestfile.read_text().strip()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not digest.startswith("sha256:"):
        raise RuntimeError(f"unexpected digest from podman push: {digest!r}")
    return FakeBase(
        repo=full_repo,
        digest=digest,
        pullspec=f"{full_repo}@{digest}",
        tag_ref=tag_ref,
        tag=tag,
        version=version,
        image_id=image_id.replace("sha256:", ""),
    )


__all__ = ["FakeBase", "build_fake_base", "os_release", "write_rootfs_tar", "STUB_LOG", "DEFAULT_VERSION"]

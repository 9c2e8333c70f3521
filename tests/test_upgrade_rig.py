"""The upgrade rig (issue 10): releases to upgrade to (tests/support/payload.py build_upgrade_releases)."""

from __future__ import annotations

import json
from typing import Dict

from tests.support import PodmanStore, Registry
from tests.support.payload import UpgradeRelease


def test_each_release_has_its_own_base_extensions_and_payload(
    upgrade_releases: Dict[str, UpgradeRelease], registry: Registry
) -> None:
    assert sorted(upgrade_releases) == ["4.16.3", "4.16.8", "4.17.2", "4.21.0"]
    bases = {r.base for r in upgrade_releases.values()}
    exts = {r.extensions for r in upgrade_releases.values()}
    payloads = {r.payload for r in upgrade_releases.values()}
    assert len(bases) == len(exts) == len(payloads) == 4
    for version, rel in upgrade_releases.items():
        assert rel.version == version
        assert rel.payload.startswith(f"{registry.host}/openshift-release-dev/ocp-release@sha256:")
        tags = rel.release.image().tags
        assert tags["rhel-coreos"] == rel.base
        assert tags["rhel-coreos-extensions"] == rel.extensions
        assert rel.release.image().release_metadata["version"] == version
        cm = rel.release.image().manifest_files
        osimageurl = next(v for k, v in cm.items() if b"machine-config-osimageurl" in v)
        assert f'baseOSContainerImage: "{rel.base}"'.encode() in osimageurl
        repo, digest = rel.base.split("@")
        assert registry.manifest_digest(repo, digest) == digest
    assert "rhel-coreos-10" in upgrade_releases["4.21.0"].release.image().tags
    assert upgrade_releases["4.21.0"].os_images["rhel-coreos-10"] != upgrade_releases["4.21.0"].base
    assert (upgrade_releases["4.16.3"].kubelet, upgrade_releases["4.17.2"].kubelet) == ("1.29.6", "1.30.5")
    assert upgrade_releases["4.16.3"].kernel != upgrade_releases["4.16.8"].kernel


def test_release_bases_answer_with_their_own_versions(
    upgrade_releases: Dict[str, UpgradeRelease], fresh_store: PodmanStore, registry: Registry, authfile: object
) -> None:
    for version in ("4.16.3", "4.17.2"):
        rel = upgrade_releases[version]
        fresh_store.podman("pull", "--quiet", "--cert-dir", registry.cert_dir, "--authfile", str(authfile), rel.base)
        res = fresh_store.podman("run", "--rm", "--network", "none", rel.base, "sh", "-c",
                                 "rpm -q --qf '%{VERSION}-%{RELEASE}\\n' kernel-core cri-o;"
                                 " kubelet --version; . /etc/os-release; echo $VERSION $RHEL_VERSION")
        assert res.stdout.splitlines() == [rel.kernel, rel.crio, f"Kubernetes v{rel.kubelet}",
                                           f"{rel.rhcos_version} 9.4"]
    rel10 = upgrade_releases["4.21.0"].os_images["rhel-coreos-10"]
    fresh_store.podman("pull", "--quiet", "--cert-dir", registry.cert_dir, "--authfile", str(authfile), rel10)
    res = fresh_store.podman("run", "--rm", "--network", "none", rel10, "sh", "-c",
                             "rpm -q --qf '%{RELEASE}\\n' kernel; . /etc/os-release; echo $PLATFORM_ID")
    assert res.stdout.splitlines()[1] == "platform:el10"
    assert res.stdout.splitlines()[0].endswith(".el10_0")
    info = json.loads(fresh_store.podman("image", "inspect", rel10).stdout)[0]
    assert info["Labels"]["version"].startswith("421.100.")

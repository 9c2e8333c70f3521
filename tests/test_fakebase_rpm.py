"""The fake RHCOS base answers rpm queries like the real rpm, through real podman (tests/support/fakebase.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Tuple

from tests.support import FakeBase, PodmanStore, Registry
from tests.support.fakebase import NODE_VERSIONS, rhcos_packages

V416 = NODE_VERSIONS["4.16.3"]


def _run(store: PodmanStore, image: str, *cmd: str) -> Tuple[int, str, str]:
    res = store.podman("run", "--rm", "--network", "none", image, *cmd, check=False)
    return res.returncode, res.stdout, res.stderr


def test_rpm_queries_in_the_fake_base(rig_store: PodmanStore, fake_base: FakeBase) -> None:
    img = fake_base.tag_ref
    rc, out, err = _run(rig_store, img, "rpm", "-q", "kernel-core", "cri-o")
    assert (rc, err) == (0, "")
    assert out == f"kernel-core-{V416.kernel}.x86_64\ncri-o-{V416.crio}.x86_64\n"

    rc, out, _ = _run(rig_store, img, "rpm", "-q", "--qf", r"%{NAME}\t%{EPOCH}:%{VERSION}-%{RELEASE}.%{ARCH}\n",
                      "openshift-kubelet", "cri-o")
    assert rc == 0
    assert out == (f"openshift-kubelet\t(none):{V416.kubelet_rpm}.x86_64\n"
                   f"cri-o\t0:{V416.crio}.x86_64\n")

    rc, out, _ = _run(rig_store, img, "rpm", "-q", "kernel-core", "no-such-pkg")
    assert rc == 1
    assert out == f"kernel-core-{V416.kernel}.x86_64\npackage no-such-pkg is not installed\n"

    rc, out, _ = _run(rig_store, img, "rpm", "-qf", "--queryformat", r"%{NAME}\n", "/usr/bin/kubelet",
                      "/usr/bin/rpm-ostree")
    assert (rc, out) == (0, "openshift-kubelet\nrpm-ostree\n")

    rc, out, err = _run(rig_store, img, "rpm", "-qf", "/etc/passwd", "/nope")
    assert rc == 1
    assert out == "file /etc/passwd is not owned by any package\n"
    assert err == "error: file /nope: No such file or directory\n"

    rc, out, _ = _run(rig_store, img, "rpm", "-qa", "--qf", r"%{NAME}\n")
    assert rc == 0
    assert out.splitlines() == [p.name for p in rhcos_packages(V416)]

    # through busybox's shell too (every RUN step): its own rpm applet must not answer instead
    rc, out, _ = _run(rig_store, img, "sh", "-c", "rpm -q kernel-core")
    assert (rc, out) == (0, f"kernel-core-{V416.kernel}.x86_64\n")

    rc, out, _ = _run(rig_store, img, "kubelet", "--version")
    assert (rc, out) == (0, f"Kubernetes v{V416.kubernetes}\n")


def test_layered_kernel_replacement_answers_differently(
    rig_store: PodmanStore, registry: Registry, fake_base: FakeBase, tmp_path: Path
) -> None:
    new = "5.14.0-570.1.1.el9_6"
    (tmp_path / "Containerfile").write_text(
        f"FROM {fake_base.tag_ref}\n"
        f"RUN rpm-ostree override replace https://example.com/kernel-{new}.x86_64.rpm"
        f" https://example.com/kernel-core-{new}.x86_64.rpm && rpm-ostree install htop && ostree container commit\n"
    )
    rig_store.podman("build", "--isolation", "chroot", "-t", "localhost/kernel-layer:test",
                     "-f", tmp_path / "Containerfile", tmp_path)
    try:
        rc, out, _ = _run(rig_store, "localhost/kernel-layer:test", "rpm", "-q", "kernel", "kernel-core",
                          "kernel-modules", "htop")
        assert rc == 0
        assert out == (f"kernel-{new}.x86_64\nkernel-core-{new}.x86_64\n"
                       f"kernel-modules-{V416.kernel}.x86_64\nhtop-1.0-1.x86_64\n")
        rc, out, _ = _run(rig_store, "localhost/kernel-layer:test", "cat", "/usr/share/rhcos-stub/calls.log")
        assert "rpm-ostree install htop" in out.splitlines()
    finally:
        rig_store.podman("rmi", "-f", "localhost/kernel-layer:test", check=False)


def test_override_replace_of_a_package_not_in_the_base_fails(
    rig_store: PodmanStore, fake_base: FakeBase, tmp_path: Path
) -> None:
    (tmp_path / "Containerfile").write_text(
        f"FROM {fake_base.tag_ref}\nRUN rpm-ostree override replace /tmp/nothere-1.0-1.el9.x86_64.rpm\n")
    res = rig_store.podman("build", "--isolation", "chroot", "-f", tmp_path / "Containerfile", tmp_path,
                           check=False)
    assert res.returncode != 0
    assert 'Package "nothere" not found in base' in res.stderr + res.stdout

"""Tests of the offline rig itself (registry, stores, service, base, proxy)."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support import (
    STUB_LOG,
    FakeBase,
    PodmanError,
    PodmanService,
    PodmanStore,
    Registry,
    TcpProxy,
    mounts_under,
)


def _get_v2(registry: Registry, **kw: object) -> requests.Response:
    return registry.request("GET", "/v2/", **kw)  # type: ignore[arg-type]


# -------------------------------------------------------------------- registry
def test_registry_requires_auth(registry: Registry) -> None:
    assert _get_v2(registry, auth=False).status_code == 401
    assert _get_v2(registry).status_code == 200
    assert _get_v2(registry, auth=(registry.username, "wrong")).status_code == 401
    assert registry.password.startswith("rig-")
    log = registry.access_log()
    assert '"GET /v2/ HTTP/1.1" 200' in log
    assert registry.password not in log
    served = [(e.method, e.path, e.status) for e in registry.access_entries()]
    assert served[-3:] == [("GET", "/v2/", 401), ("GET", "/v2/", 200), ("GET", "/v2/", 401)]
    assert all(e.agent != "rig-readiness-probe" for e in registry.access_entries())


def test_registry_is_tls_with_rig_ca(registry: Registry) -> None:
    assert registry.ca_path.parent == registry.cert_dir
    assert sorted(os.listdir(registry.cert_dir)) == ["ca.crt"]
    with pytest.raises(requests.exceptions.SSLError):
        # the system bundle does not know the rig CA
        requests.get(registry.url + "/v2/", timeout=5, verify=True)


def test_authfile_format_and_mode(registry: Registry, authfile: Path, tmp_path: Path) -> None:
    assert stat.S_IMODE(authfile.stat().st_mode) == 0o600
    data = json.loads(authfile.read_text())
    assert list(data["auths"]) == [registry.host]
    bad = registry.write_authfile(tmp_path / "bad.json", password="nope")
    assert stat.S_IMODE(bad.stat().st_mode) == 0o600
    assert data["auths"][registry.host]["auth"] != json.loads(bad.read_text())["auths"][registry.host]["auth"]


def test_registry_restart_same_port_keeps_content(registry: Registry, fake_base: FakeBase) -> None:
    registry.stop()
    assert not registry.running
    with pytest.raises(requests.exceptions.ConnectionError):
        _get_v2(registry, timeout=2)
    registry.start()
    assert _get_v2(registry).status_code == 200
    assert registry.manifest_digest(fake_base.repo, fake_base.tag) == fake_base.digest


# ------------------------------------------------------------------- fake base
def test_fake_base_digest_matches_registry(registry: Registry, fake_base: FakeBase) -> None:
    assert fake_base.repo == f"{registry.host}/rhcos/rhel-coreos"
    assert fake_base.pullspec == f"{fake_base.repo}@{fake_base.digest}"
    assert fake_base.tag_ref == f"{fake_base.repo}:4.16"
    assert registry.manifest_digest("rhcos/rhel-coreos", "4.16") == fake_base.digest
    assert registry.manifest_digest(fake_base.repo, fake_base.digest) == fake_base.digest
    assert registry.manifest_digest("rhcos/rhel-coreos", "no-such-tag") is None
    # the upgrade rig's releases push their own bases here too (tags 4.16.8, ...), when they ran first
    assert "4.16" in registry.tags("rhcos/rhel-coreos")
    assert "no-such-tag" not in registry.tags("rhcos/rhel-coreos")


def test_pull_base_into_fresh_store(
    fresh_store: PodmanStore, registry: Registry, fake_base: FakeBase, authfile: Path
) -> None:
    # no credentials -> refused by the registry
    noauth = fresh_store.podman(
        "pull", "--cert-dir", registry.cert_dir, fake_base.pullspec, check=False
    )
    assert noauth.returncode != 0
    assert "unauthorized" in noauth.stderr.lower() or "authentication required" in noauth.stderr.lower()

    fresh_store.podman("pull", "--cert-dir", registry.cert_dir, "--authfile", authfile, fake_base.pullspec)
    info = fresh_store.inspect_image(fake_base.pullspec)
    assert fake_base.digest in info["RepoDigests"][0]
    assert info["Labels"]["ostree.bootable"] == "true"
    assert info["Labels"]["containers.bootc"] == "1"
    with fresh_store.image_files(fake_base.pullspec) as root:
        assert (root / "usr/bin/rpm-ostree").is_file()
        assert os.access(root / "usr/bin/rpm-ostree", os.X_OK)
        assert (root / "usr/bin/bootc").is_file()
        release = (root / "usr/lib/os-release").read_text()
        assert 'ID="rhcos"' in release
        assert f'OSTREE_VERSION="{fake_base.version}"' in release
        mounted = str(root)
    assert mounted not in "\n".join(mounts_under(fresh_store.root_dir))


def test_build_layer_in_fresh_store(
    fresh_store: PodmanStore, registry: Registry, fake_base: FakeBase, authfile: Path, tmp_path: Path
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text(
        f"FROM {fake_base.pullspec}\n"
        "RUN rpm-ostree install foo && ostree container commit\n"
    )
    fresh_store.podman(
        "build", "--isolation", "chroot",
        "--cert-dir", registry.cert_dir, "--authfile", authfile,
        "-t", "localhost/layered:test", "-f", ctx / "Containerfile", ctx,
    )
    with fresh_store.image_files("localhost/layered:test") as root:
        calls = (root / STUB_LOG.lstrip("/")).read_text().splitlines()
    assert calls == ["rpm-ostree install foo", "ostree container commit"]


def test_failing_rpm_ostree_stub_fails_build(
    fresh_store: PodmanStore, registry: Registry, fake_base: FakeBase, authfile: Path, tmp_path: Path
) -> None:
    (tmp_path / "Containerfile").write_text(
        f"FROM {fake_base.pullspec}\nRUN rpm-ostree install rig-fail-pkg\n"
    )
    with pytest.raises(PodmanError) as err:
        fresh_store.podman(
            "build", "--cert-dir", registry.cert_dir, "--authfile", authfile,
            "-f", tmp_path / "Containerfile", tmp_path,
        )
    assert "Packages not found: rig-fail-pkg" in str(err.value)


def test_podman_run_works_without_extra_flags(
    fresh_store: PodmanStore, registry: Registry, fake_base: FakeBase, authfile: Path
) -> None:
    fresh_store.podman("pull", "-q", "--cert-dir", registry.cert_dir, "--authfile", authfile, fake_base.pullspec)
    out = fresh_store.podman("run", "--rm", fake_base.pullspec, "cat", "/etc/os-release").stdout
    assert 'ID="rhcos"' in out


def test_store_cleanup_leaves_nothing(tmp_path: Path, fake_base: FakeBase, registry: Registry, authfile: Path) -> None:
    store = PodmanStore(tmp_path / "s")
    store.trust_registry(registry)  # no --cert-dir needed after this
    store.podman("pull", "-q", "--authfile", authfile, fake_base.pullspec)
    store.podman("create", "--name", "left-behind", fake_base.pullspec, "true")
    store.podman("image", "mount", fake_base.pullspec)
    url = store.start_service()
    assert url.startswith("unix://")
    assert mounts_under(store.root_dir)
    store.cleanup()
    assert not store.root_dir.exists()
    assert mounts_under(store.root_dir) == []


# --------------------------------------------------------------------- service
def test_service_pulls_with_its_own_ca_trust(
    podman_service: PodmanService, fake_base: FakeBase, authfile: Path
) -> None:
    sock = podman_service.url[len("unix://"):]
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(sock)
        s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.0 200")
    # podman --remote talks to the service; the pull happens in the service,
    # which trusts the CA via its HOME certs.d (remote has no --cert-dir).
    store = podman_service.store
    store.podman("--url", podman_service.url, "pull", "-q", "--authfile", authfile, fake_base.tag_ref)
    assert store.image_exists(fake_base.tag_ref)


def test_tool_env_remote_cli_build_and_push(
    tool_env: dict, podman_service: PodmanService, fake_base: FakeBase, registry: Registry, tmp_path: Path
) -> None:
    """With tool_env, a plain `podman` is remote (CONTAINER_HOST) and gets
    isolation, CA trust and credentials without any flags."""
    (tmp_path / "Containerfile").write_text(
        f"FROM {fake_base.pullspec}\nRUN rpm-ostree install bar && ostree container commit\n"
    )
    target = f"{registry.host}/rig/remote:1"

    def podman(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=120)

    built = podman("build", "-t", target, str(tmp_path))
    assert built.returncode == 0, built.stderr
    pushed = podman("push", "--digestfile", str(tmp_path / "digest"), target)
    assert pushed.returncode == 0, pushed.stderr
    assert registry.manifest_digest("rig/remote", "1") is not None
    # podman 4.3 *remote* accepts --digestfile, exits 0 and writes nothing
    # (local podman does write it); ask the registry for the digest instead.
    assert not (tmp_path / "digest").exists()
    with podman_service.store.image_files(target) as root:
        calls = (root / STUB_LOG.lstrip("/")).read_text().splitlines()
    assert calls == ["rpm-ostree install bar", "ostree container commit"]


def test_podman_py_build_uses_service_credentials(
    fresh_service: PodmanService, fake_base: FakeBase, registry: Registry, tmp_path: Path
) -> None:
    import podman as podman_py  # a dependency of rhcos-layer: missing, the test must fail, not skip

    (tmp_path / "Containerfile").write_text(f"FROM {fake_base.pullspec}\nRUN rpm-ostree install baz\n")
    with podman_py.PodmanClient(base_url=fresh_service.url) as client:
        # images.build() cannot send credentials: the service's own are used
        with pytest.raises(podman_py.errors.BuildError, match="authentication required"):
            client.images.build(path=str(tmp_path), dockerfile="Containerfile", tag="localhost/pp:1")
        fresh_service.store.login(registry)
        image, _logs = client.images.build(path=str(tmp_path), dockerfile="Containerfile", tag="localhost/pp:1")
        assert "localhost/pp:1" in image.tags
    assert fresh_service.store.image_exists("localhost/pp:1")


def test_tool_env(tool_env: dict, podman_service: PodmanService, authfile: Path) -> None:
    assert os.environ["CONTAINER_HOST"] == podman_service.url
    assert os.environ["REGISTRY_AUTH_FILE"] == str(authfile)
    assert os.environ["BUILDAH_ISOLATION"] == "chroot"
    assert os.environ["NO_COLOR"] == "1"
    assert os.environ["HOME"] != str(Path("~root").expanduser())
    assert os.environ["CONTAINERS_STORAGE_CONF"] == str(podman_service.store.storage_conf)
    assert tool_env["XDG_RUNTIME_DIR"] == os.environ["XDG_RUNTIME_DIR"]


# ----------------------------------------------------------------------- proxy
def test_proxy_forwards_tls(proxy: TcpProxy, registry: Registry) -> None:
    r = registry.request("GET", "/v2/", host=proxy.host)
    assert r.status_code == 200
    assert proxy.connections == 1
    assert proxy.bytes_client_to_server > 0 and proxy.bytes_server_to_client > 0


def test_proxy_fail_after_bytes_resets(proxy: TcpProxy, registry: Registry) -> None:
    proxy.fail_after_bytes(100, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        registry.request("GET", "/v2/", host=proxy.host, timeout=5)
    assert proxy.resets == 1
    assert proxy.bytes_client_to_server == 100
    # only the next connection was affected
    assert registry.request("GET", "/v2/", host=proxy.host).status_code == 200


def test_proxy_refuse_and_restore(proxy: TcpProxy, registry: Registry) -> None:
    port = proxy.port
    proxy.refuse()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    proxy.refuse(reset=True)
    proxy.restore()
    proxy.refuse(reset=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        registry.request("GET", "/v2/", host=proxy.host, timeout=5)
    assert proxy.refused >= 1
    proxy.restore()
    assert proxy.port == port
    assert registry.request("GET", "/v2/", host=proxy.host).status_code == 200


def test_proxy_stop_is_bounded(registry: Registry) -> None:
    p = TcpProxy(registry.host).start()
    idle = socket.create_connection(("127.0.0.1", p.port), timeout=2)
    t0 = time.monotonic()
    p.stop()
    assert time.monotonic() - t0 < 2
    idle.settimeout(2)
    try:
        data = idle.recv(1)  # the proxy reset (or closed) the idle client
    except ConnectionResetError:
        data = b""
    finally:
        idle.close()
    assert data == b"" and p.stats().active == 0


def test_podman_push_through_flaky_proxy(
    proxy: TcpProxy, registry: Registry, fake_base: FakeBase, fresh_store: PodmanStore, tmp_path: Path
) -> None:
    auth = registry.write_authfile(tmp_path / "auth.json", extra_hosts=[proxy.host])
    fresh_store.trust_registry(registry, extra_hosts=[proxy.host])
    fresh_store.podman("pull", "-q", "--authfile", auth, fake_base.pullspec)
    target = f"{proxy.host}/rig/flaky:1"
    fresh_store.podman("tag", fake_base.pullspec, target)
    proxy.refuse()
    # podman 4.3 has no --retry: it retries 3 times itself (~1 s apart)
    down = fresh_store.podman("push", "--authfile", auth, target, check=False)
    assert down.returncode != 0
    assert "connection refused" in down.stderr
    proxy.restore()
    fresh_store.podman("push", "-q", "--authfile", auth, target)
    assert registry.manifest_digest("rig/flaky", "1") is not None

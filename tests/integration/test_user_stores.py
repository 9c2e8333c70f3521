"""build and push on the Podman stores users have, not only the rig's private ones.

Stock Debian/Ubuntu ship no storage.conf: a store first opened there records no graph driver
("") in its database, and podman then refuses any explicit ``--storage-driver`` (libpod
runtime.go: "database storage graph driver "" does not match our storage graph driver
"overlay""). Fedora/RHEL's storage.conf names overlay, so there the database says overlay.
``--cert-dir`` runs the podman CLI on the service's store, which is where that bites.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Dict, List, Optional

import pytest

from tests.integration.conftest import processes_mentioning, write_project
from tests.support import PodmanStore

LAYER = "COPY extra.conf /etc/chrony.d/extra.conf\nRUN rpm-ostree install usbguard && ostree container commit\n"


def _project(tmp_path: Path, base: str, registry, name: str) -> Path:
    folder = write_project(tmp_path / name, base, LAYER, image=f"{registry.host}/stores/{name}")
    # unique content: no layer cache of another test or run can satisfy this build
    (folder / "extra.conf").write_text(f"server time.example.com iburst # {uuid.uuid4()}\n")
    return folder


def _build_and_push(rhcos_layer, project: Path, env: Dict[str, Optional[str]], registry, name: str) -> str:
    certs = ["--cert-dir", str(registry.cert_dir)]
    built = rhcos_layer(["build", "-o", "json", *certs], project, env)
    assert built.code == 0, built.err
    assert "database configuration mismatch" not in built.err
    image_id = json.loads(built.out)["image_id"]
    pushed = rhcos_layer(["push", *certs], project, env)
    assert pushed.code == 0, pushed.err
    digest = pushed.last_line.split("@", 1)[1]
    assert pushed.last_line == f"{registry.host}/stores/{name}@{digest}"
    tag = json.loads((project / ".rhcos-layer.state.json").read_text())["push"]["destination"].rsplit(":", 1)[1]
    assert registry.manifest_digest(f"stores/{name}", tag) == digest
    return image_id


@pytest.mark.parametrize("created_by", ["plain podman, no driver configured", "the tool's own service",
                                        "storage.conf naming overlay"])
def test_cert_dir_build_and_push_on_the_stores_users_have(created_by, tmp_path, tmp_path_factory, tool_env,
                                                          fake_base, registry, rhcos_layer):
    store = PodmanStore(tmp_path_factory.mktemp("userstore"),
                        driver="overlay" if "overlay" in created_by else None)
    try:
        if created_by.startswith("plain podman"):
            store.podman("images")  # as a user who ran podman once: the database is created now
        # a private service on that store (no CONTAINER_HOST), which does not trust the
        # registry's CA (a bare HOME): --cert-dir is the only way in
        env: Dict[str, Optional[str]] = dict(store.env, CONTAINER_HOST=None, HOME=str(tmp_path / "bare-home"))
        name = "s" + uuid.uuid4().hex[:8]
        project = _project(tmp_path, fake_base.pullspec, registry, name)
        image_id = _build_and_push(rhcos_layer, project, env, registry, name)
        assert store.image_exists(image_id)  # built in that store, not another
        # the store is the kind named: its database refuses an explicit driver unless it recorded one
        explicit = store.podman("--root", store.graphroot, "--runroot", store.runroot, "--storage-driver",
                                "overlay", "images", check=False)
        if "overlay" in created_by:
            assert explicit.returncode == 0, explicit.stderr
        else:
            assert "database configuration mismatch" in explicit.stderr
    finally:
        store.cleanup()


def _real_default_store_env() -> Dict[str, Optional[str]]:
    """The machine's own configuration: no rig storage.conf / containers.conf, no service."""
    return {"CONTAINERS_STORAGE_CONF": None, "CONTAINERS_CONF": None, "CONTAINER_HOST": None,
            "BUILDAH_ISOLATION": "chroot"}


def _podman(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("CONTAINERS_STORAGE_CONF", "CONTAINERS_CONF", "CONTAINER_HOST")}
    return subprocess.run(["podman", *args], env=env, capture_output=True, text=True, check=False, timeout=120)


def _parents(image_id: str, stop: str) -> List[str]:
    """``image_id`` and the intermediate images (one per cached step) down to, not including, ``stop``."""
    chain = []
    current = image_id
    while current and current != stop and len(chain) < 50:
        chain.append(current)
        found = _podman("image", "inspect", "--format", "{{.Parent}}", current)
        current = found.stdout.strip() if found.returncode == 0 else ""
    return chain


@pytest.mark.skipif(os.getuid() != 0 or shutil.which("podman") is None,
                    reason="the machine's default store is root's: run as root with podman")
def test_cert_dir_build_and_push_on_the_machines_real_default_store(tmp_path, tool_env, fake_base, registry,
                                                                    rhcos_layer):
    """/var/lib/containers/storage as this machine's podman left it; everything made is removed."""
    env = _real_default_store_env()
    env["HOME"] = str(tmp_path / "bare-home")
    env["TMPDIR"] = str(tmp_path / "tmp")
    (tmp_path / "tmp").mkdir()
    root = _podman("info", "--format", "{{.Store.GraphRoot}}").stdout.strip()
    assert root == "/var/lib/containers/storage"
    base_was_there = _podman("image", "exists", fake_base.pullspec).returncode == 0
    name = "s" + uuid.uuid4().hex[:8]
    project = _project(tmp_path, fake_base.pullspec, registry, name)
    made: List[str] = []
    try:
        image_id = _build_and_push(rhcos_layer, project, env, registry, name)
        base_id = json.loads(_podman("image", "inspect", fake_base.pullspec).stdout)[0]["Id"]
        made = _parents(image_id, base_id)
        assert made and made[0] == image_id
        assert list((tmp_path / "tmp").iterdir()) == []  # the private service's folder is gone
        assert processes_mentioning(tmp_path / "tmp") == []
    finally:
        state = project / ".rhcos-layer.state.json"
        if not made and state.exists():
            made = [json.loads(state.read_text())["build"]["image_id"]]
        for image in made:  # the newest first: each is a parent of the one before
            _podman("rmi", "--force", image)
        if not base_was_there:
            _podman("rmi", fake_base.pullspec)
    for image in made:
        assert _podman("image", "exists", image).returncode == 1

"""A push the registry already holds: one HEAD, no Podman; anything else pushes for real."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.conftest import write_project


def _pushed_project(tmp_path, fake_base, registry, rhcos_layer, name, host=None):
    project = write_project(tmp_path / name, fake_base.pullspec, f"RUN rpm-ostree install {name}\n",
                            image=f"{host or registry.host}/noop/{name}")
    built = rhcos_layer(["build"], project)
    assert built.code == 0, built.err
    pushed = rhcos_layer(["push"], project)
    assert pushed.code == 0, pushed.err
    assert "Pushing " in pushed.err
    return project, pushed.last_line


def _no_podman(tmp_path: Path) -> dict:
    # a CONTAINER_HOST nobody answers at: any use of Podman fails with exit 9
    return {"CONTAINER_HOST": f"unix://{tmp_path}/nobody.sock"}


def test_noop_push_asks_the_registry_once_and_never_podman(tmp_path, tool_env, fake_base, registry, rhcos_layer):
    project, pullspec = _pushed_project(tmp_path, fake_base, registry, rhcos_layer, "same")
    destination = json.loads((project / ".rhcos-layer.state.json").read_text())["push"]["destination"]
    state_before = (project / ".rhcos-layer.state.json").read_text()
    seen = len(registry.access_entries())
    again = rhcos_layer(["push", "--digestfile", str(tmp_path / "digest")], project, _no_podman(tmp_path))
    assert again.code == 0, again.err
    digest = pullspec.split("@", 1)[1]
    assert again.out == pullspec + "\n"
    assert again.err == f"{destination} already holds {digest}: nothing to push\n"
    assert (tmp_path / "digest").read_text() == digest
    assert (project / ".rhcos-layer.state.json").read_text() == state_before
    requests = [(e.method, e.path, e.status) for e in registry.access_entries()[seen:]]
    tag = destination.rsplit(":", 1)[1]
    assert requests == [("HEAD", f"/v2/noop/same/manifests/{tag}", 200)]


def test_a_tag_the_registry_lost_is_pushed_again(tmp_path, tool_env, fake_base, registry, rhcos_layer):
    project, pullspec = _pushed_project(tmp_path, fake_base, registry, rhcos_layer, "lost")
    digest = pullspec.split("@", 1)[1]
    deleted = registry.request("DELETE", f"/v2/noop/lost/manifests/{digest}")
    assert deleted.status_code == 202
    destination = json.loads((project / ".rhcos-layer.state.json").read_text())["push"]["destination"]
    tag = destination.rsplit(":", 1)[1]
    assert registry.manifest_digest("noop/lost", tag) is None

    without_podman = rhcos_layer(["push"], project, _no_podman(tmp_path))
    assert without_podman.code == 9, without_podman.err  # it needs Podman: it really pushes
    again = rhcos_layer(["push"], project)
    assert again.code == 0, again.err
    assert "Pushing " in again.err and "nothing to push" not in again.err
    assert again.last_line == pullspec
    assert registry.manifest_digest("noop/lost", tag) == digest


def test_another_tag_or_a_changed_image_is_pushed(tmp_path, tool_env, fake_base, registry, rhcos_layer):
    project, pullspec = _pushed_project(tmp_path, fake_base, registry, rhcos_layer, "moved")
    other = rhcos_layer(["push", "", f"{registry.host}/noop/moved:other"], project, _no_podman(tmp_path))
    assert other.code == 9, other.err
    (project / "Containerfile").write_text(f"FROM {fake_base.pullspec}\nRUN rpm-ostree install moved2\n")
    rebuilt = rhcos_layer(["build"], project)
    assert rebuilt.code == 0, rebuilt.err
    changed = rhcos_layer(["push"], project, _no_podman(tmp_path))
    assert changed.code == 9, changed.err


def test_the_head_answers_a_bearer_challenge(tmp_path, tool_env, fake_base, registry, token_front, rhcos_layer):
    """quay.io-style auth (the token front accepts no uploads, so the image is pushed to the
    registry behind it): the HEAD fetches a token from the realm the registry names."""
    from rhcos_layer.adapters.manifesthead import manifest_digest
    from rhcos_layer.auth import Credentials
    from rhcos_layer.trust import TLSSettings

    project, pullspec = _pushed_project(tmp_path, fake_base, registry, rhcos_layer, "bearer")
    tag = json.loads((project / ".rhcos-layer.state.json").read_text())["push"]["destination"].rsplit(":", 1)[1]
    tls = TLSSettings(cert_dir=registry.cert_dir)
    creds = Credentials(registry.username, registry.password)
    issued = token_front.stats().tokens_issued
    assert manifest_digest(token_front.host, "noop/bearer", tag, creds, tls) == pullspec.split("@", 1)[1]
    assert token_front.stats().tokens_issued == issued + 1
    assert all(t.user == registry.username for t in token_front.token_log())
    # any doubt is None, never an exception: wrong password, unknown tag, untrusted CA
    assert manifest_digest(token_front.host, "noop/bearer", tag, Credentials(registry.username, "wrong"), tls) is None
    assert manifest_digest(token_front.host, "noop/bearer", "nope", creds, tls) is None
    assert manifest_digest(token_front.host, "noop/bearer", tag, creds, TLSSettings(cert_dir=tmp_path)) is None

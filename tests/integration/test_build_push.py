"""build and push for real: podman, a TLS + password registry, the fake RHCOS base."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.integration.conftest import processes_mentioning, write_project

LAYER = (
    "COPY extra.conf /etc/chrony.d/extra.conf\n"
    "RUN rpm-ostree install usbguard && \\\n    ostree container commit\n"
)


def _project(tmp_path: Path, fake_base, registry, name: str = "proj") -> Path:
    folder = write_project(tmp_path / name, fake_base.pullspec, LAYER, image=f"{registry.host}/layered/{name}")
    (folder / "extra.conf").write_text("server time.example.com iburst\n")
    return folder


def test_build_push_and_pull_back_from_a_fresh_store(tmp_path, tool_env, fake_base, registry, fresh_store,
                                                     fresh_service, rhcos_layer):
    project = _project(tmp_path, fake_base, registry)
    # a service of its own whose store has never seen the base: the pull must really happen,
    # over the API, trusting the registry's CA from its certs.d and with the authfile's password
    env = dict(fresh_service.store.env, CONTAINER_HOST=fresh_service.url)
    built = rhcos_layer(["build", "-o", "json"], project, env)
    assert built.code == 0, built.err
    result = json.loads(built.out)
    assert result["base"] == fake_base.pullspec
    assert result["skipped"] is False
    assert f"Pulling base {fake_base.pullspec}" in built.err
    assert "STEP 2/" in built.err and "COPY extra.conf" in built.err

    pushed = rhcos_layer(["push"], project, env)
    assert pushed.code == 0, pushed.err
    repo = f"{registry.host}/layered/proj"
    assert pushed.last_line.startswith(f"{repo}@sha256:")
    digest = pushed.last_line.split("@", 1)[1]
    tag = "layer-" + result["inputs_digest"][7:19]
    assert registry.manifest_digest("layered/proj", tag) == digest

    state = json.loads((project / ".rhcos-layer.state.json").read_text())
    assert state["build"]["image_id"] == result["image_id"]
    assert state["push"]["pullspec"] == pushed.last_line

    auth = registry.write_authfile(tmp_path / "pull-auth.json")
    fresh_store.podman("pull", "--quiet", "--cert-dir", str(registry.cert_dir), "--authfile", str(auth),
                       pushed.last_line)
    labels = fresh_store.inspect_image(pushed.last_line)["Labels"]
    assert labels["org.opencontainers.image.base.digest"] == fake_base.digest
    assert labels["org.opencontainers.image.base.name"] == fake_base.pullspec
    assert labels["io.rhcos-layer.inputs-digest"] == result["inputs_digest"]
    assert labels["io.rhcos-layer.version"]
    with fresh_store.image_files(pushed.last_line) as root:
        assert (root / "etc/chrony.d/extra.conf").read_text() == "server time.example.com iburst\n"
        calls = (root / "usr/share/rhcos-stub/calls.log").read_text().splitlines()
    assert calls[-2:] == ["rpm-ostree install usbguard", "ostree container commit"]


def test_unchanged_inputs_skip_the_build_and_changes_do_not(tmp_path, tool_env, fake_base, registry, rhcos_layer):
    project = _project(tmp_path, fake_base, registry, "noop")
    first = rhcos_layer(["build", "-o", "json"], project)
    assert first.code == 0, first.err
    built = json.loads(first.out)
    again = rhcos_layer(["build"], project)
    assert again.code == 0, again.err
    assert again.out == built["image_id"] + "\n"
    # said once, not once as progress and once more as the result
    assert again.err == (f"Connecting to Podman\nInputs unchanged ({built['inputs_digest'][:19]}): reused"
                         f" {built['image_id'][:12]}; use --no-cache to build anyway\n")
    first = again

    forced = rhcos_layer(["build", "--no-cache"], project)
    assert forced.code == 0, forced.err
    assert "STEP 1/" in forced.err and "Inputs unchanged" not in forced.err

    (project / "extra.conf").write_text("server other.example.com iburst\n")
    changed = rhcos_layer(["build"], project)
    assert changed.code == 0, changed.err
    assert "STEP 1/" in changed.err
    assert changed.last_line not in (first.last_line, forced.last_line)


def test_cert_dir_builds_and_pushes_on_a_service_that_does_not_trust_the_ca(
        tmp_path, tool_env, fake_base, registry, fresh_store, rhcos_layer):
    url = fresh_store.start_service()
    env = dict(fresh_store.env, CONTAINER_HOST=url, HOME=str(tmp_path / "bare-home"))
    project = _project(tmp_path, fake_base, registry, "certdir")

    untrusted = rhcos_layer(["build"], project, env)
    assert untrusted.code == 5, untrusted.err
    assert f"registry {registry.host}: TLS certificate not trusted" in untrusted.err
    assert f"/etc/containers/certs.d/{registry.host}/ca.crt" in untrusted.err

    certs = ["--cert-dir", str(registry.cert_dir)]
    built = rhcos_layer(["build", *certs], project, env)
    assert built.code == 0, built.err
    pushed = rhcos_layer(["push", *certs, "--digestfile", str(tmp_path / "digest")], project, env)
    assert pushed.code == 0, pushed.err
    digest = (tmp_path / "digest").read_text()
    assert pushed.last_line == f"{registry.host}/layered/certdir@{digest}"
    assert registry.manifest_digest("layered/certdir", digest) == digest


def test_wrong_password_fails_at_once_naming_the_registry(tmp_path, tool_env, fake_base, registry, fresh_store,
                                                         rhcos_layer):
    url = fresh_store.start_service()
    wrong = registry.write_authfile(tmp_path / "wrong.json", password="SENTINEL-wrong-password")
    project = _project(tmp_path, fake_base, registry, "wrongpw")
    result = rhcos_layer(["build", "--authfile", str(wrong)], project, {"CONTAINER_HOST": url, **fresh_store.env})
    assert result.code == 4, result.err
    assert f"registry {registry.host} rejected the credentials as 'rig' (HTTP 401)" in result.err
    assert "Traceback" not in result.err
    assert "SENTINEL-wrong-password" not in result.err + result.out


def test_failing_step_shows_the_log_and_exits_8(tmp_path, tool_env, fake_base, registry, fresh_service,
                                                rhcos_layer):
    run = "RUN rpm-ostree install rig-fail-pkg && ostree container commit"
    project = write_project(tmp_path / "fails", fake_base.pullspec, run + "\n")
    # a store without the base, so that the output is the same whichever test ran before
    result = rhcos_layer(["build"], project, dict(fresh_service.store.env, CONTAINER_HOST=fresh_service.url))
    assert result.code == 8, result.err
    # each STEP line once (live), then the rest of the log (podman's own lines), then the error once
    assert result.err == (
        "Connecting to Podman\n"
        f"Pulling base {fake_base.pullspec}\n"
        "Building\n"
        f"STEP 1/3: FROM {fake_base.pullspec}\n"
        f"STEP 2/3: {run}\n"
        "error: Packages not found: rig-fail-pkg\n"
        "subprocess exited with status 1\n"
        "subprocess exited with status 1\n"
        f'Error: build failed: building at STEP "{run}": exit status 1\n'
    )
    assert result.out == ""


def test_secret_is_used_by_run_and_absent_from_the_image(tmp_path, tool_env, fake_base, registry, fresh_store,
                                                        rhcos_layer):
    body = (
        "RUN --mount=type=secret,id=entitlement grep -q SENTINEL-ENTITLEMENT /run/secrets/entitlement && \\\n"
        "    rpm-ostree install libreswan && ostree container commit\n"
    )
    project = write_project(tmp_path / "secret", fake_base.pullspec, body, image=f"{registry.host}/layered/secret")
    entitlement = tmp_path / "entitlement.pem"
    entitlement.write_text("SENTINEL-ENTITLEMENT key material\n")
    built = rhcos_layer(["build", "--secret", f"id=entitlement,src={entitlement}"], project)
    assert built.code == 0, built.err
    pushed = rhcos_layer(["push"], project)
    assert pushed.code == 0, pushed.err

    auth = registry.write_authfile(tmp_path / "pull-auth.json")
    fresh_store.podman("pull", "--quiet", "--cert-dir", str(registry.cert_dir), "--authfile", str(auth),
                       pushed.last_line)
    with fresh_store.image_files(pushed.last_line) as root:
        assert "rpm-ostree install libreswan" in (root / "usr/share/rhcos-stub/calls.log").read_text()
        leaked = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
                  and b"SENTINEL-ENTITLEMENT" in p.read_bytes()]
    assert leaked == []


def test_explicit_container_host_that_does_not_answer(tmp_path, tool_env, fake_base, registry, rhcos_layer):
    project = _project(tmp_path, fake_base, registry, "nosock")
    absent = f"unix://{tmp_path}/absent.sock"
    result = rhcos_layer(["build"], project, {"CONTAINER_HOST": absent})
    assert result.code == 9, result.err
    assert f"no Podman service answers at CONTAINER_HOST={absent}" in result.err


def test_private_service_is_started_and_stopped(tmp_path, tool_env, fake_base, registry, fresh_store, rhcos_layer):
    project = _project(tmp_path, fake_base, registry, "private")
    env = dict(fresh_store.env, CONTAINER_HOST=None, TMPDIR=str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    result = rhcos_layer(["build", "--cert-dir", str(registry.cert_dir)], project, env)
    assert result.code == 0, result.err
    assert fresh_store.image_exists(result.last_line)  # built in the store the environment selects
    assert list((tmp_path / "tmp").iterdir()) == []  # socket folder removed
    assert processes_mentioning(tmp_path / "tmp") == []


def test_remote_service_over_tcp_goes_through_podman_py(tmp_path, tool_env, fake_base, registry, fresh_store,
                                                        rhcos_layer):
    """A tcp:// CONTAINER_HOST (podman machine, remote builders) is spoken to with podman-py."""
    import socket
    import subprocess
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"tcp://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "CONTAINER_HOST"}
    env.update(fresh_store.isolated_env)
    fresh_store.trust_registry(registry)
    service = subprocess.Popen(["podman", "system", "service", "--time=0", url], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        project = _project(tmp_path, fake_base, registry, "tcp")
        built = rhcos_layer(["build", "-o", "json"], project, {"CONTAINER_HOST": url})
        assert built.code == 0, built.err
        image_id = json.loads(built.out)["image_id"]
        assert fresh_store.image_exists(image_id)
        pushed = rhcos_layer(["push"], project, {"CONTAINER_HOST": url})
        assert pushed.code == 0, pushed.err
        assert pushed.last_line.startswith(f"{registry.host}/layered/tcp@sha256:")
    finally:
        service.terminate()
        service.wait(10)


def test_image_named_for_a_registry_is_pushed_to_its_name(tmp_path, tool_env, fake_base, registry, rhcos_layer):
    project = write_project(tmp_path / "named", fake_base.pullspec, "RUN rpm-ostree install named-push\n")
    name = f"{registry.host}/layered/named:v1"
    built = rhcos_layer(["build", "-t", name, "-t", "mine:1"], project)
    assert built.code == 0, built.err
    pushed = rhcos_layer(["push", name], project)
    assert pushed.code == 0, pushed.err
    digest = pushed.last_line.split("@", 1)[1]
    assert registry.manifest_digest("layered/named", "v1") == digest
    again = rhcos_layer(["build", "-t", name, "-t", "mine:1"], project)  # reuse applies the same names
    assert again.code == 0 and "Inputs unchanged" in again.err
    assert registry.manifest_digest("layered/named", "v1") == digest


def test_no_credentials_for_the_registry_says_where_to_give_them(tmp_path, tool_env, fake_base, registry,
                                                                  fresh_store, rhcos_layer):
    url = fresh_store.start_service()
    other = tmp_path / "other.json"
    other.write_text('{"auths": {"quay.io": {"auth": "dTpw"}}}')
    project = _project(tmp_path, fake_base, registry, "nocreds")
    result = rhcos_layer(["build", "--authfile", str(other)], project, {"CONTAINER_HOST": url, **fresh_store.env})
    assert result.code == 4, result.err
    assert f"Error: registry {registry.host} requires credentials and none were found for it" in result.err
    assert "--authfile FILE or REGISTRY_AUTH_FILE" in result.err


def test_tls_verify_false_pulls_and_warns(tmp_path, tool_env, fake_base, registry, fresh_store, rhcos_layer):
    url = fresh_store.start_service()  # a store that does not trust the registry's CA
    project = _project(tmp_path, fake_base, registry, "insecure")
    env = {"CONTAINER_HOST": url, "HOME": str(tmp_path / "bare-home"), **fresh_store.env}
    result = rhcos_layer(["build", "--tls-verify=false"], project, env)
    assert result.code == 0, result.err
    assert f"Warning: TLS verification is off (--tls-verify=false) for {registry.host}" in result.err


def test_sigterm_mid_build_stops_the_private_service(tmp_path, tool_env, fake_base, registry, fresh_store):
    """Killed while a private service builds: the service goes too, and its folder."""
    import signal
    import subprocess
    import sys
    import time

    project = write_project(tmp_path / "killed", fake_base.pullspec, "RUN sleep 30\n")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CONTAINER_HOST"}
    env.update(fresh_store.env, TMPDIR=str(tmpdir))
    proc = subprocess.Popen([sys.executable, "-m", "rhcos_layer", "build", "--cert-dir", str(registry.cert_dir)],
                            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(tmpdir.glob("rhcos-layer-podman-*/podman.sock")):
        time.sleep(0.05)
    time.sleep(2)  # into the build
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err  # like a shell reports a SIGTERM
    assert "Interrupted." in err
    assert list(tmpdir.iterdir()) == []
    assert processes_mentioning(tmpdir) == []


def test_failed_build_leaves_no_working_container(tmp_path, tool_env, fake_base, registry, fresh_service,
                                                  rhcos_layer):
    """`podman build` removes its working containers when a step fails (--force-rm); so must we."""
    store = fresh_service.store
    env = dict(store.env, CONTAINER_HOST=fresh_service.url)

    def containers() -> list:
        return store.podman("ps", "--all", "--external", "--format", "{{.ID}} {{.Names}}").stdout.splitlines()

    store.podman("pull", "--quiet", "--cert-dir", str(registry.cert_dir), "--authfile", tool_env["REGISTRY_AUTH_FILE"],
                 fake_base.pullspec)
    before = containers()
    project = write_project(tmp_path / "leftover", fake_base.pullspec,
                            "RUN rpm-ostree install rig-fail-pkg && ostree container commit\n")
    result = rhcos_layer(["build"], project, env)
    assert result.code == 8, result.err
    assert containers() == before

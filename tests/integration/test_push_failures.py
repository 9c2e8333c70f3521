"""Pushes through a faulty network: transient failures are retried, a dead registry is not."""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import write_project


def _built_project(tmp_path, fake_base, rhcos_layer, name):
    # 256 KiB of fresh data, so the push has a layer to upload that a reset can cut
    project = write_project(tmp_path / name, fake_base.pullspec,
                            f"RUN dd if=/dev/urandom of=/usr/share/{name}.bin bs=1024 count=256 && \\\n"
                            f"    rpm-ostree install {name} && ostree container commit\n")
    built = rhcos_layer(["build"], project)
    assert built.code == 0, built.err
    return project, built.last_line


def _trust_proxy(tool_env, podman_service, registry, proxy):
    registry.write_certs_d(Path(tool_env["XDG_CONFIG_HOME"]) / "containers" / "certs.d", extra_hosts=[proxy.host])
    podman_service.store.trust_registry(registry, extra_hosts=[proxy.host])
    return registry.write_authfile(Path(tool_env["REGISTRY_AUTH_FILE"]), extra_hosts=[proxy.host])


def test_connection_reset_mid_push_is_retried(tmp_path, tool_env, podman_service, fake_base, registry, proxy,
                                              rhcos_layer):
    project, image_id = _built_project(tmp_path, fake_base, rhcos_layer, "flaky")
    _trust_proxy(tool_env, podman_service, registry, proxy)
    # arm the next 8 connections: the small ones (access check, pings, HEADs) pass, the
    # layer uploads are cut after 64 KiB; later connections go through
    proxy.fail_after_bytes(64 * 1024, times=8)
    result = rhcos_layer(["push", "--retry-delay", "100ms", image_id, f"{proxy.host}/layered/flaky:v1"], project)
    assert result.code == 0, result.err
    assert proxy.resets >= 1
    digest = result.last_line.split("@", 1)[1]
    assert result.last_line == f"{proxy.host}/layered/flaky@{digest}"
    assert registry.manifest_digest("layered/flaky", "v1") == digest


def test_registry_down_mid_push_fails_with_one_line_and_no_tag(tmp_path, tool_env, podman_service, fake_base,
                                                               registry, proxy, rhcos_layer):
    project, image_id = _built_project(tmp_path, fake_base, rhcos_layer, "down")
    _trust_proxy(tool_env, podman_service, registry, proxy)
    proxy.fail_after_bytes(64 * 1024, times=1000)
    result = rhcos_layer(["push", "--retry", "2", "--retry-delay", "100ms", image_id, f"{proxy.host}/layered/down:v1"],
                         project)
    assert result.code == 6, result.err
    last = result.err.strip().splitlines()
    assert any(line.startswith(f"Error: registry {proxy.host} failed during the transfer") for line in last)
    assert "gave up after 3 attempts" in result.err
    assert "Traceback" not in result.err
    assert registry.manifest_digest("layered/down", "v1") is None


def test_registry_not_listening_fails_before_pushing(tmp_path, tool_env, podman_service, fake_base, registry,
                                                     proxy, rhcos_layer):
    project, image_id = _built_project(tmp_path, fake_base, rhcos_layer, "refused")
    _trust_proxy(tool_env, podman_service, registry, proxy)
    proxy.refuse()
    result = rhcos_layer(["push", image_id, f"{proxy.host}/layered/refused:v1"], project)
    assert result.code == 6, result.err
    assert f"registry {proxy.host} is unreachable after 4 attempts (connection refused)" in result.err


def test_ctrl_c_during_a_cert_dir_push_stops_podman_and_leaves_no_temporary_file(tmp_path, tool_env, fake_base,
                                                                                  registry, fresh_store):
    """podman push copies each layer into TMPDIR first (here ~96 MiB): Ctrl-C must stop podman
    gracefully and remove that copy, not SIGKILL it and leave the file behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.integration.conftest import processes_mentioning

    project = write_project(tmp_path / "big", fake_base.pullspec,
                            "RUN dd if=/dev/urandom of=/usr/share/big.bin bs=1M count=96 status=none && \\\n"
                            "    rpm-ostree install big && ostree container commit\n",
                            image=f"{registry.host}/layered/big")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CONTAINER_HOST"}  # private services
    env.update(fresh_store.env, TMPDIR=str(tmpdir), HOME=str(tmp_path / "bare-home"))
    command = [sys.executable, "-m", "rhcos_layer"]
    certs = ["--cert-dir", str(registry.cert_dir)]
    built = subprocess.run([*command, "build", *certs], cwd=project, env=env, capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stderr
    assert list(tmpdir.iterdir()) == []

    proc = subprocess.Popen([*command, "push", *certs], cwd=project, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)

    def big_files() -> list:
        found = []
        for path in tmpdir.rglob("*"):
            try:
                if path.is_file() and path.stat().st_size > (1 << 20):
                    found.append(path)
            except OSError:
                pass
        return found

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not big_files():
        time.sleep(0.01)
    assert proc.poll() is None, "the push ended before its layer copy was seen"
    proc.send_signal(signal.SIGINT)  # to rhcos-layer only, as a Ctrl-C reaches a foreground job's leader
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "Interrupted."
    assert out == ""
    assert list(tmpdir.rglob("*")) == []
    assert processes_mentioning(tmpdir) == []
    assert registry.tags("layered/big") == []  # nothing half-pushed is tagged

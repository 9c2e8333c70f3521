"""resolve against synthetic release payloads in the TLS + password registry."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.support.payload import access_mark, blob_requests, fetched_blobs


@pytest.fixture
def certs(registry):
    return ["--cert-dir", str(registry.cert_dir)]


def test_416_by_tag_reads_only_the_last_layer(tmp_path, tool_env, registry, release_payloads, fake_base, certs,
                                              rhcos_layer):
    payload = release_payloads["4.16"]
    mark = access_mark(registry)
    result = rhcos_layer(["resolve", "--release", payload.pullspec_tag, *certs], tmp_path)
    assert result.code == 0, result.err
    assert result.out.strip() == fake_base.pullspec
    assert fetched_blobs(registry, payload.repo, since=mark, min_count=1) == [payload.last_layer_digest]
    for digest in payload.other_layer_digests:
        assert not [e for e in blob_requests(registry, payload.repo, since=mark) if digest in e.path]


def test_json_names_version_tag_extensions_and_source(tmp_path, tool_env, release_payloads, certs, rhcos_layer):
    payload = release_payloads["4.16"]
    result = rhcos_layer(["resolve", "--release", payload.pullspec_tag, *certs, "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    info = json.loads(result.out)
    assert info["version"] == "4.16.3"
    assert info["os_tag"] == "rhel-coreos"
    assert info["extensions_image"] == payload.os_tags["rhel-coreos-extensions"]
    assert info["source"] == "release"
    assert info["release"] == payload.pullspec_digest


@pytest.mark.parametrize("version, stream, tag", [
    ("4.12", None, "rhel-coreos-8"),
    ("4.21", None, "rhel-coreos"),
    ("4.21", "rhel-coreos-10", "rhel-coreos-10"),
])
def test_os_tag_by_exact_name(version, stream, tag, tmp_path, tool_env, release_payloads, certs, rhcos_layer):
    payload = release_payloads[version]
    args = ["resolve", "--release", payload.pullspec_digest, *certs, "-o", "json"]
    result = rhcos_layer(args + (["--stream", stream] if stream else []), tmp_path)
    assert result.code == 0, result.err
    info = json.loads(result.out)
    assert (info["os_tag"], info["os_image"]) == (tag, payload.os_tags[tag])


def test_411_is_refused(tmp_path, tool_env, release_payloads, certs, rhcos_layer):
    result = rhcos_layer(["resolve", "--release", release_payloads["4.11"].pullspec_tag, *certs], tmp_path)
    assert result.code == 3
    assert "has only machine-os-content: RHCOS image layering needs OpenShift 4.12 or newer" in result.err


def test_multi_arch_index_picks_the_platform(tmp_path, tool_env, release_payloads, certs, rhcos_layer):
    payload = release_payloads["4.16-multi"]
    for arch in ("amd64", "arm64"):
        result = rhcos_layer(["resolve", "--release", payload.pullspec_tag, "--arch", arch, *certs], tmp_path)
        assert result.code == 0, result.err
        assert result.out.strip() == payload.os_tags_by_arch[arch]["rhel-coreos"]
    missing = rhcos_layer(["resolve", "--release", payload.pullspec_tag, "--arch", "s390x", *certs], tmp_path)
    assert missing.code == 7
    assert "has no linux/s390x image (it has: amd64, arm64)" in missing.err


def test_a_repeat_by_digest_is_answered_from_the_cache(tmp_path, tool_env, registry, release_payloads, certs,
                                                       rhcos_layer):
    payload = release_payloads["4.21"]
    first = rhcos_layer(["resolve", "--release", payload.pullspec_digest, *certs], tmp_path)
    assert first.code == 0, first.err
    registry.stop()  # nothing to ask now
    again = rhcos_layer(["resolve", "--release", payload.pullspec_digest, *certs], tmp_path)
    assert again.code == 0, again.err
    assert again.out == first.out
    cached = list((Path(tool_env["HOME"]) / ".cache" / "rhcos-layer" / "releases").iterdir())
    assert len(cached) == 1 and cached[0].name.startswith(payload.digest.replace(":", "-"))


def test_wrong_password_and_unknown_ca(tmp_path, tool_env, registry, release_payloads, rhcos_layer):
    pullspec = release_payloads["4.16"].pullspec_tag
    wrong = registry.write_authfile(tmp_path / "wrong.json", password="nope")
    bad = rhcos_layer(["resolve", "--release", pullspec, "--authfile", str(wrong),
                       "--cert-dir", str(registry.cert_dir)], tmp_path)
    assert bad.code == 4, bad.err
    untrusted = rhcos_layer(["resolve", "--release", pullspec], tmp_path, {"HOME": str(tmp_path / "bare")})
    assert untrusted.code == 5, untrusted.err


def test_via_oc_without_oc_says_so(tmp_path, tool_env, release_payloads, rhcos_layer):
    result = rhcos_layer(["resolve", "--via", "oc", "--release", release_payloads["4.16"].pullspec_tag], tmp_path,
                         {"PATH": "/usr/bin:/bin"})
    assert result.code == 15, result.err  # ToolMissing: not 9, which says Podman is unavailable
    assert "--via oc: the oc command is not installed" in result.err


def _fake_oc(tmp_path: Path, payload, stream: str) -> dict:
    """A stand-in `oc` on PATH (the returned env) that answers like `oc adm release info` for *payload*
    (``--image-for`` with its *stream* OS image) and appends its arguments to tmp_path/oc-calls."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    info = {"image": payload.pullspec_tag, "digest": payload.digest, "metadata": {"version": payload.version},
            "references": payload.image_references, "config": {"architecture": "amd64"}}
    (tmp_path / "info.json").write_text(json.dumps(info))
    fake = bindir / "oc"
    fake.write_text(
        "#!/bin/sh\n"
        f"printf '%s\\n' \"$*\" >> {tmp_path}/oc-calls\n"
        'case "$*" in\n'
        f"  *--image-for*) echo '{payload.os_tags[stream]}' ;;\n"
        f"  *) cat {tmp_path}/info.json ;;\n"
        "esac\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return {"PATH": f"{bindir}:{os.environ['PATH']}"}


def test_via_oc_runs_the_documented_command(tmp_path, tool_env, release_payloads, rhcos_layer):
    """A stand-in `oc` that answers like `oc adm release info` and records its arguments."""
    payload = release_payloads["4.12"]
    env = _fake_oc(tmp_path, payload, "rhel-coreos-8")
    result = rhcos_layer(["resolve", "--via", "oc", "--release", payload.pullspec_tag, "-o", "json"], tmp_path, env)
    assert result.code == 0, result.err
    assert json.loads(result.out)["os_image"] == payload.os_tags["rhel-coreos-8"]
    assert json.loads(result.out)["source"] == "oc"
    calls = (tmp_path / "oc-calls").read_text().splitlines()
    authfile = tool_env["REGISTRY_AUTH_FILE"]
    assert calls == [f"adm release info -o json --registry-config {authfile} {payload.pullspec_tag}",
                     f"adm release info --image-for rhel-coreos-8 --registry-config {authfile} {payload.pullspec_tag}"]


def test_via_oc_tls_flags_reach_oc_or_are_refused(tmp_path, tool_env, release_payloads, certs, rhcos_layer):
    """--tls-verify=false becomes oc's --insecure=true (with the usual warning); --cert-dir, which oc
    cannot take, is a usage error before oc runs, never silently dropped."""
    payload = release_payloads["4.16"]
    env = _fake_oc(tmp_path, payload, "rhel-coreos")
    calls = tmp_path / "oc-calls"

    refused = rhcos_layer(["resolve", "--via", "oc", "--release", payload.pullspec_tag, *certs], tmp_path, env)
    assert refused.code == 2, refused.err
    assert "--cert-dir cannot be used with --via oc" in refused.err
    assert not calls.exists()  # oc never ran

    insecure = rhcos_layer(["resolve", "--via", "oc", "--tls-verify=false", "--release", payload.pullspec_tag],
                           tmp_path, env)
    assert insecure.code == 0, insecure.err
    assert insecure.out.strip() == payload.os_tags["rhel-coreos"]
    assert "TLS verification is off" in insecure.err
    authfile = tool_env["REGISTRY_AUTH_FILE"]
    assert calls.read_text().splitlines() == [
        f"adm release info -o json --insecure=true --registry-config {authfile} {payload.pullspec_tag}",
        f"adm release info --image-for rhel-coreos --insecure=true --registry-config {authfile}"
        f" {payload.pullspec_tag}"]


def test_build_with_a_release_base_labels_the_version(tmp_path, tool_env, registry, release_payloads, fake_base,
                                                      podman_service, certs, rhcos_layer):
    project = tmp_path / "from-release"
    project.mkdir()
    (project / "Containerfile").write_text("FROM quay.io/placeholder/rhcos@sha256:" + "0" * 64 +
                                           "\nRUN rpm-ostree install from-release && ostree container commit\n")
    (project / "rhcos-layer.yaml").write_text(f"base:\n  release: {release_payloads['4.16'].pullspec_tag}\n")
    result = rhcos_layer(["build", *certs, "-o", "json"], project)
    assert result.code == 0, result.err
    built = json.loads(result.out)
    assert built["base"] == fake_base.pullspec
    labels = podman_service.store.inspect_image(built["image_id"])["Labels"]
    assert labels["io.rhcos-layer.release"] == "4.16.3"


def test_arch_is_checked_on_a_single_arch_release(tmp_path, tool_env, release_payloads, certs, rhcos_layer):
    payload = release_payloads["4.16"]
    wrong = rhcos_layer(["resolve", "--release", payload.pullspec_tag, "--arch", "arm64", *certs], tmp_path)
    assert wrong.code == 7
    assert "is a linux/amd64 release, not arm64" in wrong.err
    right = rhcos_layer(["resolve", "--release", payload.pullspec_tag, "--arch", "x86_64", *certs, "-o", "json"],
                        tmp_path)
    assert right.code == 0, right.err
    assert json.loads(right.out)["arch"] == "amd64"


# ------------------------------------------------------------------ damaged and hostile payloads
def _served_layer(registry, payload) -> bytes:
    response = registry.request("GET", f"/v2/{payload.repo_path}/blobs/{payload.last_layer_digest}")
    response.raise_for_status()
    return response.content


def test_a_truncated_layer_is_named_not_reported_as_an_interruption(tmp_path, tool_env, registry, release_payloads,
                                                                    certs, rhcos_layer):
    from tests.support.payload import push_release_payload

    whole = _served_layer(registry, release_payloads["4.16"])
    payload = push_release_payload(registry, "4.16.3", repo="openshift/truncated", last_layer=whole[: len(whole) // 2])
    result = rhcos_layer(["resolve", "--release", payload.pullspec_tag, *certs], tmp_path)
    assert result.code == 3, result.err
    assert result.err == (f"Error: layer {payload.last_layer_digest} is truncated: its gzip stream ends early\n"
                          "  hint: the image in the registry is damaged: push the release again\n")


@pytest.mark.parametrize("content, problem", [
    (b"- just\n- a list\n", "image-references is not an image.openshift.io/v1 ImageStream"),
    (b'{"kind": "ImageStream", "apiVersion": "image.openshift.io/v1", "spec": {"tags": "rhel-coreos"}}',
     "image-references has no spec.tags list"),
])
def test_a_malformed_image_references_is_one_clear_line(content, problem, tmp_path, tool_env, registry, certs,
                                                        rhcos_layer):
    from tests.support.payload import push_release_payload

    payload = push_release_payload(registry, "4.16.3", repo="openshift/malformed",
                                   tag=f"bad-{len(content)}", manifest_files={"image-references": content})
    result = rhcos_layer(["resolve", "--release", payload.pullspec_tag, *certs], tmp_path)
    assert result.code == 3, result.err
    assert result.err.splitlines()[0] == f"Error: {payload.pullspec_tag}: release-manifests/{problem}"
    assert "internal error" not in result.err and "Traceback" not in result.err


def test_bad_arch_is_refused_before_any_request(tmp_path, tool_env, registry, release_payloads, certs, rhcos_layer):
    payload = release_payloads["4.16"]
    mark = access_mark(registry)
    result = rhcos_layer(["resolve", "--release", payload.pullspec_tag, "--arch", "sparc", *certs], tmp_path)
    assert result.code == 3, result.err
    assert result.err == "Error: --arch 'sparc': one of amd64, arm64, ppc64le, s390x (or x86_64, aarch64)\n"
    assert registry.access_entries()[mark:] == []


@pytest.mark.parametrize("release", ["127.0.0.1:99999/openshift/release:4.16.3", "-bad-.example.com/r:1",
                                     "quay.io/Openshift/release:4.16.3", "quay.io/openshift/release:4.16.3\n"])
def test_a_malformed_release_reference_is_refused_when_parsed(release, tmp_path, tool_env, rhcos_layer):
    result = rhcos_layer(["resolve", "--release", release], tmp_path)
    assert result.code == 3, result.err
    assert result.err.startswith(f"Error: --release: {release!r}: ")


def test_via_oc_a_malformed_answer_is_one_clear_line(tmp_path, tool_env, release_payloads, rhcos_layer):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (tmp_path / "info.json").write_text(json.dumps({"metadata": [1], "references": {"kind": "ImageStream",
                                                                                  "metadata": "x", "spec": []}}))
    fake = bindir / "oc"
    fake.write_text(f"#!/bin/sh\ncat {tmp_path}/info.json\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    result = rhcos_layer(["resolve", "--via", "oc", "--release", release_payloads["4.16"].pullspec_tag], tmp_path,
                         {"PATH": f"{bindir}:{os.environ['PATH']}"})
    assert result.code == 3, result.err
    assert result.err == "Error: oc adm release info: references is not an image.openshift.io/v1 ImageStream\n"


def test_a_blob_past_its_cap_is_refused_as_it_arrives(registry, release_payloads):
    import io

    from rhcos_layer.adapters.registry import RegistryClient
    from rhcos_layer.auth import Credentials
    from rhcos_layer.errors import InvalidPayload
    from rhcos_layer.trust import TLSSettings

    payload = release_payloads["4.16"]
    big = payload.other_layer_digests[0]  # 192 KiB of noise
    user, password = registry.auth
    sink = io.BytesIO()
    with RegistryClient(registry.host, Credentials(user, password),
                        TLSSettings(cert_dir=registry.cert_dir)) as client:
        with pytest.raises(InvalidPayload, match=f"^registry {registry.host}: blob {big} of openshift/release is"
                                                 " larger than 64 KiB: refused$"):
            client.get_blob(payload.repo_path, big, sink, max_size=64 << 10)
        assert sink.getvalue() == b""  # refused from Content-Length, before a byte was kept
        assert client.get_blob(payload.repo_path, big, sink, max_size=1 << 20) > 64 << 10


def test_a_cluster_release_version_that_is_not_a_version_is_refused(tmp_path, tool_env, kube_api, kubeconfig,
                                                                   rhcos_layer):
    from tests.support.kube import seed_openshift

    # releaseVersion becomes an image label in build: a newline there would start a new Containerfile line
    seed_openshift(kube_api, version='4.16.3"\nLABEL evil=1')
    result = rhcos_layer(["resolve"], tmp_path, {"KUBECONFIG": str(kubeconfig)})
    assert result.code == 3, result.err
    assert result.err == ("Error: ConfigMap openshift-machine-config-operator/machine-config-osimageurl: release"
                          " version '4.16.3\"\\nLABEL evil=1' is not a version (like 4.16.3)\n")

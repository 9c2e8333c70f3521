"""apply --on-cluster: the cluster builds the pool's image (MachineOSConfig), apply follows the build and the
rollout; moving a pool between modes in one step each way.

The real command runs against the emulated API (tests/support/kube.py, serving MachineOSConfig and
MachineOSBuild at the version each release has) driven by the simulated MCO (tests/support/mco.py, whose
build controller builds a MachineOSConfig's image and rolls the pool to it); the push secret is tried
against the real test registry (TLS + password).
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

import pytest

from tests.integration.test_apply import LOOPBACK_OK, MC_NAME, pushed  # noqa: F401  (a fixture)
from tests.support.kube import KubeAPI, seed_openshift, trust_registry_ca

MCO = "machineconfiguration.openshift.io"
NS = "openshift-machine-config-operator"
PREVIOUS_SPEC = "rhcos-layer.io/previous-spec"
CURRENT_IMAGE = f"{MCO}/currentImage"


def _secret(api: KubeAPI, name: str, config: Dict[str, Any]) -> None:
    api.store.put({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                   "metadata": {"name": name, "namespace": NS},
                   "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}})


def _seed(api: KubeAPI, registry, fake_base, version: str, feature_set: str = "") -> None:
    seed_openshift(api, version=version, feature_set=feature_set, base_image=fake_base.pullspec,
                   pull_secret=registry.auth_config(), workers=2)
    trust_registry_ca(api, registry.host, registry.ca_path.read_bytes())
    _secret(api, "push", registry.auth_config())


@pytest.fixture
def project(tmp_path, registry, fake_base):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "Containerfile").write_text(f"FROM {fake_base.pullspec}\nRUN echo layered > /etc/layered\n")
    (folder / "rhcos-layer.yaml").write_text(f"image: {registry.host}/ops/oncluster\n")
    return folder


@pytest.fixture
def logged_in(kube_api: KubeAPI, kubeconfig, tool_env, monkeypatch, registry):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    return kube_api


def _writes(api: KubeAPI) -> List[tuple]:
    return [r for r in api.requests if r[0] in ("POST", "PUT", "PATCH", "DELETE")
            and "selfsubjectaccessreviews" not in r[1]]


def _worker_nodes(api: KubeAPI) -> List[Dict[str, Any]]:
    return api.store.list("nodes", label_selector="node-role.kubernetes.io/worker")


def _cert_flags(registry) -> List[str]:
    return ["--cert-dir", str(registry.ca_path.parent)]


def _mosc(api: KubeAPI, version: str = "v1") -> Optional[Dict[str, Any]]:
    for item in api.store.list("machineosconfigs"):
        if item["metadata"]["name"] == "worker" and item["apiVersion"].endswith("/" + version):
            return item
    return None


def test_moving_a_pool_from_osimageurl_to_on_cluster_and_back(tmp_path, pushed, project, kube_api,  # noqa: F811
                                                             building_mco, registry, kubeconfig, tool_env,
                                                             monkeypatch, rhcos_layer):
    api, sim = kube_api, building_mco
    _building(api, registry, monkeypatch, kubeconfig)
    assert sim.wait_idle(10)
    image = pushed["image"]
    first = rhcos_layer(["apply", "--pool", "worker", "--image", image, "--wait", *LOOPBACK_OK], tmp_path)
    assert first.code == 0, first.err
    assert api.store.get("machineconfigs", MC_NAME)["spec"]["osImageURL"] == image

    # without --replace: both modes would apply at once; refused, nothing written
    api.reset_requests()
    refused = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--wait",
                           *_cert_flags(registry)], project)
    assert refused.code == 12, refused.err
    assert (f"pool worker boots {image} from rhcos-layer's MachineConfig {MC_NAME}: with a MachineOSConfig"
            " too, the cluster would build on its base and that image would be rebuilt, never booted;"
            " nothing was changed") in refused.err
    assert "rhcos-layer apply --on-cluster --pool worker --replace" in refused.err
    assert _writes(api) == [] and _mosc(api) is None

    # out-of-cluster -> on-cluster in one step: no node goes back to the base on the way
    before = len(sim.history)
    moved = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--replace",
                         "--wait", "-o", "json", *_cert_flags(registry)], project)
    assert moved.code == 0, moved.err
    result = json.loads(moved.out)
    built = result["build"]["image"]
    assert result["mode"] == "on-cluster" and result["action"] == "create"
    assert result["replaced_machineconfig"] == MC_NAME
    assert result["build"]["state"] == "Succeeded"
    assert built.startswith(f"{registry.host}/ops/oncluster@sha256:")
    assert registry.manifest_digest("ops/oncluster", built.partition("@")[2]) == built.partition("@")[2]
    assert result["machines"] == result["updated"] == 2
    assert api.store.get("machineconfigs", MC_NAME) is None
    mosc = _mosc(api)
    assert mosc is not None and mosc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "rhcos-layer"
    assert mosc["status"]["currentImagePullSpec"] == built
    assert not api.store.get("machineconfigpools", "worker")["spec"].get("paused")
    assert [n["metadata"]["annotations"][CURRENT_IMAGE] for n in _worker_nodes(api)] == [built, built]
    assert [r.os_image_url for r in sim.history[before:] if r.pool == "worker"] == [built]  # one move, to the build
    patches = [r for r in _writes(api) if r[0] == "PATCH" and "machineconfigpools/worker" in r[1]]
    assert len(patches) == 2  # paused, then unpaused
    pause, unpause = [json.loads(c.body) for c in api.calls
                      if c.method == "PATCH" and c.path.endswith("machineconfigpools/worker")]
    # the pause sends spec.paused at the resourceVersion read (an admin's change meanwhile: a conflict)
    assert pause["spec"] == {"paused": True} and pause["metadata"]["resourceVersion"]
    assert unpause == {"spec": {"paused": False}}

    # on-cluster -> out-of-cluster: the plain apply with --replace
    before = len(sim.history)
    back = rhcos_layer(["apply", "--pool", "worker", "--image", image, "--replace", "--wait", *LOOPBACK_OK],
                       tmp_path)
    assert back.code == 0, back.err
    assert "worker: MachineOSConfig worker deleted (--replace)" in back.err
    assert _mosc(api) is None
    assert api.store.get("machineconfigs", MC_NAME)["spec"]["osImageURL"] == image
    assert not api.store.get("machineconfigpools", "worker")["spec"].get("paused")
    assert [r.os_image_url for r in sim.history[before:] if r.pool == "worker"] == [image]


def test_a_machineosconfig_not_ours_is_refused_and_never_replaced(tmp_path, pushed, project, logged_in,  # noqa: F811
                                                                  registry, fake_base, rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    api.store.put({"apiVersion": f"{MCO}/v1", "kind": "MachineOSConfig", "metadata": {"name": "worker"},
                   "spec": {"machineConfigPool": {"name": "worker"}, "imageBuilder": {"imageBuilderType": "Job"},
                            "renderedImagePushSecret": {"name": "push"},
                            "renderedImagePushSpec": f"{registry.host}/other/os:latest",
                            "containerFile": [{"containerfileArch": "NoArch", "content": "FROM configs AS final\n"}]}})
    api.reset_requests()
    result = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--no-wait",
                          *_cert_flags(registry)], project)
    assert result.code == 12, result.err
    assert ("pool worker already has MachineOSConfig worker, which rhcos-layer did not create; nothing was changed"
            in result.err)
    assert _writes(api) == []
    assert _mosc(api)["spec"]["renderedImagePushSpec"] == f"{registry.host}/other/os:latest"

    # the plain apply's --replace removes only a MachineOSConfig of ours
    plain = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--replace", "--no-wait",
                         *LOOPBACK_OK], tmp_path)
    assert plain.code == 12, plain.err
    assert "pool worker builds its own image on the cluster (MachineOSConfig worker)" in plain.err
    assert _writes(api) == [] and _mosc(api) is not None


def test_a_push_secret_that_cannot_push_is_refused_before_anything_is_written(tmp_path, project, logged_in, registry,
                                                                              fake_base, rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    _secret(api, "wrong", registry.auth_config(password="not-the-password"))
    api.reset_requests()
    result = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "wrong", "--wait",
                          *_cert_flags(registry)], project)
    assert result.code == 12, result.err
    assert (f"pool worker: Secret {NS}/wrong cannot push to {registry.host}/ops/oncluster: registry {registry.host}"
            f" rejected the credentials as '{registry.auth[0]}' (HTTP 401); nothing was changed") in result.err
    assert "--ignore-preflight-errors=PushSecretCanPush" in result.err
    assert "not-the-password" not in result.err + result.out
    assert _writes(api) == [] and _mosc(api) is None

    missing = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "nope", "--wait",
                           *_cert_flags(registry)], project)
    assert missing.code == 12, missing.err
    assert (f"pool worker: there is no Secret nope in namespace {NS}: the build could not push the image;"
            " nothing was changed") in missing.err
    assert "--ignore-preflight-errors" not in missing.err  # never ignorable
    assert _writes(api) == [] and _mosc(api) is None


def test_the_right_push_secret_leaves_no_upload_in_the_registry(tmp_path, project, logged_in, registry, fake_base,
                                                               rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    result = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--dry-run",
                          *_cert_flags(registry)], project)
    assert result.code == 0, result.err
    assert "worker: would create MachineOSConfig worker" in result.out
    assert _mosc(api) is None  # a dry run writes nothing
    entries = [e for e in registry.access_entries() if "/ops/oncluster/blobs/uploads/" in e.path and e.status < 400
               and e.agent.startswith("rhcos-layer/")]  # ours, not the cluster builds' pushes (same registry)
    started = [e for e in entries if e.method == "POST"]
    assert started and len([e for e in entries if e.method == "DELETE"]) == len(started)  # each one cancelled


def test_v1alpha1_on_a_tech_preview_416_cluster(tmp_path, project, logged_in, registry, fake_base, rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.16.3", feature_set="TechPreviewNoUpgrade")
    # v1alpha1 takes no registry port but the internal registry's service form: a registry only the
    # cluster reaches, so the push check is ignored, as the docs say to
    internal = "image-registry.openshift-image-registry.svc:5000"
    (project / "rhcos-layer.yaml").write_text(f"image: {internal}/{NS}/os\n")
    _secret(api, "internal-push", {"auths": {internal: {"auth": base64.b64encode(b"builder:token").decode()}}})
    _secret(api, "pull", registry.auth_config())
    refused = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "internal-push",
                           "--pull-secret", "pull", "--no-wait"], project)
    assert refused.code == 12, refused.err
    assert f"Secret {NS}/internal-push cannot push to {internal}/{NS}/os: registry {internal}" in refused.err
    assert _mosc(api, "v1alpha1") is None

    result = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "internal-push",
                          "--pull-secret", "pull", "--no-wait", "-o", "json",
                          "--ignore-preflight-errors", "PushSecretCanPush"], project)
    assert result.code == 0, result.err
    assert "ignoring the failed check PushSecretCanPush" in result.err
    assert json.loads(result.out)["api_version"] == "v1alpha1"
    mosc = _mosc(api, "v1alpha1")
    assert mosc is not None
    assert mosc["spec"]["buildInputs"]["renderedImagePushSecret"] == {"name": "internal-push"}
    assert mosc["spec"]["buildInputs"]["baseImagePullSecret"] == {"name": "pull"}


@pytest.mark.parametrize("version, missing", [
    ("4.16.3", "OpenShift 4.16 serves no MachineOSConfig: on-cluster layering needs the TechPreviewNoUpgrade feature"
               " set before 4.19 (featuregates/cluster spec.featureSet is Default), or OpenShift 4.19"),
    ("4.15.9", "OpenShift 4.15 has no on-cluster layering (MachineOSConfig: Tech Preview in 4.16 and 4.17, GA in"
               " 4.19)"),
])
def test_a_cluster_without_the_api_names_what_is_missing(tmp_path, project, logged_in, registry, fake_base,
                                                        rhcos_layer, version, missing):
    api = logged_in
    _seed(api, registry, fake_base, version)
    api.reset_requests()
    result = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--no-wait",
                          *_cert_flags(registry)], project)
    assert result.code == 12, result.err
    assert f"pool worker: {missing}; nothing was changed" in result.err
    assert "--ignore-preflight-errors" not in result.err
    assert _writes(api) == []


def _our_machineconfig(api: KubeAPI, registry) -> str:
    from rhcos_layer import machineconfig

    image = f"{registry.host}/ops/layered@sha256:{'1' * 64}"
    api.store.put(machineconfig.render("worker", image))
    return image


def test_a_failed_write_while_moving_modes_puts_everything_back(tmp_path, project, logged_in, registry, fake_base,
                                                                rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    image = _our_machineconfig(api, registry)
    api.fail(500, method="POST", path=f"/apis/{MCO}/v1/machineosconfigs")
    result = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--replace",
                          "--no-wait", *_cert_flags(registry)], project)
    assert result.code == 1, result.err
    assert (f"create machineosconfig worker failed with HTTP 500: Internal error occurred: injected failure (500);"
            f" put back what was done before it (MachineConfig {MC_NAME} deleted, pool worker paused): nothing was"
            " changed") in result.err
    assert api.store.get("machineconfigs", MC_NAME)["spec"]["osImageURL"] == image
    assert _mosc(api) is None
    assert not api.store.get("machineconfigpools", "worker")["spec"].get("paused")

    # the undo fails too: what is left, and how to undo it by hand
    api.fail(500, method="POST", path=f"/apis/{MCO}/v1/machineosconfigs")
    api.fail(500, method="POST", path=f"/apis/{MCO}/v1/machineconfigs")
    partial = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--replace",
                           "--no-wait", *_cert_flags(registry)], project)
    assert partial.code == 19, partial.err
    assert (f"still on the cluster: MachineConfig {MC_NAME} deleted (undo failed: create machineconfig {MC_NAME}"
            " failed with HTTP 500") in partial.err
    assert f"undo with: rhcos-layer apply --pool worker --image {image}" in partial.err
    assert not api.store.get("machineconfigpools", "worker")["spec"].get("paused")  # that part was put back


def test_a_login_that_may_not_follow_the_build_is_refused_before_writing(tmp_path, project, logged_in, registry,
                                                                          fake_base, rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    api.forbid("list", "machineosbuilds")
    api.reset_requests()
    result = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--wait",
                          *_cert_flags(registry)], project)
    assert result.code == 10, result.err
    assert (f"not allowed to list machineosbuilds.{MCO} (to follow the build); nothing was changed"
            in result.err)
    assert _writes(api) == [] and _mosc(api) is None


# ------------------------------------------------------------ builds that really run (building_mco)
def _building(api: KubeAPI, registry, monkeypatch, kubeconfig) -> None:
    from tests.support.kube import push_secret

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    trust_registry_ca(api, registry.host, registry.ca_path.read_bytes())
    push_secret(api, "push", registry.host, *registry.auth)


def _build_of(api: KubeAPI, name: str) -> Dict[str, Any]:
    return next(b for b in api.store.list("machineosbuilds") if b["metadata"]["name"] == name)


def test_apply_on_cluster_builds_and_rolls_the_pool_to_the_built_digest(tmp_path, project, kube_api, building_mco,
                                                                        registry, kubeconfig, tool_env, monkeypatch,
                                                                        rhcos_layer):
    api = kube_api
    _building(api, registry, monkeypatch, kubeconfig)
    building_mco.step_delay = 0.2  # slow enough that the watch sees nodes waiting for the image
    result = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--wait", "-o", "json",
                          *_cert_flags(registry)], project)
    assert result.code == 0, result.err
    out = json.loads(result.out)
    build = out["build"]
    assert build["state"] == "Succeeded" and out["action"] == "create" and out["api_version"] == "v1"
    assert f"worker: build {build['name']} Building (Job {NS}/build-{build['name']})" in result.err
    assert f"worker: build {build['name']} Succeeded (Job {NS}/build-{build['name']})" in result.err
    repo, _, digest = build["image"].partition("@")
    assert repo == f"{registry.host}/ops/oncluster"
    assert registry.manifest_digest("ops/oncluster", digest) == digest  # really pushed
    assert _build_of(api, build["name"])["status"]["digestedImagePushSpec"] == build["image"]
    assert [n["metadata"]["annotations"][CURRENT_IMAGE] for n in _worker_nodes(api)] == [build["image"]] * 2
    assert out["machines"] == out["updated"] == 2
    rollout = result.err.split("worker: built ")[1]
    for node in ("worker-0", "worker-1"):  # done once, when on the image: not already when only on the config
        assert rollout.count(f"  {node}: done") == 1, rollout

    building_mco.step_delay = 0.01

    # the same project again: nothing written, the same build followed
    api.reset_requests()
    again = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--wait", "-o", "json",
                         *_cert_flags(registry)], project)
    assert again.code == 0, again.err
    assert json.loads(again.out)["action"] == "unchanged"
    assert json.loads(again.out)["build"]["name"] == build["name"]
    assert _writes(api) == []

    # --rebuild: the same inputs built again, a new build object, followed to its end
    old_uid = _build_of(api, build["name"])["metadata"]["uid"]
    rebuilt = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--rebuild",
                           "--wait", "-o", "json", *_cert_flags(registry)], project)
    assert rebuilt.code == 0, rebuilt.err
    assert "worker: MachineOSConfig worker unchanged, rebuild asked" in rebuilt.err
    fresh = json.loads(rebuilt.out)["build"]
    assert fresh["state"] == "Succeeded"
    assert _build_of(api, fresh["name"])["metadata"]["uid"] != old_uid

    # a changed Containerfile: an update that records the spec it replaces, and a new build
    old_spec = _mosc(api)["spec"]
    (project / "Containerfile").write_text((project / "Containerfile").read_text() + "RUN echo more >> /etc/layered\n")
    updated = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--wait", "-o",
                           "json", *_cert_flags(registry)], project)
    assert updated.code == 0, updated.err
    assert json.loads(updated.out)["action"] == "update"
    mosc = _mosc(api)
    assert json.loads(mosc["metadata"]["annotations"][PREVIOUS_SPEC]) == old_spec
    newer = json.loads(updated.out)["build"]
    assert newer["name"] != fresh["name"] and newer["image"] != fresh["image"]
    assert [n["metadata"]["annotations"][CURRENT_IMAGE] for n in _worker_nodes(api)] == [newer["image"]] * 2


def test_a_failing_build_shows_its_log_tail_and_failed_step(tmp_path, project, kube_api, building_mco, registry,
                                                            kubeconfig, tool_env, monkeypatch, rhcos_layer):
    api = kube_api
    _building(api, registry, monkeypatch, kubeconfig)
    (project / "Containerfile").write_text(
        (project / "Containerfile").read_text() + "RUN echo about to fail && exit 3\n")
    before = [n["metadata"]["annotations"] for n in _worker_nodes(api)]
    result = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--wait",
                          *_cert_flags(registry)], project)
    assert result.code == 22, result.err
    error = [line for line in result.err.splitlines() if line.startswith("Error: ")][-1]
    assert re.match(r"Error: pool worker: the build worker-\w+ \(Job build-worker-\w+\) failed at \[2/2\] STEP \d+/\d+:"
                    r" RUN echo about to fail && exit 3: Error: building at STEP", error), error
    assert "about to fail" in result.err.split("Error: pool worker")[0]  # the log tail, above the error
    assert "rhcos-layer apply --on-cluster --pool worker --rebuild" in result.err
    assert "oc logs -n openshift-machine-config-operator job/build-worker-" in result.err
    # what stays: the MachineOSConfig; the nodes did not move
    assert _mosc(api) is not None
    assert [n["metadata"]["annotations"] .get(CURRENT_IMAGE) for n in _worker_nodes(api)] == \
        [b.get(CURRENT_IMAGE) for b in before]
    assert [r for r in building_mco.history if r.pool == "worker"] == []

    # the unchanged project again follows the same failed build; a login that may not read the builder's
    # log still gets the failure, and why there is no log
    api.forbid("list", "pods", NS)
    again = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--wait",
                         *_cert_flags(registry)], project)
    assert again.code == 22, again.err
    assert re.search(r"Error: pool worker: the build worker-\w+ \(Job build-worker-\w+\) failed: Build Failed"
                     r" \(no build log: not allowed to list pods in openshift-machine-config-operator", again.err), \
        again.err


def test_an_interrupted_build_says_so_and_exits_22(tmp_path, project, kube_api, building_mco, registry, kubeconfig,
                                                   tool_env, monkeypatch):
    api = kube_api
    _building(api, registry, monkeypatch, kubeconfig)
    building_mco.builds.hold()  # the build stays Building until released
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "rhcos_layer", "apply", "--on-cluster", "--pool", "worker",
                             "--push-secret", "push", "--wait", *_cert_flags(registry)], cwd=project, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        jobs: List[Dict[str, Any]] = []
        while time.monotonic() < deadline and not jobs:
            jobs = api.store.list("jobs", NS)
            time.sleep(0.05)
        assert jobs, "no builder Job"
        api.store.delete("jobs", jobs[0]["metadata"]["name"], NS)  # as `oc delete job` would
        out, err = proc.communicate(timeout=120)
    finally:
        building_mco.builds.release()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 22, err
    assert re.search(r"Error: pool worker: the build worker-\w+ \(Job build-worker-\w+\) was interrupted", err), err
    assert _mosc(api) is not None


def test_a_degraded_pool_is_refused_before_anything_is_written(tmp_path, project, logged_in, registry, fake_base,
                                                             rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    api.store.patch("machineconfigpools", "worker", {"status": {"degradedMachineCount": 1}})
    api.reset_requests()
    result = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "push", "--wait",
                          *_cert_flags(registry)], project)
    assert result.code == 12, result.err
    assert "pool worker is degraded (1 degraded node(s)): a rollout would stall behind it" in result.err
    assert "--ignore-preflight-errors=PoolDegraded" in result.err
    assert _writes(api) == [] and _mosc(api) is None


def test_push_secrets_are_read_by_their_type_as_the_mco_reads_them(tmp_path, project, logged_in, registry, fake_base,
                                                                 rhcos_layer):
    # machine-config-operator pkg/controller/build/utils.go (getPullSecretKey, canonicalizePullSecretBytes): the
    # Secret's type names its key, any other type is refused; a legacy .dockercfg is the auths map itself
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    config = registry.auth_config()
    api.store.put({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                   "metadata": {"name": "opaque", "namespace": NS},
                   "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}})
    api.store.put({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockercfg",
                   "metadata": {"name": "legacy", "namespace": NS},
                   "data": {".dockercfg": base64.b64encode(json.dumps(config["auths"]).encode()).decode()}})
    api.reset_requests()
    opaque = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "opaque", "--wait",
                          *_cert_flags(registry)], project)
    assert opaque.code == 12, opaque.err
    assert (f"pool worker: Secret {NS}/opaque is of type Opaque: the cluster's build reads only"
            " kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg secrets; nothing was changed") in opaque.err
    assert _writes(api) == [] and _mosc(api) is None

    legacy = rhcos_layer(["apply", "--on-cluster", "--pool", "worker", "--push-secret", "legacy", "--dry-run",
                          *_cert_flags(registry)], project)
    assert legacy.code == 0, legacy.err
    assert "worker: would create MachineOSConfig worker" in legacy.out

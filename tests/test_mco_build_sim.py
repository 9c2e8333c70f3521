"""The simulated MCO's on-cluster build controller (tests/support/build_sim.py) really builds: podman builds
the MachineOSConfig's Containerfile on the cluster's base, pushes it with the push secret to the rig's TLS
registry, and the pool's nodes boot the pushed digest. The builder Job and pod are read with the real kubectl."""

from __future__ import annotations

import threading
import time
from typing import Any, Dict

import pytest

from tests.support.build_sim import (
    BUILD_CONTAINER,
    CURRENT_BUILD,
    LABEL_BUILD,
    REBUILD,
    build_pod,
    condition_true,
    job_name,
    wait_for_build,
)
from tests.support.kube import MCO_NAMESPACE, KubeAPI, push_secret, seed_openshift
from tests.support.mco import CURRENT_CONFIG, CURRENT_IMAGE, DESIRED_IMAGE

MCO = "machineconfiguration.openshift.io"
GOOD = "FROM configs AS final\nRUN rpm-ostree install tree && ostree container commit\n"
BROKEN = "FROM configs AS final\nRUN rpm-ostree install rig-fail-x && ostree container commit\n"


def mosc_v1(pool: str, push: str, containerfile: str = GOOD, secret: str = "push-creds") -> Dict[str, Any]:
    return {"apiVersion": f"{MCO}/v1", "kind": "MachineOSConfig", "metadata": {"name": pool}, "spec": {
        "machineConfigPool": {"name": pool}, "imageBuilder": {"imageBuilderType": "Job"},
        "renderedImagePushSpec": push, "renderedImagePushSecret": {"name": secret},
        "containerFile": [{"containerfileArch": "NoArch", "content": containerfile}]}}


def mosc_v1alpha1(pool: str, push: str, containerfile: str = GOOD, secret: str = "push-creds") -> Dict[str, Any]:
    return {"apiVersion": f"{MCO}/v1alpha1", "kind": "MachineOSConfig", "metadata": {"name": pool}, "spec": {
        "machineConfigPool": {"name": pool},
        "buildInputs": {"imageBuilder": {"imageBuilderType": "PodImageBuilder"},
                        "baseImagePullSecret": {"name": "base-creds"},
                        "renderedImagePushSecret": {"name": secret}, "renderedImagePushspec": push,
                        "containerFile": [{"containerfileArch": "NoArch", "content": containerfile}]},
        "buildOutputs": {"currentImagePullSecret": {"name": secret}}}}


def _nodes(api: KubeAPI, role: str = "worker") -> list:
    return [n for n in api.store.list("nodes") if f"node-role.kubernetes.io/{role}" in n["metadata"]["labels"]]


def _log(api: KubeAPI, build: str) -> str:
    pod = build_pod(api, build)
    assert pod is not None
    return api.pod_logs.text(MCO_NAMESPACE, pod["metadata"]["name"], BUILD_CONTAINER)


def test_a_build_pushes_its_image_and_the_pools_nodes_boot_that_digest(building_mco, kube_api, registry, fresh_store,
                                                                      kubectl):
    api = kube_api
    push_secret(api, "push-creds", registry.host, registry.username, registry.password)
    api.store.put(mosc_v1("worker", f"{registry.host}/ocb/worker:latest"))
    build = wait_for_build(api, "worker")
    name = build["metadata"]["name"]
    assert condition_true(build, "Succeeded"), _log(api, name)
    image = build["status"]["digestedImagePushSpec"]
    tag = build["spec"]["renderedImagePushSpec"].rsplit(":", 1)[1]
    assert tag == name
    assert image == f"{registry.host}/ocb/worker@{registry.manifest_digest('ocb/worker', name)}"
    mosc = api.store.get("machineosconfigs", "worker")
    assert mosc["status"]["currentImagePullSpec"] == image
    assert mosc["status"]["machineOSBuild"]["name"] == name
    assert mosc["metadata"]["annotations"][CURRENT_BUILD] == name
    assert build["metadata"]["labels"] == {
        f"{MCO}/machine-os-config": "worker", f"{MCO}/target-machine-config-pool": "worker",
        f"{MCO}/rendered-machine-config": build["spec"]["machineConfig"]["name"]}
    assert building_mco.wait_idle(60)
    pool = api.store.get("machineconfigpools", "worker")
    for node in _nodes(api):
        ann = node["metadata"]["annotations"]
        assert (ann[CURRENT_IMAGE], ann[DESIRED_IMAGE], ann[CURRENT_CONFIG]) == (
            image, image, pool["spec"]["configuration"]["name"])
    # the image holds the configs stage and the Containerfile's step, run by the base's rpm-ostree stub
    ref = f"{registry.host}/ocb/worker@{image.split('@')[1]}"
    authfile = registry.write_authfile(fresh_store.tmp_dir / "pull-auth.json")
    fresh_store.podman("pull", "--cert-dir", str(registry.cert_dir), "--authfile", str(authfile), ref)
    authfile.unlink()
    with fresh_store.image_files(ref) as root:
        assert (root / "etc/machine-config-daemon/rendered-config").read_text() == (
            build["spec"]["machineConfig"]["name"] + "\n")
        assert "rpm-ostree install tree" in (root / "usr/share/rhcos-stub/calls.log").read_text()
    # kubectl reads the builder Job and pod, and the build's output from the pod's image-build container
    out = kubectl("get", "jobs,pods", "-n", MCO_NAMESPACE, "-l", f"{LABEL_BUILD}={name}")
    assert out.returncode == 0, out.stderr
    pod = build_pod(api, name)["metadata"]["name"]
    lines = out.stdout.splitlines()
    assert lines[1].split()[:3] == [f"job.batch/{job_name(name)}", "Complete", "1/1"]
    assert lines[4].split()[:3] == [f"pod/{pod}", "0/2", "Completed"]
    logs = kubectl("logs", "-n", MCO_NAMESPACE, pod, "-c", BUILD_CONTAINER)
    assert logs.returncode == 0, logs.stderr
    assert "rpm-ostree install tree" in logs.stdout
    assert logs.stdout == _log(api, name)
    assert registry.password not in logs.stdout
    # the build's files (its authfiles among them) are gone
    assert [p.name for p in fresh_store.tmp_dir.iterdir() if p.name.startswith("ocb-")] == []


def test_a_failing_build_is_failed_with_podmans_log_in_kubectl_logs_and_no_node_moves(building_mco, kube_api, registry,
                                                                                       kubectl):
    api = kube_api
    before = {n["metadata"]["name"]: dict(n["metadata"]["annotations"]) for n in _nodes(api)}
    push_secret(api, "push-creds", registry.host, registry.username, registry.password)
    api.store.put(mosc_v1("worker", f"{registry.host}/ocb/broken:latest", BROKEN))
    build = wait_for_build(api, "worker")
    name = build["metadata"]["name"]
    assert [c["type"] for c in build["status"]["conditions"] if c["status"] == "True"] == ["Failed"]
    assert build["status"]["buildEnd"]
    assert "digestedImagePushSpec" not in build["status"]
    pod = build_pod(api, name)["metadata"]["name"]
    logs = kubectl("logs", "-n", MCO_NAMESPACE, pod, "-c", BUILD_CONTAINER)
    assert logs.returncode == 0, logs.stderr
    assert "error: Packages not found: rig-fail-x" in logs.stdout  # the stub's words, through podman
    assert "error: build failed: podman build exited with status" in logs.stdout
    tail = kubectl("logs", "-n", MCO_NAMESPACE, pod, "-c", BUILD_CONTAINER, "--tail=1")
    assert tail.stdout == logs.stdout.splitlines(keepends=True)[-1]
    jobs = kubectl("get", "jobs", "-n", MCO_NAMESPACE, job_name(name), "--no-headers")
    assert jobs.stdout.split()[1:3] == ["Failed", "0/1"]
    assert building_mco.wait_idle(30)
    assert registry.tags("ocb/broken") == []
    # not retried, and the nodes stay where they were
    assert [b["metadata"]["name"] for b in api.store.list("machineosbuilds")] == [name]
    assert "currentImagePullSpec" not in (api.store.get("machineosconfigs", "worker").get("status") or {})
    assert {n["metadata"]["name"]: n["metadata"]["annotations"] for n in _nodes(api)} == before


def test_wrong_push_credentials_fail_the_push_with_the_registrys_error(building_mco, kube_api, registry):
    api = kube_api
    push_secret(api, "push-creds", registry.host, registry.username, "wrong-password")
    api.store.put(mosc_v1("worker", f"{registry.host}/ocb/denied:latest"))
    build = wait_for_build(api, "worker")
    assert condition_true(build, "Failed")
    log = _log(api, build["metadata"]["name"])
    assert "STEP 1/" in log  # the build itself ran
    assert "unauthorized" in log.lower()
    assert "error: push failed: podman push exited with status" in log
    assert "wrong-password" not in log


def test_a_missing_push_secret_starts_no_build_until_it_exists(building_mco, kube_api, registry):
    api = kube_api
    api.store.put(mosc_v1("worker", f"{registry.host}/ocb/later:latest", secret="not-yet"))
    assert building_mco.wait_idle(10)
    assert api.store.list("machineosbuilds") == []
    assert api.store.list("jobs", MCO_NAMESPACE) == []
    assert building_mco.builds.problems["worker"] == (
        'could not get push secret "not-yet" for MachineOSConfig "worker": secrets "not-yet" not found')
    push_secret(api, "not-yet", registry.host, registry.username, registry.password)
    assert condition_true(wait_for_build(api, "worker"), "Succeeded")
    assert "worker" not in building_mco.builds.problems


def test_the_rebuild_annotation_makes_a_new_build(building_mco, kube_api, registry):
    api = kube_api
    push_secret(api, "push-creds", registry.host, registry.username, registry.password)
    api.store.put(mosc_v1("worker", f"{registry.host}/ocb/again:latest", BROKEN))
    first = wait_for_build(api, "worker")
    assert condition_true(first, "Failed")
    api.store.patch("machineosconfigs", "worker", {"metadata": {"annotations": {REBUILD: ""}}})
    second = _wait_new_build(api, first["metadata"]["uid"])
    assert condition_true(second, "Failed")  # the same inputs fail again, but it was built again
    assert REBUILD not in api.store.get("machineosconfigs", "worker")["metadata"]["annotations"]
    assert len(api.store.list("pods", MCO_NAMESPACE)) == 1  # the old build's pod went with it


def _wait_new_build(api: KubeAPI, old_uid: str, timeout: float = 120) -> Dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        build = wait_for_build(api, "worker", timeout)
        if build["metadata"]["uid"] != old_uid:
            return build
        time.sleep(0.05)
    raise AssertionError("no new build")


@pytest.mark.parametrize("building_mco", [("4.16.3", "TechPreviewNoUpgrade")], indirect=True)
def test_a_tech_preview_v1alpha1_machineosconfig_builds_too(building_mco, kube_api, registry):
    api = kube_api
    push_secret(api, "push-creds", registry.host, registry.username, registry.password)
    push_secret(api, "base-creds", registry.host, registry.username, registry.password)
    api.store.put(mosc_v1alpha1("worker", f"{registry.host}/ocb/tp:latest"))
    build = wait_for_build(api, "worker")
    assert build["apiVersion"] == f"{MCO}/v1alpha1"
    assert condition_true(build, "Succeeded"), _log(api, build["metadata"]["name"])
    rendered = build["spec"]["desiredConfig"]["name"]
    image = build["status"]["finalImagePushspec"]
    assert image == f"{registry.host}/ocb/tp@{registry.manifest_digest('ocb/tp', rendered)}"
    assert api.store.get("machineosconfigs", "worker")["status"]["currentImagePullspec"] == image
    assert building_mco.wait_idle(60)
    assert {n["metadata"]["annotations"][CURRENT_IMAGE] for n in _nodes(api)} == {image}


# ------------------------------------------------------------------ the emulator's Job, Pod and pods/log
def _pod(api: KubeAPI, name: str, containers: tuple = ("image-build", "create-digestfile")) -> None:
    api.store.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": MCO_NAMESPACE, "labels": {"app": "x"}},
        "spec": {"containers": [{"name": c, "image": "img"} for c in containers]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": c, "ready": True, "restartCount": 0, "state": {"running": {}}} for c in containers]}})


def test_kubectl_reads_jobs_pods_and_pod_logs_from_the_emulator(kube_api, kubectl):
    api = kube_api
    seed_openshift(api, workers=1, masters=1)
    api.store.put({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "build-a", "namespace": MCO_NAMESPACE},
                   "spec": {"completions": 1, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}},
                   "status": {"succeeded": 1, "startTime": "2026-01-01T00:00:00Z",
                              "completionTime": "2026-01-01T00:01:05Z",
                              "conditions": [{"type": "Complete", "status": "True"}]}})
    _pod(api, "build-a-xyz12")
    api.pod_logs.append(MCO_NAMESPACE, "build-a-xyz12", "image-build", "one\ntwo\nthree\n")
    out = kubectl("get", "jobs,pods", "-n", MCO_NAMESPACE)
    assert out.returncode == 0, out.stderr
    assert [line.split() for line in out.stdout.splitlines() if line.strip()] == [
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"], ["job.batch/build-a", "Complete", "1/1", "65s",
                                                              out.stdout.split()[9]],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["pod/build-a-xyz12", "2/2", "Running", "0",
                                                         out.stdout.split()[-1]]]
    assert kubectl("get", "pods", "-n", MCO_NAMESPACE, "-l", "app=y", "-o", "name").stdout == ""
    assert kubectl("get", "pods", "-n", MCO_NAMESPACE, "-l", "app=x", "-o", "name").stdout == "pod/build-a-xyz12\n"
    logs = kubectl("logs", "-n", MCO_NAMESPACE, "build-a-xyz12", "-c", "image-build")
    assert (logs.returncode, logs.stdout) == (0, "one\ntwo\nthree\n")
    assert kubectl("logs", "-n", MCO_NAMESPACE, "build-a-xyz12", "-c", "image-build", "--tail=1").stdout == "three\n"
    assert kubectl("logs", "-n", MCO_NAMESPACE, "build-a-xyz12", "-c", "image-build",
                   "--limit-bytes=5").stdout == "one\nt"
    bad = kubectl("logs", "-n", MCO_NAMESPACE, "build-a-xyz12", "-c", "nope")
    assert bad.returncode == 1
    assert "container nope is not valid for pod build-a-xyz12" in bad.stderr
    # the raw API (kubectl itself picks the first container when none is named)
    raw = kubectl("get", "--raw", f"/api/v1/namespaces/{MCO_NAMESPACE}/pods/build-a-xyz12/log")
    assert "a container name must be specified for pod build-a-xyz12, choose one of: [image-build create-digestfile]" \
        in raw.stderr
    waiting = kubectl("logs", "-n", MCO_NAMESPACE, "build-a-xyz12", "-c", "create-digestfile")
    assert 'container "create-digestfile" in pod "build-a-xyz12" is waiting to start' in waiting.stderr
    negative = kubectl("get", "--raw", f"/api/v1/namespaces/{MCO_NAMESPACE}/pods/build-a-xyz12/log"
                       "?container=image-build&tailLines=-1")
    assert "tailLines: Invalid value: -1: must be greater than or equal to 0" in negative.stderr


def test_kubectl_logs_follow_streams_until_the_container_ends(kube_api, kubectl):
    api = kube_api
    seed_openshift(api, workers=1, masters=1)
    _pod(api, "build-b-abcde", ("image-build",))
    api.pod_logs.append(MCO_NAMESPACE, "build-b-abcde", "image-build", "STEP 1/2\n")
    started = threading.Event()

    def later() -> None:
        # more output once kubectl is connected (its request is in the emulator's log), then the end
        while not any(c.path.endswith("/log") for c in api.calls):
            started.wait(0.02)
        api.pod_logs.append(MCO_NAMESPACE, "build-b-abcde", "image-build", "STEP 2/2\n")
        api.pod_logs.close(MCO_NAMESPACE, "build-b-abcde", "image-build")

    thread = threading.Thread(target=later, daemon=True)
    thread.start()
    out = kubectl("logs", "-f", "-n", MCO_NAMESPACE, "build-b-abcde", timeout=30)
    thread.join(10)
    assert (out.returncode, out.stdout) == (0, "STEP 1/2\nSTEP 2/2\n"), out.stderr


def _wait_building(api: KubeAPI, mosc: str = "worker", timeout: float = 60) -> Dict[str, Any]:
    with api.store.changed:
        deadline = time.monotonic() + timeout
        while True:
            obj = api.store.get("machineosconfigs", mosc) or {}
            name = ((obj.get("metadata") or {}).get("annotations") or {}).get(CURRENT_BUILD)
            build = api.store.get("machineosbuilds", name) if name else None
            if build is not None and condition_true(build, "Building"):
                return build
            if time.monotonic() > deadline:
                raise AssertionError(f"no build of {mosc} started")
            api.store.changed.wait(0.2)


def test_a_running_build_does_not_hold_up_other_pools(building_mco, kube_api, registry):
    api = kube_api
    push_secret(api, "push-creds", registry.host, registry.username, registry.password)
    building_mco.builds.hold()
    api.store.put(mosc_v1("worker", f"{registry.host}/ocb/held:latest"))
    _wait_building(api)
    api.store.put({"apiVersion": f"{MCO}/v1", "kind": "MachineConfig", "metadata": {
        "name": "99-master-extra", "labels": {f"{MCO}/role": "master"}},
        "spec": {"config": {"ignition": {"version": "3.4.0"}}, "kernelArguments": ["nosmt"]}})
    master = api.store.get("machineconfigpools", "master")
    deadline = time.monotonic() + 60
    while not (master["status"].get("updatedMachineCount") == 1 and
               master["status"]["configuration"]["name"] == master["spec"]["configuration"]["name"] and
               master["metadata"]["generation"] == master["status"].get("observedGeneration") and
               master["spec"]["configuration"]["name"] != "" and
               "99-master-extra" in [s["name"] for s in master["spec"]["configuration"].get("source") or []]):
        assert time.monotonic() < deadline, master["status"]
        with api.store.changed:
            api.store.changed.wait(0.2)
        master = api.store.get("machineconfigpools", "master")
    # the master pool moved while the worker build is still in flight
    build = api.store.get("machineosbuilds", api.store.get("machineosconfigs", "worker")["metadata"]["annotations"][
        CURRENT_BUILD])
    assert condition_true(build, "Building")
    assert building_mco.builds.running() == [build["metadata"]["name"]]
    building_mco.builds.release()
    assert condition_true(wait_for_build(api, "worker"), "Succeeded")


def test_deleting_the_builder_job_interrupts_the_build(building_mco, kube_api, registry, kubectl):
    api = kube_api
    push_secret(api, "push-creds", registry.host, registry.username, registry.password)
    building_mco.builds.hold()
    api.store.put(mosc_v1("worker", f"{registry.host}/ocb/gone:latest"))
    name = _wait_building(api)["metadata"]["name"]
    out = kubectl("delete", "job", "-n", MCO_NAMESPACE, job_name(name))
    assert out.returncode == 0, out.stderr
    build = wait_for_build(api, "worker")
    assert [c["type"] for c in build["status"]["conditions"] if c["status"] == "True"] == ["Interrupted"]
    assert building_mco.builds.running() == []
    assert api.store.list("pods", MCO_NAMESPACE) == []
    assert registry.tags("ocb/gone") == []
    building_mco.builds.release()


@pytest.mark.parametrize("building_mco", [("4.20.1", "")], indirect=True)
def test_from_4_20_a_failed_build_degrades_the_pool_and_a_good_one_clears_it(building_mco, kube_api, registry):
    api = kube_api
    push_secret(api, "push-creds", registry.host, registry.username, registry.password)
    api.store.put(mosc_v1("worker", f"{registry.host}/ocb/degrade:latest", BROKEN))
    failed = wait_for_build(api, "worker")
    name = failed["metadata"]["name"]
    assert building_mco.wait_idle(30)
    conditions = {c["type"]: c for c in api.store.get("machineconfigpools", "worker")["status"]["conditions"]}
    message = f"Failed to build OS image for pool worker (MachineOSBuild: {name}): Failed: Build Failed"
    assert (conditions["ImageBuildDegraded"]["status"], conditions["ImageBuildDegraded"]["reason"],
            conditions["ImageBuildDegraded"]["message"]) == ("True", "BuildFailed", message)
    assert (conditions["Degraded"]["status"], conditions["Degraded"]["message"]) == ("True", message)
    assert "ImageBuildDegraded" not in {c["type"] for c in api.store.get("machineconfigpools", "master")["status"][
        "conditions"]}
    api.store.patch("machineosconfigs", "worker", {"spec": {"containerFile": [
        {"containerfileArch": "NoArch", "content": GOOD}]}})
    good = _wait_new_build(api, failed["metadata"]["uid"])
    assert good["metadata"]["name"] != name  # new inputs, new build
    assert condition_true(good, "Succeeded")
    assert building_mco.wait_idle(60)
    conditions = {c["type"]: c for c in api.store.get("machineconfigpools", "worker")["status"]["conditions"]}
    assert (conditions["ImageBuildDegraded"]["status"], conditions["ImageBuildDegraded"]["message"]) == (
        "False", "Build succeeded for pool worker")
    assert conditions["Degraded"]["status"] == "False"


def test_push_secrets_are_read_by_their_type_and_a_legacy_dockercfg_builds(building_mco, kube_api, registry):
    # machine-config-operator pkg/controller/build/utils.go: getPullSecretKey (the type names the key, other
    # types refused) and canonicalizePullSecretBytes (the old format is the auths map itself)
    import base64
    import json

    api = kube_api
    auths = {registry.host: {"auth": base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()}}
    api.store.put({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                   "metadata": {"name": "opaque", "namespace": MCO_NAMESPACE},
                   "data": {".dockerconfigjson": base64.b64encode(json.dumps({"auths": auths}).encode()).decode()}})
    api.store.put(mosc_v1("worker", f"{registry.host}/ocb/typed:latest", secret="opaque"))
    assert building_mco.wait_idle(10)
    assert api.store.list("machineosbuilds") == []
    assert building_mco.builds.problems["worker"] == "unknown secret type Opaque"

    api.store.put({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockercfg",
                   "metadata": {"name": "legacy", "namespace": MCO_NAMESPACE},
                   "data": {".dockercfg": base64.b64encode(json.dumps(auths).encode()).decode()}})
    mosc = api.store.get("machineosconfigs", "worker")
    mosc["spec"]["renderedImagePushSecret"]["name"] = "legacy"
    api.store.put(mosc)
    assert condition_true(wait_for_build(api, "worker"), "Succeeded")

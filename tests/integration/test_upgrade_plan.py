"""upgrade plan for real: podman, the TLS + password registry, fake bases per release, the emulated cluster."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from rhcos_layer import machineconfig
from rhcos_layer.adapters import engine as engine_mod
from tests.integration.conftest import write_project
from tests.integration.test_status import _layer_worker as rolled_out
from tests.support.cvo import risk, seed_release, seed_updates
from tests.support.fakebase import NODE_VERSIONS
from tests.support.kube import seed_openshift
from tests.support.payload import access_mark

RPM_STUB = """#!/bin/sh
# answers as rpm does for the queries upgrade plan makes
case "$1" in
  -qf) shift; for f in "$@"; do case "$f" in
         /usr/bin/kubelet) echo openshift-kubelet-1.29.6-202406.el9.x86_64 ;;
         *) echo "file $f is not owned by any package"; rc=1 ;; esac; done; exit ${rc:-0} ;;
  -q) shift; for p in "$@"; do echo "package $p is not installed"; done; exit 1 ;;
esac
cat /proc/net/dev
"""


def test_rpm_query_runs_offline_in_a_container_that_is_removed(tmp_path, tool_env, fake_base, registry,
                                                                podman_service, rhcos_layer):
    folder = write_project(tmp_path / "rpmq", fake_base.pullspec, "RUN rm -f /usr/bin/rpm\nCOPY rpm /usr/bin/rpm\n")
    (folder / "rpm").write_text(RPM_STUB)
    (folder / "rpm").chmod(0o755)
    env = dict(podman_service.store.env, CONTAINER_HOST=podman_service.url)
    built = rhcos_layer(["build", "-o", "json"], folder, env)
    assert built.code == 0, built.err
    image = json.loads(built.out)["image_id"]
    before = podman_service.store.podman("ps", "-aq").stdout
    with engine_mod.Engine(podman_service.url) as engine:
        answers = engine.rpm_query(image, [["-qf", "/usr/bin/kubelet", "/usr/bin/crio"], ["-q", "kernel"],
                                           ["--version"]])
    assert answers[0] == (1, "openshift-kubelet-1.29.6-202406.el9.x86_64\n"
                             "file /usr/bin/crio is not owned by any package\n")
    assert answers[1] == (1, "package kernel is not installed\n")
    code, net = answers[2]
    # no network namespace of its own but loopback: --network none
    devices = [line.split(":")[0].strip() for line in net.splitlines()[2:]]
    assert (code, devices) == (0, ["lo"])
    assert podman_service.store.podman("ps", "-aq").stdout == before


# ----------------------------------------------------------------------------------- status: behind

LAYERED = "registry.example.com/ops/rhcos-layered@sha256:" + "4" * 64
PAYLOAD_4172 = "quay.io/openshift-release-dev/ocp-release:4.17.2"  # what _upgraded records in the history


def _layer_worker(api, seed, release=None, image=LAYERED):
    """What a finished rollout leaves (test_status's helper), our MachineConfig annotated as apply does."""
    rolled_out(api, seed, image)
    annotations = {machineconfig.PROJECT_ANNOTATION: "my-layer"}
    if release:
        annotations[machineconfig.RELEASE_ANNOTATION] = release
    api.store.patch("machineconfigs", machineconfig.name_for("worker"), {"metadata": {"annotations": annotations}})


def _upgraded(api, versions, base):
    """The cluster completed ``versions`` (oldest first) and renders with ``base`` now."""
    history = [{"state": "Completed", "version": v, "image": f"quay.io/openshift-release-dev/ocp-release:{v}"}
               for v in reversed(versions)]
    api.store.patch("clusterversions", "version", {"status": {"history": history}})
    api.store.patch("configmaps", "machine-config-osimageurl",
                    {"data": {"baseOSContainerImage": base, "releaseVersion": versions[-1]}},
                    namespace="openshift-machine-config-operator")


def test_status_says_how_many_releases_a_layered_pool_is_behind(tmp_path, kube_api, kubeconfig, tool_env,
                                                                 monkeypatch, rhcos_layer):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    seed = seed_openshift(kube_api)
    _layer_worker(kube_api, seed, release="4.16.3")
    current = rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path)
    assert current.code == 0, current.err
    [worker] = json.loads(current.out)
    assert (worker["built_for"], worker["behind"], worker["next_command"]) == ("4.16.3", None, None)

    new_base = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "6" * 64
    _upgraded(kube_api, ["4.16.3", "4.16.8", "4.17.2"], new_base)
    behind = rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path)
    [worker] = json.loads(behind.out)
    assert (worker["built_for"], worker["cluster_version"], worker["behind"], worker["behind_versions"],
            worker["next_command"]) == ("4.16.3", "4.17.2", 2, ["4.16.8", "4.17.2"], f"rhcos-layer upgrade plan"
                                                                                     f" --release {PAYLOAD_4172}")
    text = rhcos_layer(["status", "--pool", "worker"], tmp_path)
    assert ("  BEHIND: built for 4.16.3, 2 release(s) behind the cluster's 4.17.2 (4.16.8, 4.17.2):"
            f" run `rhcos-layer upgrade plan --release {PAYLOAD_4172}`") in text.out.splitlines()


# ------------------------------------------------------------------------------ plan on the cluster

LAYER = "RUN rpm-ostree install usbguard && \\\n    ostree container commit\n"


def _offer(api, available, conditional=(), current="4.16.1"):
    """ClusterVersion as the CVO leaves it: running ``current``, offering ``available`` (recommended)
    and ``conditional`` ((version, image, risk name, risk message))."""
    api.store.patch("clusterversions", "version", {"status": {
        "history": [{"state": "Completed", "version": current, "image": "quay.io/x/release@sha256:" + "1" * 64}],
        "availableUpdates": [{"version": v, "image": i} for v, i in available],
        "conditionalUpdates": [
            {"release": {"version": v, "image": i},
             "risks": [{"name": name, "message": message, "url": "https://issues.example.com/" + name,
                        "matchingRules": [{"type": "Always"}]}],
             "conditions": [{"type": "Recommended", "status": "False", "reason": "ExposedToRisks",
                             "message": "The update is not recommended", "lastTransitionTime": "2026-11-01T00:00:00Z"}]}
            for v, i, name, message in conditional]}})


def test_plan_on_a_cluster_builds_pushes_and_never_picks_a_conditional_update(
        tmp_path, kube_api, kubeconfig, tool_env, monkeypatch, fake_base, registry, release_payloads, rhcos_layer):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    seed = seed_openshift(kube_api)
    folder = write_project(tmp_path / "proj", fake_base.pullspec, LAYER, image=f"{registry.host}/layered/proj")
    _layer_worker(kube_api, seed, release="4.16.1")
    kube_api.store.patch("machineconfigs", machineconfig.name_for("worker"),
                         {"metadata": {"annotations": {machineconfig.PROJECT_ANNOTATION: "proj"}}})
    _offer(kube_api, [("4.16.3", release_payloads["4.16"].pullspec_digest)],
           [("4.21.0", release_payloads["4.21"].pullspec_digest, "RHEL10Kernel", "Nodes may not boot")])
    before = json.dumps(kube_api.store.get("machineconfigs", machineconfig.name_for("worker")), sort_keys=True)

    result = rhcos_layer(["upgrade", "plan", "-o", "json"], folder)
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert (plan["current_version"], plan["chosen"], plan["ready"]) == ("4.16.1", "newest recommended", True)
    assert plan["target"]["version"] == "4.16.3"
    assert plan["target"]["image"] == release_payloads["4.16"].pullspec_digest
    assert [u["version"] for u in plan["available_updates"]] == ["4.16.3"]
    [risky] = plan["conditional_updates"]
    assert (risky["version"], risky["risks"][0]["name"], risky["risks"][0]["message"]) == (
        "4.21.0", "RHEL10Kernel", "Nodes may not boot")
    [worker] = plan["pools"]
    assert (worker["pool"], worker["state"], worker["project"], worker["stream"]) == (
        "worker", "ready", "proj", "rhel-coreos")
    assert worker["new_base"] == fake_base.pullspec and worker["current_image"] == LAYERED
    assert worker["new_image"].startswith(f"{registry.host}/layered/proj@sha256:")
    digest = worker["new_image"].split("@", 1)[1]
    assert registry.manifest_digest("layered/proj", "layer-" + worker["inputs_digest"][7:19]) == digest
    # nothing in the cluster changed
    assert json.dumps(kube_api.store.get("machineconfigs", machineconfig.name_for("worker")),
                      sort_keys=True) == before
    assert not [c for c in kube_api.calls if c.method not in ("GET",)], "upgrade plan wrote to the cluster"

    text = rhcos_layer(["upgrade", "plan"], folder)
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert lines[:4] == [
        "cluster: 4.16.1",
        "  recommended updates: 4.16.3",
        "  conditional update 4.21.0 (only with --to 4.21.0): RHEL10Kernel: Nodes may not boot"
        " (https://issues.example.com/RHEL10Kernel)",
        f"target: 4.16.3 {release_payloads['4.16'].pullspec_digest} (newest recommended)",
    ]
    assert lines[4] == f"pool worker: ready {worker['new_image']} (inputs unchanged: no rebuild)"


def test_plan_without_a_cluster_never_touches_one(tmp_path, tool_env, fake_base, registry, release_payloads,
                                                 rhcos_layer):
    folder = write_project(tmp_path / "zstream", fake_base.pullspec, LAYER, image=f"{registry.host}/layered/zs")
    payload = release_payloads["4.16"].pullspec_digest
    # a kubeconfig that cannot work: reading it at all would end in exit 10
    env = {"KUBECONFIG": str(tmp_path / "no-such-kubeconfig")}
    result = rhcos_layer(["upgrade", "plan", "--release", payload, "--project", str(folder / "rhcos-layer.yaml"),
                          "-o", "json"], tmp_path, env)
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert (plan["current_version"], plan["target"]["version"], plan["available_updates"]) == (None, "4.16.3", [])
    [only] = plan["pools"]
    assert (only["pool"], only["project"], only["state"], only["new_base"]) == (None, "zstream", "ready",
                                                                                 fake_base.pullspec)
    assert only["new_image"].startswith(f"{registry.host}/layered/zs@sha256:")
    yaml_out = rhcos_layer(["upgrade", "plan", "--release", payload, "--project", str(folder), "-o", "yaml"],
                           tmp_path, env)
    assert yaml_out.code == 0, yaml_out.err
    import yaml

    again = yaml.safe_load(yaml_out.out)
    # the same plan, from the cache: unchanged inputs are not built again, the push is a no-op
    assert (only["built"], again["pools"][0]["built"]) == (True, False)
    again["pools"][0]["built"] = True
    assert again == plan


def test_a_failed_build_is_reported_with_its_log_tail_and_exit_20(tmp_path, tool_env, fake_base, registry,
                                                                 release_payloads, rhcos_layer):
    folder = write_project(tmp_path / "broken", fake_base.pullspec, "RUN rpm-ostree install rig-fail-driver\n",
                           image=f"{registry.host}/layered/broken")
    payload = release_payloads["4.16"].pullspec_digest
    result = rhcos_layer(["upgrade", "plan", "--release", payload, "--project", str(folder), "-o", "json"],
                         tmp_path)
    assert result.code == 20, result.err
    [pool] = json.loads(result.out)["pools"]
    assert (pool["state"], pool["new_image"]) == ("build-failed", None)
    assert "error: Packages not found: rig-fail-driver" in pool["log_tail"]
    assert pool["reason"].startswith("the build on 4.16.3 failed: build failed:")
    [error] = [line for line in result.err.splitlines() if line.startswith("Error:")]
    assert error.startswith("Error: upgrade to 4.16.3 is not ready: project broken: build-failed (the build on"
                            " 4.16.3 failed: build failed:")
    text = rhcos_layer(["upgrade", "plan", "--release", payload, "--project", str(folder)], tmp_path)
    assert text.code == 20
    assert "  build log (last lines):" in text.out.splitlines()
    assert "    error: Packages not found: rig-fail-driver" in text.out.splitlines()


def test_a_pool_of_another_project_is_not_ready(tmp_path, kube_api, kubeconfig, tool_env, monkeypatch,
                                                release_payloads, rhcos_layer):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    seed = seed_openshift(kube_api)
    _layer_worker(kube_api, seed, release="4.16.1")  # its project annotation: my-layer
    _offer(kube_api, [("4.16.3", release_payloads["4.16"].pullspec_digest)])
    result = rhcos_layer(["upgrade", "plan", "-o", "json"], tmp_path)
    assert result.code == 20, result.err
    [worker] = json.loads(result.out)["pools"]
    assert (worker["state"], worker["project"], worker["new_image"]) == ("other-project", "my-layer", None)
    payload = release_payloads["4.16"].pullspec_digest
    assert worker["reason"] == (f"its image comes from project my-layer, which was not given: run `rhcos-layer"
                                f" upgrade plan --release {payload} --project PATH/rhcos-layer.yaml` with that project")


def test_an_up_to_date_cluster_says_so(tmp_path, kube_api, kubeconfig, tool_env, monkeypatch, rhcos_layer):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    seed_openshift(kube_api)
    _offer(kube_api, [], [("4.16.9", "quay.io/x/release@sha256:" + "9" * 64, "Risky", "might break")])
    result = rhcos_layer(["upgrade", "plan"], tmp_path)
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == ("The cluster is up to date: it offers no recommended update"
                                           " (conditional ones need --to VERSION).")
    wrong = rhcos_layer(["upgrade", "plan", "--to", "4.17.0"], tmp_path)
    assert wrong.code == 3
    assert "--to 4.17.0: not an update this cluster offers (recommended: none; conditional: 4.16.9)" in wrong.err


def test_a_pool_that_builds_on_the_cluster_is_left_to_the_cluster(tmp_path, kube_api, kubeconfig, tool_env,
                                                                  monkeypatch, release_payloads, rhcos_layer):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    seed_openshift(kube_api, version="4.19.2")
    mco = "machineconfiguration.openshift.io"
    kube_api.store.put({"apiVersion": f"{mco}/v1", "kind": "MachineOSConfig", "metadata": {"name": "worker"},
                        "spec": {"machineConfigPool": {"name": "worker"}, "imageBuilder": {"imageBuilderType": "Job"},
                                 "renderedImagePushSecret": {"name": "push"},
                                 "renderedImagePushSpec": "registry.example.com/ops/worker-os:latest",
                                 "containerFile": [{"containerfileArch": "NoArch",
                                                    "content": "FROM configs AS final\n"}]}})
    _offer(kube_api, [("4.16.3", release_payloads["4.16"].pullspec_digest)], current="4.19.2")
    result = rhcos_layer(["upgrade", "plan", "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    plan = json.loads(result.out)
    assert plan["ready"] is True
    assert [(p["pool"], p["state"], p["new_image"]) for p in plan["pools"]] == [("worker", "on-cluster", None)]


# ------------------------------------------------------- on the upgrade rig: per-release bases and rpm answers

def _project_on(tmp_path, name, release, registry, body=LAYER):
    return write_project(tmp_path / name, release.base, body, image=f"{registry.host}/layered/{name}")


def _applied(api, seed, rhcos_layer, folder, release, record_release=True):
    """The pool as `apply` leaves it: the project built on ``release``'s base and pushed, our MachineConfig
    pointing the worker pool at it (annotated with its project and, unless told not to, its release)."""
    built = rhcos_layer(["build", "-o", "json"], folder)
    assert built.code == 0, built.err
    pushed = rhcos_layer(["push"], folder)
    assert pushed.code == 0, pushed.err
    image = pushed.last_line
    _layer_worker(api, seed, release=release.version if record_release else None, image=image)
    api.store.patch("machineconfigs", machineconfig.name_for("worker"),
                    {"metadata": {"annotations": {machineconfig.PROJECT_ANNOTATION: folder.name}}})
    return image


def test_plan_to_the_recommended_update_reports_skew_against_the_new_base(
        tmp_path, kube_api, kubeconfig, tool_env, monkeypatch, registry, upgrade_releases, rhcos_layer):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    rel = upgrade_releases
    seed = seed_release(kube_api, rel["4.16.3"])
    folder = _project_on(tmp_path, "chrony", rel["4.16.3"], registry)
    today = _applied(kube_api, seed, rhcos_layer, folder, rel["4.16.3"])
    seed_updates(kube_api, rel, current="4.16.3", available=["4.16.8"],
                 conditional={"4.17.2": [risk("OVNDropsTraffic", "Pods lose traffic after the upgrade")]})

    result = rhcos_layer(["-v", "upgrade", "plan", "-o", "json"], folder)
    assert result.code == 0, result.err
    token = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    for secret in (registry.password, token):  # pulls, pushes and the rpm containers: never in the output
        assert secret not in result.out + result.err
    plan = json.loads(result.out)
    assert (plan["target"]["version"], plan["target"]["image"]) == ("4.16.8", rel["4.16.8"].payload)
    assert [(u["version"], [r["name"] for r in u["risks"]]) for u in plan["conditional_updates"]] == [
        ("4.17.2", ["OVNDropsTraffic"])]
    [worker] = plan["pools"]
    assert (worker["state"], worker["current_image"], worker["new_base"], worker["new_extensions"]) == (
        "ready", today, rel["4.16.8"].base, rel["4.16.8"].extensions)
    node = rel["4.16.8"].node
    assert [(s["component"], s["image_version"], s["base_version"], s["replaced"]) for s in worker["skew"]] == [
        ("kubelet", node.kubelet_rpm, node.kubelet_rpm, False),
        ("cri-o", node.crio, node.crio, False),
        ("kernel", node.kernel, node.kernel, False),
    ]
    # the image the pool runs today, against the skew policy: 4.16's kubelet under 4.16.8's control plane
    assert (worker["current_kubelet"], worker["kubelet_minors_behind"], worker["kubelet_skew_allowed"]) == (
        rel["4.16.3"].node.kubelet_rpm, 0, 3)
    assert worker["notes"] == []

    # a conditional update only when named, and then with its risks
    risky = rhcos_layer(["upgrade", "plan", "--to", "4.17.2"], folder)
    assert risky.code == 0, risky.err
    lines = risky.out.splitlines()
    assert f"target: 4.17.2 {rel['4.17.2'].payload} (--to)" in lines
    assert ("  RISK OVNDropsTraffic: Pods lose traffic after the upgrade"
            " (https://issues.redhat.com/browse/OCPBUGS-00000)") in lines
    assert "  kubelet today: " + rel["4.16.3"].node.kubelet_rpm + ", 1 minor(s) behind the target's control plane" \
        " (allowed: 3)" in lines


def test_a_kernel_override_is_flagged_as_skew(tmp_path, tool_env, registry, upgrade_releases, rhcos_layer):
    rel = upgrade_releases
    kernel = "5.14.0-503.11.1.el9_5"
    rpms = " ".join(f"https://mirror.example.com/kernel/{name}-{kernel}.x86_64.rpm"
                    for name in ("kernel", "kernel-core", "kernel-modules", "kernel-modules-core",
                                 "kernel-modules-extra"))
    folder = _project_on(tmp_path, "rtkernel", rel["4.16.3"], registry,
                         f"RUN rpm-ostree override replace {rpms} && \\\n    ostree container commit\n")
    result = rhcos_layer(["upgrade", "plan", "--release", rel["4.17.2"].payload, "--project", str(folder),
                          "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    [only] = json.loads(result.out)["pools"]
    assert only["state"] == "ready" and only["new_base"] == rel["4.17.2"].base
    skew = {s["component"]: s for s in only["skew"]}
    assert (skew["kernel"]["image_version"], skew["kernel"]["base_version"], skew["kernel"]["replaced"]) == (
        kernel, rel["4.17.2"].kernel, True)
    assert (skew["kubelet"]["replaced"], skew["cri-o"]["replaced"]) == (False, False)
    assert only["notes"] == [f"kernel: the layer replaces the base's {rel['4.17.2'].kernel} with {kernel}: rebuild"
                             " with the kernel RPMs matching the new release, or drop the override"]
    text = rhcos_layer(["upgrade", "plan", "--release", rel["4.17.2"].payload, "--project", str(folder)],
                       tmp_path)
    assert f"  kernel: {kernel} (REPLACED by the layer; base {rel['4.17.2'].kernel})" in text.out.splitlines()


def test_a_build_that_fails_only_on_the_new_base(tmp_path, kube_api, kubeconfig, tool_env, monkeypatch, registry,
                                                 upgrade_releases, rhcos_layer):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    rel = upgrade_releases
    seed = seed_release(kube_api, rel["4.16.3"])
    step = ("RUN grep -q 'OPENSHIFT_VERSION=\"4.16\"' /etc/os-release || "
            "{ echo 'vendor-driver: no build for this kernel' >&2; exit 1; }\n")
    folder = _project_on(tmp_path, "driver", rel["4.16.3"], registry, step)
    _applied(kube_api, seed, rhcos_layer, folder, rel["4.16.3"])  # builds on 4.16.3
    seed_updates(kube_api, rel, current="4.16.3", available=["4.16.8", "4.17.2"])

    z_stream = rhcos_layer(["upgrade", "plan", "--to", "4.16.8", "-o", "json"], folder)
    assert z_stream.code == 0, z_stream.err
    result = rhcos_layer(["upgrade", "plan", "-o", "json"], folder)  # the newest: 4.17.2
    assert result.code == 20, result.err
    plan = json.loads(result.out)
    assert plan["target"]["version"] == "4.17.2" and plan["ready"] is False
    [worker] = plan["pools"]
    assert (worker["state"], worker["new_image"], worker["new_base"]) == ("build-failed", None, rel["4.17.2"].base)
    assert "vendor-driver: no build for this kernel" in worker["log_tail"]
    assert "Error: upgrade to 4.17.2 is not ready: pool worker: build-failed" in result.err


def test_a_rhel10_pool_is_rebuilt_on_rhel_coreos_10(tmp_path, kube_api, kubeconfig, tool_env, monkeypatch,
                                                   registry, upgrade_releases, rhcos_layer):
    rel = upgrade_releases
    seed = seed_release(kube_api, rel["4.16.3"])
    folder = _project_on(tmp_path, "ten", rel["4.16.3"], registry)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    _applied(kube_api, seed, rhcos_layer, folder, rel["4.16.3"])
    kube_api.store.patch("machineconfigpools", "worker", {"spec": {"osImageStream": {"name": "rhel-10"}}})
    # --release with --kubeconfig: any payload, for the cluster's pools
    result = rhcos_layer(["upgrade", "plan", "--release", rel["4.21.0"].payload, "--project", str(folder),
                          "--kubeconfig", str(kubeconfig), "-o", "json"], folder)
    assert result.code == 0, result.err
    [worker] = json.loads(result.out)["pools"]
    assert (worker["stream"], worker["new_base"]) == ("rhel-coreos-10", rel["4.21.0"].os_images["rhel-coreos-10"])
    kernel = {s["component"]: s for s in worker["skew"]}["kernel"]
    assert (kernel["image_version"], kernel["base_version"]) == (NODE_VERSIONS["4.21.0/rhel-10"].kernel,) * 2


def test_plans_for_several_releases_push_each_image_once(tmp_path, tool_env, registry, upgrade_releases,
                                                         rhcos_layer):
    rel = upgrade_releases
    folder = _project_on(tmp_path, "pipeline", rel["4.16.3"], registry)
    images = {}
    for version in ("4.16.8", "4.17.2"):
        result = rhcos_layer(["upgrade", "plan", "--release", rel[version].payload, "--project", str(folder),
                              "-o", "json"], tmp_path)
        assert result.code == 0, result.err
        images[version] = json.loads(result.out)["pools"][0]["new_image"]
    assert images["4.16.8"] != images["4.17.2"]
    mark = access_mark(registry)
    again = rhcos_layer(["upgrade", "plan", "--release", rel["4.16.8"].payload, "--project", str(folder), "-o",
                         "json"], tmp_path)
    assert again.code == 0, again.err
    assert json.loads(again.out)["pools"][0]["new_image"] == images["4.16.8"]
    # the image 4.16.8 needs is there: no upload, no manifest written
    assert [e for e in registry.access_entries()[mark:] if e.method in ("PUT", "POST", "PATCH")] == []


def test_status_reads_the_release_from_the_image_when_the_machineconfig_does_not_say(
        tmp_path, kube_api, kubeconfig, tool_env, monkeypatch, registry, upgrade_releases, rhcos_layer):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    rel = upgrade_releases
    seed = seed_release(kube_api, rel["4.16.3"])
    folder = write_project(tmp_path / "old", rel["4.16.3"].base, LAYER, image=f"{registry.host}/layered/old")
    (folder / "rhcos-layer.yaml").write_text(f"image: {registry.host}/layered/old\n"
                                            f"base:\n  release: {rel['4.16.3'].payload}\n")
    _applied(kube_api, seed, rhcos_layer, folder, rel["4.16.3"], record_release=False)
    _upgraded(kube_api, ["4.16.3", "4.16.8"], rel["4.16.8"].base)
    result = rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    [worker] = json.loads(result.out)
    assert (worker["drift"], worker["built_for"], worker["behind"], worker["behind_versions"]) == (
        True, "4.16.3", 1, ["4.16.8"])


def test_apply_records_the_release_the_image_was_built_for(tmp_path, kube_api, kubeconfig, tool_env, monkeypatch,
                                                          registry, upgrade_releases, rhcos_layer):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    rel = upgrade_releases
    seed_release(kube_api, rel["4.16.3"], pull_secret=registry.auth_config())
    folder = write_project(tmp_path / "labelled", rel["4.16.3"].base, LAYER)
    (folder / "rhcos-layer.yaml").write_text(f"image: {registry.host}/layered/labelled\n"
                                            f"base:\n  release: {rel['4.16.3'].payload}\n")
    assert rhcos_layer(["build"], folder).code == 0
    pushed = rhcos_layer(["push"], folder)
    assert pushed.code == 0, pushed.err
    applied = rhcos_layer(["apply", "--pool", "worker", "--image", pushed.last_line, "--no-wait",
                           "--ignore-preflight-errors", "LoopbackRegistry,NodesCanPull"], folder)
    assert applied.code == 0, applied.err
    mc = kube_api.store.get("machineconfigs", machineconfig.name_for("worker"))
    assert mc["metadata"]["annotations"][machineconfig.RELEASE_ANNOTATION] == "4.16.3"


def test_a_refused_push_is_reported_not_ready(tmp_path, tool_env, registry, upgrade_releases, rhcos_layer):
    rel = upgrade_releases
    folder = _project_on(tmp_path, "refused", rel["4.16.3"], registry)
    wrong = registry.write_authfile(tmp_path / "wrong.json", password="not-the-password")
    result = rhcos_layer(["upgrade", "plan", "--release", rel["4.16.8"].payload, "--project", str(folder),
                          "--push-authfile", str(wrong), "-o", "json"], tmp_path)
    assert result.code == 20, result.err
    [only] = json.loads(result.out)["pools"]
    assert (only["state"], only["new_image"], only["built"]) == ("push-failed", None, True)
    assert only["reason"].startswith(f"the push failed: registry {registry.host} rejected the credentials")
    assert "not-the-password" not in result.out + result.err


def test_rpm_answers_are_kept_by_image_id(tmp_path, tool_env, registry, upgrade_releases, rhcos_layer):
    rel = upgrade_releases
    folder = _project_on(tmp_path, "cached", rel["4.16.3"], registry)
    args = ["upgrade", "plan", "--release", rel["4.16.8"].payload, "--project", str(folder), "-o", "json"]
    first = rhcos_layer(args, tmp_path)
    assert first.code == 0, first.err
    kept = sorted((Path(tool_env["HOME"]) / ".cache" / "rhcos-layer" / "rpm").glob("*.json"))
    assert len(kept) == 2  # the new image's answers and the new base's
    for path in kept:  # answers that only the cache can give: a second plan reads them, no container runs
        data = json.loads(path.read_text())
        data["answers"][4] = [0, "kernel-9.9.9-1.el9.x86_64\n"]
        path.write_text(json.dumps(data))
    second = rhcos_layer(args, tmp_path)
    assert second.code == 0, second.err
    kernel = {s["component"]: s for s in json.loads(second.out)["pools"][0]["skew"]}["kernel"]
    assert (kernel["image_version"], kernel["base_version"]) == ("9.9.9-1.el9", "9.9.9-1.el9")
    for path in kept:  # a damaged file is asked again, never trusted
        path.write_text("{")
    third = rhcos_layer(args, tmp_path)
    kernel = {s["component"]: s for s in json.loads(third.out)["pools"][0]["skew"]}["kernel"]
    assert kernel["base_version"] == rel["4.16.8"].kernel

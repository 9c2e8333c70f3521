"""upgrade plan for real: podman, the TLS + password registry, fake bases per release, the emulated cluster."""

from __future__ import annotations

import json

from rhcos_layer import machineconfig
from rhcos_layer.adapters import engine as engine_mod
from tests.integration.conftest import write_project
from tests.support.kube import seed_openshift

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


def _layer_worker(api, seed, release=None, image=LAYERED):
    """What a finished rollout leaves: our MachineConfig and a rendered config booting the image."""
    api.store.put(machineconfig.render("worker", image, base=seed.base_image, release=release, project="my-layer"))
    rendered = dict(api.store.get("machineconfigs", seed.rendered["worker"]))
    rendered["metadata"] = {"name": "rendered-worker-" + "5" * 32}
    rendered["spec"] = dict(rendered["spec"], osImageURL=image)
    api.store.put(rendered)
    name = rendered["metadata"]["name"]
    api.store.patch("machineconfigpools", "worker",
                    {"spec": {"configuration": {"name": name}}, "status": {"configuration": {"name": name}}})


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
            worker["next_command"]) == ("4.16.3", "4.17.2", 2, ["4.16.8", "4.17.2"], "rhcos-layer upgrade plan")
    text = rhcos_layer(["status", "--pool", "worker"], tmp_path)
    assert ("  BEHIND: built for 4.16.3, 2 release(s) behind the cluster's 4.17.2 (4.16.8, 4.17.2):"
            " run `rhcos-layer upgrade plan`") in text.out.splitlines()


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

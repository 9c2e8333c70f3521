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

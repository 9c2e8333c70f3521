"""status against the emulated OpenShift API: what each pool runs, drift, and its cost."""

from __future__ import annotations

import json

import pytest

from rhcos_layer import machineconfig
from tests.support.kube import seed_openshift

IMAGE = "registry.example.com/ops/rhcos-layered@sha256:" + "4" * 64


@pytest.fixture
def logged_in(kubeconfig, tool_env, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    return kubeconfig


def _layer_worker(api, seed, image=IMAGE):
    """What a finished rollout leaves: our MachineConfig and a rendered config booting the image."""
    api.store.put(machineconfig.render("worker", image, base=seed.base_image))
    rendered = dict(api.store.get("machineconfigs", seed.rendered["worker"]))
    rendered["metadata"] = {"name": "rendered-worker-" + "5" * 32}
    rendered["spec"] = dict(rendered["spec"], osImageURL=image)
    api.store.put(rendered)
    name = rendered["metadata"]["name"]
    api.store.patch("machineconfigpools", "worker",
                    {"spec": {"configuration": {"name": name}}, "status": {"configuration": {"name": name}}})


def test_a_fresh_cluster_runs_the_base(tmp_path, kube_api, logged_in, rhcos_layer):
    seed = seed_openshift(kube_api)
    result = rhcos_layer(["status", "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    pools = {p["name"]: p for p in json.loads(result.out)}
    assert set(pools) == {"master", "worker"}
    worker = pools["worker"]
    assert (worker["layered"], worker["image"], worker["drift"]) == (False, seed.base_image, False)
    assert (worker["machines"], worker["updated"], worker["degraded"]) == (3, 3, 0)
    assert worker["rendered"] == seed.rendered["worker"]


def test_layered_pool_and_drift_after_an_upgrade(tmp_path, kube_api, logged_in, rhcos_layer):
    seed = seed_openshift(kube_api)
    _layer_worker(kube_api, seed)
    text = rhcos_layer(["status", "--pool", "worker"], tmp_path)
    assert text.code == 0, text.err
    assert text.out.splitlines()[:3] == [
        f"worker: layered {IMAGE}",
        f"  nodes: 3/3 updated, 3 ready, 0 degraded (up to date); rendered config rendered-worker-{'5' * 32}",
        "  managed by rhcos-layer: 99-zz-rhcos-layer-0-worker",
    ]
    assert "DRIFT" not in text.out
    new_base = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "6" * 64
    kube_api.store.patch("configmaps", "machine-config-osimageurl", {"data": {"baseOSContainerImage": new_base}},
                         namespace="openshift-machine-config-operator")
    drifted = rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path)
    [worker] = json.loads(drifted.out)
    assert worker["drift"] is True and worker["built_on"] == seed.base_image and worker["base"] == new_base
    assert "DRIFT: built on" in rhcos_layer(["status", "--pool", "worker"], tmp_path).out


def test_unknown_pool(tmp_path, kube_api, logged_in, rhcos_layer):
    seed_openshift(kube_api)
    result = rhcos_layer(["status", "--pool", "infra"], tmp_path)
    assert result.code == 3
    assert "--pool infra: no such machine config pool (the cluster has: master, worker)" in result.err


def test_status_of_a_2000_node_pool_costs_three_requests(tmp_path, kube_api, logged_in, rhcos_layer):
    seed_openshift(kube_api, workers=2000)
    kube_api.reset_requests()
    result = rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    assert json.loads(result.out)[0]["machines"] == 2000
    api_requests = [r for r in kube_api.requests if r[1].startswith(("/api", "/apis"))]
    # plus the MachineOSConfigs, once per command (v1, then v1alpha1 where v1 is 404)
    moscs = [r for r in api_requests if r[1].endswith("/machineosconfigs")]
    assert len(moscs) == 2 and len(api_requests) - len(moscs) == 3, api_requests


def test_status_watch_costs_three_requests_per_refresh_on_2000_nodes(tmp_path, kube_api, logged_in, rhcos_layer):
    """The watch follows an update to its end; each refresh is the same three lists, not one per node."""
    import threading
    import time

    seed = seed_openshift(kube_api, workers=2000)
    target = "rendered-worker-" + "9" * 32
    rendered = dict(kube_api.store.get("machineconfigs", seed.rendered["worker"]), metadata={"name": target})
    kube_api.store.put(rendered)
    kube_api.store.patch("machineconfigpools", "worker", {"spec": {"configuration": {"name": target}},
                                                          "status": {"updatedMachineCount": 0}})
    kube_api.reset_requests()

    def finish_after_some_refreshes() -> None:
        deadline = time.monotonic() + 60
        while kube_api.count("GET", "/apis/machineconfiguration.openshift.io/v1/machineconfigpools") < 4:
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        kube_api.store.patch("machineconfigpools", "worker", {"status": {
            "configuration": {"name": target}, "updatedMachineCount": 2000}})

    finisher = threading.Thread(target=finish_after_some_refreshes)
    finisher.start()
    result = rhcos_layer(["status", "--watch", "--pool", "worker"], tmp_path,
                         env={"RHCOS_LAYER_WATCH_INTERVAL": "0.05"})
    finisher.join()
    assert result.code == 0, result.err
    assert "0/2000 updated" in result.out and "2000/2000 updated" in result.out
    refreshes = kube_api.count("GET", "/apis/machineconfiguration.openshift.io/v1/machineconfigpools")
    api_requests = [r for r in kube_api.requests if r[1].startswith(("/api", "/apis"))]
    assert refreshes >= 5
    moscs = [r for r in api_requests if r[1].endswith("/machineosconfigs")]  # once per command
    assert len(moscs) == 2 and len(api_requests) - len(moscs) == 3 * refreshes, api_requests[:12]
    assert not [r for r in api_requests if r[1].startswith("/api/v1/nodes")]

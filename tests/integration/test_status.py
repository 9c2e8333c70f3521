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


MCO_API = "/apis/machineconfiguration.openshift.io/v1"
KB = 1024


def _sent(api) -> int:
    return sum(c.sent for c in api.calls if c.path.startswith(("/api/", "/apis/")))


def _realistic(api, workers=2000):
    """2,000 nodes of ~8 KB of metadata, 100 old rendered configs of ~500 KB, the live one as heavy."""
    from tests.support import bulk

    seed = seed_openshift(api, workers=workers)
    bulk.fatten_nodes(api)
    bulk.pile_up_rendered(api, "worker", 100, 500 * KB)
    bulk.fatten_rendered(api, seed.rendered["worker"], 500 * KB)
    return seed


def test_status_of_a_2000_node_pool_reads_its_rendered_config_not_all_of_them(tmp_path, kube_api, logged_in,
                                                                              rhcos_layer):
    seed = _realistic(kube_api)
    kube_api.reset_requests()
    result = rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    [worker] = json.loads(result.out)
    assert (worker["machines"], worker["image"]) == (2000, seed.base_image)
    api_requests = [r[:2] for r in kube_api.requests if r[1].startswith(("/api", "/apis"))]
    # plus the MachineOSConfigs, once per command (v1, then v1alpha1 where v1 is 404)
    moscs = [r for r in api_requests if r[1].endswith("/machineosconfigs")]
    assert len(moscs) == 2
    assert [r for r in api_requests if r not in moscs] == [("GET", f"{MCO_API}/machineconfigpools"),
                            ("GET", "/api/v1/namespaces/openshift-machine-config-operator/configmaps/"
                                    "machine-config-osimageurl"),
                            ("GET", f"{MCO_API}/machineconfigs"),  # rhcos-layer's own, by label
                            ("GET", f"{MCO_API}/machineconfigs/{seed.rendered['worker']}")]
    assert kube_api.requests[2].query == {"labelSelector": "app.kubernetes.io/managed-by=rhcos-layer"}
    assert _sent(kube_api) < 500 * KB + 64 * KB  # the one rendered config, not the 50 MB of all of them


def test_status_watch_quiet_refreshes_on_2000_nodes_cost_three_small_requests(tmp_path, kube_api, logged_in,
                                                                              rhcos_layer):
    """The watch follows an update to its end; a refresh after the first reads three small things, never a
    node, and each rendered config once."""
    import threading
    import time

    seed = _realistic(kube_api)
    target = "rendered-worker-" + "9" * 32
    rendered = dict(kube_api.store.get("machineconfigs", seed.rendered["worker"]), metadata={"name": target})
    kube_api.store.put(rendered)
    kube_api.store.patch("machineconfigpools", "worker", {"spec": {"configuration": {"name": target}},
                                                          "status": {"updatedMachineCount": 0}})
    kube_api.reset_requests()

    def finish_after_some_refreshes() -> None:
        deadline = time.monotonic() + 60
        while kube_api.count("GET", f"{MCO_API}/machineconfigpools") < 6:
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
    calls = [c for c in kube_api.calls if c.path.startswith(("/api/", "/apis/"))]
    moscs = [c for c in calls if c.path.endswith("/machineosconfigs")]  # once per command
    assert len(moscs) == 2
    calls = [c for c in calls if c not in moscs]
    starts = [i for i, c in enumerate(calls) if c.path == f"{MCO_API}/machineconfigpools"]
    assert len(starts) >= 6
    # the first refresh reads the live rendered config once; the later ones read pools, ConfigMap, our MCs
    assert [c.path for c in calls if c.path.startswith(f"{MCO_API}/machineconfigs/")] == [
        f"{MCO_API}/machineconfigs/{seed.rendered['worker']}", f"{MCO_API}/machineconfigs/{target}"]
    quiet = [calls[a:b] for a, b in zip(starts[1:], starts[2:] + [len(calls)])]
    quiet = [r for r in quiet if not any("/machineconfigs/" in c.path for c in r)]
    assert len(quiet) >= 4
    for refresh in quiet:
        assert len(refresh) == 3, [c.path for c in refresh]
        assert sum(c.sent for c in refresh) <= 64 * KB
    assert not [c for c in calls if c.path.startswith("/api/v1/nodes")]

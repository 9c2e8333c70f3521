"""Pools with on-cluster layering (a MachineOSConfig): apply refuses them, status shows the image
their nodes really boot; clusters without the API, or a login that may not list it, still work.

Runs the real command against the emulated API (tests/support/kube.py, which serves MachineOSConfig
at the version each release has) driven by the simulated MCO (tests/support/mco.py, whose build
controller builds such a pool's image on the cluster's base, whatever osImageURL says).
"""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest

from tests.integration.conftest import seed_on_fake_base as _seed
from tests.support.kube import KubeAPI
from tests.support.mco import SimulatedMCO

MCO = "machineconfiguration.openshift.io"
MC_NAME = "99-zz-rhcos-layer-0-worker"
PUSH = "registry.example.com/ops/worker-os:latest"


def _mosc(pool: str, version: str = "v1") -> Dict[str, Any]:
    if version == "v1alpha1":  # 4.16, 4.17 (Tech Preview)
        spec: Dict[str, Any] = {"machineConfigPool": {"name": pool}, "buildInputs": {
            "imageBuilder": {"imageBuilderType": "PodImageBuilder"}, "baseImagePullSecret": {"name": "pull"},
            "renderedImagePushSecret": {"name": "push"}, "renderedImagePushspec": PUSH,
            "containerFile": [{"containerfileArch": "noarch", "content": "FROM configs AS final\n"}]},
            "buildOutputs": {"currentImagePullSecret": {"name": "pull"}}}
    else:
        spec = {"machineConfigPool": {"name": pool}, "imageBuilder": {"imageBuilderType": "Job"},
                "renderedImagePushSecret": {"name": "push"}, "renderedImagePushSpec": PUSH,
                "containerFile": [{"containerfileArch": "NoArch", "content": "FROM configs AS final\n"}]}
    return {"apiVersion": f"{MCO}/{version}", "kind": "MachineOSConfig", "metadata": {"name": pool}, "spec": spec}


def _writes(api: KubeAPI) -> list:
    return [r for r in api.requests if r[0] in ("POST", "PUT", "PATCH", "DELETE")]


def test_apply_refuses_a_pool_that_builds_its_image_on_the_cluster(tmp_path, logged_in, registry, fake_base,
                                                                   rhcos_layer):
    api = logged_in
    seed = _seed(api, registry, fake_base, "4.19.2")
    api.store.put(_mosc("worker"))
    with SimulatedMCO(api) as sim:
        assert sim.wait_idle(10)
        built = api.store.get("machineosconfigs", "worker")["status"]["currentImagePullSpec"]
        api.reset_requests()
        # even with every ignorable check ignored: this one cannot be
        result = rhcos_layer(["apply", "--pool", "worker", "--image", fake_base.pullspec, "--wait",
                              "--ignore-preflight-errors", "all"], tmp_path)
        assert result.code == 12, result.err
        assert ("pool worker builds its own image on the cluster (MachineOSConfig worker): a MachineConfig with"
                " osImageURL would only trigger a rebuild on the cluster's base and would never be booted;"
                " nothing was changed") in result.err
        assert "MachineOSConfig worker's containerFile" in result.err
        assert "oc delete machineosconfig worker" in result.err
        assert "Traceback" not in result.err
        assert api.store.get("machineconfigs", MC_NAME) is None and _writes(api) == []
        assert sim.wait_idle(10)
        assert sim.history == []

        # status shows what the nodes boot: the build, not the rendered config's osImageURL (the base)
        status = rhcos_layer(["status", "-o", "json"], tmp_path)
        assert status.code == 0, status.err
        pools = {p["name"]: p for p in json.loads(status.out)}
        assert (pools["worker"]["image"], pools["worker"]["on_cluster"], pools["worker"]["layered"]) == (
            built, "worker", True)
        assert (pools["master"]["image"], pools["master"]["on_cluster"]) == (seed.base_image, None)
        text = rhcos_layer(["status", "--pool", "worker"], tmp_path)
        assert text.out.splitlines()[0] == f"worker: built on the cluster {built} (MachineOSConfig worker)"

        # another pool of the same cluster is fine (the check passes; dry run writes nothing)
        other = rhcos_layer(["apply", "--pool", "master", "--image", fake_base.pullspec, "--dry-run",
                             "--ignore-preflight-errors", "all", "-o", "json"], tmp_path)
        assert other.code == 0, other.err
        [plan] = json.loads(other.out)
        assert {"name": "OnClusterLayering", "ok": True, "ignored": False,
                "message": "pool master has no MachineOSConfig", "hint": ""} in plan["checks"]


def test_apply_refuses_a_tech_preview_v1alpha1_machineosconfig_too(tmp_path, logged_in, registry, fake_base,
                                                                  rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.16.3", "TechPreviewNoUpgrade")
    api.store.put(_mosc("worker", "v1alpha1"))
    with SimulatedMCO(api) as sim:
        assert sim.wait_idle(10)
        built = api.store.get("machineosconfigs", "worker")["status"]["currentImagePullspec"]
    result = rhcos_layer(["apply", "--pool", "worker", "--image", fake_base.pullspec,
                          "--ignore-preflight-errors", "all"], tmp_path)
    assert result.code == 12, result.err
    assert "pool worker builds its own image on the cluster (MachineOSConfig worker)" in result.err
    status = rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path)
    assert json.loads(status.out)[0]["image"] == built


@pytest.mark.parametrize("version", ["4.14.30", "4.16.3", "4.19.2"])
def test_clusters_without_on_cluster_layering_are_fine(tmp_path, logged_in, registry, fake_base, rhcos_layer,
                                                       version):
    api = logged_in
    seed = _seed(api, registry, fake_base, version)
    result = rhcos_layer(["apply", "--pool", "worker", "--image", fake_base.pullspec, "--dry-run",
                          "--ignore-preflight-errors", "all", "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    [plan] = json.loads(result.out)
    assert [c["ok"] for c in plan["checks"] if c["name"] == "OnClusterLayering"] == [True]
    status = rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path)
    assert status.code == 0, status.err
    assert json.loads(status.out)[0]["image"] == seed.base_image
    # asked for (v1, then the Tech Preview v1alpha1), and a 404 is "no on-cluster layering here"
    answers = {c.path.split("/")[3]: c.status for c in api.calls if c.path.endswith("/machineosconfigs")}
    assert answers == ({"v1": 200} if version == "4.19.2" else {"v1": 404, "v1alpha1": 404})


def test_a_login_that_may_not_list_machineosconfigs_still_applies_with_a_warning(
        tmp_path, logged_in, registry, fake_base, rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    api.forbid("list", "machineosconfigs")
    result = rhcos_layer(["apply", "--pool", "worker", "--image", fake_base.pullspec, "--dry-run",
                          "--ignore-preflight-errors", "all"], tmp_path)
    assert result.code == 0, result.err
    assert ("not allowed to list machineosconfigs: cannot tell whether pool worker uses on-cluster layering"
            " (if it does, this image will never be booted)") in result.err
    status = rhcos_layer(["status", "--pool", "worker"], tmp_path)
    assert status.code == 0, status.err

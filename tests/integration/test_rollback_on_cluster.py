"""``rollback`` for pools whose image the cluster builds (a MachineOSConfig): our MachineOSConfig is
deleted and the nodes followed back to the base (the rendered config's osImageURL, no image annotations
left); ``--to-previous`` restores the spec ``apply --on-cluster`` recorded, and the rebuild and rollout are
followed; a MachineOSConfig rhcos-layer did not make is refused with the ``oc`` command.

Runs the real command against the emulated API (tests/support/kube.py) driven by the simulated MCO
(tests/support/mco.py), whose build controller builds the MachineOSConfig's Containerfile and rolls the
pool to the result.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest

from tests.integration.test_status_on_cluster import BROKEN, GOOD, MCO, OURS, _seed, mosc, rig_mosc, rig_secrets
from tests.support.kube import KubeAPI

CURRENT_IMAGE = f"{MCO}/currentImage"
DESIRED_IMAGE = f"{MCO}/desiredImage"
PREVIOUS = "rhcos-layer.io/previous-spec"


def _writes(api: KubeAPI) -> list:
    """The requests that change the cluster (access reviews ask, they change nothing)."""
    return [r for r in api.requests if r[0] in ("POST", "PUT", "PATCH", "DELETE")
            and not r[1].endswith("/selfsubjectaccessreviews")]


def _nodes(api: KubeAPI, pool: str = "worker") -> List[Dict[str, Any]]:
    return [n for n in api.store.list("nodes") if f"node-role.kubernetes.io/{pool}" in n["metadata"]["labels"]]


def _images(api: KubeAPI, pool: str = "worker") -> Dict[str, Any]:
    """Each of the pool's nodes: (currentImage, desiredImage) annotations, None where absent."""
    found = {}
    for node in _nodes(api, pool):
        ann = node["metadata"].get("annotations") or {}
        found[node["metadata"]["name"]] = (ann.get(CURRENT_IMAGE) or None, ann.get(DESIRED_IMAGE) or None)
    return found


def _built_after_an_update(api: KubeAPI, registry, content: str, previous: str) -> Dict[str, Any]:
    """Our MachineOSConfig with ``content``, as apply --on-cluster leaves it after an update from ``previous``
    (the spec it replaced in rhcos-layer.io/previous-spec, compact JSON). Returns that previous spec."""
    obj = rig_mosc(registry, content=content)
    earlier = json.loads(json.dumps(obj["spec"]))
    earlier["containerFile"][0]["content"] = previous
    obj["metadata"]["annotations"] = {PREVIOUS: json.dumps(earlier, sort_keys=True, separators=(",", ":"))}
    api.store.put(obj)
    return earlier


def test_a_machineosconfig_rhcos_layer_did_not_make_is_refused(tmp_path, logged_in, registry, fake_base,
                                                               rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    api.store.put(mosc("worker"))  # by hand (oc apply of the docs' example): no managed-by label
    api.reset_requests()
    for extra in ([], ["--to-previous"], ["--dry-run"]):
        result = rhcos_layer(["rollback", "--pool", "worker", "--wait", *extra], tmp_path)
        assert result.code == 12, result.err
        assert ("pool worker builds its image on the cluster with MachineOSConfig worker, which rhcos-layer did"
                " not make (no label app.kubernetes.io/managed-by=rhcos-layer): rollback leaves it alone;"
                " nothing was changed") in result.err
        assert "oc delete machineosconfig worker" in result.err
        assert "Traceback" not in result.err
    assert _writes(api) == []
    assert api.store.get("machineosconfigs", "worker") is not None


def test_dry_run_and_no_wait_delete_only_our_machineosconfig(tmp_path, logged_in, registry, fake_base, rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    api.store.put(mosc("worker", labels=OURS))
    api.store.put(mosc("master"))  # another pool's, by hand: not asked for, left alone
    dry = rhcos_layer(["rollback", "--pool", "worker", "--dry-run", "-o", "json"], tmp_path)
    assert dry.code == 0, dry.err
    assert json.loads(dry.out) == [{"pool": "worker", "action": "delete", "machineconfigs": [], "image": None,
                                    "dry_run": True, "machineosconfig": "worker"}]
    assert "worker: would delete MachineOSConfig worker" in dry.err
    assert _writes(api) == [] and api.store.get("machineosconfigs", "worker") is not None

    api.reset_requests()
    done = rhcos_layer(["rollback", "--pool", "worker", "--no-wait"], tmp_path)
    assert done.code == 0, done.err
    assert done.out == "worker: delete MachineOSConfig worker\n"
    assert "worker: deleted MachineOSConfig worker" in done.err
    deletes = [r for r in _writes(api)]
    assert [(r[0], r[1]) for r in deletes] == [
        ("DELETE", f"/apis/{MCO}/v1/machineosconfigs/worker")]
    assert api.store.get("machineosconfigs", "worker") is None
    assert api.store.get("machineosconfigs", "master") is not None


def test_a_login_that_may_not_delete_machineosconfigs_is_stopped_before_anything(tmp_path, logged_in, registry,
                                                                                 fake_base, rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    api.store.put(mosc("worker", labels=OURS))
    api.forbid("delete", "machineosconfigs")
    api.reset_requests()
    result = rhcos_layer(["rollback", "--pool", "worker", "--no-wait"], tmp_path)
    assert result.code == 10, result.err
    assert "not allowed to delete machineosconfigs.machineconfiguration.openshift.io" in result.err
    assert "nothing was changed" in result.err
    assert _writes(api) == []


def test_to_previous_without_a_recorded_spec_points_at_the_plain_rollback(tmp_path, logged_in, registry, fake_base,
                                                                          rhcos_layer):
    api = logged_in
    _seed(api, registry, fake_base, "4.19.2")
    api.store.put(mosc("worker", labels=OURS))
    result = rhcos_layer(["rollback", "--pool", "worker", "--to-previous"], tmp_path)
    assert result.code == 3, result.err
    assert ("--to-previous: pool worker has no earlier MachineOSConfig spec recorded (annotation"
            " rhcos-layer.io/previous-spec on MachineOSConfig worker)") in result.err
    assert "rhcos-layer rollback --pool worker" in result.err
    broken = mosc("worker", labels=OURS)
    broken["metadata"]["annotations"] = {PREVIOUS: "[1, 2"}
    api.store.put(broken)
    result = rhcos_layer(["rollback", "--pool", "worker", "--to-previous"], tmp_path)
    assert result.code == 3, result.err
    assert "annotation rhcos-layer.io/previous-spec of MachineOSConfig worker is not a JSON object" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("building_mco", [("4.19.2", ""), ("4.16.3", "TechPreviewNoUpgrade")], indirect=True)
def test_rollback_wait_brings_the_nodes_back_to_the_base(tmp_path, building_mco, kube_api, kubeconfig, tool_env,
                                                         monkeypatch, registry, rhcos_layer):
    api = kube_api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    rig_secrets(api, registry)
    version = "v1" if api.store.get("clusterversions", "version")["status"]["desired"]["version"] == "4.19.2" \
        else "v1alpha1"
    api.store.put(rig_mosc(registry, version=version))
    assert building_mco.wait_idle(120)
    status = api.store.get("machineosconfigs", "worker")["status"]
    built = status.get("currentImagePullSpec") or status.get("currentImagePullspec")
    assert built and set(_images(api).values()) == {(built, built)}
    rendered_before = api.store.get("machineconfigpools", "worker")["spec"]["configuration"]["name"]
    result = rhcos_layer(["rollback", "--pool", "worker", "--wait", "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    [done] = json.loads(result.out)
    assert (done["action"], done["machineosconfig"], done["machines"], done["updated"]) == (
        "delete", "worker", 2, 2)
    assert "worker: deleted MachineOSConfig worker" in result.err
    # back on the base: the same rendered config, whose osImageURL the nodes boot, no image annotation left
    assert done["rendered"] == rendered_before
    assert set(_images(api).values()) == {(None, None)}
    for node in _nodes(api):
        assert node["metadata"]["annotations"][f"{MCO}/currentConfig"] == rendered_before
    assert api.store.get("machineosconfigs", "worker") is None
    base = api.store.get("machineconfigs", rendered_before)["spec"]["osImageURL"]
    shown = json.loads(rhcos_layer(["status", "--pool", "worker", "-o", "json"], tmp_path).out)[0]
    assert (shown["mode"], shown["image"], shown["layered"]) == ("out-of-cluster", base, False)


def test_to_previous_restores_the_spec_and_follows_the_rebuild_and_rollout(tmp_path, building_mco, kube_api,
                                                                          kubeconfig, tool_env, monkeypatch,
                                                                          registry, rhcos_layer):
    api = kube_api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    rig_secrets(api, registry)
    now = "FROM configs AS final\nRUN echo new > /etc/layer\n"
    earlier = _built_after_an_update(api, registry, now, "FROM configs AS final\nRUN echo old > /etc/layer\n")
    assert building_mco.wait_idle(120)
    first = api.store.get("machineosconfigs", "worker")["status"]["currentImagePullSpec"]
    result = rhcos_layer(["rollback", "--pool", "worker", "--to-previous", "--wait", "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    restored = api.store.get("machineosconfigs", "worker")
    assert restored["spec"] == earlier
    # the spec it replaced is the previous one now: a second --to-previous goes back again
    assert json.loads(restored["metadata"]["annotations"][PREVIOUS])["containerFile"][0]["content"] == now
    assert restored["metadata"]["labels"] == OURS
    second = restored["status"]["currentImagePullSpec"]
    assert second != first
    [done] = json.loads(result.out)
    assert (done["action"], done["image"], done["updated"], done["machines"]) == ("re-apply", second, 2, 2)
    assert set(_images(api).values()) == {(second, second)}
    assert ("worker: set MachineOSConfig worker back to its previous spec: the cluster builds it (or reuses its"
            " earlier build)") in result.err
    build = restored["status"]["machineOSBuild"]["name"]
    assert f"worker: build {build} Succeeded (Job openshift-machine-config-operator/build-{build})" in result.err


def test_to_previous_wait_stops_on_a_failed_rebuild_with_its_log_command(tmp_path, building_mco, kube_api, kubeconfig,
                                                                        tool_env, monkeypatch, registry, rhcos_layer):
    api = kube_api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    rig_secrets(api, registry)
    _built_after_an_update(api, registry, GOOD, BROKEN)
    assert building_mco.wait_idle(120)
    good = api.store.get("machineosconfigs", "worker")["status"]["currentImagePullSpec"]
    result = rhcos_layer(["rollback", "--pool", "worker", "--to-previous", "--wait"], tmp_path)
    assert result.code == 22, result.err
    failed = [b for b in api.store.list("machineosbuilds")
              if any(c["type"] == "Failed" and c["status"] == "True" for c in b["status"]["conditions"])]
    assert len(failed) == 1
    job = failed[0]["status"]["builder"]["job"]["name"]
    assert f"pool worker: the build {failed[0]['metadata']['name']} (Job {job}) failed at " in result.err
    assert "Packages not found: rig-fail-x" in result.err  # the tail of the builder's log
    assert f"oc logs -n openshift-machine-config-operator job/{job}" in result.err
    assert "Traceback" not in result.err
    # the nodes keep the last good image
    assert set(_images(api).values()) == {(good, good)}


def test_to_previous_back_to_a_spec_the_cluster_still_has_a_build_of_reuses_it(
        tmp_path, building_mco, kube_api, kubeconfig, tool_env, monkeypatch, registry, rhcos_layer):
    api = kube_api
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    rig_secrets(api, registry)
    api.store.put(rig_mosc(registry, content=GOOD))
    assert building_mco.wait_idle(120)
    first = api.store.get("machineosconfigs", "worker")["status"]["currentImagePullSpec"]
    # apply --on-cluster of a changed Containerfile: the spec it replaced recorded, a second build rolled out
    _built_after_an_update(api, registry, GOOD + "RUN echo more > /etc/more\n", GOOD)
    assert building_mco.wait_idle(120)
    second = api.store.get("machineosconfigs", "worker")["status"]["currentImagePullSpec"]
    assert second != first and set(_images(api).values()) == {(second, second)}
    builds = len(api.store.list("machineosbuilds"))
    result = rhcos_layer(["rollback", "--pool", "worker", "--to-previous", "--wait", "--progress-deadline", "60s",
                          "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    # the first spec's build is there still: the MCO sends the nodes back to its image, no new build
    assert len(api.store.list("machineosbuilds")) == builds
    [done] = json.loads(result.out)
    assert (done["action"], done["image"], done["updated"]) == ("re-apply", first, 2)
    assert set(_images(api).values()) == {(first, first)}

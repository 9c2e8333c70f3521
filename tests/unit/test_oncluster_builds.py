"""Reading MachineOSBuilds for ``status``: the state, the builder and its log command, which build is current."""

from __future__ import annotations

from typing import Any, Dict, List

from rhcos_layer import oncluster

MCO = "machineconfiguration.openshift.io"


def _build(name: str, true: List[str], *, version: str = "v1", start: str = "2026-11-27T10:00:00Z",
           rendered: str = "rendered-worker-1") -> Dict[str, Any]:
    conditions = [{"type": t, "status": "True" if t in true else "False", "message": f"{t} message",
                   "lastTransitionTime": f"{t}-time"} for t in ("Prepared", "Building", "Succeeded", "Failed")]
    if version == "v1":  # openshift/api machineconfiguration/v1/types_machineosbuild.go
        spec: Dict[str, Any] = {"machineConfig": {"name": rendered}, "machineOSConfig": {"name": "worker"}}
        builder: Dict[str, Any] = {"builder": {"imageBuilderType": "Job", "job": {"name": f"build-{name}"}}}
    else:  # v1alpha1 (4.16, 4.17): desiredConfig, and a build Pod
        spec = {"desiredConfig": {"name": rendered}, "machineOSConfig": {"name": "worker"}}
        builder = {"builderReference": {"imageBuilderType": "PodImageBuilder", "buildPod": {"name": f"build-{name}"}}}
    return {"apiVersion": f"{MCO}/{version}", "metadata": {"name": name}, "spec": spec,
            "status": {"conditions": conditions, "buildStart": start, **builder}}


def test_a_failed_build_reads_failed_even_while_building_is_still_true() -> None:
    build = oncluster.build_of(_build("b", ["Building", "Failed"]))
    assert (build.state, build.since, build.message) == ("Failed", "Failed-time", "Failed message")
    assert build.log_command == "oc logs -n openshift-machine-config-operator job/build-b"


def test_v1alpha1_builds_name_their_pod_and_desired_config() -> None:
    build = oncluster.build_of(_build("b", ["Prepared"], version="v1alpha1"))
    assert (build.state, build.rendered, build.builder) == ("Prepared", "rendered-worker-1", "pod/build-b")
    assert build.log_command == "oc logs -n openshift-machine-config-operator pod/build-b"


def test_a_build_with_no_condition_true_is_pending_and_has_no_log_without_a_builder() -> None:
    raw = _build("b", [])
    del raw["status"]["builder"]
    build = oncluster.build_of(raw)
    assert (build.state, build.since, build.log_command) == ("Pending", None, None)


def test_the_current_build_is_the_newest_of_the_target_config_and_the_last_result_the_newest_finished() -> None:
    builds = oncluster.builds_of([
        _build("new", ["Building"], start="2026-11-27T12:00:00Z"),
        _build("old", ["Succeeded"], start="2026-11-27T11:00:00Z"),
        _build("elsewhere", ["Failed"], start="2026-11-27T13:00:00Z", rendered="rendered-worker-0"),
        {**_build("other-pool", ["Failed"]), "spec": {"machineOSConfig": {"name": "infra"}}},
    ], {"metadata": {"name": "worker"}})
    assert [b.name for b in builds] == ["old", "new", "elsewhere"]
    assert oncluster.current_build(builds, "rendered-worker-1").name == "new"  # type: ignore[union-attr]
    assert oncluster.current_build(builds, "rendered-worker-9") is None
    assert oncluster.last_result(builds).name == "elsewhere"  # type: ignore[union-attr]


def test_nodes_without_image_annotations_boot_the_rendered_configs_image() -> None:
    moving = {oncluster.CURRENT_IMAGE: "img@sha256:1", oncluster.DESIRED_IMAGE: "img@sha256:2"}
    metas = [{"name": "a", "annotations": moving}, {"name": "b", "annotations": {}}]
    assert oncluster.node_images(metas, "base") == {"current": {"img@sha256:1": 1, "base": 1},
                                                    "desired": {"img@sha256:2": 1, "base": 1}}

"""MachineOSBuilds, MachineOSConfigs and node metadata as the cluster hands them over, whatever their shape:
``status`` and ``rollback`` read them without failing, and what they read has the documented types."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer import oncluster
from rhcos_layer.errors import InvalidInput

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                   max_size=4),
                    max_leaves=20)
CONDITION = st.fixed_dictionaries({}, optional={
    "type": st.one_of(st.sampled_from(["Prepared", "Building", "Succeeded", "Failed", "Interrupted"]), JSON),
    "status": st.one_of(st.sampled_from(["True", "False"]), JSON),
    "message": JSON, "lastTransitionTime": JSON})
BUILD = st.fixed_dictionaries({}, optional={
    "apiVersion": st.one_of(st.sampled_from(["machineconfiguration.openshift.io/v1",
                                             "machineconfiguration.openshift.io/v1alpha1"]), JSON),
    "metadata": st.one_of(JSON, st.fixed_dictionaries({}, optional={
        "name": JSON, "creationTimestamp": JSON,
        "labels": st.one_of(JSON, st.fixed_dictionaries({"machineconfiguration.openshift.io/machine-os-config":
                                                         st.one_of(st.just("worker"), JSON)}))})),
    "spec": st.one_of(JSON, st.fixed_dictionaries({}, optional={
        "machineOSConfig": st.one_of(JSON, st.fixed_dictionaries({"name": st.one_of(st.just("worker"), JSON)})),
        "machineConfig": st.one_of(JSON, st.fixed_dictionaries({"name": JSON})),
        "desiredConfig": st.one_of(JSON, st.fixed_dictionaries({"name": JSON}))})),
    "status": st.one_of(JSON, st.fixed_dictionaries({}, optional={
        "conditions": st.one_of(JSON, st.lists(st.one_of(CONDITION, JSON), max_size=5)),
        "buildStart": JSON, "digestedImagePushSpec": JSON,
        "builder": st.one_of(JSON, st.fixed_dictionaries({"job": st.one_of(JSON, st.fixed_dictionaries(
            {"name": JSON}))})),
        "builderReference": st.one_of(JSON, st.fixed_dictionaries({"buildPod": st.one_of(
            JSON, st.fixed_dictionaries({"name": JSON}))}))})),
})
NODE = st.one_of(JSON, st.fixed_dictionaries({}, optional={"name": JSON, "annotations": st.one_of(
    JSON, st.dictionaries(st.sampled_from([oncluster.CURRENT_IMAGE, oncluster.DESIRED_IMAGE, "x"]), JSON))}))


@given(st.lists(st.one_of(BUILD, JSON), max_size=6), JSON)
def test_any_machineosbuild_list_reads_without_error(builds: Any, rendered: Any) -> None:
    mine = oncluster.builds_of(builds, {"metadata": {"name": "worker"}})
    for build in mine:
        assert build.state in (*oncluster.BUILD_CONDITIONS, oncluster.PENDING)
        shown = build.as_dict()
        assert set(shown) == {"name", "state", "since", "rendered", "builder", "image", "message", "log_command"}
        assert shown["log_command"] is None or shown["log_command"].startswith("oc logs -n ")
    current = oncluster.current_build(mine, rendered if isinstance(rendered, str) else "")
    assert current is None or current in mine
    last = oncluster.last_result(mine)
    assert last is None or last.state in oncluster.FINISHED


@given(st.lists(NODE, max_size=6))
def test_any_node_metadata_counts_every_node_once(metas: Any) -> None:
    counted = oncluster.node_images([m for m in metas if isinstance(m, dict)], "base@sha256:" + "0" * 64)
    nodes = len([m for m in metas if isinstance(m, dict)])
    assert sum(counted["current"].values()) == nodes and sum(counted["desired"].values()) == nodes
    assert all(isinstance(k, str) and k for k in counted["current"])


@given(JSON)
def test_any_machineosconfig_shape_reads_its_version_and_owner(obj: Any) -> None:
    assert oncluster.version_of(obj) if isinstance(obj, dict) else True
    if isinstance(obj, dict):
        assert isinstance(oncluster.is_ours(obj), bool)


ANNOTATION = st.one_of(JSON, st.text(max_size=60), JSON.map(lambda v: __import__("json").dumps(v)),
                       st.just("[" * 5000))


@given(ANNOTATION, st.one_of(JSON, st.fixed_dictionaries({"name": JSON})))
def test_any_previous_spec_annotation_is_a_spec_or_one_invalid_input_error(recorded: Any, metadata: Any) -> None:
    mosc = {"metadata": dict(metadata, annotations={oncluster.PREVIOUS_SPEC_ANNOTATION: recorded})
            if isinstance(metadata, dict) else metadata}
    try:
        previous = oncluster.previous_spec(mosc, "worker")
    except InvalidInput as exc:
        assert exc.message.startswith("--to-previous: ")
        assert exc.hint == "roll back to the base image with: rhcos-layer rollback --pool worker"
    else:
        assert isinstance(previous, dict) and previous

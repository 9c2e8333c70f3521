"""apply --on-cluster's rules that need no cluster: which build state a MachineOSBuild is in, the failed
step of a build log, the MachineOSConfig written on an update or a rebuild, the checks it may ignore."""

from __future__ import annotations

import json

import pytest

from rhcos_layer import apply
from rhcos_layer import oncluster_apply as core
from rhcos_layer.errors import InvalidInput

LOG = """\
STEP 1/3: FROM configs AS final
STEP 2/3: RUN rpm-ostree install usbguard
Installing usbguard...
STEP 3/3: RUN rpm-ostree install nope && ostree container commit
error: Packages not found: nope
\x1b[31mError: building at STEP "RUN rpm-ostree install nope && ostree container commit": exit status 1\x1b[0m
"""


def _build(**conditions: str) -> dict:
    return {"status": {"conditions": [{"type": t, "status": s} for t, s in conditions.items()]}}


def test_the_failed_step_and_its_last_error_are_found_in_a_buildah_log() -> None:
    step, error = core.failed_step(core.clean_log(LOG))
    assert step == "STEP 3/3: RUN rpm-ostree install nope && ostree container commit"
    assert error == "error: Packages not found: nope"  # the cause, not buildah's "building at STEP" after it
    assert core.failed_step(core.clean_log(LOG.replace("error: Packages not found: nope\n", ""))) == (
        step, 'Error: building at STEP "RUN rpm-ostree install nope && ostree container commit": exit status 1')


def test_a_multi_stage_builds_step_keeps_its_stage() -> None:
    log = ["[1/2] STEP 6/6: LABEL a=b", "[2/2] STEP 3/3: RUN exit 3", "about to fail",
           'Error: building at STEP "RUN exit 3": exit status 3']
    assert core.failed_step(log) == ("[2/2] STEP 3/3: RUN exit 3",
                                     'Error: building at STEP "RUN exit 3": exit status 3')


def test_an_error_before_the_last_step_is_not_that_steps_error() -> None:
    assert core.failed_step(["STEP 1/2: RUN a", "error: old", "STEP 2/2: RUN b"]) == ("STEP 2/2: RUN b", "")
    assert core.failed_step(["no steps", "nothing wrong"]) == ("", "")


def test_terminal_escapes_and_control_characters_never_reach_the_screen() -> None:
    assert core.clean_log("a\x1b[2Jb\x07c\r\nd") == ["abc", "d"]


@pytest.mark.parametrize("conditions, state", [
    ({"Prepared": "True"}, "Prepared"),
    ({"Prepared": "False", "Building": "True"}, "Building"),
    ({"Building": "True", "Failed": "True"}, "Failed"),  # a final condition wins over one left from before
    ({"Building": "False", "Interrupted": "True"}, "Interrupted"),
    ({"Building": "False", "Succeeded": "True"}, "Succeeded"),
    ({}, "Pending"),
])
def test_the_build_state_is_its_final_true_condition(conditions: dict, state: str) -> None:
    assert core.build_state(_build(**conditions)) == state


def test_the_builder_job_is_the_one_the_build_names_else_the_mcos_name_for_it() -> None:
    assert core.job_name({"metadata": {"name": "worker-abc"}}) == "build-worker-abc"
    assert core.job_name({"metadata": {"name": "worker-abc"},
                          "status": {"builder": {"job": {"name": "custom"}}}}) == "custom"


def _plan(action: str, rebuild: bool = False) -> core.OnClusterPlan:
    existing = {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineOSConfig",
                "metadata": {"name": "worker", "resourceVersion": "42", "uid": "u1",
                             "labels": {"app.kubernetes.io/managed-by": "rhcos-layer", "team": "os"},
                             "annotations": {"note": "theirs", core.REBUILD_ANNOTATION: ""}},
                "spec": {"containerFile": [{"content": "FROM configs AS final\nRUN old\n"}]},
                "status": {"currentImagePullSpec": "x"}}
    desired = {"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineOSConfig",
               "metadata": {"name": "worker", "labels": {"app.kubernetes.io/managed-by": "rhcos-layer"}},
               "spec": {"containerFile": [{"content": "FROM configs AS final\nRUN new\n"}]}}
    return core.OnClusterPlan("worker", "v1", desired, existing=existing, action=action, rebuild=rebuild)


def test_an_update_records_the_previous_spec_and_keeps_what_others_put_on_it() -> None:
    body = core.mosc_body(_plan("update"))
    meta = body["metadata"]
    assert body["spec"]["containerFile"][0]["content"].endswith("RUN new\n")
    assert json.loads(meta["annotations"][core.PREVIOUS_SPEC_ANNOTATION]) == {
        "containerFile": [{"content": "FROM configs AS final\nRUN old\n"}]}
    assert core.PREVIOUS_SPEC_ANNOTATION == "rhcos-layer.io/previous-spec"  # rollback --to-previous reads it
    assert meta["annotations"]["note"] == "theirs" and meta["labels"]["team"] == "os"
    assert core.REBUILD_ANNOTATION not in meta["annotations"]  # no rebuild asked
    assert meta["resourceVersion"] == "42" and "uid" not in meta and "status" not in body


def test_a_rebuild_of_an_unchanged_config_only_adds_the_rebuild_annotation() -> None:
    body = core.mosc_body(_plan("unchanged", rebuild=True))
    assert body["spec"]["containerFile"][0]["content"].endswith("RUN old\n")
    assert body["metadata"]["annotations"][core.REBUILD_ANNOTATION] == ""
    assert core.PREVIOUS_SPEC_ANNOTATION not in body["metadata"]["annotations"]


def test_on_cluster_has_its_own_ignorable_checks() -> None:
    assert apply.parse_ignored(["PushSecretCanPush"], core.IGNORABLE) == {"PushSecretCanPush"}
    assert apply.parse_ignored(["all"], core.IGNORABLE) == set(core.IGNORABLE)
    with pytest.raises(InvalidInput, match="unknown check"):
        apply.parse_ignored(["PushSecretCanPush"])  # not one of the plain apply's
    with pytest.raises(InvalidInput):
        apply.parse_ignored(["PushSecret"], core.IGNORABLE)

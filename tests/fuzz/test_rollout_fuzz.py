"""The watch reads what the API server sends: pools, node annotations, durations from flags. Whatever
their shape, only the project's errors may come out (properties checked with hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer import rollout
from rhcos_layer.errors import RhcosLayerError

MCO = "machineconfiguration.openshift.io/"
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)
keys = st.sampled_from(["metadata", "spec", "status", "configuration", "name", "source", "conditions", "type",
                        "message", "machineCount", "updatedMachineCount", "degradedMachineCount", "paused",
                        "maxUnavailable", "generation", "observedGeneration", "unavailableMachineCount"])
shaped = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=6)), max_leaves=30)


@given(st.dictionaries(keys, shaped, max_size=4))
def test_any_pool_object_reads_without_a_crash(pool: Any) -> None:
    view = rollout.read_pool(pool)
    assert view.machines >= 0 and view.updated >= 0 and view.unavailable >= 0
    assert view.max_unavailable >= 1
    assert isinstance(rollout.settled(pool), bool)


annotation_keys = st.sampled_from([MCO + k for k in ("state", "currentConfig", "desiredConfig", "reason",
                                                     "desiredDrain", "lastAppliedDrain", "post-config-action")])


@given(st.dictionaries(st.sampled_from(["name", "annotations"]), st.one_of(
    json_values, st.dictionaries(annotation_keys, json_values, max_size=7)), max_size=2), st.text(max_size=10))
def test_any_node_metadata_gets_a_phase(meta: Any, target: str) -> None:
    node = rollout.node_phase(meta, target)
    assert node.phase in (rollout.WAITING, rollout.DONE, rollout.DEGRADED, rollout.STUCK, *rollout.IN_FLIGHT)


@given(json_values, st.integers(min_value=0, max_value=10 ** 6))
def test_any_max_unavailable_counts_at_least_one(value: Any, machines: int) -> None:
    assert rollout.max_unavailable(value, machines) >= 1


@given(st.text(max_size=40))
def test_any_duration_parses_or_names_its_flag(text: str) -> None:
    try:
        seconds = rollout.parse_duration(text, "--progress-deadline")
    except RhcosLayerError as exc:
        assert "--progress-deadline" in exc.message
    else:
        assert seconds is None or seconds > 0

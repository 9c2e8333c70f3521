"""MachineOSConfigs as the cluster hands them over, whatever their shape: reading them never fails."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer import apply, oncluster

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                   max_size=4),
                    max_leaves=20)
SHAPED = st.fixed_dictionaries({}, optional={
    "metadata": st.one_of(JSON, st.fixed_dictionaries({"name": JSON})),
    "spec": st.one_of(JSON, st.fixed_dictionaries({"machineConfigPool": st.one_of(
        JSON, st.fixed_dictionaries({"name": st.one_of(st.just("worker"), JSON)}))})),
    "status": st.one_of(JSON, st.fixed_dictionaries({}, optional={
        "currentImagePullSpec": JSON, "currentImagePullspec": JSON})),
})


@given(st.lists(st.one_of(SHAPED, JSON.filter(lambda v: isinstance(v, dict))), max_size=5))
def test_any_machineosconfig_list_reads_without_error(moscs: Any) -> None:
    found = oncluster.for_pool(moscs, "worker")
    if found is not None:
        assert oncluster.pool_of(found) == "worker"
        image = oncluster.built_image(found)
        assert image is None or (isinstance(image, str) and image)
        assert isinstance(oncluster.refusal("worker", found), str)
        plan = apply.Plan("worker", "x@sha256:" + "0" * 64, "create", {"metadata": {"name": "n"}}, None, None, "")
        apply.check_on_cluster("worker", moscs, plan)
        assert [c.name for c in plan.refusals] == ["OnClusterLayering"]
    assert oncluster.for_pool(moscs, "") is None

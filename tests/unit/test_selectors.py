"""The one label-selector evaluator (rhcos_layer.selectors), against the API server's rules."""

from __future__ import annotations

from typing import Any, Dict, Optional

import pytest

from rhcos_layer import selectors
from rhcos_layer.errors import RhcosLayerError
from rhcos_layer.selectors import InvalidSelector

ROLE = "machineconfiguration.openshift.io/role"


def _in(key: str, *values: str) -> Dict[str, Any]:
    return {"key": key, "operator": "In", "values": list(values)}


@pytest.mark.parametrize(("selector", "labels", "selected"), [
    (None, {ROLE: "worker"}, False),  # null: nothing
    ({}, {}, True),  # empty: everything
    ({"matchLabels": {ROLE: "worker"}}, {ROLE: "worker", "x": "y"}, True),
    ({"matchLabels": {ROLE: "worker"}}, {ROLE: "infra"}, False),
    ({"matchLabels": {ROLE: ""}}, {ROLE: ""}, True),
    ({"matchLabels": {ROLE: ""}}, {}, False),
    ({"matchExpressions": [_in(ROLE, "worker", "gpu-workers")]}, {ROLE: "gpu-workers"}, True),
    ({"matchExpressions": [_in(ROLE, "worker", "gpu-workers")]}, {ROLE: "infra"}, False),
    ({"matchExpressions": [_in(ROLE, "worker")]}, {}, False),
    ({"matchExpressions": [{"key": ROLE, "operator": "NotIn", "values": ["master"]}]}, {}, True),
    ({"matchExpressions": [{"key": ROLE, "operator": "NotIn", "values": ["master"]}]}, {ROLE: "master"}, False),
    ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"a": ""}, True),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": None}]}, {}, False),
    ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": "x"}, False),
    # matchLabels and matchExpressions are ANDed
    ({"matchLabels": {"tier": "gpu"}, "matchExpressions": [_in(ROLE, "worker", "gpu")]},
     {ROLE: "worker"}, False),
    ({"matchLabels": {"tier": "gpu"}, "matchExpressions": [_in(ROLE, "worker", "gpu")]},
     {ROLE: "worker", "tier": "gpu"}, True),
])
def test_selects_as_the_api_server_does(selector: Optional[Dict[str, Any]], labels: Dict[str, str],
                                        selected: bool) -> None:
    assert selectors.matches(selector, labels) is selected


@pytest.mark.parametrize(("selector", "message"), [
    ([], "expected an object"),
    ({"matchLabels": ["a"]}, "expected a map"),
    ({"matchLabels": {"a": 1}}, "is not a string"),
    ({"matchLabels": {"a b": "c"}}, "not a qualified name"),
    ({"matchLabels": {"Bad_Prefix/a": "c"}}, "prefix must be a DNS subdomain"),
    ({"matchLabels": {"a": "-x"}}, "not a label value"),
    ({"matchLabels": {"a": "x" * 64}}, "not a label value"),
    ({"matchExpressions": {"key": "a"}}, "expected a list"),
    ({"matchExpressions": ["a"]}, "expected an object"),
    ({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, "not a valid label selector operator"),
    ({"matchExpressions": [{"key": "a", "operator": "in", "values": ["1"]}]}, "not a valid label selector operator"),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "values set can't be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "In"}]}, "values set can't be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}, "must be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": "x"}]}, "expected a list of strings"),
    ({"matchExpressions": [{"operator": "Exists"}]}, "key None is not a string"),
])
def test_malformed_selectors_are_refused_with_the_place(selector: Any, message: str) -> None:
    with pytest.raises(InvalidSelector, match=message) as info:
        selectors.parse(selector, "machineConfigSelector of pool gpu")
    assert str(info.value).startswith("machineConfigSelector of pool gpu")
    assert isinstance(info.value, RhcosLayerError)


def test_a_huge_hostile_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(InvalidSelector) as info:
        selectors.parse({"matchLabels": {"a": "!" * 1_000_000}})
    assert len(str(info.value)) < 400


@pytest.mark.parametrize(("selector", "query"), [
    ({"matchLabels": {ROLE: "worker"}}, f"{ROLE}=worker"),
    ({"matchExpressions": [_in(ROLE, "worker", "gpu-workers")]}, f"{ROLE} in (worker,gpu-workers)"),
    ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["x"]},
                           {"key": "b", "operator": "Exists"}, {"key": "c", "operator": "DoesNotExist"}]},
     "a notin (x),b,!c"),
    ({}, ""),
    (None, None),
    # the built-in pools' nodeSelector (node-role.kubernetes.io/worker: ""): "key=" selects the empty value
    ({"matchLabels": {"node-role.kubernetes.io/worker": ""}}, "node-role.kubernetes.io/worker="),
    # "in ()" with an empty value cannot be written: left out, the caller filters on its side
    ({"matchExpressions": [_in("a", "", "x"), _in("b", "y")]}, "b=y"),
])
def test_queries_for_server_side_filtering(selector: Any, query: Optional[str]) -> None:
    assert selectors.parse(selector).query() == query

"""Property tests of the label-selector evaluator against hostile selectors from the cluster.

Two properties: whatever a pool's selector holds, only the project's errors come out; and a
selector that parses selects exactly what the emulated API server selects with the query we send
it (tests/support/kube.py parses labelSelector strings as k8s.io/apimachinery/pkg/labels does), so
the server-side filter never drops a MachineConfig the pool merges.
"""

from __future__ import annotations

from typing import Any, Dict

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer.errors import RhcosLayerError
from rhcos_layer.selectors import parse
from tests.support.kube import labels_match, parse_label_selector

# Small alphabets so that generated keys and values collide with the labels often enough to matter.
_KEYS = st.sampled_from(["role", "machineconfiguration.openshift.io/role", "tier", "a", "x.y/z"])
_VALUES = st.sampled_from(["", "worker", "infra", "gpu-workers", "master", "1"])
_HOSTILE_TEXT = st.text(max_size=70)
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | _HOSTILE_TEXT,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_HOSTILE_TEXT, inner, max_size=4),
                     max_leaves=20)

_expression = st.fixed_dictionaries(
    {"key": _KEYS | _HOSTILE_TEXT,
     "operator": st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist", "in", "Gt", ""]) | _JSON},
    optional={"values": st.lists(_VALUES | _HOSTILE_TEXT, max_size=4) | _JSON})
_selector = st.none() | st.fixed_dictionaries(
    {}, optional={"matchLabels": st.dictionaries(_KEYS | _HOSTILE_TEXT, _VALUES | _JSON, max_size=3) | _JSON,
                  "matchExpressions": st.lists(_expression | _JSON, max_size=4) | _JSON}) | _JSON
_labels = st.dictionaries(_KEYS, _VALUES, max_size=4)


@given(_selector, _labels)
def test_hostile_selectors_raise_only_the_projects_errors(selector: Any, labels: Dict[str, str]) -> None:
    try:
        parsed = parse(selector, "machineConfigSelector of pool p")
    except RhcosLayerError as exc:
        assert str(exc).startswith("machineConfigSelector of pool p")
        assert len(str(exc)) < 600  # a crafted value never makes a huge message
        return
    assert parsed.matches(labels) in (True, False)


_valid_expression = st.one_of(
    st.fixed_dictionaries({"key": _KEYS, "operator": st.sampled_from(["In", "NotIn"]),
                           "values": st.lists(_VALUES, min_size=1, max_size=3)}),
    st.fixed_dictionaries({"key": _KEYS, "operator": st.sampled_from(["Exists", "DoesNotExist"])}))
_valid_selector = st.fixed_dictionaries({}, optional={
    "matchLabels": st.dictionaries(_KEYS, _VALUES, max_size=3),
    "matchExpressions": st.lists(_valid_expression, max_size=4)})


@given(_valid_selector, _labels)
def test_the_query_sent_selects_what_the_pool_selects(selector: Dict[str, Any], labels: Dict[str, str]) -> None:
    parsed = parse(selector)
    query = parsed.query()
    assert query is not None
    server_says = labels_match(parse_label_selector(query), {"metadata": {"labels": labels}})
    exact = all(r.query() is not None for r in parsed.requirements)
    if parsed.matches(labels):
        assert server_says  # never filtered out on the server
    elif exact:
        assert not server_says

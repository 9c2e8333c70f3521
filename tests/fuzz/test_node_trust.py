"""Property tests: the cluster's mirror sets and CA ConfigMap, whatever their shape, never break the
NodesCanPull check (apply.NodeTrust); what a node tries is always a list of names, mirrors first."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer.apply import NodeTrust

_TEXT = st.text(max_size=40)
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | _TEXT,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
                     max_leaves=25)
_SOURCES = st.sampled_from(["quay.io", "quay.io/ops", "registry.example.com:5000/ops", "", "quay.io/ops/"])
_entry = st.fixed_dictionaries({}, optional={
    "source": _SOURCES | _JSON, "mirrors": st.lists(_SOURCES | _TEXT, max_size=3) | _JSON,
    "mirrorSourcePolicy": st.sampled_from(["NeverContactSource", "AllowContactingSource"]) | _JSON})
_mirror_set = st.fixed_dictionaries({}, optional={
    "metadata": st.fixed_dictionaries({}, optional={"name": _TEXT | _JSON}) | _JSON,
    "spec": st.fixed_dictionaries({}, optional={
        "imageDigestMirrors": st.lists(_entry | _JSON, max_size=4) | _JSON,
        "repositoryDigestMirrors": st.lists(_entry | _JSON, max_size=4) | _JSON}) | _JSON}) | _JSON


@given(st.lists(_mirror_set, max_size=4), _JSON | st.dictionaries(_TEXT, _TEXT | _JSON, max_size=4),
       st.sampled_from(["quay.io/ops/layered", "registry.example.com:5000/ops/x", "other.example.com/a"]))
def test_any_mirror_set_or_ca_data_gives_a_list_of_places(sets: Any, ca_data: Any, image: str) -> None:
    trust = NodeTrust()
    trust.add_cas(ca_data)
    for index, obj in enumerate(sets):
        trust.add_mirror_set("ImageDigestMirrorSet" if index % 2 else "ImageContentSourcePolicy", obj)
    tried, problems = trust.sources_for(image)
    assert all(isinstance(name, str) for name in tried) and all(isinstance(p, str) for p in problems)
    assert len(tried) <= 1 + sum(len(m) for _, m, _ in trust.mirrors)
    assert problems or tried  # either the nodes' places, or why they cannot be told
    if not any(image == s or image.startswith(s.rstrip("/") + "/") for s, _, _ in trust.mirrors):
        assert tried == [image]  # no mirror for it: the source alone, whatever else is malformed

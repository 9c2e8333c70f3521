"""Property tests of upgrade plan's parsers of outside data: a ClusterVersion from the cluster, and
what rpm (and the container's log stream) printed inside an image nobody vetted."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer.adapters.engine import demux_logs, split_framed
from rhcos_layer.errors import RhcosLayerError
from rhcos_layer.release import version_key
from rhcos_layer.upgrade import choose_target, parse_nvra, parse_rpm_answers, pool_stream, read_updates

_TEXT = st.text(max_size=60)
_VERSION = st.sampled_from(["4.16.3", "4.16.8", "4.17.2", "4.21.0-ec.1", "04.1.1", "4.16", ""]) | _TEXT
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | _TEXT,
                     lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
                     max_leaves=20)
_release = st.fixed_dictionaries({}, optional={"version": _VERSION | _JSON, "image": _TEXT | _JSON}) | _JSON
_risk = st.fixed_dictionaries({}, optional={"name": _TEXT | _JSON, "message": _TEXT | _JSON, "url": _JSON}) | _JSON
_conditional = st.fixed_dictionaries({}, optional={
    "release": _release, "risks": st.lists(_risk, max_size=3) | _JSON,
    "conditions": st.lists(st.fixed_dictionaries({"type": st.just("Recommended") | _TEXT},
                                                  optional={"status": _JSON, "message": _JSON}), max_size=2) | _JSON})
_status = st.fixed_dictionaries({}, optional={
    "availableUpdates": st.lists(_release, max_size=4) | _JSON,
    "conditionalUpdates": st.lists(_conditional, max_size=3) | _JSON,
    "history": st.lists(st.fixed_dictionaries({"state": st.sampled_from(["Completed", "Partial"]) | _JSON,
                                               "version": _VERSION | _JSON}), max_size=3) | _JSON}) | _JSON


@given(st.fixed_dictionaries({"status": _status}) | _JSON, st.none() | _VERSION)
def test_hostile_cluster_versions(cluster_version: Any, to: Any) -> None:
    try:
        current, available, conditional = read_updates(cluster_version)
        for update in available + conditional:
            assert version_key(update.version) is not None and update.image
        assert [version_key(u.version) for u in available] == sorted(
            (version_key(u.version) for u in available), reverse=True)
        assert not {u.version for u in available} & {u.version for u in conditional}
        picked, _ = choose_target(available, conditional, to if isinstance(to, str) else None)
        if to is None:
            assert picked is None or not picked.conditional
    except RhcosLayerError:
        pass


@given(_JSON)
def test_hostile_pools_stream(pool: Any) -> None:
    stream, _ = pool_stream(pool)
    assert stream in ("rhel-coreos", "rhel-coreos-10")


_LINE = st.sampled_from(["openshift-kubelet-1.29.6-1.el9.x86_64", "kernel-5.14.0-427.el9.x86_64",
                         "package kernel is not installed", "kernel-rt-core-5.14.0-1.rt.el9"]) | _TEXT


_ANSWER = st.tuples(st.integers(), st.lists(_LINE, max_size=3).map("\n".join) | _TEXT)


@given(st.lists(_ANSWER, min_size=6, max_size=6) | st.lists(_ANSWER, max_size=7))
def test_hostile_rpm_output(answers: Any) -> None:
    found = parse_rpm_answers(answers)
    assert set(found) <= {"kubelet", "cri-o", "kernel"}
    for package in found.values():
        assert package.name and package.version and " " not in package.version


@given(_TEXT)
def test_nvra_never_raises(line: str) -> None:
    package = parse_nvra(line)
    assert package is None or f"{package.name}-{package.version}" in line


@given(st.binary(max_size=200), st.text(max_size=200), st.integers(min_value=0, max_value=4))
def test_hostile_log_stream(data: bytes, text: str, count: int) -> None:
    assert isinstance(demux_logs(data), bytes)
    answers = split_framed(text, "0123456789abcdef", count)
    assert len(answers) == count and all(0 <= code <= 999 for code, _ in answers)


class _Listed:
    """The three lists upgrade plan reads to find layered pools, as a hostile or broken API server might
    hand them over (the ClusterAPI protocol's shapes, any content)."""

    def __init__(self, pools: Any, configs: Any, moscs: Any) -> None:
        self._pools, self._configs, self._moscs = pools, configs, moscs

    def pools(self) -> Any:
        return self._pools

    def machineconfigs(self, label_selector: Any = None) -> Any:
        return self._configs

    def machineosconfigs(self) -> Any:
        return self._moscs


_MC = st.fixed_dictionaries({"metadata": st.fixed_dictionaries({}, optional={
    "name": _TEXT | _JSON,
    "labels": st.fixed_dictionaries({"app.kubernetes.io/managed-by": st.just("rhcos-layer") | _TEXT},
                                    optional={"machineconfiguration.openshift.io/role": _TEXT | _JSON}) | _JSON,
    "annotations": st.dictionaries(st.sampled_from(["rhcos-layer.io/project", "rhcos-layer.io/inputs-digest"]),
                                   _TEXT | _JSON) | _JSON}) | _JSON}, optional={"spec": _JSON}) | _JSON


@given(st.lists(_JSON | st.fixed_dictionaries({"metadata": _JSON, "spec": _JSON}), max_size=3),
       st.lists(_MC, max_size=4), st.none() | st.lists(_JSON, max_size=3))
def test_hostile_cluster_lists(pools: Any, configs: Any, moscs: Any) -> None:
    from rhcos_layer.upgrade import _layered_pools

    try:
        layered, on_cluster = _layered_pools(_Listed(pools, configs, moscs))  # type: ignore[arg-type]
    except RhcosLayerError:
        return
    for item in layered:
        assert item.pool and item.stream in ("rhel-coreos", "rhel-coreos-10")
    assert all(isinstance(p, str) and p for p in on_cluster)

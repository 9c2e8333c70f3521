"""Machine config pools: which MachineConfigs a pool merges, and what they already install."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Tuple

from .lint import PoolFacts
from .machineconfig import ROLE_LABEL

if TYPE_CHECKING:
    from .adapters.cluster_api import ClusterAPI


def require(wanted: Iterable[str], known: Iterable[str]) -> None:
    """Refuse a ``--pool`` the cluster does not have, naming the ones it has."""
    from .errors import InvalidInput

    names = set(known)
    for pool in wanted:
        if pool not in names:
            raise InvalidInput(f"--pool {pool}: no such machine config pool (the cluster has:"
                               f" {', '.join(sorted(names))})")


def selector_string(selector: Optional[Mapping[str, Any]]) -> str:
    """A LabelSelector as a labelSelector query string (a missing one: "", the whole list).

    Raises InvalidSelector for a selector the API server would refuse.
    """
    from .selectors import parse

    if not selector:
        return ""
    return parse(selector).query() or ""


BUILT_IN_POOLS = ("master", "worker", "arbiter")
_INHERITED_ROLE = "worker"
# From 4.15 the render controller merges a custom pool's worker-role configs first, then its own
# (openshift/machine-config-operator pkg/controller/common/helpers.go, MergeMachineConfigs, and
# pkg/controller/render/render_controller.go); 4.14 and older sort every config by name alone.
_WORKER_FIRST_FROM = (4, 15)
_SPECIAL_KERNELS = ("realtime", "64k-pages")


def inheriting(pools: Iterable[Mapping[str, Any]], pool: str) -> List[str]:
    """The custom pools whose machineConfigSelector also takes ``pool``'s MachineConfigs (the worker
    ones, for pools made as the docs make them), by name: a change to ``pool`` reaches their nodes too.

    As the render controller selects (pkg/controller/render/render_controller.go, through
    LabelSelectorAsSelector): a null selector takes nothing, and a pool whose selector the API
    server would refuse renders nothing, so neither inherits.
    """
    from .selectors import InvalidSelector, parse

    if pool != _INHERITED_ROLE:
        return []
    found = []
    for obj in pools:
        meta, spec = obj.get("metadata"), obj.get("spec")
        name = meta.get("name") if isinstance(meta, Mapping) else None
        if not isinstance(name, str) or not name or name in BUILT_IN_POOLS:
            continue
        try:
            selector = parse(spec.get("machineConfigSelector") if isinstance(spec, Mapping) else None)
        except InvalidSelector:
            continue
        if selector.matches({ROLE_LABEL: pool}):
            found.append(name)
    return sorted(found)


def pause_patch(paused: bool, annotations: Optional[Mapping[str, Optional[str]]] = None) -> Dict[str, Any]:
    """The JSON merge patch that pauses or unpauses a MachineConfigPool (spec.paused only, nothing else
    of the pool is sent), with ``annotations`` set, or dropped where their value is None."""
    patch: Dict[str, Any] = {"spec": {"paused": paused}}
    if annotations:
        patch = {"metadata": {"annotations": dict(annotations)}, **patch}
    return patch


def patch_command(pool: str, patch: Mapping[str, Any]) -> str:
    """The ``oc patch mcp`` line that sends ``patch``, for a person to run where ours could not."""
    import json

    return f"oc patch mcp {pool} --type merge -p '{json.dumps(patch, separators=(',', ':'))}'"


def parse_version(text: Optional[str]) -> Optional[Tuple[int, int]]:
    """(4, 16) from "4.16.3" / "4.16.0-rc.1"; None when unknown or not a version."""
    import re

    # at most 6 digits each: a longer run is no version, and int() of thousands of digits raises
    m = re.match(r"^(\d{1,6})\.(\d{1,6})(\.|$|-)", str(text or ""))
    return (int(m.group(1)), int(m.group(2))) if m else None


def worker_first(pool: str, version: Optional[Tuple[int, int]]) -> bool:
    """Whether the MCO of ``version`` merges ``pool``'s worker-role configs before its own; a custom
    pool on an unknown version counts as 4.15+ (the current releases)."""
    if pool in BUILT_IN_POOLS:
        return False
    return version is None or version >= _WORKER_FIRST_FROM


def merge_key(pool: str, mc: Mapping[str, Any], version: Optional[Tuple[int, int]] = None) -> Tuple[int, str]:
    """The position of ``mc`` in ``pool``'s merge: later keys win (osImageURL, kernelType...)."""
    meta = mc.get("metadata") or {}
    inherited = (meta.get("labels") or {}).get(ROLE_LABEL) == _INHERITED_ROLE
    first = 0 if worker_first(pool, version) and inherited else 1
    return (first, str(meta.get("name", "")))


def merge_order(pool: str, configs: Iterable[Dict[str, Any]],
                version: Optional[Tuple[int, int]] = None) -> List[Dict[str, Any]]:
    """``configs`` (the ones the pool selects) in the order the MCO merges them; the last wins."""
    return sorted(configs, key=lambda mc: merge_key(pool, mc, version))


def facts_from(name: str, configs: List[Dict[str, Any]], version: Optional[Tuple[int, int]] = None) -> PoolFacts:
    """The extensions and kernel type that ``configs`` (a pool's MachineConfigs) install.

    kernelType is not "the last one wins": realtime or 64k-pages in any merged config beats
    default (MergeMachineConfigs in pkg/controller/common/helpers.go).
    """
    facts = PoolFacts(name)
    for mc in merge_order(name, configs, version):
        spec = mc.get("spec") or {}
        facts.extensions.update(str(e) for e in spec.get("extensions") or [])
        if str(spec.get("kernelType") or "") in _SPECIAL_KERNELS:
            facts.kernel_type = str(spec["kernelType"])
    return facts


def pool_facts(cluster: ClusterAPI, name: str) -> PoolFacts:
    """The extensions and kernel type the pool's MachineConfigs give its nodes already."""
    from .errors import ClusterObjectNotFound, InvalidInput
    from .selectors import parse

    try:
        pool = cluster.pool(name)
    except ClusterObjectNotFound:
        raise InvalidInput(f"--pool {name}: no such machine config pool") from None
    selector = parse((pool.get("spec") or {}).get("machineConfigSelector"), f"pool {name} machineConfigSelector")
    query = selector.query()
    configs = [] if query is None else cluster.machineconfigs(query)
    return facts_from(name, [mc for mc in configs
                             if selector.matches((mc.get("metadata") or {}).get("labels") or {})])

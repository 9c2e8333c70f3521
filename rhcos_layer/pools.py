"""Machine config pools: which MachineConfigs a pool merges, and what they already install."""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional

from .lint import PoolFacts


def conditions(obj: Mapping[str, Any]) -> Dict[str, Dict[str, Any]]:
    """An object's ``status.conditions`` by type."""
    return {str(c.get("type")): dict(c) for c in (obj.get("status") or {}).get("conditions") or []}


def require(wanted: Iterable[str], known: Iterable[str]) -> None:
    """Refuse a ``--pool`` the cluster does not have, naming the ones it has."""
    from .errors import InvalidInput

    names = set(known)
    for pool in wanted:
        if pool not in names:
            raise InvalidInput(f"--pool {pool}: no such machine config pool (the cluster has:"
                               f" {', '.join(sorted(names))})")


def selector_string(selector: Optional[Mapping[str, Any]]) -> str:
    """A LabelSelector (matchLabels / matchExpressions) as a labelSelector query string."""
    if not selector:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        key, operator, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if operator == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif operator == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif operator == "Exists":
            parts.append(str(key))
        elif operator == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


def selector_matches(selector: Optional[Mapping[str, Any]], labels: Mapping[str, str]) -> bool:
    """Whether a LabelSelector selects an object with ``labels`` (an empty selector selects all)."""
    if not selector:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, operator, values = str(expr.get("key")), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def merge_order(configs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The MCO merges a pool's MachineConfigs sorted by name; later ones win."""
    return sorted(configs, key=lambda mc: str((mc.get("metadata") or {}).get("name", "")))


def facts_from(name: str, configs: List[Dict[str, Any]]) -> PoolFacts:
    """The extensions and kernel type that ``configs`` (a pool's MachineConfigs) install."""
    facts = PoolFacts(name)
    for mc in merge_order(configs):
        spec = mc.get("spec") or {}
        facts.extensions.update(str(e) for e in spec.get("extensions") or [])
        if spec.get("kernelType"):
            facts.kernel_type = str(spec["kernelType"])
    return facts


def pool_facts(cluster: Any, name: str) -> PoolFacts:
    """The extensions and kernel type the pool's MachineConfigs give its nodes already."""
    from .errors import ImageNotFound, InvalidInput

    try:
        pool = cluster.pool(name)
    except ImageNotFound:
        raise InvalidInput(f"--pool {name}: no such machine config pool") from None
    selector = selector_string((pool.get("spec") or {}).get("machineConfigSelector"))
    return facts_from(name, cluster.machineconfigs(selector))

"""Reading the objects the API server sends: they are input, not ours.

The API server validates its own types, but a proxy, an old CRD or an object written by hand
may still hand over anything; a wrong shape must read as "absent", never as a TypeError.
"""

from __future__ import annotations

from typing import Any, Dict, Mapping


def field(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...``, or None where a level is missing or not an object."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def text(value: Any) -> str:
    """A string the cluster sent, or "" for anything else (absent, a number, an object)."""
    return value if isinstance(value, str) else ""


def mapping(value: Any) -> Dict[str, Any]:
    """What the API sent where an object belongs; anything else (it is input, not ours) as empty."""
    return value if isinstance(value, dict) else {}


def completed_update(cluster_version_status: Any) -> Dict[str, Any]:
    """The update the cluster runs now: ClusterVersion ``status.history`` is newest first, and its
    first Completed entry is the release in place (a Partial one is still being rolled out); {}
    when there is none yet (a cluster still installing) or the history is not a list of objects."""
    history = field(cluster_version_status, "history")
    if not isinstance(history, list):
        return {}
    return next((h for h in history if isinstance(h, dict) and h.get("state") == "Completed"), {})


def conditions(obj: Any) -> Dict[str, Dict[str, Any]]:
    """An object's ``status.conditions`` by type (a pool, a MachineOSBuild, ClusterVersion); what is not
    a list of objects there (it comes from the cluster: input, not ours) is skipped."""
    status = obj.get("status") if isinstance(obj, Mapping) else None
    found = status.get("conditions") if isinstance(status, Mapping) else None
    return {str(c.get("type")): dict(c) for c in (found if isinstance(found, list) else []) if isinstance(c, Mapping)}

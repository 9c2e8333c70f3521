"""Reading the objects the API server sends: they are input, not ours.

The API server validates its own types, but a proxy, an old CRD or an object written by hand
may still hand over anything; a wrong shape must read as "absent", never as a TypeError.
"""

from __future__ import annotations

from typing import Any


def field(obj: Any, *path: str) -> Any:
    """``obj[path[0]][path[1]]...``, or None where a level is missing or not an object."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj

"""Pools that build their own image on the cluster (on-cluster layering, MachineOSConfig).

Such a pool's nodes boot what the cluster builds from its own base and the MachineOSConfig's
Containerfile. An ``osImageURL`` MachineConfig for it is merged into the rendered config as
usual, so the MCO's done rule still holds, but it only triggers a rebuild and is never booted
(MCO pkg/controller/build): ``apply`` must refuse such a pool, and ``status`` must show the image
the build made. MachineOSConfig is v1 from OpenShift 4.18/4.19 (``status.currentImagePullSpec``),
v1alpha1 behind Tech Preview on 4.16 and 4.17 (``status.currentImagePullspec``), absent before.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from .objects import field

if TYPE_CHECKING:
    from .adapters.cluster_api import ClusterAPI

Obj = Dict[str, Any]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def pool_of(mosc: Obj) -> str:
    """The pool a MachineOSConfig builds for (``spec.machineConfigPool.name`` in v1 and v1alpha1)."""
    return _text(field(mosc, "spec", "machineConfigPool", "name"))


def for_pool(moscs: Optional[List[Obj]], pool: str) -> Optional[Obj]:
    """The MachineOSConfig of ``pool``, or None (also when they could not be read: ``moscs`` None)."""
    return next((m for m in moscs or [] if pool and pool_of(m) == pool), None)


def built_image(mosc: Obj) -> Optional[str]:
    """The image the pool's nodes are sent to: the last successful build's digested pullspec."""
    image = _text(field(mosc, "status", "currentImagePullSpec")) or _text(
        field(mosc, "status", "currentImagePullspec"))
    return image or None


def name(mosc: Any) -> str:
    return _text(field(mosc, "metadata", "name"))


def refusal(pool: str, mosc: Obj) -> str:
    """Why an osImageURL MachineConfig makes no sense for ``pool`` (one line)."""
    return (f"pool {pool} builds its own image on the cluster (MachineOSConfig {name(mosc)}): a MachineConfig"
            " with osImageURL would only trigger a rebuild on the cluster's base and would never be booted")


def hint(pool: str, mosc: Obj) -> str:
    return (f"put the Containerfile's steps in MachineOSConfig {name(mosc)}'s containerFile (see `rhcos-layer init"
            f" --template on-cluster`), or remove on-cluster layering from pool {pool} first"
            f" (oc delete machineosconfig {name(mosc)}) to boot images built here")


_READ: weakref.WeakKeyDictionary[Any, Optional[List[Obj]]] = weakref.WeakKeyDictionary()


def read_once(cluster: ClusterAPI) -> Optional[List[Obj]]:
    """``cluster.machineosconfigs()``, read once per cluster connection (one command): a watch's
    refreshes stay at their fixed requests. A MachineOSConfig created meanwhile shows at the next run."""
    try:
        return _READ[cluster]
    except KeyError:
        found: Optional[List[Obj]] = cluster.machineosconfigs()
        _READ[cluster] = found
        return found

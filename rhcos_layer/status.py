"""What each machine config pool runs: layered image or base, drift after an upgrade, nodes.

A fixed number of API requests whatever the cluster's size (pools, MachineConfigs and the
MCO's ConfigMap: three lists), since node counts come from the pool's status.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from .machineconfig import BASE_ANNOTATION, is_managed
from .oncluster import name as oncluster_name
from .pools import conditions as pool_conditions
from .reference import digest_of

ANNOTATIONS = "machineconfiguration.openshift.io/"


@dataclass
class PoolStatus:
    name: str
    image: Optional[str]  # the osImageURL of the pool's current rendered config
    layered: bool
    base: str  # what the cluster's release ships
    built_on: Optional[str]  # the base our MachineConfig says the image was built on
    drift: bool  # layered on a base that is no longer the cluster's: rebuild
    rendered: Optional[str]
    target: Optional[str]
    updating: bool
    paused: bool
    machines: int
    updated: int
    ready: int
    degraded: int
    unavailable: int
    managed: List[str] = field(default_factory=list)
    conditions: Dict[str, str] = field(default_factory=dict)
    on_cluster: Optional[str] = None  # the pool's MachineOSConfig: its nodes boot the cluster's build (image)

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def pool_status(pool: Dict[str, Any], configs: Dict[str, Dict[str, Any]], base: str,
                mosc: Optional[Dict[str, Any]] = None) -> PoolStatus:
    spec, status = pool.get("spec") or {}, pool.get("status") or {}
    name = str((pool.get("metadata") or {}).get("name"))
    rendered = (status.get("configuration") or {}).get("name")
    target = (spec.get("configuration") or {}).get("name")
    image = ((configs.get(str(rendered)) or {}).get("spec") or {}).get("osImageURL") if rendered else None
    ours = [mc for mc in configs.values() if is_managed(mc)
            and ((mc.get("metadata") or {}).get("labels") or {}).get(ANNOTATIONS + "role") == name]
    built_on = None
    for mc in sorted(ours, key=lambda m: str(m["metadata"]["name"])):
        built_on = ((mc.get("metadata") or {}).get("annotations") or {}).get(BASE_ANNOTATION) or built_on
    layered = bool(image) and image != base
    if mosc is not None:  # on-cluster layering: the nodes boot the build, whatever osImageURL says
        from .oncluster import built_image

        image, layered, built_on = built_image(mosc), True, None
    conditions = {kind: str(c.get("status")) for kind, c in pool_conditions(pool).items()}
    return PoolStatus(
        name=name, image=image, layered=layered, base=base, built_on=built_on,
        drift=bool(layered and built_on and digest_of(built_on) != digest_of(base)), rendered=rendered, target=target,
        updating=conditions.get("Updating") == "True" or (bool(target) and target != rendered),
        paused=bool(spec.get("paused")), machines=int(status.get("machineCount") or 0),
        updated=int(status.get("updatedMachineCount") or 0), ready=int(status.get("readyMachineCount") or 0),
        degraded=int(status.get("degradedMachineCount") or 0),
        unavailable=int(status.get("unavailableMachineCount") or 0),
        managed=sorted(str(mc["metadata"]["name"]) for mc in ours), conditions=conditions,
        on_cluster=oncluster_name(mosc) if mosc is not None else None,
    )


def cluster_status(cluster: Any, pools: Optional[List[str]] = None) -> List[PoolStatus]:
    """The status of ``pools`` (all when None), from three list requests (and the MachineOSConfigs,
    once per connection)."""
    from .adapters.cluster import MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP
    from .pools import require

    base = str((cluster.configmap(MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP).get("data") or {})
               .get("baseOSContainerImage") or "")
    configs = {str(mc["metadata"]["name"]): mc for mc in cluster.machineconfigs()}
    found = {str(p["metadata"]["name"]): p for p in cluster.pools()}
    wanted = pools or sorted(found)
    require(wanted, found)
    from .oncluster import for_pool, read_once

    moscs = read_once(cluster)
    return [pool_status(found[name], configs, base, for_pool(moscs, name)) for name in wanted]

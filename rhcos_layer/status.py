"""What each machine config pool runs: layered image or base, drift after an upgrade, nodes.

A refresh reads the pools (one list), the MCO's ConfigMap and rhcos-layer's own MachineConfigs (a
label-selected list): a few KB whatever the cluster's size, since node counts come from the pools'
status (``rollout.read_pool``, the same reading apply and rollback follow). Each pool's rendered config
is read once for its ``osImageURL``: rendered configs are named after their content and run to
hundreds of KB, so a StatusReader remembers what it read instead of listing them all each time.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, Hashable, List, Optional

from .machineconfig import BASE_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, is_managed
from .oncluster import name as oncluster_name
from .reference import digest_of
from .rollout import PoolView, read_pool

if TYPE_CHECKING:
    from .adapters.cluster_api import ClusterAPI

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
    # on-cluster pools only (None otherwise): whether rhcos-layer made the MachineOSConfig, the build of the
    # target rendered config and the newest finished one (oncluster.Build.as_dict), the nodes' images
    mode: str = "out-of-cluster"  # "on-cluster" when the cluster builds the pool's image (a MachineOSConfig)
    on_cluster_ours: Optional[bool] = None
    build: Optional[Dict[str, Any]] = None
    last_build: Optional[Dict[str, Any]] = None
    node_images: Optional[Dict[str, Dict[str, int]]] = None

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def pool_status(pool: Dict[str, Any], configs: Dict[str, Dict[str, Any]], base: str,
                images: Optional[Dict[str, str]] = None, mosc: Optional[Dict[str, Any]] = None) -> PoolStatus:
    """A pool's status from the pool, rhcos-layer's MachineConfigs (``configs``, by name), the rendered
    configs' images (``images``, by name; else looked up in ``configs``) and its MachineOSConfig, if any."""
    view: PoolView = read_pool(pool)
    rendered = view.current or None
    if images is not None and rendered:
        image = images.get(rendered) or None
    else:
        image = ((configs.get(str(rendered)) or {}).get("spec") or {}).get("osImageURL") if rendered else None
    ours = [mc for mc in configs.values() if is_managed(mc)
            and ((mc.get("metadata") or {}).get("labels") or {}).get(ANNOTATIONS + "role") == view.name]
    built_on = None
    for mc in sorted(ours, key=lambda m: str(m["metadata"]["name"])):
        built_on = ((mc.get("metadata") or {}).get("annotations") or {}).get(BASE_ANNOTATION) or built_on
    layered = bool(image) and image != base
    if mosc is not None:  # on-cluster layering: the nodes boot the build, whatever osImageURL says
        from .oncluster import built_image

        image, layered, built_on = built_image(mosc), True, None
    return PoolStatus(
        name=view.name, image=image, layered=layered, base=base, built_on=built_on,
        drift=bool(layered and built_on and digest_of(built_on) != digest_of(base)), rendered=rendered,
        target=view.target or None, updating=view.updating, paused=view.paused, machines=view.machines,
        updated=view.updated, ready=view.ready, degraded=view.degraded, unavailable=view.unavailable,
        managed=sorted(str(mc["metadata"]["name"]) for mc in ours), conditions=view.conditions,
        on_cluster=oncluster_name(mosc) if mosc is not None else None,
    )


class StatusReader:
    """Reads pools' status, remembering each rendered config's osImageURL across refreshes."""

    def __init__(self, cluster: ClusterAPI) -> None:
        self.cluster = cluster
        self.images: Dict[str, str] = {}

    def read(self, pools: Optional[List[str]] = None) -> List[PoolStatus]:
        from .adapters.cluster import MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP
        from .pools import require

        found = {str(p["metadata"]["name"]): p for p in self.cluster.watched_pools()}
        wanted = pools or sorted(found)
        require(wanted, found)
        base = str((self.cluster.watched_configmap(MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP).get("data") or {})
                   .get("baseOSContainerImage") or "")
        ours = {str(mc["metadata"]["name"]): mc
                for mc in self.cluster.watched_machineconfigs(f"{MANAGED_BY_LABEL}={MANAGED_BY}")}
        for name in wanted:
            rendered = str(((found[name].get("status") or {}).get("configuration") or {}).get("name") or "")
            if rendered and rendered not in self.images:
                mc = self.cluster.watched_machineconfig(rendered) or {}
                self.images[rendered] = str((mc.get("spec") or {}).get("osImageURL") or "")
        from .oncluster import for_pool, read_once

        moscs = read_once(self.cluster)  # once per connection: refreshes keep their fixed requests
        shown = [pool_status(found[name], ours, base, self.images, for_pool(moscs, name)) for name in wanted]
        on_cluster = [(p, for_pool(moscs, p.name)) for p in shown if p.on_cluster]
        if on_cluster:  # only then: a cluster without on-cluster pools pays nothing more per refresh
            self._on_cluster(on_cluster, found)
        return shown

    def _on_cluster(self, shown: List[Any], found: Dict[str, Dict[str, Any]]) -> None:
        """Each on-cluster pool's build, MachineOSConfig and node images, read again at every refresh
        (a build moves on its own): the MachineOSConfig, its builds (one labelled list), the pool's
        node metadata (as PartialObjectMetadata, a few KB)."""
        from . import oncluster
        from .pools import selector_string

        for status, mosc in shown:
            version = oncluster.version_of(mosc)
            fresh = self.cluster.watched_machineosconfig(oncluster.name(mosc), version)
            if fresh is None:  # deleted meanwhile (a rollback): the nodes go back to the rendered config's image
                status.on_cluster, status.drift = None, False
                status.image = self.images.get(status.rendered or "") or None
                status.layered = bool(status.image) and status.image != status.base
                continue
            mosc = fresh
            status.image, status.mode = oncluster.built_image(mosc), "on-cluster"
            listed = self.cluster.watched_machineosbuilds(version, oncluster.build_selector(oncluster.name(mosc)))
            mine = oncluster.builds_of(listed, mosc)
            current = oncluster.current_build(mine, status.target or "")
            last = oncluster.last_result(mine)
            status.on_cluster_ours = oncluster.is_ours(mosc)
            status.build = current.as_dict() if current is not None else None
            status.last_build = last.as_dict() if last is not None else None
            selector = selector_string((found[status.name].get("spec") or {}).get("nodeSelector"))
            metas, _ = self.cluster.list_node_metadata(selector)
            status.node_images = oncluster.node_images(metas, self.images.get(status.rendered or "", "")
                                                       or status.base)


def cluster_status(cluster: ClusterAPI, pools: Optional[List[str]] = None) -> List[PoolStatus]:
    """The status of ``pools`` (all when None)."""
    return StatusReader(cluster).read(pools)


def building(p: PoolStatus) -> bool:
    """An on-cluster pool whose build of its target config has not finished, or whose nodes are not all
    on the image they are sent to: ``status --watch`` goes on (the pool's counters do not show either)."""
    if not p.on_cluster:
        return False
    from .oncluster import FINISHED

    state = (p.build or {}).get("state")
    images = p.node_images or {}
    return (state is not None and state not in FINISHED) or images.get("current") != images.get("desired")


class StatusWatch:
    """``status --watch`` as a watcher for ``rollout.follow``: each refresh reads the pools again and
    calls ``on_change`` when what it shows changed; done when no pool shown is updating."""

    def __init__(self, cluster: ClusterAPI, pools: Optional[List[str]], on_change: Callable[[List[PoolStatus]], None],
                 ) -> None:
        self.reader = StatusReader(cluster)
        self.pools = pools
        self.on_change = on_change
        self.found: List[PoolStatus] = []
        self._shown: Any = None

    def step(self) -> bool:
        found = self.reader.read(self.pools)
        self.found = found
        snapshot = [p.as_dict() for p in found]
        if snapshot != self._shown:
            self._shown = snapshot
            self.on_change(found)
        return not any(p.updating or building(p) for p in found)

    def progress(self) -> Hashable:
        return tuple((p.name, p.target, p.rendered, p.updated, p.ready, p.degraded, p.unavailable,
                      (p.build or {}).get("name"), (p.build or {}).get("state")) for p in self.found)

    def diagnosis(self) -> str:
        said = []
        for p in self.found:
            if building(p) and p.build is not None:
                said.append(f"pool {p.name}: build {p.build['name']} is {p.build['state']}"
                            + (f" ({p.build['log_command']})" if p.build["log_command"] else ""))
            if not p.updating:
                continue
            if p.paused:
                said.append(f"pool {p.name} is paused: nothing moves until it is unpaused"
                            f" (oc patch mcp {p.name} --type merge -p '{{\"spec\":{{\"paused\":false}}}}')")
                continue
            said.append(f"pool {p.name}: {p.updated}/{p.machines} nodes updated, {p.unavailable} unavailable,"
                        f" {p.degraded} degraded" + (f" (see which with: oc describe mcp {p.name}; rhcos-layer apply"
                                                     " or rollback --wait names the node and how to recover it)"
                                                     if p.degraded else ""))
        return "; ".join(said)

    def close(self) -> None:
        pass

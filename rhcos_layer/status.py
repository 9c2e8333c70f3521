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

from .machineconfig import BASE_ANNOTATION, MANAGED_BY, MANAGED_BY_LABEL, RELEASE_ANNOTATION, is_managed
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
    built_for: Optional[str] = None  # the release version the layered image was built for
    cluster_version: Optional[str] = None  # the release the cluster runs (read only for a layered pool)
    behind: Optional[int] = None  # how many releases the cluster ran since built_for (None: not behind, unknown)
    behind_versions: List[str] = field(default_factory=list)  # those releases, oldest first
    next_command: Optional[str] = None  # what to run when behind
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
    built_on = built_for = None
    for mc in sorted(ours, key=lambda m: str(m["metadata"]["name"])):
        notes = (mc.get("metadata") or {}).get("annotations") or {}
        built_on = notes.get(BASE_ANNOTATION) or built_on
        built_for = notes.get(RELEASE_ANNOTATION) or built_for
    layered = bool(image) and image != base
    if mosc is not None:  # on-cluster layering: the nodes boot the build, whatever osImageURL says
        from .oncluster import built_image

        image, layered, built_on, built_for = built_image(mosc), True, None, None
    return PoolStatus(
        name=view.name, image=image, layered=layered, base=base, built_on=built_on,
        drift=bool(layered and built_on and digest_of(built_on) != digest_of(base)), rendered=rendered,
        target=view.target or None, updating=view.updating, paused=view.paused, machines=view.machines,
        updated=view.updated, ready=view.ready, degraded=view.degraded, unavailable=view.unavailable,
        managed=sorted(str(mc["metadata"]["name"]) for mc in ours), conditions=view.conditions,
        on_cluster=oncluster_name(mosc) if mosc is not None else None,
        built_for=str(built_for) if built_for and layered else None,
    )


def releases_since(built_for: str, history: Any) -> Optional[List[str]]:
    """The releases the cluster completed after ``built_for`` (ClusterVersion ``status.history``),
    oldest first; None when ``built_for`` is not a version."""
    from .release import version_key

    built = version_key(built_for)
    if built is None:
        return None
    found = {str(h.get("version")) for h in history if isinstance(h, dict) and h.get("state") == "Completed"
             and isinstance(h.get("version"), str)} if isinstance(history, list) else set()
    newer = [v for v in found if (version_key(v) or (0, 0, 0)) > built]
    return sorted(newer, key=lambda v: version_key(v) or (0, 0, 0))


def mark_behind(found: List[PoolStatus], cluster_version: Any,
                labels: Callable[[str], Optional[str]]) -> None:
    """Say, for each layered pool built for an older release than the cluster runs, how many
    releases behind it is and what to run. ``built_for`` is our MachineConfig's release annotation,
    else (an image applied before rhcos-layer recorded it) the image's release label (``labels``)."""
    from .objects import completed_update
    from .objects import field as obj_field
    from .release import version_key

    status = obj_field(cluster_version, "status")
    running = completed_update(status)
    current, payload = running.get("version"), running.get("image")
    if not isinstance(current, str) or version_key(current) is None:
        return
    # the release the cluster runs, not its next update (the default target of a plan)
    command = "rhcos-layer upgrade plan" + (f" --release {payload}" if isinstance(payload, str) and payload
                                            and " " not in payload and len(payload) < 512 else "")
    for pool in found:
        if not pool.layered or pool.on_cluster:
            continue
        pool.cluster_version = current
        if pool.built_for is None and pool.image and (pool.drift or pool.built_on is None):
            pool.built_for = labels(pool.image)
        if pool.built_for is None:
            continue
        since = releases_since(pool.built_for, obj_field(status, "history"))
        if since is None or (version_key(pool.built_for) or (0, 0, 0)) >= (version_key(current) or (0, 0, 0)):
            continue
        pool.behind, pool.behind_versions = len(since), since
        pool.next_command = command


class StatusReader:
    """Reads pools' status, remembering each rendered config's osImageURL across refreshes, and (only
    when a pool is layered) the cluster's release history and each image's release label."""

    def __init__(self, cluster: ClusterAPI) -> None:
        self.cluster = cluster
        self.images: Dict[str, str] = {}
        self._cluster_version: Optional[Dict[str, Any]] = None
        self._releases: Dict[str, Optional[str]] = {}

    def _release_label(self, image: str) -> Optional[str]:
        """The image's ``io.rhcos-layer.release`` label, read once from its registry with the
        default credentials; None when it cannot be read (status never fails for it)."""
        if image not in self._releases:
            from . import reference
            from .apply import image_labels
            from .build import RELEASE_LABEL
            from .errors import RhcosLayerError
            from .trust import TLSSettings

            try:
                self._releases[image] = image_labels(reference.parse_pinned(image), None, TLSSettings()).get(
                    RELEASE_LABEL)
            except RhcosLayerError:
                self._releases[image] = None
        return self._releases[image]

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

    def read_all(self, pools: Optional[List[str]] = None) -> List[PoolStatus]:
        """:meth:`read`, and how many releases each layered pool is behind the cluster."""
        shown = self.read(pools)
        if any(p.layered and not p.on_cluster for p in shown):
            if self._cluster_version is None:  # once per command: a quiet refresh keeps its three requests
                self._cluster_version = self.cluster.cluster_version()
            mark_behind(shown, self._cluster_version, self._release_label)
        return shown


def cluster_status(cluster: ClusterAPI, pools: Optional[List[str]] = None) -> List[PoolStatus]:
    """The status of ``pools`` (all when None)."""
    return StatusReader(cluster).read_all(pools)


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
        found = self.reader.read_all(self.pools)
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

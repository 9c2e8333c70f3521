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
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Dict, Hashable, List, Optional

from .objects import field
from .rollout import PoolView, Watcher

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


# ------------------------------------------------------------------------------ builds and nodes
# openshift/api machineconfiguration/v1/types_machineosbuild.go (v1alpha1 alike): the conditions a
# MachineOSBuild moves through. A finished one has Succeeded, Failed or Interrupted True; the first True
# in this order is its state (a failed build may still say Building=True for a moment).
BUILD_CONDITIONS = ("Failed", "Interrupted", "Succeeded", "Building", "Prepared")
FINISHED = ("Failed", "Interrupted", "Succeeded")
PENDING = "Pending"  # no condition True yet: the build controller has not started it
PREVIOUS_SPEC_ANNOTATION = "rhcos-layer.io/previous-spec"  # what apply --on-cluster replaced (compact JSON)
CURRENT_IMAGE = "machineconfiguration.openshift.io/currentImage"  # MCO pkg/daemon/constants/constants.go
DESIRED_IMAGE = "machineconfiguration.openshift.io/desiredImage"
BUILD_CONFIG_LABEL = "machineconfiguration.openshift.io/machine-os-config"


@dataclass
class Build:
    """One MachineOSBuild, as ``status`` shows it."""

    name: str
    state: str  # one of BUILD_CONDITIONS, or PENDING
    since: Optional[str]  # when it entered that state (the condition's lastTransitionTime)
    rendered: str  # the rendered MachineConfig it builds
    builder: Optional[str]  # job/NAME (v1) or pod/NAME (v1alpha1), in the MCO's namespace
    image: Optional[str]  # status.digestedImagePushSpec (v1alpha1: finalImagePushspec), once pushed
    message: str  # the state's condition message (why a build failed)
    started: str = ""  # status.buildStart, else metadata.creationTimestamp (for "newest")

    @property
    def log_command(self) -> Optional[str]:
        """The command that prints the build's log (the builder Job's, or v1alpha1's build Pod's)."""
        if not self.builder:
            return None
        return f"oc logs -n {NAMESPACE} {self.builder}"

    def as_dict(self) -> Dict[str, Any]:
        found = asdict(self)
        found.pop("started")
        found["log_command"] = self.log_command
        return found


NAMESPACE = "openshift-machine-config-operator"


def version_of(obj: Obj) -> str:
    """``v1`` or ``v1alpha1``: the API version an object came at (the MCO serves one of them)."""
    return _text(obj.get("apiVersion") if isinstance(obj, dict) else None).rpartition("/")[2] or "v1"


def is_ours(mosc: Obj) -> bool:
    from .machineconfig import MANAGED_BY, MANAGED_BY_LABEL

    return bool(field(mosc, "metadata", "labels", MANAGED_BY_LABEL) == MANAGED_BY)


def previous_spec(mosc: Obj, pool: str) -> Obj:
    """The spec ``apply --on-cluster`` replaced, from the annotation rhcos-layer.io/previous-spec (compact
    JSON); InvalidInput, pointing at the plain rollback, when there is none or it is not a JSON object."""
    import json

    from .errors import InvalidInput

    recorded = field(mosc, "metadata", "annotations", PREVIOUS_SPEC_ANNOTATION)
    hint = f"roll back to the base image with: rhcos-layer rollback --pool {pool}"
    if not isinstance(recorded, str) or not recorded:
        raise InvalidInput(f"--to-previous: pool {pool} has no earlier MachineOSConfig spec recorded"
                           f" (annotation {PREVIOUS_SPEC_ANNOTATION} on MachineOSConfig {name(mosc)})", hint=hint)
    try:
        previous = json.loads(recorded)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        previous = None
    if not isinstance(previous, dict) or not previous:
        raise InvalidInput(f"--to-previous: annotation {PREVIOUS_SPEC_ANNOTATION} of MachineOSConfig {name(mosc)}"
                           " is not a JSON object (a spec): it was changed by hand", hint=hint)
    return previous


def build_of(mosb: Obj) -> Build:
    """A MachineOSBuild read defensively: v1 (spec.machineConfig, status.builder.job) or v1alpha1
    (spec.desiredConfig, status.builderReference.buildPod), any other shape as empty."""
    conditions = field(mosb, "status", "conditions")
    true = {str(c.get("type")): c for c in (conditions if isinstance(conditions, list) else [])
            if isinstance(c, dict) and c.get("status") == "True"}
    state = next((t for t in BUILD_CONDITIONS if t in true), PENDING)
    condition = true.get(state) or {}
    builder = None
    job = _text(field(mosb, "status", "builder", "job", "name"))
    pod = _text(field(mosb, "status", "builderReference", "buildPod", "name"))
    if job:
        builder = f"job/{job}"
    elif pod:
        builder = f"pod/{pod}"
    started = (_text(field(mosb, "status", "buildStart")) or _text(field(mosb, "metadata", "creationTimestamp")))
    return Build(name=name(mosb), state=state, since=_text(condition.get("lastTransitionTime")) or None,
                 rendered=_text(field(mosb, "spec", "machineConfig", "name"))
                 or _text(field(mosb, "spec", "desiredConfig", "name")),
                 builder=builder, image=_text(field(mosb, "status", "digestedImagePushSpec"))
                 or _text(field(mosb, "status", "finalImagePushspec")) or None,  # v1alpha1's name for it
                 message=_text(condition.get("message")), started=started)


def build_selector(mosc_name: str) -> str:
    """The label the build controller puts on a MachineOSConfig's builds (MCO pkg/controller/build)."""
    return f"{BUILD_CONFIG_LABEL}={mosc_name}"


def builds_of(mosbs: List[Obj], mosc: Obj) -> List[Build]:
    """The builds of ``mosc``, oldest first (a rebuild of the same rendered config is a new one)."""
    mine = [build_of(b) for b in mosbs if isinstance(b, dict) and name(mosc) in (
        _text(field(b, "spec", "machineOSConfig", "name")), _text(field(b, "metadata", "labels", BUILD_CONFIG_LABEL)))]
    return sorted(mine, key=lambda b: (b.started, b.name))


def current_build(builds: List[Build], rendered: str) -> Optional[Build]:
    """The build of the pool's target rendered config, the newest (``--rebuild`` makes another for the
    same config); None before the build controller made one."""
    for_target = [b for b in builds if b.rendered == rendered] if rendered else []
    return for_target[-1] if for_target else None


def last_result(builds: List[Build]) -> Optional[Build]:
    """The newest finished build (Succeeded, Failed or Interrupted)."""
    done = [b for b in builds if b.state in FINISHED]
    return done[-1] if done else None


def node_images(metas: List[Obj], base: str) -> Dict[str, Dict[str, int]]:
    """How many nodes boot (``current``) and are sent to (``desired``) each image: the daemon's
    currentImage / desiredImage annotations; a node without one boots ``base`` (the rendered config's
    osImageURL) and is sent nowhere else."""
    current: Dict[str, int] = {}
    desired: Dict[str, int] = {}
    for meta in metas:
        annotations = field(meta, "annotations")
        annotations = annotations if isinstance(annotations, dict) else {}
        now = _text(annotations.get(CURRENT_IMAGE)) or base
        want = _text(annotations.get(DESIRED_IMAGE)) or base
        current[now] = current.get(now, 0) + 1
        desired[want] = desired.get(want, 0) + 1
    return {"current": current, "desired": desired}


# ------------------------------------------------------------------------------ following
def _same_image(a: str, b: str) -> bool:
    # the annotations name the build by digest (digestedImagePushSpec); a pull spec spelled through another
    # repository (a mirror) is still the same image when both carry a digest
    from .reference import digest_of

    if a == b:
        return True
    return "@" in a and "@" in b and digest_of(a) == digest_of(b)


class ImageWatcher(Watcher):
    """Follows a pool's nodes to an image of on-cluster layering (the single follower for apply --on-cluster
    and rollback): ``image`` (the build the MCO sends them to) or, None, back to the base (the rendered
    config's osImageURL: no currentImage nor desiredImage left, as after the MachineOSConfig is deleted).
    The pool must target a rendered config without ``without`` (our osImageURL MachineConfig, after
    --replace deleted it). The MCO's counters and done rule as for any rollout, and each node's annotations
    on top (the rendered config alone does not change when only the image does): a node done with the
    config but not booted on the image, or sent on elsewhere, counts as waiting, never as done. Pools
    followed by their counters (over NODE_DETAIL_LIMIT nodes) are checked with one node metadata list."""

    def __init__(self, cluster: ClusterAPI, pool: str, image: Optional[str], *, without: str = "",
                 **kwargs: Any) -> None:
        from .rollout import Expectation

        super().__init__(cluster, pool, Expectation(without, False), **kwargs)
        self.image = image
        self.behind: Optional[int] = None
        self._on_image: Optional[Dict[str, bool]] = None

    def _nodes(self, pool: Obj, view: PoolView) -> None:
        # Watcher's own node reading, then each node's image from the same watched metadata (no request more)
        from .rollout import DONE, WAITING

        super()._nodes(pool, view)
        metas = self._feed.snapshot(wait=0) if self._feed is not None and view.detailed else None
        if metas is None:
            self._on_image = None
            return
        self._on_image = {str(m.get("name")): self.booted(m) for m in metas}
        for node in view.nodes:
            if node.phase == DONE and not self._on_image.get(node.name):
                node.phase = WAITING

    def booted(self, meta: Obj) -> bool:
        """Whether the node boots the image and is sent nowhere else."""
        annotations = field(meta, "annotations")
        annotations = annotations if isinstance(annotations, dict) else {}
        current, desired = _text(annotations.get(CURRENT_IMAGE)), _text(annotations.get(DESIRED_IMAGE))
        if self.image is None:
            return not current and not desired
        return _same_image(current, self.image) and _same_image(desired, self.image)

    def step(self) -> bool:
        if not super().step():
            return False
        if self._on_image is not None:
            self.behind = sum(1 for booted in self._on_image.values() if not booted)
        else:  # a pool followed by its counters (too many nodes to watch): one metadata list
            metas, _ = self.cluster.list_node_metadata(self._selector_text())
            self.behind = sum(1 for m in metas if not self.booted(m))
        return not self.behind

    def progress(self) -> Hashable:
        return (super().progress(), self.behind)

    def diagnosis(self) -> str:
        told = super().diagnosis()
        where = self.image or "the base image"
        return told + (f"; {self.behind} node(s) not yet on {where}" if self.behind else "")


class RestoreFollower:
    """After --to-previous wrote a MachineOSConfig's earlier spec: which image the pool goes to, for
    ``rollout.follow``. apply --on-cluster's BuildWatcher follows a new build of it; but the MCO builds a
    spec again only when it has no build of it (it reuses a MachineOSBuild that succeeded for the same
    inputs), so a change of the nodes' desiredImage away from ``image_before`` (what they booted before the
    write) ends the wait too. ``image`` is then the image the pool goes to."""

    def __init__(self, cluster: ClusterAPI, builds: Any, image_before: Optional[str]) -> None:
        self.cluster = cluster
        self.builds = builds  # oncluster_apply.BuildWatcher
        self.pool = builds.pool
        self.image_before = image_before or ""
        self.node_selector: Optional[str] = None
        self.image: Optional[str] = None
        self.sent: List[str] = []

    def step(self) -> bool:
        if self.builds.step():
            self.image = self.builds.image
            return True
        if self.node_selector is None:
            from .pools import selector_string

            self.node_selector = selector_string(field(self.cluster.watched_pool(self.pool), "spec", "nodeSelector"))
        metas, _ = self.cluster.list_node_metadata(self.node_selector)
        desired = sorted({_text(field(m, "annotations", DESIRED_IMAGE)) for m in metas} - {"", self.image_before})
        self.sent = desired
        if len(desired) == 1:  # an earlier build reused: the nodes are sent to it already
            self.image = desired[0]
            return True
        return False

    def progress(self) -> Hashable:
        return (self.builds.progress(), tuple(self.sent))

    def diagnosis(self) -> str:
        return str(self.builds.diagnosis())

    def close(self) -> None:
        self.builds.close()

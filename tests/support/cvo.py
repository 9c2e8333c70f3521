"""A simulated Cluster Version Operator (CVO) for the emulated OpenShift API (tests/support/kube.py).

Usage::

    api = KubeAPI().start()
    rel = upgrade_releases                                  # the session fixture (tests/support/payload.py)
    seed_release(api, rel["4.16.3"])                        # seed_openshift() on that release's images
    seed_updates(api, rel, current="4.16.3", available=["4.16.8", "4.17.2"])
    with SimulatedMCO(api) as mco, SimulatedCVO(api, releases=rel) as cvo:
        # kubectl patch clusterversion version --type merge -p '{"spec":{"desiredUpdate":{"version":"4.16.8"}}}'
        assert cvo.wait_idle(30)                            # Completed once the master pool is updated
        mco.reboots["worker-0"]                             # reboots per node (SimulatedMCO.reboots)
    SimulatedCVO(api, releases=rel, mco=mco)                # also: rebooted nodes report the release's
                                                            # kubeletVersion, CRI-O, kernel, osImage

Like SimulatedMCO it is a daemon thread writing ``api.store`` directly (every write a watch event), with
start / stop / context manager, ``wait_idle()`` (no upgrade moving), ``wait_moved(version)`` (the MCO's
inputs name *version*: call it before SimulatedMCO.wait_idle()), ``completed``, ``errors`` / ``check()``.
It plays what a client of the cluster sees of an upgrade (openshift/cluster-version-operator):

* Which release (pkg/cvo/cvo.go, findUpdateFromConfig / findUpdateFromConfigVersion): ``spec.desiredUpdate``
  with an ``image`` is taken as it is (and its version must match a given ``version``); a ``version``
  alone is looked up in ``status.availableUpdates`` only - not in conditionalUpdates, so a not-recommended
  update needs the image too (``oc adm upgrade --to --allow-not-recommended`` sets both). Not found: the
  cluster stays where it is and ``ReleaseAccepted`` goes False (reason ``VersionNotFound``); an image that is
  none of *releases*' payloads cannot be loaded: ``ReleaseAccepted`` False, reason ``RetrievePayload``
  (pkg/cvo/cvo.go, pkg/cvo/updatepayload.go). The CRD rules on desiredUpdate are the emulator's.
* Accepted (pkg/cvo/status.go, syncStatus / mergeOperatorHistory): ``status.desired`` set, a ``Partial``
  history entry put first (newest first, ``startedTime``, no ``completionTime``, ``verified``: true for
  the chain's releases, which count as signed), ``ReleaseAccepted`` True ``PayloadLoaded``,
  ``Progressing`` True "Working towards X", ``observedGeneration``.
* After ``step_delay`` the payload's manifests reach the MCO's inputs (lib/resourcebuilder applies them):
  ConfigMap ``openshift-machine-config-operator/machine-config-osimageurl`` (baseOSContainerImage,
  baseOSExtensionsContainerImage, releaseVersion), the ControllerConfig (baseOSContainerImage,
  baseOSExtensionsContainerImage, releaseImage; the MCO operator's sync does it on the real cluster), the
  ``00-<pool>`` MachineConfigs the MCO templates make (osImageURL, extensions image, and their content:
  a new release's templates differ, so every pool gets a new rendered config - also a pool whose
  layered MachineConfig overrides osImageURL) and the API server's version (``api.openshift_version``,
  ``api.git_version`` when the release names its Kubernetes version).
* The SimulatedMCO then re-renders every pool and rolls out the unpaused ones. A paused pool gets its new
  rendered config in ``spec.configuration`` but no node moves (render_controller.go renders regardless of
  spec.paused; node_controller.go skips paused pools).
* Completed when the *master* pool is updated to a config rendered from the new release, not waiting
  for worker pools: the CVO waits for the machine-config ClusterOperator, and the MCO operator
  (pkg/operator/sync.go, syncRequiredMachineConfigPools) only requires the pools labelled
  ``operator.machineconfiguration.openshift.io/required-for-upgrade`` (master; arbiter where there is
  one) to be Updated with a current observedGeneration - but no pool at all may be Degraded, a
  Degraded worker pool holds the upgrade too. A paused master pool holds it for ever (the real
  operator then reports "required MachineConfigPool master is paused"; not played here). Then: history
  entry ``Completed`` with ``completionTime``, ``Progressing`` False "Cluster version is X", ``Available``
  True "Done applying X", ``availableUpdates`` recomputed from the chain held here (*edges*),
  ``conditionalUpdates`` kept for versions still ahead.

Failure injection: ``fail_upgrade(message)`` - the running (or next) upgrade stays Partial with
``Failing`` True (reason ``ClusterOperatorDegraded`` by default) and ``Progressing`` True "Unable to apply
X: message", as pkg/cvo/status.go reports a failed payload sync; ``stall()`` - the next / running upgrade
never completes (Progressing stays "Working towards X"). ``wait_idle()`` counts a failed or stalled upgrade
as idle, as SimulatedMCO counts a blocked rollout.

Preconditions (pkg/payload/precondition/clusterversion/upgradeable.go): with ``Upgradeable`` False
(set_upgradeable()) a minor-version update is refused - ``ReleaseAccepted`` False, reason
``PreconditionChecks`` - unless ``desiredUpdate.force``; a z-stream update goes ahead. The machine-config
operator's own Upgradeable is carried into ClusterVersion (openshift/machine-config-operator
pkg/operator/status.go; pkg/cvo/upgradeable.go): False while a pool is Degraded (``DegradedPool``) or
Updating (``PoolUpdating``); a paused pool is not Updating (pkg/controller/node/status.go), so pausing the
layered pools does not block a minor update. Not played: the kubelet-skew (``KubeletSkewPresent``) and
boot-image-skew reasons some releases add.

Not played: the update graph service (Cincinnati; availableUpdates come from *edges* or seed_updates()),
signature verification, other ClusterOperators, rollbacks.
"""

from __future__ import annotations

import copy
import threading
import time
import traceback
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ._util import SimulatorThread
from .kube import CONFIG_GROUP, MCO_NAMESPACE, KubeAPI, OpenShiftSeed, seed_openshift
from .mco import CONTROLLER_CONFIG, OSIMAGEURL_CONFIGMAP, SimulatedMCO

Obj = Dict[str, Any]

CV = "version"
REQUIRED_FOR_UPGRADE = "operator.machineconfiguration.openshift.io/required-for-upgrade"  # seed: on master
# A file of 00-<pool>'s Ignition that carries the release: the stand-in for the MCO templates' content,
# which changes with every release (so every rendered config does).
RELEASE_FILE = "/etc/emulator/release-version"
_SLICE = 0.05
_MCO_REASONS = ("DegradedPool", "PoolUpdating")  # the Upgradeable reasons _sync_upgradeable sets


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version_key(version: str) -> Tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def default_edges(versions: Sequence[str]) -> Dict[str, List[str]]:
    """An update graph for *versions*: to every later z-stream of the same minor and to every release of
    the next minor (OpenShift updates one minor at a time outside EUS-to-EUS)."""
    out: Dict[str, List[str]] = {}
    for v in versions:
        major, minor = _version_key(v)[:2]
        out[v] = sorted((t for t in versions if _version_key(t) > _version_key(v)
                         and _version_key(t)[:2] in ((major, minor), (major, minor + 1))), key=_version_key)
    return out


def _condition(type_: str, status: str, reason: str = "", message: str = "") -> Obj:
    return {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": _now()}


def set_conditions(conditions: Sequence[Obj], *new: Obj) -> List[Obj]:
    """Replace / add conditions by type; lastTransitionTime kept when the status does not change
    (library-go SetOperatorStatusCondition, as the CVO uses it)."""
    out = [dict(c) for c in conditions]
    for cond in new:
        old = next((c for c in out if c.get("type") == cond["type"]), None)
        if old is None:
            out.append(dict(cond))
            continue
        when = old.get("lastTransitionTime") if old.get("status") == cond["status"] else cond["lastTransitionTime"]
        old.update(cond, lastTransitionTime=when)
    return out


def _true(obj: Obj, type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def _attr(release: Any, name: str, default: str = "") -> str:
    value = release.get(name, default) if isinstance(release, Mapping) else getattr(release, name, default)
    return str(value or default)


# ------------------------------------------------------------------------------- seeding helpers
def seed_release(api: KubeAPI, release: Any, **kwargs: Any) -> OpenShiftSeed:
    """seed_openshift() on *release* (an UpgradeRelease, or a mapping with version / payload / base /
    extensions): the cluster runs that release's images; *kwargs* go to seed_openshift()."""
    return seed_openshift(api, version=_attr(release, "version"), release_image=_attr(release, "payload"),
                          base_image=_attr(release, "base"), extensions_image=_attr(release, "extensions"), **kwargs)


def risk(name: str, message: str, url: str = "https://issues.redhat.com/browse/OCPBUGS-00000",
         promql: str = 'group(cluster_operator_conditions{name="aggregated"})') -> Obj:
    """One ConditionalUpdateRisk (openshift/api config/v1 types_cluster_version.go): name, message, url,
    matchingRules (a PromQL rule here)."""
    return {"name": name, "message": message, "url": url,
            "matchingRules": [{"type": "PromQL", "promql": {"promql": promql}}]}


def conditional_update(release: Any, risks: Sequence[Obj]) -> Obj:
    """A ConditionalUpdate as the CVO writes one for a risk that applies: Recommended False, reason the
    risk's name (several: MultipleReasons), message the risks' messages with their URLs."""
    reason = risks[0]["name"] if len(risks) == 1 else "MultipleReasons"
    message = "\n\n".join(f"{r['message']} {r['url']}" for r in risks)
    return {"release": {"version": _attr(release, "version"), "image": _attr(release, "payload")},
            "risks": [copy.deepcopy(r) for r in risks],
            "conditions": [_condition("Recommended", "False", reason, message)]}


def seed_updates(api: KubeAPI, releases: Mapping[str, Any], current: str = "4.16.3",
                 available: Sequence[str] = ("4.16.8", "4.17.2"),
                 conditional: Optional[Mapping[str, Sequence[Obj]]] = None, channel: str = "") -> Obj:
    """Give ClusterVersion "version" updates from *releases* (version -> UpgradeRelease): availableUpdates
    for *available*, conditionalUpdates for *conditional* (version -> risks, see risk()), RetrievedUpdates
    True. *current* must be what the cluster runs (status.desired.version). Returns the stored object."""
    store = api.store
    cv = store.get("clusterversions", CV)
    if cv is None:
        raise RuntimeError("seed_updates: no ClusterVersion 'version' (seed_openshift() first)")
    running = ((cv.get("status") or {}).get("desired") or {}).get("version")
    if running != current:
        raise RuntimeError(f"seed_updates: the cluster runs {running!r}, not {current!r}")
    avail = [{"version": v, "image": _attr(releases[v], "payload")} for v in available]
    cond = [conditional_update(releases[v], risks) for v, risks in (conditional or {}).items()]
    status = copy.deepcopy(cv.get("status") or {})
    status["availableUpdates"] = avail or None
    if cond:
        status["conditionalUpdates"] = cond
    else:
        status.pop("conditionalUpdates", None)
    status["conditions"] = set_conditions(status.get("conditions") or [], _condition("RetrievedUpdates", "True"))
    patch: Obj = {"status": status}
    if channel:
        patch["spec"] = {"channel": channel}
    return store.patch("clusterversions", CV, patch)


def node_info(release: Any) -> Obj:
    """The status.nodeInfo fields a node reports once booted into *release*'s base (an UpgradeRelease):
    kubelet / kube-proxy, CRI-O, kernel (uname -r) and os-release's PRETTY_NAME."""
    kubelet = f"v{_attr(release, 'kubelet')}+aba1e8d"
    return {"kubeletVersion": kubelet, "kubeProxyVersion": kubelet,
            "containerRuntimeVersion": f"cri-o://{_attr(release, 'crio')}",
            "kernelVersion": f"{_attr(release, 'kernel')}.x86_64",
            "osImage": f"Red Hat Enterprise Linux CoreOS {_attr(release, 'rhcos_version')} (Plow)"}


def node_infos(releases: Mapping[str, Any]) -> Dict[str, Obj]:
    """base pullspec -> node_info() for every release that names its kubelet (SimulatedMCO.node_info)."""
    return {_attr(r, "base"): node_info(r) for r in releases.values() if _attr(r, "kubelet")}


def set_upgradeable(api: KubeAPI, upgradeable: bool, reason: str = "AdminAckRequired",
                    message: str = "Kubernetes 1.30 and therefore OpenShift 4.17 remove several APIs which require"
                                   " admin consideration.") -> Obj:
    """ClusterVersion's Upgradeable condition (False blocks minor updates, see SimulatedCVO)."""
    cv = api.store.get("clusterversions", CV) or {}
    cond = (_condition("Upgradeable", "False", reason, message) if not upgradeable
            else _condition("Upgradeable", "True", "AsExpected", ""))
    return api.store.patch("clusterversions", CV, {"status": {"conditions": set_conditions(
        (cv.get("status") or {}).get("conditions") or [], cond)}})


# ------------------------------------------------------------------------------- the simulator
class _Upgrade:
    """The one upgrade in flight."""

    def __init__(self, version: str, image: str, release: Any) -> None:
        self.version, self.image, self.release = version, image, release
        self.due = time.monotonic()
        self.inputs_moved = False
        self.failed = ""
        self.reported = False  # the failure is in the ClusterVersion's conditions
        self.stalled = False


class SimulatedCVO(SimulatorThread):
    """See the module docstring. *releases*: version -> UpgradeRelease (or mappings with version, payload,
    base, extensions and optionally kubelet); *edges*: version -> versions it may update to (default
    default_edges()); *step_delay*: seconds between accepting a release and moving the MCO's inputs; *mco*:
    a SimulatedMCO whose nodes then report each release's versions once booted into its base (node_infos())."""

    def __init__(self, api: KubeAPI, releases: Optional[Mapping[str, Any]] = None, *, step_delay: float = 0.05,
                 edges: Optional[Mapping[str, Sequence[str]]] = None, mco: Optional[SimulatedMCO] = None) -> None:
        self.api = api
        self.store = api.store
        self.releases: Dict[str, Any] = dict(releases or {})
        self.edges: Dict[str, List[str]] = ({k: list(v) for k, v in edges.items()} if edges is not None
                                            else default_edges(list(self.releases)))
        self.step_delay = step_delay
        if mco is not None:  # nodes booted into a release's base report its kubelet, CRI-O, kernel, OS
            mco.node_info.update(node_infos(self.releases))
        self.errors: List[str] = []
        self.completed: List[str] = []  # versions completed, in order
        self._upgrade: Optional[_Upgrade] = None
        self._fail_next = ""
        self._fail_reason = "ClusterOperatorDegraded"
        self._stall_next = False
        self._seen_generation = 0
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------------------ lifecycle (SimulatorThread)
    thread_name = "simulated-cvo"

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.check()

    # ------------------------------------------------------------------------ failure injection
    def fail_upgrade(self, message: str, reason: str = "ClusterOperatorDegraded") -> None:
        """The running upgrade (or the next one) fails: stays Partial, Failing True (*reason*, *message*),
        Progressing True "Unable to apply X: message"."""
        with self._lock:
            self._fail_next, self._fail_reason = message, reason
            if self._upgrade is not None:
                self._upgrade.failed = message
        self._wake()

    def stall(self) -> None:
        """The running upgrade (or the next one) never completes."""
        with self._lock:
            self._stall_next = True
            if self._upgrade is not None:
                self._upgrade.stalled = True
        self._wake()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once the latest spec.desiredUpdate was seen and no upgrade is moving any more (none,
        completed, refused, failed or stalled); False after *timeout* s."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                cv = self.store.get("clusterversions", CV) or {}
                seen = self._seen_generation >= int((cv.get("metadata") or {}).get("generation") or 0)
                up = self._upgrade
                if seen and (up is None or up.reported or (up.stalled and up.inputs_moved)):
                    return True
            if time.monotonic() >= deadline or not self.running:
                return False
            time.sleep(0.02)

    def wait_moved(self, version: str, timeout: float = 10.0) -> bool:
        """True once the upgrade to *version* has moved the MCO's inputs (machine-config-osimageurl names
        it): from then on SimulatedMCO.wait_idle() waits for the rollouts it causes."""
        deadline = time.monotonic() + timeout
        while True:
            cm = self.store.get("configmaps", OSIMAGEURL_CONFIGMAP, MCO_NAMESPACE) or {}
            if (cm.get("data") or {}).get("releaseVersion") == version:
                return True
            if time.monotonic() >= deadline or not self.running:
                return False
            time.sleep(0.02)

    # ------------------------------------------------------------------------ the loop
    def _wake(self) -> None:
        with self.store.changed:
            self.store.changed.notify_all()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                with self._lock:
                    self._sync()
            except Exception:  # noqa: BLE001 - reported by check(), the thread must go on
                self.errors.append(traceback.format_exc())
                if len(self.errors) > 20:
                    return
            with self.store.changed:
                if not self._stopping.is_set():
                    self.store.changed.wait(_SLICE)

    def _sync(self) -> None:
        cv = self.store.get("clusterversions", CV)
        if cv is None:
            return
        cv = self._sync_upgradeable(cv)
        generation = int(cv["metadata"].get("generation") or 1)
        status = cv.get("status") or {}
        want = (cv.get("spec") or {}).get("desiredUpdate")
        if generation > self._seen_generation:
            self._seen_generation = generation
            if isinstance(want, dict) and (want.get("image") or want.get("version")):
                self._accept(cv, want, generation)
                return
        up = self._upgrade
        if up is None:
            return
        if not up.inputs_moved:
            if time.monotonic() >= up.due:
                self._move_inputs(up)
            return
        if up.failed:
            self._report_failure(up)
            return
        if not up.stalled and self._master_done(up.version):
            self._complete(up, status)

    def _sync_upgradeable(self, cv: Obj) -> Obj:
        """The machine-config ClusterOperator's Upgradeable, as the CVO carries it into ClusterVersion.
        openshift/machine-config-operator pkg/operator/status.go syncUpgradeableStatus: False while a pool
        is Degraded (reason DegradedPool, first) or Updating (PoolUpdating); a paused pool reports
        Updating False (pkg/controller/node/status.go, "Pool is paused"), so it does not block.
        openshift/cluster-version-operator pkg/cvo/upgradeable.go: one operator not upgradeable gives its
        reason and "Cluster operator machine-config should not be upgraded between minor versions: ...".
        A False set by set_upgradeable (another reason: an admin-ack) is left as it is: it blocks anyway."""
        pools = self.store.list("machineconfigpools")
        blocker: Optional[Tuple[str, str]] = None
        if any(_true(p, "Degraded") for p in pools):
            blocker = ("DegradedPool", "One or more machine config pools are degraded, please see `oc get mcp`"
                                       " for further details and resolve before upgrading")
        elif any(_true(p, "Updating") for p in pools):
            blocker = ("PoolUpdating", "One or more machine config pools are updating, please see `oc get mcp`"
                                       " for further details")
        conditions = (cv.get("status") or {}).get("conditions") or []
        now = next((c for c in conditions if c.get("type") == "Upgradeable"), None)
        if now is not None and now.get("status") == "False" and now.get("reason") not in _MCO_REASONS:
            return cv
        if blocker is not None:
            want = _condition("Upgradeable", "False", blocker[0], "Cluster operator machine-config should not be"
                              f" upgraded between minor versions: {blocker[1]}")
        elif now is not None and now.get("reason") in _MCO_REASONS:
            want = _condition("Upgradeable", "True", "AsExpected", "")
        else:
            return cv
        if now is not None and all(now.get(k) == want.get(k) for k in ("status", "reason", "message")):
            return cv
        return self.store.patch("clusterversions", CV, {"status": {"conditions": set_conditions(conditions, want)}})

    # pkg/cvo/cvo.go findUpdateFromConfig: image as given, a version only from availableUpdates
    def _accept(self, cv: Obj, want: Obj, generation: int) -> None:
        status = cv.get("status") or {}
        desired = status.get("desired") or {}
        version, image = str(want.get("version") or ""), str(want.get("image") or "")
        if not image:
            hit = next((u for u in status.get("availableUpdates") or [] if isinstance(u, dict)
                        and u.get("version") == version and u.get("image")), None)
            if hit is None:
                self._refuse(status, generation, "VersionNotFound",
                             f'Unable to find version {version} in availableUpdates (the cluster stays on '
                             f'{desired.get("version", "")})')
                return
            image = str(hit["image"])
        release = next((r for r in self.releases.values() if _attr(r, "payload") == image), None)
        if release is None or (version and _attr(release, "version") != version):
            why = ("the release image's version is " + _attr(release, "version")) if release is not None \
                else "unable to load the release image"
            self._refuse(status, generation, "RetrievePayload",
                         f'Retrieving payload failed version="{version}" image="{image}" failure={why}')
            return
        version = _attr(release, "version")
        if image == desired.get("image") and (self._upgrade is None or self._upgrade.image == image):
            return  # already there (or on the way)
        # pkg/cvo/upgradeable.go + pkg/payload/precondition/clusterversion/upgradeable.go: Upgradeable=False
        # blocks a minor-version update (z-stream ones go ahead) unless desiredUpdate.force
        upgradeable = next((c for c in status.get("conditions") or [] if c.get("type") == "Upgradeable"), None)
        current = str(desired.get("version") or "")
        if (upgradeable is not None and upgradeable.get("status") == "False" and not want.get("force")
                and _version_key(version)[:2] != _version_key(current)[:2]):
            self._refuse(status, generation, "PreconditionChecks",
                         f'Preconditions failed for payload loaded version="{version}" image="{image}": Precondition'
                         f' "ClusterVersionUpgradeable" failed because of "{upgradeable.get("reason", "")}":'
                         f' {upgradeable.get("message", "")}')
            return
        up = _Upgrade(version, image, release)
        up.due = time.monotonic() + self.step_delay
        if self._fail_next:
            up.failed = self._fail_next
        up.stalled = self._stall_next
        self._upgrade = up
        now = _now()
        history = [dict(h) for h in status.get("history") or []]
        # pkg/cvo/status.go mergeOperatorHistory: a running entry still Partial is closed when another starts
        for h in history:
            if h.get("state") == "Partial" and not h.get("completionTime"):
                h["completionTime"] = now
        history.insert(0, {"state": "Partial", "startedTime": now, "completionTime": None, "version": version,
                           "image": image, "verified": True, "acceptedRisks": ""})
        conditions = set_conditions(
            status.get("conditions") or [],
            _condition("ReleaseAccepted", "True", "PayloadLoaded",
                       f'Payload loaded version="{version}" image="{image}" architecture="amd64"'),
            _condition("Progressing", "True", "", f"Working towards {version}"),
            _condition("Failing", "False"))
        self.store.patch("clusterversions", CV, {"status": {
            "desired": {"version": version, "image": image, "channels": desired.get("channels") or [],
                        "url": desired.get("url", "")},
            "history": history, "conditions": conditions, "observedGeneration": generation}})

    def _refuse(self, status: Obj, generation: int, reason: str, message: str) -> None:
        conditions = set_conditions(status.get("conditions") or [],
                                    _condition("ReleaseAccepted", "False", reason, message))
        self.store.patch("clusterversions", CV, {"status": {"conditions": conditions,
                                                            "observedGeneration": generation}})

    def _report_failure(self, up: _Upgrade) -> None:
        cv = self.store.get("clusterversions", CV) or {}
        status = cv.get("status") or {}
        conditions = set_conditions(
            status.get("conditions") or [],
            _condition("Failing", "True", self._fail_reason, up.failed),
            _condition("Progressing", "True", self._fail_reason, f"Unable to apply {up.version}: {up.failed}"))
        if conditions != status.get("conditions"):
            self.store.patch("clusterversions", CV, {"status": {"conditions": conditions}})
        up.reported = True

    # lib/resourcebuilder applies the payload's manifests; these are the ones the MCO reads
    def _move_inputs(self, up: _Upgrade) -> None:
        base, ext = _attr(up.release, "base"), _attr(up.release, "extensions")
        with self.store.lock:  # one step, as far as the MCO's passes can tell
            cm = self.store.get("configmaps", OSIMAGEURL_CONFIGMAP, MCO_NAMESPACE)
            if cm is not None:
                self.store.patch("configmaps", OSIMAGEURL_CONFIGMAP, {"data": {
                    "baseOSContainerImage": base, "baseOSExtensionsContainerImage": ext,
                    "releaseVersion": up.version}}, MCO_NAMESPACE)
            if self.store.get("controllerconfigs", CONTROLLER_CONFIG) is not None:
                self.store.patch("controllerconfigs", CONTROLLER_CONFIG, {"spec": {
                    "baseOSContainerImage": base, "baseOSExtensionsContainerImage": ext, "releaseImage": up.image}})
            for mc in self.store.list("machineconfigs"):
                name = mc["metadata"]["name"]
                if not (name.startswith("00-") and (mc.get("spec") or {}).get("osImageURL")):
                    continue  # only the templates' 00-<pool>, which carry the base image
                config = copy.deepcopy((mc.get("spec") or {}).get("config") or {})
                files = [f for f in (config.get("storage") or {}).get("files") or [] if f.get("path") != RELEASE_FILE]
                files.append({"path": RELEASE_FILE, "mode": 420, "contents": {"source": f"data:,{up.version}"}})
                config.setdefault("storage", {})["files"] = files
                self.store.patch("machineconfigs", name, {"spec": {
                    "osImageURL": base, "baseOSExtensionsContainerImage": ext, "config": config}})
            self.api.openshift_version = up.version
            kubelet = _attr(up.release, "kubelet")
            if kubelet:
                self.api.git_version = f"v{kubelet}+aba1e8d"
        up.inputs_moved = True

    def _master_done(self, version: str) -> bool:
        """pkg/operator/sync.go syncRequiredMachineConfigPools: no pool Degraded (any pool, worker too), and
        every pool labelled required-for-upgrade (master; arbiter) updated, with observedGeneration current,
        to a config rendered from this release's templates. A paused required pool never gets there."""
        pools = self.store.list("machineconfigpools")
        if any(_true(p, "Degraded") for p in pools):
            return False
        return all(self._pool_done(p, version) for p in pools
                   if REQUIRED_FOR_UPGRADE in ((p.get("metadata") or {}).get("labels") or {}))

    def _pool_done(self, pool: Obj, version: str) -> bool:
        spec, st = pool.get("spec") or {}, pool.get("status") or {}
        name = str((st.get("configuration") or {}).get("name") or "")
        if not name or name != str((spec.get("configuration") or {}).get("name") or ""):
            return False
        if not (_true(pool, "Updated") and st.get("updatedMachineCount") == st.get("machineCount")
                and int(pool["metadata"].get("generation") or 0) <= int(st.get("observedGeneration") or 0)):
            return False
        rendered = self.store.get("machineconfigs", name) or {}
        files = (((rendered.get("spec") or {}).get("config") or {}).get("storage") or {}).get("files") or []
        return any(f.get("path") == RELEASE_FILE and (f.get("contents") or {}).get("source") == f"data:,{version}"
                   for f in files)

    def _complete(self, up: _Upgrade, status: Obj) -> None:
        now = _now()
        history = [dict(h) for h in status.get("history") or []]
        if history and history[0].get("image") == up.image:
            history[0].update(state="Completed", completionTime=now)
        ahead = set(self.edges.get(up.version, []))
        conditional = [c for c in status.get("conditionalUpdates") or []
                       if ((c.get("release") or {}).get("version")) in ahead]
        risky = {(c.get("release") or {}).get("version") for c in conditional}
        available = [{"version": v, "image": _attr(self.releases[v], "payload")}
                     for v in self.edges.get(up.version, []) if v in self.releases and v not in risky]
        conditions = set_conditions(
            status.get("conditions") or [],
            _condition("Available", "True", "", f"Done applying {up.version}"),
            _condition("Failing", "False"),
            _condition("Progressing", "False", "", f"Cluster version is {up.version}"))
        patch: Obj = {"status": {"history": history, "conditions": conditions, "availableUpdates": available or None,
                                 "conditionalUpdates": conditional or None}}
        self.store.patch("clusterversions", CV, patch)
        self.completed.append(up.version)
        self._upgrade = None
        self._fail_next, self._stall_next = "", False


__all__ = ["SimulatedCVO", "seed_release", "seed_updates", "risk", "conditional_update", "default_edges", "node_info",
           "node_infos", "set_upgradeable",
           "set_conditions", "RELEASE_FILE", "CONFIG_GROUP"]

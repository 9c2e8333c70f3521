"""A simulated Machine Config Operator (MCO) for the emulated OpenShift API (tests/support/kube.py).

Usage::

    api = KubeAPI().start()
    seed_openshift(api)
    mco = SimulatedMCO(api, step_delay=0.02).start()   # a daemon thread reconciling api.store
    ...                                                # create a MachineConfig over HTTP (kubectl, client)
    assert mco.wait_idle(10)                           # rendered, rolled out (or blocked: paused / degraded)
    mco.stop()                                         # joins the thread; mco.check() re-raises its errors

It plays the three MCO parts a client of the cluster can see, writing ``api.store`` directly (so
every write is a watch event, like the real controllers' updates):

* the render controller: for each MachineConfigPool, merge the MachineConfigs its
  ``spec.machineConfigSelector`` selects into ``rendered-<pool>-<md5 of the merged spec>``, create that
  MachineConfig (owned by the pool) and point ``spec.configuration`` (name + source) at it;
* the node controller: when the pool is not ``spec.paused``, pick nodes for the target config as
  ``getAllCandidateMachines`` does (pkg/controller/node/node_controller.go) and keep the pool's status;
* the machine-config daemon on each node: Working, cordon, drain, (pull the image,) reboot (node
  NotReady, state still Working; 4.16+ also ``post-config-action: Rebooting``), then Done on the new
  config, uncordoned and Ready again - one write per step, ``step_delay`` seconds apart.

Facts it follows (from openshift/machine-config-operator, the OpenShift docs and openshift/api):

* Merge (pkg/controller/common/helpers.go, MergeMachineConfigs): the pool's MachineConfigs are sorted
  by name; the *last non-empty* ``spec.osImageURL`` wins, otherwise the release's base image (ConfigMap
  ``openshift-machine-config-operator/machine-config-osimageurl``, key ``baseOSContainerImage``; the
  ControllerConfig's ``spec.baseOSContainerImage`` if the ConfigMap is missing). From 4.15, for a custom
  pool (not master/worker/arbiter) the worker MachineConfigs are merged first, then the pool's own;
  4.14 sorts by name alone.
  ``rendered-*`` MachineConfigs carry no role label and are never inputs.
* A node is done for a pool when state=Done and currentConfig == desiredConfig == the pool's
  ``spec.configuration.name``. A pool is done when ``status.configuration.name ==
  spec.configuration.name``, updatedMachineCount == machineCount, Updated=True,
  degradedMachineCount == 0 and ``status.observedGeneration == metadata.generation``.
* Node annotations (prefix ``machineconfiguration.openshift.io/``, MCO pkg/daemon/constants): currentConfig,
  desiredConfig, state (only Working, Done, Degraded, Unreconcilable: pkg/daemon/writer.go), reason (the
  error text when Degraded), desiredDrain, lastAppliedDrain, post-config-action (4.16+, pkg/daemon/update.go:
  ``Rebooting`` during the reboot, then empty); on-cluster layering adds currentImage / desiredImage.
  The cluster's release (ConfigMap ``machine-config-osimageurl`` ``releaseVersion``, or ``version=``) picks
  the behaviour of each version.
* Which nodes move (getAllCandidateMachines, pkg/controller/node/node_controller.go; isNodeUnavailable,
  pkg/controller/node/status.go): none while unavailable >= maxUnavailable; a node is unavailable when
  NotReady or cordoned, or not done and its daemon not failing. A failed update leaves the node cordoned,
  so a Degraded node holds a slot and, with the default maxUnavailable of 1, nothing is retargeted - also
  after the MachineConfig that broke it is deleted. The way back is a person's: put the node's
  desiredConfig back to its currentConfig (``recovery_patch()``; ``oc patch node NODE --type merge -p
  ...``), or the daemon's force file (``retry_node()``). Candidates go in sortNodeList's order (zone, then
  oldest).
* Nodes pull the image with the cluster's global pull secret; a registry that refuses it leaves the
  node Degraded (``fail_pull()`` plays that). Deleting the layered MachineConfig makes the merge
  yield the base image again, so the pool rolls back. Never delete ``rendered-*`` MachineConfigs.
* A node belongs to one pool (MCO GetPoolsForNode): a custom pool wins over worker, master over
  worker; a node in two custom pools, or in master and a custom pool, is left alone.

Simplifications, on purpose:

* ``spec.config`` (Ignition) is merged approximately: objects key by key, list entries with the same
  ``path`` / ``name`` replaced, other list entries appended. The rest as MergeMachineConfigs does it
  (merge_machine_configs): extensions appended and checked against the release's list (EXTENSIONS),
  ``realtime`` / ``64k-pages`` winning over ``default`` whatever the order, kernel arguments once each.
* At start the simulator *adopts* a pool's existing ``spec.configuration.name`` as the render of the
  current inputs when that rendered MachineConfig has the same osImageURL, extensions image,
  extensions, kernelType, kernelArguments and fips as the merge (seed_openshift()'s rendered names
  hash other input than ours): a settled cluster stays settled, and deleting a layered
  MachineConfig later goes back to that very name, as the real MCO's content hash would.
* A Degraded node's daemon does not retry by itself here (the real one retries a failed pull with
  backoff, and succeeds once the registry accepts the pull secret): ``retry_node()`` plays its retry.
* On-cluster layering, real: ``SimulatedMCO(api, builder=<PodmanStore>, cert_dir=<registry CA dir>,
  build_delay=...)`` runs tests/support/build_sim.py's BuildController: a MachineOSBuild, the builder Job and
  pod, a real podman build and push, the pod's log; the pool's nodes wait for the build and then boot the
  pushed digest (also when the rendered config did not change). Without *builder*, as follows:
* On-cluster layering: a pool with a MachineOSConfig (any served version) gets, per rendered config, a
  MachineOSBuild that succeeds at once, built on the cluster's base (not on any osImageURL: a layered
  MachineConfig only changes the rendered config, so it triggers a rebuild), and its nodes boot that
  image: desiredImage / currentImage annotations, MachineOSConfig status.currentImagePullSpec. The pool's
  done rule holds as usual. Other pools get the image annotations only with ``image_annotations=True``.
* Pools made "instant" (``scale(..., instant=True)`` or ``set_instant()``) update every node in one
  write each, all at once, without step delays or the maxUnavailable limit (for request-count tests
  on thousands of nodes). Mind the store's watch history (``KubeAPI(history=...)``, default 1000
  events): a burst of 2000 node writes can expire a slow watcher's resourceVersion (410 Gone).
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
import traceback
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from ._util import SimulatorThread
from .build_sim import BuildController, image_build_degraded
from .kube import (
    CONTROLLER_VERSION,
    MCO_GROUP,
    MCO_NAMESPACE,
    KubeAPI,
    _node_managed_fields,
    _ovn_annotations,
    _pad_metadata,
    merge_patch,
    resource_type,
)
from .podman import PodmanStore

Obj = Dict[str, Any]

MC_API_VERSION = f"{MCO_GROUP}/v1"
ROLE_LABEL = f"{MCO_GROUP}/role"
GENERATED_BY = f"{MCO_GROUP}/generated-by-controller-version"
RELEASE_IMAGE_VERSION = f"{MCO_GROUP}/release-image-version"
CURRENT_CONFIG = f"{MCO_GROUP}/currentConfig"
DESIRED_CONFIG = f"{MCO_GROUP}/desiredConfig"
STATE = f"{MCO_GROUP}/state"
REASON = f"{MCO_GROUP}/reason"
DESIRED_DRAIN = f"{MCO_GROUP}/desiredDrain"
LAST_APPLIED_DRAIN = f"{MCO_GROUP}/lastAppliedDrain"
CURRENT_IMAGE = f"{MCO_GROUP}/currentImage"
DESIRED_IMAGE = f"{MCO_GROUP}/desiredImage"
OSIMAGEURL_CONFIGMAP = "machine-config-osimageurl"
CONTROLLER_CONFIG = "machine-config-controller"
BUILT_IN_POOLS = ("master", "worker", "arbiter")  # every other pool is a custom pool (inherits worker)

POST_CONFIG_ACTION = f"{MCO_GROUP}/post-config-action"
ZONE_LABEL = "topology.kubernetes.io/zone"
# The daemon's states (pkg/daemon/constants/constants.go, written by pkg/daemon/writer.go): only these four.
# A reboot is not a state: the node stays Working (4.16+ also writes post-config-action: Rebooting,
# pkg/daemon/update.go; 4.14 and 4.15 show nothing but the node going NotReady).
WORKING, DONE, DEGRADED, UNRECONCILABLE = "Working", "Done", "Degraded", "Unreconcilable"
STATES = (WORKING, DONE, DEGRADED, UNRECONCILABLE)
REBOOTING = "Rebooting"  # a value of post-config-action, never of state
IN_FLIGHT = (WORKING,)
FAILED = (DEGRADED, UNRECONCILABLE)
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
UNAUTHORIZED = "unauthorized: access to the requested resource is not authorized"

_WAIT_SLICE = 0.1  # the thread never sleeps longer than this without looking at stop / pause


class Rollout(NamedTuple):
    """One entry of ``SimulatedMCO.history``: a pool's nodes started moving to *rendered*."""

    pool: str
    rendered: str
    os_image_url: str


class RenderError(Exception):
    """The pool's MachineConfigs cannot be rendered (the pool gets RenderDegraded=True)."""


# ============================================================================ pure helpers
def _timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _name(obj: Obj) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _labels(obj: Obj) -> Dict[str, str]:
    """The object's labels (not a copy: read-only)."""
    return (obj.get("metadata") or {}).get("labels") or {}  # type: ignore[no-any-return]


def _annotations(obj: Obj) -> Dict[str, str]:
    """The object's annotations (not a copy: read-only)."""
    return (obj.get("metadata") or {}).get("annotations") or {}  # type: ignore[no-any-return]


def selector_matches(selector: Optional[Obj], labels: Dict[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions In/NotIn/Exists/DoesNotExist).

    A missing (null) selector selects nothing, an empty one everything (LabelSelectorAsSelector);
    an unknown operator selects nothing (the real conversion fails)."""
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or [])
        if op == "In":
            ok = key in labels and labels[key] in values
        elif op == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        else:
            ok = False
        if not ok:
            return False
    return True


def max_unavailable(value: Any, total: int) -> int:
    """spec.maxUnavailable as the node controller reads it: an int, or a percent string scaled down
    (intstr.GetScaledValueFromIntOrPercent, roundUp=false); missing, invalid or 0 means 1."""
    n = 1
    if isinstance(value, bool) or value is None:
        n = 1
    elif isinstance(value, int):
        n = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith("%") and text[:-1].isdigit():
            n = int(text[:-1]) * total // 100
        elif text.isdigit():  # the real conversion rejects a non-percent string; be lenient
            n = int(text)
    return max(n, 1)


def _item_key(item: Any) -> Optional[Tuple[str, str]]:
    if isinstance(item, dict):
        for key in ("path", "name"):
            if isinstance(item.get(key), str):
                return key, item[key]
    return None


def merge_ignition(base: Any, over: Any) -> Any:
    """An approximate Ignition merge: objects key by key, list entries keyed by path / name replaced,
    other entries appended once; scalars from *over*."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = merge_ignition(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(over, list):
        merged = list(base)
        for item in over:
            key = _item_key(item)
            at = next((i for i, old in enumerate(merged) if key is not None and _item_key(old) == key), None)
            if at is not None:
                merged[at] = copy.deepcopy(item)
            elif item not in merged:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(over)


# MachineConfig extensions the MCO accepts and the RPMs each installs (pkg/controller/common/helpers.go
# SupportedExtensions, as of release-4.20), with the first release that has each (4.14 when older).
EXTENSIONS: Dict[str, Tuple[str, ...]] = {
    "ipsec": ("NetworkManager-libreswan", "libreswan"),
    "kerberos": ("krb5-workstation", "libkadm5"),
    "kernel-devel": ("kernel-devel", "kernel-headers"),
    "sandboxed-containers": ("kata-containers",),
    "sysstat": ("sysstat",),
    "two-node-ha": ("pacemaker", "pcs", "fence-agents-all"),
    "usbguard": ("usbguard",),
    "wasm": ("crun-wasm",),
}
EXTENSION_SINCE: Dict[str, int] = {"two-node-ha": 20}
# What a kernelType installs in place of the default kernel (pkg/daemon/update.go).
KERNEL_PACKAGES: Dict[str, Tuple[str, ...]] = {
    "realtime": ("kernel-rt-core", "kernel-rt-modules", "kernel-rt-modules-core", "kernel-rt-modules-extra",
                 "kernel-rt-kvm"),
    "64k-pages": ("kernel-64k-core", "kernel-64k-modules", "kernel-64k-modules-core", "kernel-64k-modules-extra"),
}


def merge_order(pool: str, configs: Sequence[Obj], minor: int = 16) -> List[Obj]:
    """The order MergeMachineConfigs (pkg/controller/common/helpers.go) applies *configs* in (the last
    non-empty value wins).

    By metadata.name; from 4.15, for a custom pool (not master/worker/arbiter), first the MachineConfigs
    labelled role=worker, by name, then all the others (the pool's own), by name - so for pool infra
    ``50-infra-x`` beats ``99-worker-y`` on 4.15+, and loses to it on 4.14 (name order alone)."""
    if pool in BUILT_IN_POOLS or minor < 15:
        return sorted(configs, key=_name)
    return sorted(configs, key=lambda mc: (_labels(mc).get(ROLE_LABEL) != "worker", _name(mc)))


def merge_machine_configs(pool: str, configs: Sequence[Obj], base_image: str, base_extensions: str = "",
                          minor: int = 16) -> Obj:
    """The rendered spec of *configs* for *pool* (see merge_order for the order), as MergeMachineConfigs
    makes it: the last osImageURL / extensions image wins; ``realtime`` or ``64k-pages`` in any config wins
    over ``default`` whatever the order; FIPS if any; kernel arguments once each; extensions appended.
    Raises RenderError where the render controller refuses (unknown extension, kernel-devel with a
    non-default kernel)."""
    config: Obj = {}
    os_image = extensions_image = kernel_type = ""
    extensions: List[str] = []
    kernel_arguments: List[str] = []
    fips = False
    for mc in merge_order(pool, configs, minor):
        spec = mc.get("spec") or {}
        if isinstance(spec.get("config"), dict):
            config = merge_ignition(config, spec["config"])
        os_image = str(spec.get("osImageURL") or "") or os_image
        extensions_image = str(spec.get("baseOSExtensionsContainerImage") or "") or extensions_image
        if spec.get("kernelType") in KERNEL_PACKAGES:
            kernel_type = str(spec["kernelType"])
        extensions.extend(str(e) for e in spec.get("extensions") or [])
        kernel_arguments.extend(a for a in (str(a) for a in spec.get("kernelArguments") or [])
                                if a not in kernel_arguments)
        fips = fips or bool(spec.get("fips"))
    kernel_type = kernel_type or "default"
    # pkg/controller/common/helpers.go ValidateMachineConfigExtensions, and MergeMachineConfigs' own check
    invalid = sorted({e for e in extensions if e not in EXTENSIONS or minor < EXTENSION_SINCE.get(e, 0)})
    if invalid:
        raise RenderError(f"invalid extensions found: {invalid}")
    if kernel_type != "default" and "kernel-devel" in extensions:
        raise RenderError(f"installing kernel-devel extension is not supported with kernelType: {kernel_type}")
    return {
        "baseOSExtensionsContainerImage": extensions_image or base_extensions,
        "config": config or {"ignition": {"version": "3.4.0"}},
        "extensions": extensions,
        "fips": fips,
        "kernelArguments": kernel_arguments,
        "kernelType": kernel_type,
        "osImageURL": os_image or base_image,
    }


def content_hash(spec: Obj) -> str:
    """32 hex digits (md5, like the MCO's getMachineConfigHashedName) over the merged spec."""
    data = json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def _same_render(existing: Obj, merged: Obj) -> bool:
    """Whether an existing rendered MachineConfig's spec is the render of *merged* (Ignition aside)."""
    spec = existing.get("spec") or {}
    return (str(spec.get("osImageURL") or "") == merged["osImageURL"]
            and str(spec.get("baseOSExtensionsContainerImage") or "") == merged["baseOSExtensionsContainerImage"]
            and sorted(spec.get("extensions") or []) == sorted(merged["extensions"])
            and (spec.get("kernelType") or "default") == merged["kernelType"]
            and list(spec.get("kernelArguments") or []) == merged["kernelArguments"]
            and bool(spec.get("fips")) == merged["fips"])


def pull_failure_reason(image: str, why: str = UNAUTHORIZED) -> str:
    """The reason annotation of a node whose image pull failed, as the machine-config daemon writes
    it (it pulls with podman and the global pull secret before rebasing)."""
    repo, sep, ref = image.partition("@")
    if not sep:
        slash = image.rfind("/")
        colon = image.rfind(":")
        repo, ref = (image[:colon], image[colon + 1:]) if colon > slash else (image, "latest")
    return (f"failed to update OS to {image}: failed to run command podman (6 tries): [timed out waiting for the"
            f" condition, running podman pull -q --authfile /var/lib/kubelet/config.json {image} failed: Error:"
            f" initializing source docker://{image}: reading manifest {ref} in {repo}: {why}\n: exit status 125]")


def _merge_in_place(target: Obj, patch: Obj) -> Obj:
    """RFC 7386 merge patch applied to *target* itself (a fresh copy)."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge_in_place(target[key], value)
        else:
            target[key] = merge_patch(None, value) if isinstance(value, dict) else copy.deepcopy(value)
    return target


def _spec_part(obj: Obj) -> Obj:
    """What bumps metadata.generation: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _state(node: Obj) -> str:
    return _annotations(node).get(STATE, "")


def _ready(node: Obj) -> bool:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def _node_done(node: Obj) -> bool:
    ann = _annotations(node)
    return ann.get(STATE) == DONE and bool(ann.get(CURRENT_CONFIG)) and ann.get(CURRENT_CONFIG) == ann.get(
        DESIRED_CONFIG)


def done_at(node: Obj, target: str, image: Optional[str] = None) -> bool:
    """isNodeDoneAtPool: state=Done and currentConfig == desiredConfig == target; in a layered pool (*image*:
    the MachineOSConfig's built image) also currentImage == desiredImage == image (pkg/controller/node/status.go,
    4.16+: isNodeDoneAt checks the image annotations of a layered pool)."""
    ann = _annotations(node)
    return _node_done(node) and ann.get(CURRENT_CONFIG) == target and (
        image is None or (ann.get(CURRENT_IMAGE) or "") == (ann.get(DESIRED_IMAGE) or "") == image)


def machine_os_config_pool(mosc: Obj) -> str:
    """The pool a MachineOSConfig builds for (spec.machineConfigPool.name, v1 and v1alpha1 alike: openshift/api
    machineconfiguration/v1/types_machineosconfig.go, machineconfiguration/v1alpha1/types_machineosconfig.go)."""
    return str(((mosc.get("spec") or {}).get("machineConfigPool") or {}).get("name") or "")


def release_minor(version: str) -> int:
    """4.N -> N (16 when unknown: the emulator's default release)."""
    parts = (version or "").split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 16


def _schedulable_ready(node: Obj) -> bool:
    """isNodeReady of the node controller (pkg/controller/node/status.go): Ready=True and not cordoned."""
    return _ready(node) and not (node.get("spec") or {}).get("unschedulable")


def unavailable_for_update(node: Obj) -> bool:
    """isNodeUnavailable (pkg/controller/node/status.go, release-4.14 to 4.21): a node that is not ready
    (NotReady or cordoned) is unavailable; a done one is available; otherwise it is unavailable unless its
    daemon is failing (Degraded/Unreconcilable) - but a failed update leaves the node cordoned, so a
    Degraded node still counts against maxUnavailable."""
    if not _schedulable_ready(node):
        return True
    if _node_done(node):
        return False
    return _state(node) not in FAILED


def _rebooting(node: Obj) -> bool:
    """The daemon's reboot step: Working, drained, and NotReady (the kubelet is down). The daemon reboots
    right after the drain and writes no state for it (pkg/daemon/update.go; states in pkg/daemon/writer.go)."""
    ann = _annotations(node)
    return (_state(node) == WORKING and not _ready(node)
            and ann.get(LAST_APPLIED_DRAIN) == f"drain-{ann.get(DESIRED_CONFIG, '')}")


def _sort_candidates(nodes: Sequence[Obj]) -> List[Obj]:
    """sortNodeList (pkg/controller/node/node_controller.go): nodes with a zone label first, by zone, then
    the others; within each, oldest first (creationTimestamp; the name breaks ties here)."""
    def key(node: Obj) -> Tuple[int, str, str, str]:
        zone = _labels(node).get(ZONE_LABEL)
        created = str((node.get("metadata") or {}).get("creationTimestamp") or "")
        return (0 if zone is not None else 1, zone or "", created, _name(node))
    return sorted(nodes, key=key)


def _targets(node: Obj, target: str, image: Optional[str]) -> bool:
    """The node is already sent to *target* (and, in a layered pool, to *image*: desiredImage)."""
    ann = _annotations(node)
    return ann.get(DESIRED_CONFIG) == target and (image is None or (ann.get(DESIRED_IMAGE) or "") == image)


def candidate_machines(nodes: Sequence[Obj], target: str, limit: int,
                       image: Optional[str] = None) -> Tuple[List[Obj], int]:
    """getAllCandidateMachines (pkg/controller/node/node_controller.go, release-4.14 to 4.21): no node
    is picked while unavailable >= maxUnavailable; nodes already targeting *target* whose daemon fails
    there use up capacity too; candidates are the nodes whose desiredConfig is not *target* (in a layered pool,
    or whose desiredImage is not the built *image*).
    Returns (candidates, capacity); the caller takes the first *capacity* of sortNodeList's order."""
    unavailable = sum(1 for n in nodes if unavailable_for_update(n))
    if unavailable >= limit:
        return [], 0
    capacity = limit - unavailable
    failing_here = 0
    candidates: List[Obj] = []
    for node in nodes:
        if _targets(node, target, image):
            failing_here += 1 if _state(node) in FAILED else 0
            continue
        candidates.append(node)
    if failing_here >= capacity:
        return [], 0
    return candidates, capacity - failing_here


def recovery_patch(node: Obj) -> Obj:
    """The documented way back for a node whose update failed (MCO docs/MachineConfigDaemon.md: the
    daemon acts on the desiredConfig annotation; with desiredConfig == currentConfig it re-syncs, finds
    nothing to change and reports Done): put desiredConfig back to the config the node really runs.
    As a command: ``oc patch node NODE --type merge -p '<this, as JSON>'``."""
    current = _annotations(node).get(CURRENT_CONFIG, "")
    return {"metadata": {"annotations": {DESIRED_CONFIG: current}}}


def _condition(old: Sequence[Obj], type_: str, status: str, reason: str = "", message: str = "") -> Obj:
    """A pool condition; lastTransitionTime kept while the status stays the same."""
    prev = next((c for c in old if c.get("type") == type_), None)
    when = prev.get("lastTransitionTime") if prev and prev.get("status") == status else ""
    return {"lastTransitionTime": when or _timestamp(), "message": message, "reason": reason, "status": status,
            "type": type_}


def _ready_conditions(node: Obj, ready: bool) -> List[Obj]:
    now = _timestamp()
    out: List[Obj] = []
    for cond in (node.get("status") or {}).get("conditions") or []:
        cond = dict(cond)
        if cond.get("type") == "Ready":
            if ready:
                cond.update(status="True", reason="KubeletReady", message="kubelet is posting ready status")
            else:  # rebooting: NotReady until the kubelet is back
                cond.update(status="False", reason="KubeletNotReady", message="node is shutting down")
            cond["lastTransitionTime"] = now
            cond["lastHeartbeatTime"] = now
        out.append(cond)
    if not any(c.get("type") == "Ready" for c in out):
        out.append({"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": now,
                    "lastHeartbeatTime": now, "reason": "KubeletReady" if ready else "KubeletNotReady",
                    "message": "kubelet is posting ready status" if ready else "node is shutting down"})
    return out


def _taints(node: Obj, cordoned: bool) -> Optional[List[Obj]]:
    """spec.taints with (or without) the unschedulable taint; None (remove the field) when empty."""
    taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("key") != UNSCHEDULABLE_TAINT]
    if cordoned:
        taints.append({"effect": "NoSchedule", "key": UNSCHEDULABLE_TAINT, "timeAdded": _timestamp()})
    return taints or None


# ============================================================================ the simulator
class SimulatedMCO(SimulatorThread):
    """The MCO's render controller, node controller and daemons, driving ``api.store`` (see the module
    docstring). Failure injection: ``degrade_node()``, ``unreconcilable_node()``, ``fail_pull()``, ``retry_node()``,
    ``clear_failures()``; ``pause()`` / ``resume()`` stop and continue acting (unlike a pool's
    ``spec.paused``, which it honours); ``wait_idle()``; ``history``; ``reboots`` (node -> count);
    ``scale()`` / ``set_instant()``;
    ``errors`` / ``check()`` for the thread's own failures."""

    def __init__(self, api: KubeAPI, *, step_delay: float = 0.02, image_annotations: bool = False,
                 version: Optional[str] = None, builder: Optional[PodmanStore] = None,
                 cert_dir: Optional[Path] = None, build_delay: float = 0.0) -> None:
        self.api = api
        # on-cluster builds: with a *builder* store they really build and push (BuildController, trusting the
        # registry CA in *cert_dir*, *build_delay* s between a build's phases); without, they succeed at once
        self.builder = builder
        self.builds = BuildController(api, builder, cert_dir, build_delay) if builder is not None else None
        self.version = version  # None: the release's (ConfigMap machine-config-osimageurl releaseVersion)
        self._minor = 16
        self._pool_layered = False  # the pool being reconciled has a MachineOSConfig
        self._layered_image: Optional[str] = None  # its built image (really built ones only: BuildController)
        self.store = api.store
        self.step_delay = step_delay
        self.image_annotations = image_annotations
        self.history: List[Rollout] = []
        self.reboots: Dict[str, int] = {}  # node -> reboots seen through (the daemon's reboot step, then Done)
        # booted image -> status.nodeInfo fields a node reports once it runs that image (kubeletVersion ...):
        # what the new OS's kubelet posts after the reboot; see tests/support/cvo.py node_infos()
        self.node_info: Dict[str, Obj] = {}
        self.max_in_flight: Dict[str, int] = {}  # pool -> most nodes updating at once, as seen by the MCO
        self.errors: List[str] = []
        self._lock = threading.RLock()
        self._idle = threading.Condition()
        self._stopping = threading.Event()
        self._paused = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._degrade: Dict[str, str] = {}  # node -> reason for its next update
        self._unreconcilable: Dict[str, str] = {}  # node -> reason its daemon refuses the next update
        self._pull_failures: Dict[str, str] = {}  # image substring -> registry error text
        self._retry: Set[str] = set()
        self._instant: Set[str] = set()
        self._due: Dict[str, float] = {}  # node -> monotonic time of its next step
        self._adopted: Dict[str, Tuple[str, str]] = {}  # pool -> (content hash, existing rendered name)
        self._seen_pools: Set[str] = set()
        self._last_rollout: Dict[str, str] = {}
        self._idle_rv = -1  # the resourceVersion a pass with nothing to do started at
        self._ctl = 0  # bumped by controls that can make work without a store change (retry_node ...)
        self._idle_ctl = -1
        self._apply = True
        self._writes = 0

    # ------------------------------------------------------------------------ lifecycle (SimulatorThread)
    thread_name = "simulated-mco"

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (within *timeout* s, or RuntimeError); nodes stay where they are. Running builds
        are killed."""
        if self.builds is not None:
            self.builds.stop(timeout)
            self.errors.extend(self.builds.errors)
        super().stop(timeout)

    # ------------------------------------------------------------------------ controls
    def pause(self) -> None:
        """Stop acting (nothing rendered, no node advanced) until resume()."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()
        self._wake(changed=True)

    def degrade_node(self, name: str, reason: str = "", *, silent: bool = False) -> None:
        """The next update of node *name* fails after the drain: state=Degraded with *reason* (*silent*:
        an empty reason, which the pool's NodeDegraded message then leaves out)."""
        with self._lock:
            self._degrade[name] = "" if silent else reason or (
                f"unexpected on-disk state validating against the desired config: content mismatch for file"
                f' "/etc/emulator/{name}"')
        self._wake(changed=True)

    def unreconcilable_node(self, name: str, reason: str = "") -> None:
        """The next update of node *name* is refused by its daemon before the drain: state=Unreconcilable
        with *reason* (the node stays schedulable, pkg/daemon/update.go reconcilable())."""
        with self._lock:
            self._unreconcilable[name] = reason or (
                "can't reconcile config rendered-worker-old with rendered-worker-new: ignition disks section"
                " contains changes: unreconcilable")
        self._wake(changed=True)

    def fail_pull(self, image_substring: str, reason: str = UNAUTHORIZED) -> None:
        """Nodes asked to boot an osImageURL containing *image_substring* go Degraded with a podman
        pull error ending in *reason* (a registry error text) until clear_failures()."""
        with self._lock:
            self._pull_failures[image_substring] = reason
        self._wake(changed=True)

    def clear_failures(self) -> None:
        """Forget degrade_node() / fail_pull() injections (Degraded nodes stay so until retried)."""
        with self._lock:
            self._degrade.clear()
            self._unreconcilable.clear()
            self._pull_failures.clear()
        self._wake(changed=True)

    def retry_node(self, name: str) -> None:
        """A Degraded node tries its desiredConfig again, as after ``oc debug node/NAME -- chroot /host touch
        /run/machine-config-daemon-force`` (pkg/daemon/daemon.go: the force file makes the daemon skip its
        on-disk validation and apply the desired config again). The other way back, putting desiredConfig
        back to currentConfig (``recovery_patch()``), needs no call here: the daemon sees the annotation."""
        with self._lock:
            self._retry.add(name)
        self._wake(changed=True)

    def set_instant(self, pool: str, instant: bool = True) -> None:
        """Update *pool*'s nodes in one write each, all at once (no step delays, no maxUnavailable)."""
        with self._lock:
            (self._instant.add if instant else self._instant.discard)(pool)
        self._wake(changed=True)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once a pass that saw every change made so far found nothing to do: all pools rendered,
        no node in the middle of an update, no node left to start (rollouts blocked by spec.paused or
        by Degraded nodes count as idle). False after *timeout* s (also while pause()d mid-rollout)."""
        target = int(self.store.resource_version)
        with self._lock:
            target_ctl = self._ctl
        deadline = time.monotonic() + timeout
        if not self.running:
            with self._lock:
                busy, _ = self._pass(apply=False)
            return not busy
        with self._idle:
            while self._idle_rv < target or self._idle_ctl < target_ctl:
                left = deadline - time.monotonic()
                if left <= 0 or not self.running:
                    return self._idle_rv >= target and self._idle_ctl >= target_ctl
                self._idle.wait(min(left, _WAIT_SLICE))
        return True

    def rendered_for(self, pool: str) -> Tuple[str, Obj]:
        """What the render controller would make of *pool* now: (rendered name, merged spec)."""
        with self._lock:
            obj = self.store.get("machineconfigpools", pool)
            if obj is None:
                raise KeyError(f"no machine config pool {pool!r}")
            base, extensions, _ = self._base_images()
            return self._render(obj, self.store.list("machineconfigs"), base, extensions)[:2]

    def scale(self, pool: str, nodes: int, *, instant: bool = True, max_unavailable: Any = None,
              worker_label: bool = True, metadata_bytes: int = 0) -> List[str]:
        """Add *nodes* nodes to *pool* at once (creating it as a custom pool inheriting worker when
        missing: selector role in (worker, <pool>), nodeSelector node-role.kubernetes.io/<pool>),
        already Done on the pool's current rendered config. Custom-pool nodes keep the worker role
        label too (*worker_label*), as the docs' custom pools do. With *instant*, later rollouts of
        the pool skip the step delays (see set_instant). The nodes carry managedFields like the seeded
        ones, and OVN-Kubernetes annotations up to about *metadata_bytes* of metadata each (8192 is
        what real nodes carry). Returns the new node names."""
        with self._lock:
            store = self.store
            obj = store.get("machineconfigpools", pool)
            if obj is None:
                selector: Obj = ({"matchLabels": {ROLE_LABEL: pool}} if pool in BUILT_IN_POOLS else
                                 {"matchExpressions": [{"key": ROLE_LABEL, "operator": "In",
                                                        "values": ["worker", pool]}]})
                spec: Obj = {"machineConfigSelector": selector, "paused": False,
                             "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{pool}": ""}}}
                if max_unavailable is not None:
                    spec["maxUnavailable"] = max_unavailable
                obj = store.put({"apiVersion": MC_API_VERSION, "kind": "MachineConfigPool", "metadata": {
                    "name": pool, "labels": {f"pools.operator.{MCO_GROUP}/{pool}": ""}}, "spec": spec})
            elif max_unavailable is not None:
                obj = store.patch("machineconfigpools", pool, {"spec": {"maxUnavailable": max_unavailable}})
            base, extensions, release = self._base_images()
            self._minor = release_minor(self.version or release)
            mcs = store.list("machineconfigs")
            self._apply = True
            target, merged, sources = self._render(obj, mcs, base, extensions)
            self._ensure_rendered(obj, target, merged, sources, release, {_name(m) for m in mcs})
            if instant:
                self._instant.add(pool)
            existing = {_name(n) for n in store.list("nodes")}
            names: List[str] = []
            i = 0
            while len(names) < nodes:
                name = f"{pool}-{i}"
                i += 1
                if name not in existing:
                    names.append(name)
            labels_extra = {"node-role.kubernetes.io/worker": ""} if (
                worker_label and pool not in BUILT_IN_POOLS) else {}
            all_nodes = store.list("nodes")
            template = next((n for n in all_nodes if "node-role.kubernetes.io/worker" in _labels(n)),
                            all_nodes[0] if all_nodes else None)
            for index, name in enumerate(names, start=len(all_nodes)):
                store.put(self._new_node(name, pool, target, labels_extra, template, index, metadata_bytes,
                                         self._minor), adopt=True)
        self._wake(changed=True)
        return names

    # ------------------------------------------------------------------------ the loop
    def _wake(self, changed: bool = False) -> None:
        """Wake the thread; *changed*: a control changed what there is to do (wait_idle waits for a pass)."""
        if changed:
            with self._lock:
                self._ctl += 1
        with self.store.changed:
            self.store.changed.notify_all()

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            rv_before = int(self.store.resource_version)
            wake: Optional[float] = None
            try:
                paused = self._paused.is_set()
                with self._lock:
                    ctl_before = self._ctl
                    busy, wake = self._pass(apply=not paused)
                if paused:
                    wake = None  # nothing advances: look again after a slice, not in a tight loop
                failures = 0
            except Exception:  # keep going, but let check() report it
                ctl_before = -1
                failures += 1
                self.errors.append(traceback.format_exc())
                busy = True
                if failures > 20:
                    return
                self._stopping.wait(0.05)
            if not busy:
                with self._idle:
                    self._idle_rv, self._idle_ctl = max(self._idle_rv, rv_before), max(self._idle_ctl, ctl_before)
                    self._idle.notify_all()
            with self.store.changed:
                if (self._stopping.is_set() or int(self.store.resource_version) != rv_before
                        or self._ctl != ctl_before):
                    continue  # our own writes or someone else's: look again at once
                timeout = _WAIT_SLICE if wake is None else max(0.0, min(wake, _WAIT_SLICE))
                if timeout > 0:
                    self.store.changed.wait(timeout)

    def _base_images(self) -> Tuple[str, str, str]:
        """(baseOSContainerImage, baseOSExtensionsContainerImage, releaseVersion) of the release."""
        cm = self.store.get("configmaps", OSIMAGEURL_CONFIGMAP, MCO_NAMESPACE)
        data = (cm or {}).get("data") or {}
        base, extensions = str(data.get("baseOSContainerImage") or ""), str(data.get("baseOSExtensionsContainerImage")
                                                                           or "")
        if not base:
            cc = self.store.get("controllerconfigs", CONTROLLER_CONFIG)
            spec = (cc or {}).get("spec") or {}
            base = str(spec.get("baseOSContainerImage") or "")
            extensions = extensions or str(spec.get("baseOSExtensionsContainerImage") or "")
        return base, extensions, str(data.get("releaseVersion") or "")

    def _snapshot(self, plural: str) -> List[Obj]:
        """The stored objects of one resource, by name, *not* copied: read-only. (The store replaces an
        object on each write and never changes a stored one, so a pass over 2000 nodes stays cheap.)"""
        store = self.store
        with store.lock:
            return [obj for _key, obj in sorted(store._objects[plural].items())]

    def _patch(self, resource: str, obj: Obj, patch: Obj) -> Obj:
        """A write (merge patch) - or, while pause()d, only counted: the would-be result.

        Like Store.patch (one resourceVersion, one watch event, generation bumped on spec changes), with
        fewer copies: the result is the stored object itself (read-only)."""
        self._writes += 1
        if not self._apply:
            return dict(merge_patch(obj, patch))
        store = self.store
        rt = resource_type(resource)
        with store.lock:
            key = ("", _name(obj))  # pools and nodes are cluster-scoped
            old = store._objects[rt.plural].get(key)
            if old is None:
                raise KeyError(f"{resource} {_name(obj)!r} not found")
            new = _merge_in_place(json.loads(json.dumps(old)), patch)
            if rt.custom and _spec_part(new) != _spec_part(old):
                new["metadata"]["generation"] = int(old["metadata"].get("generation") or 1) + 1
            store._commit(rt, key, new, old)
            return new

    def _pass(self, apply: bool) -> Tuple[bool, Optional[float]]:
        """One reconcile of every pool. Returns (busy, seconds until the next node step is due)."""
        self._apply, self._writes = apply, 0
        now = time.monotonic()
        base, extensions, release = self._base_images()
        self._minor = release_minor(self.version or release)
        pools = self._snapshot("machineconfigpools")
        mcs = self._snapshot("machineconfigs")
        names = {_name(mc) for mc in mcs}
        images = {_name(mc): str((mc.get("spec") or {}).get("osImageURL") or "") for mc in mcs}
        members: Dict[str, List[Obj]] = {_name(p): [] for p in pools}
        for node in self._snapshot("nodes"):
            pool = self._pool_of(node, pools)
            if pool is not None:
                members[pool].append(node)
        in_flight = 0
        wake: Optional[float] = None
        moscs = {machine_os_config_pool(m): m for m in self._snapshot("machineosconfigs")}
        for pool in pools:
            pname = _name(pool)
            render_error = ""
            hold = False
            mosc = moscs.get(pname)
            self._pool_layered = mosc is not None
            # "" for a pool without a MachineOSConfig (any more): a node still carrying an image annotation is
            # not done and is sent back to the rendered config's osImageURL (pkg/controller/node/
            # node_controller.go drops desiredImage when the pool is not layered; the daemon then updates to
            # osImageURL and clears currentImage, pkg/daemon/update.go); the stricter reading of the pool's counts
            self._layered_image = "" if mosc is None and not self.image_annotations else None
            try:
                rendered, merged, sources = self._render(pool, mcs, base, extensions)
            except RenderError as exc:
                render_error = str(exc)
            else:
                pool = self._ensure_rendered(pool, rendered, merged, sources, release, names)
                names.add(rendered)
                images[rendered] = merged["osImageURL"]
                if mosc is not None:  # the nodes boot what the build made, never the osImageURL
                    built = (self._build(mosc, rendered, base) if self.builds is None else
                             self.builds.reconcile(mosc, pname, rendered, base, release, self._apply))
                    if built is None:
                        hold = True  # no image yet (building, failed): no node is sent anywhere
                    else:
                        images[rendered] = built
                        self._layered_image = built if self.builds is not None else None
            target = str(((pool.get("spec") or {}).get("configuration") or {}).get("name") or "")
            nodes = members[pname]
            if target:
                flying, due = self._rollout(pool, nodes, target, images, now, hold)
                in_flight += flying
                if due is not None:
                    wake = due if wake is None else min(wake, due)
            self._update_status(pool, nodes, target, render_error)
        building = bool(self.builds is not None and self.builds.running())  # wait_idle waits for builds too
        return bool(self._writes or in_flight or building), wake

    # ------------------------------------------------------------------------ build controller
    def _build(self, mosc: Obj, rendered: str, base: str) -> str:
        """On-cluster layering (pkg/controller/build, 4.16+; the fields as openshift/api names them in
        machineconfiguration/v1/types_machineosbuild.go and types_machineosconfig.go, v1alpha1 on its
        release-4.16/4.17 branches: renderedImagePushSpec / currentImagePullSpec in v1, ...Pushspec /
        ...Pullspec in v1alpha1): a MachineOSBuild per (MachineOSConfig,
        rendered config) builds the MachineOSConfig's containerFile on the cluster's *base* and pushes it to
        renderedImagePushSpec; the MachineOSConfig's status names the digested image, which is what the
        pool's nodes get as desiredImage. The build succeeds at once here. Returns the image."""
        v1 = str(mosc.get("apiVersion") or "").endswith("/v1")
        spec = mosc.get("spec") or {}
        push = str(spec.get("renderedImagePushSpec") if v1 else
                   (spec.get("buildInputs") or {}).get("renderedImagePushspec") or "")
        repo = push.partition("@")[0]
        if repo.rfind(":") > repo.rfind("/"):
            repo = repo[:repo.rfind(":")]
        files = json.dumps(spec.get("containerFile") or (spec.get("buildInputs") or {}).get("containerFile") or [],
                           sort_keys=True)
        digest = hashlib.sha256("\0".join((rendered, base, files)).encode()).hexdigest()
        image = f"{repo}@sha256:{digest}"
        name = f"{_name(mosc)}-{digest[:10]}"
        status_key = "currentImagePullSpec" if v1 else "currentImagePullspec"
        if self.store.get("machineosbuilds", name) is None:
            self._writes += 1
            if self._apply:
                now = _timestamp()
                build_spec: Obj = ({"machineConfig": {"name": rendered}, "machineOSConfig": {"name": _name(mosc)},
                                    "renderedImagePushSpec": push} if v1 else
                                   {"configGeneration": 1, "desiredConfig": {"name": rendered},
                                    "machineOSConfig": {"name": _name(mosc)}, "renderedImagePushspec": push,
                                    "version": 1})
                self.store.put({"apiVersion": mosc.get("apiVersion"), "kind": "MachineOSBuild", "metadata": {
                    "name": name, "labels": {f"{MCO_GROUP}/machine-os-config": _name(mosc),
                                             f"{MCO_GROUP}/rendered-machine-config": rendered}},
                    "spec": build_spec, "status": {
                        "buildStart": now, "buildEnd": now, "digestedImagePushSpec": image, "conditions": [
                            {"type": t, "status": "True" if t == "Succeeded" else "False", "reason": t,
                             "message": "", "lastTransitionTime": now}
                            for t in ("Prepared", "Building", "Succeeded", "Interrupted", "Failed")]}})
        status = mosc.get("status") or {}
        if status.get(status_key) != image:
            self._patch("machineosconfigs", mosc, {"status": {
                status_key: image, "machineOSBuild": {"name": name},
                "observedGeneration": int((mosc.get("metadata") or {}).get("generation") or 1)}})
        return image

    # ------------------------------------------------------------------------ render controller
    def _render(self, pool: Obj, mcs: Sequence[Obj], base: str, extensions: str) -> Tuple[str, Obj, List[str]]:
        pname = _name(pool)
        selector = (pool.get("spec") or {}).get("machineConfigSelector")
        selected = [mc for mc in mcs if not _name(mc).startswith("rendered-")
                    and selector_matches(selector, _labels(mc))]
        if not selected:
            raise RenderError(f"no MachineConfigs found matching selector {json.dumps(selector, sort_keys=True)}")
        if not base:
            raise RenderError("no base OS image: ConfigMap openshift-machine-config-operator/"
                              "machine-config-osimageurl has no baseOSContainerImage")
        merged = merge_machine_configs(pname, selected, base, extensions, self._minor)
        digest = content_hash(merged)
        sources = [_name(mc) for mc in merge_order(pname, selected, self._minor)]
        if pname not in self._seen_pools:
            self._seen_pools.add(pname)
            current = str(((pool.get("spec") or {}).get("configuration") or {}).get("name") or "")
            existing = next((mc for mc in mcs if _name(mc) == current), None) if current else None
            if existing is not None and _same_render(existing, merged):
                self._adopted[pname] = (digest, current)
        adopted = self._adopted.get(pname)
        name = adopted[1] if adopted and adopted[0] == digest else f"rendered-{pname}-{digest}"
        return name, merged, sources

    def _ensure_rendered(self, pool: Obj, rendered: str, merged: Obj, sources: List[str], release: str,
                         existing: Set[str]) -> Obj:
        """Create the rendered MachineConfig if missing and point the pool's spec.configuration at it."""
        if rendered not in existing:
            self._writes += 1
            if self._apply:
                annotations = {GENERATED_BY: CONTROLLER_VERSION}
                if release:
                    annotations[RELEASE_IMAGE_VERSION] = release
                self.store.put({"apiVersion": MC_API_VERSION, "kind": "MachineConfig", "metadata": {
                    "name": rendered, "annotations": annotations, "ownerReferences": [{
                        "apiVersion": MC_API_VERSION, "kind": "MachineConfigPool", "name": _name(pool),
                        "uid": pool["metadata"].get("uid", ""), "controller": True, "blockOwnerDeletion": True}]},
                    "spec": merged})
        configuration = {"name": rendered, "source": [
            {"apiVersion": MC_API_VERSION, "kind": "MachineConfig", "name": s} for s in sources]}
        if (pool.get("spec") or {}).get("configuration") != configuration:
            pool = self._patch("machineconfigpools", pool, {"spec": {"configuration": configuration}})
        return pool

    # ------------------------------------------------------------------------ node controller
    @staticmethod
    def _pool_of(node: Obj, pools: Sequence[Obj]) -> Optional[str]:
        """The pool a node belongs to (MCO GetPoolsForNode, first entry)."""
        labels = _labels(node)
        matching = [_name(p) for p in pools if selector_matches((p.get("spec") or {}).get("nodeSelector"), labels)]
        custom = [p for p in matching if p not in BUILT_IN_POOLS]
        if len(custom) > 1:
            return None  # "node belongs to 2 custom roles, cannot proceed with this Node"
        if custom:
            return None if "master" in matching else custom[0]
        for pool in ("master", "arbiter", "worker"):
            if pool in matching:
                return pool
        return None

    def _rollout(self, pool: Obj, nodes: List[Obj], target: str, images: Dict[str, str],
                 now: float, hold: bool = False) -> Tuple[int, Optional[float]]:
        """Advance updating nodes one step each (when due) and start new ones within maxUnavailable.
        Updates *nodes* in place; returns (nodes still updating, seconds until the next step)."""
        pname = _name(pool)
        spec = pool.get("spec") or {}
        instant = pname in self._instant
        wake: Optional[float] = None
        for i, node in enumerate(nodes):
            if _state(node) in IN_FLIGHT:
                if instant or now >= self._due.get(_name(node), 0.0):
                    nodes[i] = self._step(node, images)
        for i, node in enumerate(nodes):  # the daemon of a failed node: the admin's way back, or a forced retry
            if _state(node) in FAILED:
                nodes[i] = self._daemon_recover(node, images)
        if not spec.get("paused") and not hold:
            if instant:
                # no maxUnavailable, but still never a Degraded node: getAllCandidateMachines
                # (pkg/controller/node/node_controller.go) leaves it where it is, also when instant
                candidates = [n for n in nodes if not _targets(n, target, self._layered_image)
                              and _state(n) not in FAILED]
                capacity = len(candidates)
            else:
                candidates, capacity = candidate_machines(
                    nodes, target, max_unavailable(spec.get("maxUnavailable"), len(nodes)), self._layered_image)
            index = {_name(n): i for i, n in enumerate(nodes)}
            for node in _sort_candidates(candidates)[:capacity]:
                i = index[_name(node)]
                nodes[i] = self._start(pool, node, target, images, instant)
        flying = [n for n in nodes if _state(n) in IN_FLIGHT]
        if flying:
            self.max_in_flight[pname] = max(self.max_in_flight.get(pname, 0), len(flying))
            wake = max(0.0, min(self._due.get(_name(n), 0.0) for n in flying) - now)
        return len(flying), wake

    def _record(self, pool: str, target: str, image: str) -> None:
        if self._apply and self._last_rollout.get(pool) != target:
            self._last_rollout[pool] = target
            self.history.append(Rollout(pool, target, image))

    def _start(self, pool: Obj, node: Obj, target: str, images: Dict[str, str], instant: bool) -> Obj:
        """The node controller sets desiredConfig; the daemon starts working on it."""
        name, image = _name(node), images.get(target, "")
        self._record(_name(pool), target, image)
        ann: Obj = {DESIRED_CONFIG: target, STATE: WORKING, REASON: ""}
        if self.image_annotations or self._pool_layered:
            ann[DESIRED_IMAGE] = image
        elif self._layered_image == "":  # no longer layered: the node goes back to the osImageURL
            ann[DESIRED_IMAGE] = None
        if _annotations(node).get(CURRENT_CONFIG) == target and (  # already runs it (sent back before it moved)
                self._layered_image is None or (_annotations(node).get(CURRENT_IMAGE) or "") == self._layered_image):
            return self._finish(node, target, image, extra=ann)
        if instant:
            failure = self._failure(name, image)
            if failure is not None:
                ann.update({STATE: DEGRADED, REASON: failure})
                return self._patch("nodes", node, {"metadata": {"annotations": ann}})
            return self._finish(node, target, image, extra=ann)
        if self._apply:
            self._due[name] = time.monotonic() + self.step_delay
        return self._patch("nodes", node, {"metadata": {"annotations": ann}})

    def _daemon_recover(self, node: Obj, images: Dict[str, str]) -> Obj:
        """The daemon of a Degraded/Unreconcilable node. It stays so (the node controller does not retarget
        it: it is cordoned, so unavailable) until a person acts: desiredConfig put back to currentConfig
        (the daemon re-syncs, nothing to change: Done, uncordoned), or the force file (retry_node)."""
        name, ann = _name(node), _annotations(node)
        current, desired = ann.get(CURRENT_CONFIG, ""), ann.get(DESIRED_CONFIG, "")
        if current and desired == current:
            return self._finish(node, current, images.get(current, ""))
        if name in self._retry:
            if self._apply:
                self._retry.discard(name)
                self._due[name] = time.monotonic() + self.step_delay
            return self._patch("nodes", node, {"metadata": {"annotations": {STATE: WORKING, REASON: ""}}})
        return node

    def _failure(self, name: str, image: str) -> Optional[str]:
        """Why the node's update fails (may be "": a daemon that wrote no reason), None if it does not."""
        if name in self._degrade:
            return self._degrade.pop(name) if self._apply else self._degrade[name]
        for part, why in self._pull_failures.items():
            if part and part in image:
                return pull_failure_reason(image, why)
        return None

    def _step(self, node: Obj, images: Dict[str, str]) -> Obj:
        """The daemon's next step: cordon, drain, (pull,) reboot, done."""
        name, ann = _name(node), _annotations(node)
        desired = ann.get(DESIRED_CONFIG, "")
        image = images.get(desired, "")
        if self._apply:
            self._due[name] = time.monotonic() + self.step_delay
        if _rebooting(node):
            return self._finish(node, desired, image)
        if name in self._unreconcilable and not (node.get("spec") or {}).get("unschedulable"):
            # pkg/daemon/update.go: the reconcilable() check comes before the drain, so the node is not
            # cordoned; writer.go sets state Unreconcilable with the reason
            why = self._unreconcilable.pop(name) if self._apply else self._unreconcilable[name]
            return self._patch("nodes", node, {"metadata": {"annotations": {STATE: UNRECONCILABLE, REASON: why}}})
        if not (node.get("spec") or {}).get("unschedulable"):
            return self._patch("nodes", node, {"metadata": {"annotations": {DESIRED_DRAIN: f"drain-{desired}"}},
                                               "spec": {"unschedulable": True, "taints": _taints(node, True)}})
        if ann.get(LAST_APPLIED_DRAIN) != f"drain-{desired}":
            return self._patch("nodes", node, {"metadata": {"annotations": {LAST_APPLIED_DRAIN: f"drain-{desired}"}}})
        failure = self._failure(name, image)
        if failure is not None:
            return self._patch("nodes", node, {"metadata": {"annotations": {STATE: DEGRADED, REASON: failure}}})
        # pkg/daemon/update.go: 4.16+ marks the reboot in post-config-action; state stays Working
        marker = {POST_CONFIG_ACTION: REBOOTING} if self._minor >= 16 else {}
        return self._patch("nodes", node, {"metadata": {"annotations": marker},
                                           "status": {"conditions": _ready_conditions(node, False)}})

    def _finish(self, node: Obj, config: str, image: str, extra: Optional[Obj] = None) -> Obj:
        """Booted into *config*: currentConfig set, Done, uncordoned, Ready."""
        ann: Obj = dict(extra or {})
        rebooted = _rebooting(node)
        ann.update({CURRENT_CONFIG: config, DESIRED_CONFIG: config, STATE: DONE, REASON: "",
                    DESIRED_DRAIN: f"uncordon-{config}", LAST_APPLIED_DRAIN: f"uncordon-{config}"})
        if self._minor >= 16:
            ann[POST_CONFIG_ACTION] = ""  # the daemon clears it once the node is back
        if self.image_annotations or self._pool_layered:
            ann[CURRENT_IMAGE] = image
        elif self._layered_image == "":
            ann[CURRENT_IMAGE] = None
        status: Obj = {"conditions": _ready_conditions(node, True)}
        if rebooted:
            status["nodeInfo"] = {**self.node_info.get(image, {}), "bootID": str(uuid.uuid4())}
            if self._apply:
                self.reboots[_name(node)] = self.reboots.get(_name(node), 0) + 1
        if self._apply:
            self._due.pop(_name(node), None)
        return self._patch("nodes", node, {"metadata": {"annotations": ann}, "status": status,
                                           "spec": {"unschedulable": None, "taints": _taints(node, False)}})

    def _update_status(self, pool: Obj, nodes: Sequence[Obj], target: str, render_error: str) -> None:
        old = pool.get("status") or {}
        old_conditions = list(old.get("conditions") or [])
        spec = pool.get("spec") or {}
        count = len(nodes)
        updated = [n for n in nodes if target and done_at(n, target, self._layered_image)]
        ready = [n for n in updated if _ready(n)]
        degraded = [n for n in nodes if _state(n) in FAILED]
        unavailable = [n for n in nodes if unavailable_for_update(n)]
        all_updated = bool(target) and len(updated) == count == len(ready) and not unavailable
        flying = any(_state(n) in IN_FLIGHT for n in nodes)
        updating = bool(target) and not all_updated and (not spec.get("paused") or flying)
        node_reason = f"{len(degraded)} nodes are reporting degraded status on sync" if degraded else ""
        # pkg/controller/node/status.go (calculateStatus): a degraded node is named in the message only
        # when its reason annotation is not empty; the count (and the condition's reason) include it anyway
        node_message = ", ".join(f"Node {_name(n)} is reporting: {json.dumps(_annotations(n).get(REASON, ''))}"
                                 for n in degraded if _annotations(n).get(REASON))
        render_message = f"Failed to render configuration for pool {_name(pool)}: {render_error}" \
            if render_error else ""
        # 4.20+: a failed on-cluster build degrades the pool (ImageBuildDegraded; Degraded too, the stricter reading)
        build = (image_build_degraded(_name(pool), self.builds.outcome.get(_name(pool)))
                 if self.builds is not None and self._pool_layered and self._minor >= 20 else None)
        build_message = build[2] if build is not None and build[0] == "True" else ""
        conditions = [
            _condition(old_conditions, "RenderDegraded", "True" if render_error else "False", "", render_message),
            _condition(old_conditions, "NodeDegraded", "True" if degraded else "False", node_reason, node_message),
            _condition(old_conditions, "Degraded", "True" if degraded or render_error or build_message else "False",
                       node_reason or ("RenderDegraded" if render_error else "BuildFailed" if build_message else ""),
                       node_message or render_message or build_message),
            _condition(old_conditions, "Updated", "True" if all_updated else "False", "",
                       f"All nodes are updated with MachineConfig {target}" if all_updated else ""),
            _condition(old_conditions, "Updating", "True" if updating else "False", "",
                       f"All nodes are updating to MachineConfig {target}" if updating else ""),
        ]
        if build is not None:
            conditions.append(_condition(old_conditions, "ImageBuildDegraded", *build))
        new: Obj = {
            "conditions": conditions,
            "degradedMachineCount": len(degraded),
            "machineCount": count,
            "observedGeneration": int((pool.get("metadata") or {}).get("generation") or 1),
            "readyMachineCount": len(ready),
            "unavailableMachineCount": len(unavailable),
            "updatedMachineCount": len(updated),
        }
        if all_updated:
            new["configuration"] = copy.deepcopy(spec.get("configuration"))
        if any(old.get(key) != value for key, value in new.items()):
            self._patch("machineconfigpools", pool, {"status": new})

    @staticmethod
    def _new_node(name: str, pool: str, config: str, extra_labels: Dict[str, str], template: Optional[Obj],
                  index: int, metadata_bytes: int = 0, minor: int = 16) -> Obj:
        """A Ready node Done on *config*, modelled on *template* (an existing worker) when there is one."""
        now = _timestamp()
        labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", f"node-role.kubernetes.io/{pool}": "",
                  "node.openshift.io/os_id": "rhcos"}
        labels.update(extra_labels)
        status: Obj = copy.deepcopy((template or {}).get("status") or {})
        conditions = [dict(c, lastHeartbeatTime=now, lastTransitionTime=now) for c in status.get("conditions") or []
                      if c.get("type") != "Ready"]
        conditions.append({"type": "Ready", "status": "True", "reason": "KubeletReady",
                           "message": "kubelet is posting ready status", "lastTransitionTime": now,
                           "lastHeartbeatTime": now})
        info: Obj = {"architecture": "amd64", "containerRuntimeVersion": "cri-o://1.29.6-3.rhaos4.16.el9",
                     "kernelVersion": "5.14.0-427.26.1.el9_4.x86_64", "kubeProxyVersion": "v1.29.6+aba1e8d",
                     "kubeletVersion": "v1.29.6+aba1e8d", "operatingSystem": "linux",
                     "osImage": "Red Hat Enterprise Linux CoreOS 416.94.202407081958-0 (Plow)"}
        info.update(status.get("nodeInfo") or {})
        info.update(bootID=str(uuid.uuid4()), machineID=hashlib.md5(name.encode(), usedforsecurity=False).hexdigest(),
                    systemUUID=str(uuid.uuid5(uuid.NAMESPACE_OID, name)))
        status.update(conditions=conditions, nodeInfo=info, addresses=[
            {"address": f"10.{128 + index // 65536 % 64}.{index // 256 % 256}.{index % 256}", "type": "InternalIP"},
            {"address": name, "type": "Hostname"}])
        status.setdefault("capacity", {"cpu": "8", "memory": "32768Mi", "pods": "250"})
        status.setdefault("allocatable", {"cpu": "7500m", "memory": "31068Mi", "pods": "250"})
        annotations = {
            f"{MCO_GROUP}/controlPlaneTopology": "HighlyAvailable",
            CURRENT_CONFIG: config, DESIRED_CONFIG: config, DESIRED_DRAIN: f"uncordon-{config}",
            LAST_APPLIED_DRAIN: f"uncordon-{config}", REASON: "", STATE: DONE,
            "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
        if minor >= 16:
            annotations[POST_CONFIG_ACTION] = ""
        meta: Obj = {"name": name, "labels": labels, "annotations": annotations}
        if metadata_bytes:  # as seed_openshift(node_metadata_bytes=) lays them out
            annotations.update(_ovn_annotations(index, metadata_bytes))
        meta["managedFields"] = _node_managed_fields(labels, annotations, now)
        if metadata_bytes:
            _pad_metadata(meta, metadata_bytes)
        return {"apiVersion": "v1", "kind": "Node", "metadata": meta, "spec": {}, "status": status}


__all__ = [
    "Rollout",
    "SimulatedMCO",
    "content_hash",
    "done_at",
    "max_unavailable",
    "merge_machine_configs",
    "merge_order",
    "pull_failure_reason",
    "selector_matches",
]

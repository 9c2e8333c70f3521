"""``apply --on-cluster``: the cluster builds the pool's image (MachineOSConfig), and we follow it.

``plan()`` runs the preflight (nothing written while a check fails that was not ignored): the API and
its feature gate, the push secret (present in the MCO's namespace, and able to push to the push spec,
tried with its own credentials), the base pull secret, the pool's health, and the mode the pool is in
now (an osImageURL MachineConfig of ours: ``--replace`` removes it in the same step). ``execute()``
writes, ``BuildWatcher`` follows the MachineOSBuild for the pool's rendered config, and ``oncluster.ImageWatcher``
the rollout of what it built.

Moving a pool between modes pauses it first (the node controller moves no node of a paused pool:
MCO pkg/controller/node/node_controller.go), makes both changes, then unpauses it: between the two
writes the MCO would otherwise render the pool without either image and send nodes to the base, then
reboot them again into the new image. A layered pool's nodes move only once its build succeeded, so
unpausing right after the writes is safe. A failed write puts back what was written before it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

from . import oncluster
from .apply import Check, pool_degraded
from .errors import InvalidInput, OnClusterBuildFailed, PartiallyApplied, RhcosLayerError
from .machineconfig import MANAGED_BY, MANAGED_BY_LABEL, is_managed, name_for
from .objects import field as _field
from .objects import mapping as _mapping
from .oncluster import name as _name  # the build follower and the checks read names alike
from .pools import patch_command, pause_patch

if TYPE_CHECKING:
    from .adapters.cluster_api import ClusterAPI
    from .apply import Plan
    from .project import Project
    from .trust import TLSSettings

MCO_GROUP = "machineconfiguration.openshift.io"
MCO_NAMESPACE = "openshift-machine-config-operator"
# rollback --to-previous reads it back: the MachineOSConfig's spec before our last update (compact JSON)
PREVIOUS_SPEC_ANNOTATION = "rhcos-layer.io/previous-spec"
# the MCO deletes the current MachineOSBuild of a MachineOSConfig carrying it, and builds again, then
# drops the annotation (pkg/controller/build/constants, RebuildMachineOSConfigAnnotationKey)
REBUILD_ANNOTATION = f"{MCO_GROUP}/rebuild"
# how the MCO labels a MachineOSBuild (pkg/controller/build/constants: MachineOSConfigNameLabelKey,
# RenderedMachineConfigLabelKey, TargetMachineConfigPoolLabelKey)
BUILD_CONFIG_LABEL = f"{MCO_GROUP}/machine-os-config"
BUILD_RENDERED_LABEL = f"{MCO_GROUP}/rendered-machine-config"
# MachineOSBuild condition types (openshift/api machineconfiguration/v1 types_machineosbuild.go), the
# final ones first: a build that failed may still show Building=True from before
BUILD_STATES = ("Failed", "Interrupted", "Succeeded", "Building", "Prepared")
LOG_LINES = 40

# the checks --ignore-preflight-errors may skip here, and what each protects
IGNORABLE = {
    "PushSecretCanPush": "the push secret's credentials may push to the push spec (tried from this machine: a"
                         " registry only the cluster reaches, such as its internal one, cannot be tried)",
    "PoolDegraded": "the pool is not degraded",
}
ALWAYS = ("OnClusterAPI", "PushSecret", "PullSecret", "ModeConflict", "MachineOSConfigTaken")


@dataclass
class OnClusterPlan:
    """What ``apply --on-cluster`` would do to one pool, and why it may."""

    pool: str
    api_version: str  # v1, v1alpha1; "" when the cluster serves neither
    mosc: Dict[str, Any]
    existing: Optional[Dict[str, Any]] = None  # our MachineOSConfig as it is now
    action: str = "create"  # create, update, unchanged
    replaced: Optional[Dict[str, Any]] = None  # our osImageURL MachineConfig that --replace removes
    rebuild: bool = False
    stale_builds: Set[str] = field(default_factory=set)  # uids of builds that are not the one to follow
    checks: List[Check] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(_field(self.mosc, "metadata", "name") or self.pool)

    @property
    def push_spec(self) -> str:
        return push_spec_of(self.mosc)

    @property
    def refusals(self) -> List[Check]:
        return [c for c in self.checks if not c.ok and not c.ignored]

    def as_dict(self) -> Dict[str, Any]:
        return {"pool": self.pool, "mode": "on-cluster", "action": self.action, "machineosconfig": self.name,
                "api_version": self.api_version, "push_spec": self.push_spec, "rebuild": self.rebuild,
                "replaced_machineconfig": _name(self.replaced) if self.replaced else None,
                "checks": [c.as_dict() for c in self.checks], "warnings": list(self.warnings)}


def push_spec_of(mosc: Dict[str, Any]) -> str:
    """``spec.renderedImagePushSpec`` (v1) or ``spec.buildInputs.renderedImagePushspec`` (v1alpha1)."""
    value = _field(mosc, "spec", "renderedImagePushSpec") or _field(mosc, "spec", "buildInputs",
                                                                     "renderedImagePushspec")
    return value if isinstance(value, str) else ""


def _secret_name(mosc: Dict[str, Any], key: str) -> str:
    value = _field(mosc, "spec", key, "name") or _field(mosc, "spec", "buildInputs", key, "name")
    return value if isinstance(value, str) else ""


def _spec_json(obj: Optional[Dict[str, Any]]) -> str:
    return json.dumps(_field(obj, "spec") or {}, sort_keys=True, separators=(",", ":"))


# ------------------------------------------------------------------------------------ preflight
def _api_check(cluster: ClusterAPI, version: Optional[Tuple[int, int]], served: Optional[str]) -> Check:
    """OnClusterAPI: MachineOSConfig is served (v1 from 4.18/4.19, v1alpha1 with Tech Preview on 4.16/4.17)."""
    from .errors import ClusterForbidden

    if served:
        return Check("OnClusterAPI", True, f"the cluster serves MachineOSConfig {served}")
    shown = f"OpenShift {version[0]}.{version[1]}" if version else "this cluster"
    if version is not None and version < (4, 16):
        return Check("OnClusterAPI", False, f"{shown} has no on-cluster layering (MachineOSConfig: Tech Preview in"
                     " 4.16 and 4.17, GA in 4.19)", "upgrade the cluster, or apply without --on-cluster (a"
                     " MachineConfig with osImageURL, built here)")
    try:
        gate = cluster.get_object("config.openshift.io", "v1", "featuregates", "cluster") or {}
        feature_set = str(_field(gate, "spec", "featureSet") or "") or "Default"
    except ClusterForbidden:
        feature_set = "unknown (not allowed to read featuregates/cluster)"
    return Check("OnClusterAPI", False, f"{shown} serves no MachineOSConfig: on-cluster layering needs the"
                 f" TechPreviewNoUpgrade feature set before 4.19 (featuregates/cluster spec.featureSet is"
                 f" {feature_set}), or OpenShift 4.19", "apply without --on-cluster, or upgrade to 4.19 (a Tech"
                 " Preview feature set cannot be undone and blocks upgrades)")


# The secret types the MCO's build controller reads, each from its own key (machine-config-operator
# pkg/controller/build/utils.go, getPullSecretKey): any other type makes it refuse the MachineOSConfig.
SECRET_KEYS = {"kubernetes.io/dockerconfigjson": ".dockerconfigjson", "kubernetes.io/dockercfg": ".dockercfg"}


def _docker_config(data: Dict[str, bytes], where: str, kind: Optional[str] = None) -> Tuple[Optional[Any], str]:
    """(AuthFile, "") from a Secret's docker config, or (None, why). With the Secret's ``kind`` (type), as the
    MCO reads it: the key its type names; without, ``.dockerconfigjson`` or else ``.dockercfg``."""
    from . import auth

    if kind is not None:
        key = SECRET_KEYS.get(kind)
        if key is None:
            return None, (f"{where} is of type {_one_line(kind) or '(none)'}: the cluster's build reads only"
                          " kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg secrets")
    else:
        key = ".dockerconfigjson" if ".dockerconfigjson" in data or ".dockercfg" not in data else ".dockercfg"
    raw = data.get(key)
    if not raw:
        return None, f"{where} has no {key} key"
    try:
        text = raw.decode("utf-8")
        decoded = json.loads(text)
        if not isinstance(decoded, dict):
            raise ValueError(where)
        # the MCO canonicalizes by content, whatever the key: no "auths" map means the old format, which is
        # the auths map itself (pkg/controller/build/utils.go, canonicalizePullSecretBytes)
        if not isinstance(decoded.get("auths"), dict) or not decoded["auths"]:
            text = json.dumps({"auths": decoded})
        return auth.parse(text, where, strict=False), ""
    except (InvalidInput, UnicodeDecodeError, ValueError):
        return None, f"{where} is not valid docker config JSON"


def _read_secret(cluster: ClusterAPI, name: str) -> Tuple[Optional[Tuple[str, Dict[str, bytes]]], str]:
    from .errors import ClusterForbidden, ClusterObjectNotFound

    try:
        return cluster.secret(MCO_NAMESPACE, name), ""
    except ClusterObjectNotFound:
        return None, f"there is no Secret {name} in namespace {MCO_NAMESPACE}"
    except ClusterForbidden:
        return None, f"this login may not read Secret {MCO_NAMESPACE}/{name}"


def _push_checks(cluster: ClusterAPI, secret: str, push_spec: str, tls: TLSSettings) -> List[Check]:
    """PushSecret (it exists and holds credentials for the registry) and PushSecretCanPush (the registry
    lets those credentials push there: an upload started and cancelled at once, nothing left behind)."""
    from . import reference
    from .adapters.registry import RegistryClient

    where = f"Secret {MCO_NAMESPACE}/{secret}"
    hint = (f"create it: oc create secret docker-registry {secret} -n {MCO_NAMESPACE} --docker-server=REGISTRY"
            " --docker-username=USER --docker-password=PASSWORD, or name another with --push-secret")
    found_secret, why = _read_secret(cluster, secret)
    if found_secret is None:
        return [Check("PushSecret", False, f"{why}: the build could not push the image", hint)]
    creds, why = _docker_config(found_secret[1], where, found_secret[0])
    if creds is None:
        return [Check("PushSecret", False, why, hint)]
    try:
        ref = reference.parse(push_spec)
    except reference.InvalidReference as exc:
        return [Check("PushSecret", False, f"renderedImagePushSpec {push_spec}: {exc}",
                      "fix image: in rhcos-layer.yaml")]
    found = creds.lookup(ref.name)
    if found is None:
        return [Check("PushSecret", False, f"{where} holds no credentials for {ref.registry}: the build could not"
                      f" push to {push_spec}", hint)]
    checks = [Check("PushSecret", True, f"{where} holds credentials for {ref.registry}")]
    try:
        with RegistryClient(ref.registry, found, tls, attempts=2) as client:
            client.check_push(ref.repository)
    except RhcosLayerError as exc:
        checks.append(Check("PushSecretCanPush", False, f"{where} cannot push to {ref.name}: {exc.message}",
                            f"give the secret credentials with push access to {ref.name} (oc set data secret/"
                            f"{secret} -n {MCO_NAMESPACE} --from-file=.dockerconfigjson=FILE)"))
    else:
        checks.append(Check("PushSecretCanPush", True, f"{where} may push to {ref.name} (an upload was started and"
                            " cancelled; checked from this machine)"))
    return checks


def _pull_check(cluster: ClusterAPI, secret: str) -> Check:
    where = f"Secret {MCO_NAMESPACE}/{secret}"
    found, why = _read_secret(cluster, secret)
    if found is not None:
        why = _docker_config(found[1], where, found[0])[1]
    if why:
        return Check("PullSecret", False, why
                     + ": the build could not pull its base image",
                     f"copy the cluster's pull secret there: oc get secret pull-secret -n openshift-config -o json |"
                     f" jq '.metadata={{name:\"{secret}\",namespace:\"{MCO_NAMESPACE}\"}}' | oc create -f -,"
                     " or name another with --pull-secret")
    return Check("PullSecret", True, f"{where} is a pull secret")


def plan(cluster: ClusterAPI, pool: str, project: Project, *, push_secret: Optional[str],
         pull_secret: Optional[str], replace: bool, rebuild: bool, ignore: Set[str], tls: TLSSettings) -> OnClusterPlan:
    """Preflight one pool for on-cluster layering and say what would be written; no write."""
    from . import mosc as mosc_mod
    from .apply import ClusterFacts
    from .errors import ClusterForbidden
    from .pools import inheriting

    facts = ClusterFacts.read(cluster, [pool])
    served = mosc_mod.served_api_version(cluster)
    item = OnClusterPlan(pool, served or "", {}, rebuild=rebuild)
    item.checks.append(_api_check(cluster, facts.version, served))
    if not served:
        return item
    item.mosc = mosc_mod.render(project, pool, api_version=served, push_secret=push_secret, pull_secret=pull_secret)
    meta = item.mosc.setdefault("metadata", {})
    meta.setdefault("labels", {})[MANAGED_BY_LABEL] = MANAGED_BY

    moscs = cluster.machineosconfigs()
    found = oncluster.for_pool(moscs, pool) or next((m for m in moscs or [] if _name(m) == item.name), None)
    if moscs is None:
        item.warnings.append("not allowed to list machineosconfigs: cannot tell whether pool already has one")
    if found is not None and not is_managed(found):
        item.checks.append(Check("MachineOSConfigTaken", False, f"pool {pool} already has MachineOSConfig"
                                 f" {_name(found)}, which rhcos-layer did not create",
                                 f"rhcos-layer never changes it: delete it first (oc delete machineosconfig"
                                 f" {_name(found)}) if this project should replace it"))
    elif found is not None:
        item.existing = found
        meta["name"] = _name(found) or item.name  # v1alpha1 allowed any name: the one there is kept
        same = _spec_json(found) == _spec_json(item.mosc)
        item.action = "unchanged" if same else "update"
        item.checks.append(Check("MachineOSConfigTaken", True, f"MachineOSConfig {_name(found)} is rhcos-layer's"))
    else:
        item.checks.append(Check("MachineOSConfigTaken", True, f"pool {pool} has no MachineOSConfig yet"))

    ours = facts.configs.get(name_for(pool))
    if ours is not None and is_managed(ours) and _field(ours, "spec", "osImageURL"):
        image = _field(ours, "spec", "osImageURL")
        if replace:
            item.replaced = ours
            item.checks.append(Check("ModeConflict", True, f"--replace removes MachineConfig {_name(ours)}"
                                     f" (osImageURL {image}) in the same step"))
            for other in inheriting(facts.pools.values(), pool):
                if name_for(other) not in facts.names:
                    item.warnings.append(f"custom pool {other} inherits the worker MachineConfigs: removing"
                                         f" {_name(ours)} moves its nodes to the base image")
        else:
            item.checks.append(Check("ModeConflict", False, f"pool {pool} boots {image} from rhcos-layer's"
                                     f" MachineConfig {_name(ours)}: with a MachineOSConfig too, the cluster would"
                                     " build on its base and that image would be rebuilt, never booted",
                                     f"move the pool to on-cluster builds in one step: rhcos-layer apply --on-cluster"
                                     f" --pool {pool} --replace"))
    else:
        item.checks.append(Check("ModeConflict", True, f"pool {pool} has no osImageURL MachineConfig of"
                                 " rhcos-layer's"))
    item.checks.append(pool_degraded(facts.pools[pool], pool))
    if _field(facts.pools[pool], "spec", "paused"):
        item.warnings.append(f"pool {pool} is paused: the build runs, but no node moves until it is unpaused")

    push = _secret_name(item.mosc, "renderedImagePushSecret")
    item.checks += _push_checks(cluster, push, item.push_spec, tls)
    pull = _secret_name(item.mosc, "baseImagePullSecret")
    if pull:
        item.checks.append(_pull_check(cluster, pull))
    for check in item.checks:
        check.ignored = not check.ok and check.name in ignore
    if not item.refusals and (item.action != "unchanged" or rebuild):
        # the build to follow is a new one: those there now are for the old spec, or the one to redo
        try:
            item.stale_builds = {str(_field(b, "metadata", "uid") or _name(b)) for b in
                                 cluster.watched_machineosbuilds(served, f"{BUILD_CONFIG_LABEL}={item.name}")}
        except ClusterForbidden:
            pass  # only the wait needs them, and its access review names the permission
    return item


def refuse(item: OnClusterPlan) -> None:
    """PreflightFailed naming the first refusal, the others in the detail (apply's refuse, with this mode's
    ignorable checks)."""
    from .apply import refuse as refuse_plans

    refuse_plans([item], IGNORABLE)  # type: ignore[list-item]  # it reads .pool and .refusals only


def permissions(item: OnClusterPlan, *, wait: bool) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str, str, str]]]:
    """What the writes, their undoing and the wait need: (verbs on machineconfigs, other (verb, resource,
    group, why)), for apply.require_permissions."""
    writes: List[Tuple[str, str]] = []
    extra: List[Tuple[str, str, str, str]] = []
    if item.action == "create":
        extra.append(("create", "machineosconfigs", MCO_GROUP, "to write the pool's MachineOSConfig"))
    elif item.action == "update" or item.rebuild:
        extra.append(("update", "machineosconfigs", MCO_GROUP, "to write the pool's MachineOSConfig"))
    if item.replaced is not None:
        writes = [("delete", "to remove the pool's osImageURL MachineConfig (--replace)"),
                  ("create", "to put the MachineConfig back if a later write fails")]
        extra += [("patch", "machineconfigpools", MCO_GROUP, "to pause the pool while its mode changes")]
        if item.action == "create":
            extra.append(("delete", "machineosconfigs", MCO_GROUP, "to undo the write if a later one fails"))
    if wait:
        # the builder pod's log is read only when a build fails, and then as far as the login may (it is
        # namespaced: a cluster-wide review could refuse a login that may read it there)
        extra.append(("list", "machineosbuilds", MCO_GROUP, "to follow the build"))
    return writes, extra


# ------------------------------------------------------------------------------------ writing
_STRIP = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "deletionTimestamp",
          "deletionGracePeriodSeconds", "selfLink")


def _fresh(obj: Dict[str, Any]) -> Dict[str, Any]:
    """``obj`` as it can be created again: no server-set metadata, no status."""
    body = json.loads(json.dumps(obj))
    body.pop("status", None)
    for key in _STRIP:
        (body.get("metadata") or {}).pop(key, None)
    return dict(body)


class _Steps:
    """The writes of one command, each with its undo: on a failure, what was done is put back, newest first;
    what cannot be is named in PartiallyApplied with the command that undoes it by hand."""

    def __init__(self) -> None:
        self.done: List[Tuple[str, Callable[[], Any], str]] = []

    def did(self, what: str, undo: Callable[[], Any], by_hand: str) -> None:
        self.done.append((what, undo, by_hand))

    def unwind(self, exc: RhcosLayerError) -> RhcosLayerError:
        put_back: List[str] = []
        left: List[Tuple[str, str, RhcosLayerError]] = []
        for what, undo, by_hand in reversed(self.done):
            try:
                undo()
            except RhcosLayerError as failed:
                left.append((what, by_hand, failed))
            else:
                put_back.append(what)
        self.done = []
        if not left:
            exc.message += (f"; put back what was done before it ({', '.join(put_back)}): nothing was changed"
                            if put_back else "; nothing was changed")
            return exc
        kept = "; ".join(f"{what} (undo failed: {failed.message})" for what, _, failed in left)
        return PartiallyApplied(f"{exc.message}; still on the cluster: {kept}",
                                hint="undo with: " + "; ".join(by_hand for _, by_hand, _ in left))


def _pause(cluster: ClusterAPI, steps: _Steps, pool: str) -> None:
    """Pause ``pool`` for a change of mode, unless it already is (then it is left as the user had it);
    at the resourceVersion read, so an admin's change meanwhile is a conflict, not overwritten."""
    found = cluster.pool(pool)
    if _field(found, "spec", "paused"):
        return
    version = _field(found, "metadata", "resourceVersion")
    cluster.patch_pool(pool, pause_patch(True), str(version) if version else None)
    steps.did(f"pool {pool} paused", lambda: cluster.patch_pool(pool, pause_patch(False)),
              patch_command(pool, pause_patch(False)))


def _unpause(cluster: ClusterAPI, steps: _Steps, pools: Sequence[str]) -> None:
    paused = {what for what, _, _ in steps.done}
    for pool in pools:
        if f"pool {pool} paused" in paused:
            cluster.patch_pool(pool, pause_patch(False))


def mosc_body(item: OnClusterPlan) -> Dict[str, Any]:
    """The MachineOSConfig to write: ours rendered, or (unchanged, --rebuild) the one there; on an update
    the previous spec is recorded for rollback --to-previous, and what others put on it is kept."""
    if item.existing is None:
        body = json.loads(json.dumps(item.mosc))
    else:
        old_meta = _mapping(item.existing.get("metadata"))
        body = json.loads(json.dumps(item.existing if item.action == "unchanged" else item.mosc))
        body.pop("status", None)
        meta = body.setdefault("metadata", {})
        for key in _STRIP:
            meta.pop(key, None)
        meta["name"] = old_meta.get("name", meta.get("name"))
        meta["resourceVersion"] = old_meta.get("resourceVersion")
        meta["labels"] = {**_mapping(old_meta.get("labels")), **_mapping(meta.get("labels"))}
        annotations = {**_mapping(old_meta.get("annotations")), **_mapping(meta.get("annotations"))}
        annotations.pop(REBUILD_ANNOTATION, None)
        if item.action == "update":
            annotations[PREVIOUS_SPEC_ANNOTATION] = _spec_json(item.existing)
        meta["annotations"] = annotations
    if item.rebuild and item.existing is not None:
        body["metadata"].setdefault("annotations", {})[REBUILD_ANNOTATION] = ""
    return dict(body)


def execute(cluster: ClusterAPI, item: OnClusterPlan, *, dry_run: bool = False) -> Dict[str, Any]:
    """Write the pool's MachineOSConfig; with --replace, remove our osImageURL MachineConfig in the same
    step, the pool paused meanwhile (see the module's docstring). Returns the MachineOSConfig written."""
    writes = item.action != "unchanged" or item.rebuild
    if dry_run:
        if not writes:
            return dict(item.existing or {})
        body = mosc_body(item)
        return dict(cluster.create_machineosconfig(body, dry_run=True) if item.existing is None
                    else cluster.replace_machineosconfig(body, dry_run=True))
    steps = _Steps()
    try:
        if item.replaced is not None:
            _pause(cluster, steps, item.pool)
            replaced = item.replaced
            name = _name(replaced)
            cluster.delete_machineconfig(name, str(_field(replaced, "metadata", "resourceVersion") or "") or None)
            steps.did(f"MachineConfig {name} deleted", lambda: cluster.create_machineconfig(_fresh(replaced)),
                      f"rhcos-layer apply --pool {item.pool} --image {_field(replaced, 'spec', 'osImageURL')}")
        written = dict(item.existing or {})
        if writes:
            body = mosc_body(item)
            if item.existing is None:
                written = dict(cluster.create_machineosconfig(body))
                version = item.api_version
                steps.did(f"MachineOSConfig {item.name} created",
                          lambda: cluster.delete_machineosconfig(item.name, version,
                                                                 str(_field(written, "metadata", "resourceVersion")
                                                                     or "") or None),
                          f"oc delete machineosconfig {item.name}")
            else:
                written = dict(cluster.replace_machineosconfig(body))
                old = _fresh(item.existing)

                def restore() -> Any:
                    old["metadata"]["resourceVersion"] = _field(written, "metadata", "resourceVersion")
                    return cluster.replace_machineosconfig(old)

                steps.did(f"MachineOSConfig {item.name} updated", restore,
                          f"rhcos-layer rollback --pool {item.pool} --to-previous")
        _unpause(cluster, steps, [item.pool])
    except RhcosLayerError as exc:
        raise steps.unwind(exc) from None
    return written


def to_machineconfigs(cluster: ClusterAPI, plans: Sequence[Plan], *, dry_run: bool = False
                      ) -> List[Tuple[Plan, Dict[str, Any]]]:
    """``apply --pool POOL --replace`` on a pool with our MachineOSConfig: pause the pools, delete the
    MachineOSConfigs, write the MachineConfigs (apply.execute_all, which puts its own writes back on a
    failure), unpause. A failure puts the MachineOSConfigs back and unpauses."""
    from .apply import execute_all

    if dry_run:
        return execute_all(cluster, plans, dry_run=True)
    steps = _Steps()
    try:
        for item in plans:
            mosc = item.replaces
            if mosc is None:
                continue
            _pause(cluster, steps, item.pool)
            name, version = _name(mosc), str(mosc.get("apiVersion") or "").rpartition("/")[2]
            cluster.delete_machineosconfig(name, version, str(_field(mosc, "metadata", "resourceVersion") or "")
                                           or None)
            steps.did(f"MachineOSConfig {name} deleted",
                      lambda m=mosc: cluster.create_machineosconfig(_fresh(m)),  # type: ignore[misc]
                      f"rhcos-layer apply --on-cluster --pool {item.pool}")
        written = execute_all(cluster, plans)
        _unpause(cluster, steps, [p.pool for p in plans])
    except RhcosLayerError as exc:
        raise steps.unwind(exc) from None
    return written


# ------------------------------------------------------------------------------------ following the build
def build_state(build: Dict[str, Any]) -> str:
    """The MachineOSBuild's state: its final condition that is True, else the latest one; Pending if none."""
    from .objects import conditions

    present = conditions(build)
    for kind in BUILD_STATES:
        if present.get(kind, {}).get("status") == "True":
            return kind
    return "Pending"


def job_name(build: Dict[str, Any]) -> str:
    """The builder Job: ``status.builder.job.name`` (v1), else the name the MCO gives it (``build-<build>``,
    pkg/controller/build/utils.go)."""
    named = _field(build, "status", "builder", "job", "name")
    return named if isinstance(named, str) and named else f"build-{_name(build)}"


_STEP = re.compile(r"^(?:\[\d+/\d+\] )?STEP \d+(?:/\d+)?: ")  # "[2/2] STEP 3/3: ..." in a multi-stage build
_ERROR = re.compile(r"^(?:error|fatal|Error)\b")
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def clean_log(text: str) -> List[str]:
    """The log's lines with terminal escapes and control characters removed (it is the build's output,
    not ours: printed as text, never interpreted by the terminal)."""
    return [_CONTROL.sub("", line).rstrip()[:500] for line in text.replace("\r\n", "\n").split("\n")]


def _one_line(text: str) -> str:
    """A name from the cluster, as one line of plain text."""
    return " ".join(clean_log(text)).strip()


def failed_step(lines: Sequence[str]) -> Tuple[str, str]:
    """(the last ``STEP n/m: ...`` line, the first error line after it) of a buildah log; "" for what is
    absent. The first error is the cause (``error: Packages not found: ...``); buildah's own ``Error: building
    at STEP ...`` that follows it only says the step failed."""
    step, error = "", ""
    for line in lines:
        text = line.strip()
        if _STEP.match(text):
            step, error = text, ""
        elif _ERROR.match(text) and not error:
            error = text
    return step[:300], error[:300]


class BuildWatcher:
    """Follows the MachineOSBuild of the pool's rendered config (for rollout.follow: step, progress,
    diagnosis, close). ``say`` gets one line per state the build reaches."""

    def __init__(self, cluster: ClusterAPI, item: OnClusterPlan, say: Callable[[str], None]) -> None:
        self.cluster = cluster
        self.item = item
        self.pool = item.pool
        self.say = say
        self.view: Any = None
        self.target = ""
        self.build: Optional[Dict[str, Any]] = None
        self.state = "Waiting"
        self.job = ""
        self.image: Optional[str] = None
        self._said: Tuple[str, str] = ("", "")

    def step(self) -> bool:
        from .rollout import read_pool

        self.view = read_pool(self.cluster.watched_pool(self.pool))
        if self.item.replaced is not None and _name(self.item.replaced) in self.view.sources:
            return False  # the MCO has not rendered the pool without our MachineConfig yet
        self.target = self.view.target
        builds = [b for b in self.cluster.watched_machineosbuilds(self.item.api_version,
                                                                  f"{BUILD_CONFIG_LABEL}={self.item.name}")
                  if _field(b, "metadata", "labels", BUILD_RENDERED_LABEL) == self.target
                  and str(_field(b, "metadata", "uid") or _name(b)) not in self.item.stale_builds]
        if not builds:
            return False
        build = max(builds, key=lambda b: (str(_field(b, "metadata", "creationTimestamp") or ""), _name(b)))
        self.build, self.state, self.job = build, build_state(build), _one_line(job_name(build))
        if (_name(build), self.state) != self._said:
            self._said = (_name(build), self.state)
            self.say(f"{self.pool}: build {_one_line(_name(build))} {self.state} (Job {MCO_NAMESPACE}/{self.job})")
        if self.state == "Succeeded":
            image = _field(build, "status", "digestedImagePushSpec") or _field(build, "status",
                                                                              "finalImagePushspec")
            self.image = image if isinstance(image, str) and image else None
            return self.image is not None  # the MCO names the image as the build succeeds
        if self.state in ("Failed", "Interrupted"):
            raise self.failure(build)
        return False

    def failure(self, build: Dict[str, Any]) -> OnClusterBuildFailed:
        """The failed build: the failed step and error from the tail of the builder pod's log."""
        from .objects import conditions

        lines: List[str] = []
        unread = ""
        try:
            pods = self.cluster.watched_pods(MCO_NAMESPACE, f"job-name={self.job}")
            if pods:
                pod = max(pods, key=lambda p: (str(_field(p, "metadata", "creationTimestamp") or ""), _name(p)))
                containers = _field(pod, "spec", "containers")
                names = [str(c.get("name")) for c in (containers if isinstance(containers, list) else [])
                         if isinstance(c, dict)]
                container = "image-build" if "image-build" in names else (names[0] if names else None)
                lines = clean_log(self.cluster.pod_log_tail(MCO_NAMESPACE, _name(pod), LOG_LINES, container))
                while lines and not lines[-1]:
                    lines.pop()
            else:
                unread = f"the Job {self.job} has no pod left"
        except RhcosLayerError as exc:
            unread = exc.message
        step, error = failed_step(lines)
        state = self.state
        reason = " ".join(clean_log(str(conditions(build).get(state, {}).get("message") or ""))).strip()[:300]
        what = "failed" if state == "Failed" else "was interrupted"
        message = (f"pool {self.pool}: the build {_one_line(_name(build))} (Job {self.job}) {what}"
                   + (f" at {step}" if step else "") + (f": {error}" if error else f": {reason}" if reason else ""))
        if unread:
            message += f" (no build log: {unread})"
        again = f"rhcos-layer apply --on-cluster --pool {self.pool}"
        hint = (f"fix the Containerfile, then run {again} again (the MachineOSConfig stays, and the nodes keep the"
                f" image they run); to build the same inputs again: {again} --rebuild")
        if self.item.replaced is not None:
            image = _field(self.item.replaced, "spec", "osImageURL")
            hint += f"; back to the image built off the cluster: rhcos-layer apply --pool {self.pool} --image {image}" \
                    " --replace"
        hint += f"; the whole log: oc logs -n {MCO_NAMESPACE} job/{self.job}"
        detail = "\n".join(lines)
        return OnClusterBuildFailed(message, hint=hint, detail=detail)

    def progress(self) -> Any:
        return (self.target, _name(self.build), self.state)

    def diagnosis(self) -> str:
        if self.build is None:
            return (f"pool {self.pool}: no build of {self.item.name} for {self.target or 'its rendered config'} yet"
                    f" (is the machine-os-builder running? oc -n {MCO_NAMESPACE} get pods)")
        return f"pool {self.pool}: build {_name(self.build)} is {self.state} (Job {MCO_NAMESPACE}/{self.job})"

    def close(self) -> None:
        pass

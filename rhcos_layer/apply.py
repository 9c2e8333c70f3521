"""Pointing a pool at a layered image: the preflight that refuses what breaks nodes, then the write.

``plan()`` reads the cluster and the registry (a fixed number of requests whatever the pool's size)
and returns, per pool, what would change and every check's outcome; ``execute()`` writes one
MachineConfig per pool. Nothing is written while any check fails that the user did not ignore
(``--ignore-preflight-errors``, as kubeadm spells it), so a refused apply leaves the cluster as it
was. Watching the rollout that follows is ``rollout.py``'s part.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from . import auth, reference
from .build import BASE_DIGEST_LABEL, BASE_NAME_LABEL, INPUTS_LABEL, RELEASE_LABEL, RPMS_LABEL
from .errors import InvalidInput, PreflightFailed
from .machineconfig import (
    BASE_ANNOTATION,
    INPUTS_ANNOTATION,
    PREVIOUS_ANNOTATION,
    ROLE_LABEL,
    is_managed,
    name_for,
    render,
)
from .trust import TLSSettings

# The checks a user may override, and what each protects. The others (image pinned and present,
# pool exists, our MachineConfig wins the merge, its name is ours) can never be ignored.
IGNORABLE = {
    "NodesCanPull": "the cluster's global pull secret can pull the image",
    "LoopbackRegistry": "the registry is not a loopback address (each node would pull from itself)",
    "BaseMatches": "the image is built on the base the cluster's nodes run now",
    "PoolDegraded": "the pool is not degraded",
    "PackageConflict": "the layered RPMs do not clash with the pool's extensions or realtime kernel",
}
ALWAYS = ("ImagePresent", "Shadowed", "NameTaken", "OnClusterLayering")
_CUSTOM_INHERITS = "worker"
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json")


def parse_ignored(values: Sequence[str]) -> Set[str]:
    """``--ignore-preflight-errors A,B`` (repeatable; ``all`` for every ignorable check)."""
    names = {part.strip() for value in values for part in value.split(",") if part.strip()}
    if "all" in names:
        return set(IGNORABLE)
    lowered = {name.lower(): name for name in IGNORABLE}
    result = set()
    for name in names:
        if name.lower() not in lowered:
            shown = "never ignorable" if name in ALWAYS else "unknown"
            raise InvalidInput(f"--ignore-preflight-errors {name}: {shown} check (the ignorable ones:"
                               f" {', '.join(sorted(IGNORABLE))}, or all)")
        result.add(lowered[name.lower()])
    return result


@dataclass
class Check:
    name: str
    ok: bool
    message: str
    hint: str = ""
    ignored: bool = False

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "ignored": self.ignored, "message": self.message,
                "hint": self.hint}


@dataclass
class Plan:
    """What ``apply`` would do to one pool, and why it may."""

    pool: str
    image: str
    action: str  # create, update, unchanged
    machineconfig: Dict[str, Any]
    existing: Optional[Dict[str, Any]]
    previous_image: Optional[str]
    target_before: str  # the pool's spec.configuration.name before the change
    checks: List[Check] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.machineconfig["metadata"]["name"])

    @property
    def refusals(self) -> List[Check]:
        return [c for c in self.checks if not c.ok and not c.ignored]

    def as_dict(self) -> Dict[str, Any]:
        return {"pool": self.pool, "image": self.image, "action": self.action, "machineconfig": self.name,
                "previous_image": self.previous_image, "checks": [c.as_dict() for c in self.checks],
                "warnings": list(self.warnings)}


@dataclass
class ImageFacts:
    """What the registry says about the image: present, its labels, whether the nodes can pull it."""

    labels: Dict[str, str]
    pull: Check


def _loopback(host: str) -> bool:
    """``127.0.0.1:5000``, ``[::1]:5000``, ``localhost``: an address each node reads as itself."""
    name = host.partition("]")[0].lstrip("[") if host.startswith("[") else host.partition(":")[0]
    return name in ("localhost", "::1") or name.startswith("127.") or name.endswith(".localhost")


def image_facts(image: reference.ImageReference, authfile: Optional[str], tls: TLSSettings,
                pull_secret: Optional[bytes]) -> ImageFacts:
    """Read the image's labels with the user's credentials; try a pull with the cluster's.

    A missing image raises ImageNotFound; a wrong password or an untrusted CA for the user raise as
    they do for push. The pull secret's credentials only ever go to the image's registry.
    """
    from .adapters.registry import RegistryClient
    from .errors import CredentialsRejected, ImageNotFound, RegistryUnavailable

    creds = auth.resolve(authfile).lookup(image.name)
    digest = str(image.digest)
    with RegistryClient(image.registry, creds, tls) as client:
        body, media_type, _ = client.get_manifest(image.repository, digest)
        manifest = json.loads(body)
        if media_type in _INDEX_TYPES or manifest.get("manifests"):
            entries = [m for m in manifest.get("manifests") or []
                       if (m.get("platform") or {}).get("architecture") in ("amd64", None)]
            if not entries:
                entries = list(manifest.get("manifests") or [])
            if not entries:
                raise ImageNotFound(f"{image.pinned()} is an empty image index")
            body, _, _ = client.get_manifest(image.repository, str(entries[0]["digest"]))
            manifest = json.loads(body)
        config_digest = str((manifest.get("config") or {}).get("digest") or "")
        labels: Dict[str, str] = {}
        if config_digest:
            config = client.get_json_blob(image.repository, config_digest)
            labels = {str(k): str(v) for k, v in ((config.get("config") or {}).get("Labels") or {}).items()}

    secret_hint = ("add the registry's credentials to the cluster's global pull secret: oc set data"
                   " secret/pull-secret -n openshift-config --from-file=.dockerconfigjson=FILE")
    node_creds = None
    where = "the cluster's global pull secret (openshift-config/pull-secret)"
    if pull_secret is not None:
        try:
            node_creds = auth.parse(pull_secret.decode("utf-8"), where, strict=False).lookup(image.name)
        except (InvalidInput, UnicodeDecodeError):
            return ImageFacts(labels, Check("NodesCanPull", False, f"{where} is not valid docker config JSON",
                                            "fix the secret's .dockerconfigjson"))
    try:
        with RegistryClient(image.registry, node_creds, tls, attempts=2) as client:
            client.manifest_digest(image.repository, digest)
    except CredentialsRejected:
        said = "has no credentials for" if node_creds is None else "holds credentials that are rejected by"
        return ImageFacts(labels, Check("NodesCanPull", False, f"{where} {said} {image.registry}: every node"
                                        " would fail to pull the image and go Degraded", secret_hint))
    except (RegistryUnavailable, ImageNotFound) as exc:
        return ImageFacts(labels, Check("NodesCanPull", False, f"pulling with {where}: {exc.message}",
                                        exc.hint or secret_hint))
    return ImageFacts(labels, Check("NodesCanPull", True, f"{where} can pull {image.registry}/{image.repository}"))


def _order_key(pool: str, mc: Dict[str, Any]) -> Tuple[int, str]:
    """Merge position of ``mc`` in ``pool``: a custom pool merges the worker configs first."""
    role = ((mc.get("metadata") or {}).get("labels") or {}).get(ROLE_LABEL)
    custom = pool not in ("master", "worker", "arbiter")
    return (0 if custom and role == _CUSTOM_INHERITS else 1, str((mc.get("metadata") or {}).get("name", "")))


def _name(obj: Dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


@dataclass
class ClusterFacts:
    """Everything plan() needs from the cluster, read once for all pools (four requests)."""

    base: str
    pools: Dict[str, Dict[str, Any]]
    configs: Dict[str, Dict[str, Any]]
    pull_secret: Optional[bytes]
    pull_secret_error: str = ""

    @classmethod
    def read(cls, cluster: Any) -> ClusterFacts:
        from .adapters.cluster import MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP, PULL_SECRET
        from .errors import ImageNotFound

        base = str((cluster.configmap(MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP).get("data") or {})
                   .get("baseOSContainerImage") or "")
        pools = {_name(p): p for p in cluster.pools()}
        configs = {_name(mc): mc for mc in cluster.machineconfigs()}
        secret: Optional[bytes] = None
        error = ""
        try:
            secret = cluster.secret_data(*PULL_SECRET).get(".dockerconfigjson")
            if secret is None:
                error = "the cluster's global pull secret has no .dockerconfigjson key"
        except ImageNotFound:
            error = "the cluster has no global pull secret (openshift-config/pull-secret)"
        return cls(base, pools, configs, secret, error)

    def selected(self, pool: str) -> List[Dict[str, Any]]:
        """The MachineConfigs ``pool`` merges (never rendered-* ones: they carry no role label)."""
        from .pools import selector_matches

        selector = ((self.pools[pool].get("spec") or {}).get("machineConfigSelector"))
        return [mc for mc in self.configs.values()
                if ROLE_LABEL in ((mc.get("metadata") or {}).get("labels") or {})
                and selector_matches(selector, (mc.get("metadata") or {}).get("labels") or {})]

    def live_image(self, pool: str) -> Optional[str]:
        rendered = (((self.pools[pool].get("status") or {}).get("configuration")) or {}).get("name")
        image = ((self.configs.get(str(rendered)) or {}).get("spec") or {}).get("osImageURL")
        return str(image) if image else None


def check_pool(facts: ClusterFacts, pool: str, image: str, labels: Dict[str, str], plan: Plan) -> None:
    """The pool's own checks: degraded, paused, shadowed, name taken, RPM conflicts; custom pools that
    inherit the change."""
    from .lint import conflicts
    from .pools import conditions, facts_from

    obj = facts.pools[pool]
    status = obj.get("status") or {}
    present = conditions(obj)
    degraded = [kind for kind in ("Degraded", "NodeDegraded", "RenderDegraded")
                if present.get(kind, {}).get("status") == "True"]
    count = int(status.get("degradedMachineCount") or 0)
    if degraded or count:
        reason = present[degraded[0]].get("message") if degraded else ""
        plan.checks.append(Check("PoolDegraded", False, f"pool {pool} is degraded ({count} degraded node(s)"
                                 + (f": {reason}" if reason else "") + "): a rollout would stall behind it",
                                 f"fix the degraded nodes first (oc describe mcp {pool})"))
    else:
        plan.checks.append(Check("PoolDegraded", True, f"pool {pool} is not degraded"))
    if (obj.get("spec") or {}).get("paused"):
        plan.warnings.append(f"pool {pool} is paused: nothing rolls out until it is unpaused"
                             f" (oc patch mcp {pool} --type merge -p '{{\"spec\":{{\"paused\":false}}}}')")

    ours = name_for(pool)
    existing = facts.configs.get(ours)
    if existing is not None and not is_managed(existing):
        plan.checks.append(Check("NameTaken", False, f"a MachineConfig named {ours} exists that rhcos-layer did"
                                 " not create", "rename or delete it; rhcos-layer never changes it"))
    selected = facts.selected(pool)
    mine = (1, ours)
    later = sorted(_name(mc) for mc in selected if _name(mc) != ours and _order_key(pool, mc) > mine
                   and (mc.get("spec") or {}).get("osImageURL"))
    if later:
        plan.checks.append(Check("Shadowed", False, f"MachineConfig {later[-1]} of pool {pool} also sets"
                                 f" osImageURL and merges after {ours}: it would win, and the image would never"
                                 " roll out", f"delete it or drop its osImageURL (oc get mc {later[-1]} -o yaml)"))
    else:
        plan.checks.append(Check("Shadowed", True, f"{ours} is the last MachineConfig of pool {pool} to set"
                                 " osImageURL"))
    packages = {p for p in labels.get(RPMS_LABEL, "").split(",") if p}
    clashes = conflicts(packages, facts_from(pool, [mc for mc in selected if _name(mc) != ours]))
    if clashes:
        plan.checks.append(Check("PackageConflict", False, f"pool {pool}: " + "; ".join(clashes)
                                 + ": installing both degrades the pool",
                                 "drop the RPMs from the Containerfile, or the extension / kernelType from the pool"))
    elif INPUTS_LABEL not in labels:
        plan.warnings.append(f"{image} was not built by rhcos-layer: its layered RPMs cannot be checked against"
                             f" pool {pool}'s extensions and kernel type")
    else:
        plan.checks.append(Check("PackageConflict", True, "no layered RPM clashes with the pool's MachineConfigs"))
    if pool == _CUSTOM_INHERITS:
        from .pools import selector_matches

        for other, other_obj in sorted(facts.pools.items()):
            selector = (other_obj.get("spec") or {}).get("machineConfigSelector")
            own = name_for(other) if other not in ("master", "worker", "arbiter") else None
            if own and selector_matches(selector, {ROLE_LABEL: pool}) and own not in facts.configs:
                plan.warnings.append(f"custom pool {other} inherits the worker MachineConfigs: its nodes move to"
                                     " this image too")


def check_on_cluster(pool: str, moscs: Optional[List[Dict[str, Any]]], plan: Plan) -> None:
    """OnClusterLayering (never ignorable): a pool with a MachineOSConfig boots what the cluster builds;
    our MachineConfig would only trigger a rebuild, and the done rule would still report success."""
    from . import oncluster

    mosc = oncluster.for_pool(moscs, pool)
    if mosc is not None:
        plan.checks.append(Check("OnClusterLayering", False, oncluster.refusal(pool, mosc),
                                 oncluster.hint(pool, mosc)))
    elif moscs is None:
        plan.warnings.append(f"not allowed to list machineosconfigs: cannot tell whether pool {pool} uses"
                             " on-cluster layering (if it does, this image will never be booted)")
    else:
        plan.checks.append(Check("OnClusterLayering", True, f"pool {pool} has no MachineOSConfig"))


def plan(cluster: Any, pools: Sequence[str], image: str, *, authfile: Optional[str], tls: TLSSettings,
         ignore: Set[str], project: Optional[str] = None) -> List[Plan]:
    """Preflight every pool and say what apply would do; no write."""
    try:
        ref = reference.parse_pinned(image)
    except reference.InvalidReference as exc:
        raise InvalidInput(f"--image: {exc}; nodes pull on their own, and a tag can move between two of them")\
            from None
    pinned = ref.pinned()
    facts = ClusterFacts.read(cluster)
    from .pools import require

    require(pools, facts.pools)
    found = image_facts(ref, authfile, tls, facts.pull_secret)
    if facts.pull_secret_error:
        found.pull = Check("NodesCanPull", False, facts.pull_secret_error + ": nodes cannot pull private images",
                           "restore it: see the OpenShift docs on updating the global cluster pull secret")
    labels = found.labels
    shared = [found.pull]
    if _loopback(ref.registry):
        shared.append(Check("LoopbackRegistry", False, f"{ref.registry} is a loopback address: each node would"
                            " pull from itself", "push to a registry the nodes reach by name"))
    built_on = labels.get(BASE_DIGEST_LABEL)
    cluster_base = reference.digest_of(facts.base)
    if not built_on:
        shared.append(Check("BaseMatches", False, f"{pinned} has no {BASE_DIGEST_LABEL} label: cannot tell which"
                            " base it was built on", "build it with `rhcos-layer build`"))
    elif built_on != cluster_base:
        release = labels.get(RELEASE_LABEL)
        shared.append(Check("BaseMatches", False, f"{pinned} is built on {built_on[:19]}…"
                            + (f" (OpenShift {release})" if release else "")
                            + f", but the cluster's nodes run base {cluster_base[:19]}…: a build for another"
                            " release", "rebuild on the cluster's base (base: cluster in rhcos-layer.yaml), push,"
                            " and apply that"))
    else:
        shared.append(Check("BaseMatches", True, f"built on the cluster's base {cluster_base[:19]}…"))

    moscs = cluster.machineosconfigs()  # on-cluster layering: None when not allowed to tell
    plans = []
    for pool in dict.fromkeys(pools):
        existing = facts.configs.get(name_for(pool))
        live = facts.live_image(pool)
        previous = None
        if existing is not None and is_managed(existing):
            old = str((existing.get("spec") or {}).get("osImageURL") or "")
            previous = old if old and old != pinned else \
                ((existing.get("metadata") or {}).get("annotations") or {}).get(PREVIOUS_ANNOTATION)
        elif live and live != facts.base and live != pinned:
            previous = live
        desired = render(pool, pinned, base=labels.get(BASE_NAME_LABEL), inputs_digest=labels.get(INPUTS_LABEL),
                         project=project, previous_image=previous)
        action = "create"
        if existing is not None:
            same = (existing.get("spec") or {}).get("osImageURL") == pinned
            action = "unchanged" if same and is_managed(existing) else "update"
        target = str((((facts.pools[pool].get("spec") or {}).get("configuration")) or {}).get("name") or "")
        item = Plan(pool, pinned, action, desired, existing, previous, target, checks=list(shared))
        check_pool(facts, pool, pinned, labels, item)
        check_on_cluster(pool, moscs, item)
        for check in item.checks:
            check.ignored = not check.ok and check.name in ignore
        plans.append(item)
    return plans


def refuse(plans: Sequence[Plan]) -> None:
    """Raise PreflightFailed naming the first refusal (all of them in the detail)."""
    refusals = [(p, c) for p in plans for c in p.refusals]
    if not refusals:
        return
    first_plan, first = refusals[0]
    seen: Set[str] = set()
    lines = []
    for _plan, c in refusals:
        key = f"{c.name}:{c.message}"
        if key not in seen:
            seen.add(key)
            lines.append(f"refused ({c.name}): {c.message}" + (f" (fix: {c.hint})" if c.hint else ""))
    hint = first.hint
    if first.name in IGNORABLE:
        hint = (hint + "; " if hint else "") + f"or override with --ignore-preflight-errors={first.name}"
    more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    raise PreflightFailed(f"pool {first_plan.pool}: {first.message}{more}; nothing was changed", hint=hint,
                          detail="\n".join(lines[1:]) if len(lines) > 1 else "")


def execute(cluster: Any, item: Plan, *, dry_run: bool = False) -> Dict[str, Any]:
    """Create or update the pool's MachineConfig (server-side dry run with ``dry_run``)."""
    if item.action == "unchanged":
        return dict(item.existing or {})
    if item.action == "create":
        return dict(cluster.create_machineconfig(item.machineconfig, dry_run=dry_run))
    body = json.loads(json.dumps(item.machineconfig))
    old_meta = (item.existing or {}).get("metadata") or {}
    body["metadata"]["resourceVersion"] = old_meta.get("resourceVersion")
    # keep what others put on it (labels, annotations) but ours win
    body["metadata"]["labels"] = {**(old_meta.get("labels") or {}), **body["metadata"]["labels"]}
    annotations = {k: v for k, v in (old_meta.get("annotations") or {}).items()
                   if k not in (BASE_ANNOTATION, INPUTS_ANNOTATION, PREVIOUS_ANNOTATION)}
    body["metadata"]["annotations"] = {**annotations, **(body["metadata"].get("annotations") or {})}
    return dict(cluster.replace_machineconfig(body, dry_run=dry_run))


def revert(cluster: Any, item: Plan, written: Dict[str, Any]) -> None:
    """Undo ``execute``: delete what it created, or put back what it replaced."""
    if item.action == "create":
        cluster.delete_machineconfig(item.name, str((written.get("metadata") or {}).get("resourceVersion") or "")
                                     or None)
    elif item.action == "update" and item.existing is not None:
        body = json.loads(json.dumps(item.existing))
        body["metadata"]["resourceVersion"] = (written.get("metadata") or {}).get("resourceVersion")
        for key in ("uid", "creationTimestamp", "generation", "managedFields"):
            body["metadata"].pop(key, None)
        cluster.replace_machineconfig(body)

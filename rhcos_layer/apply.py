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
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Set, Tuple

from . import auth, reference
from .build import BASE_DIGEST_LABEL, BASE_NAME_LABEL, INPUTS_LABEL, RELEASE_LABEL, RPMS_LABEL
from .errors import InvalidInput, PartiallyApplied, PreflightFailed, RhcosLayerError
from .machineconfig import (
    BASE_ANNOTATION,
    INPUTS_ANNOTATION,
    PREVIOUS_ANNOTATION,
    ROLE_LABEL,
    is_managed,
    name_for,
    render,
)
from .objects import field as _field  # dataclasses.field is also used here
from .trust import TLSSettings

if TYPE_CHECKING:
    from .adapters.cluster_api import ClusterAPI
    from .rollout import Expectation

# The checks a user may override, and what each protects. The others (image pinned and present,
# pool exists, our MachineConfig wins the merge, its name is ours) can never be ignored.
IGNORABLE = {
    "NodesCanPull": "the cluster's global pull secret can pull the image",
    "LoopbackRegistry": "the registry is not a loopback address (each node would pull from itself)",
    "BaseMatches": "the image is built on the base the cluster's nodes run now",
    "PoolDegraded": "the pool is not degraded",
    "PackageConflict": "the layered RPMs do not clash with the pool's extensions or realtime / 64k-pages kernel",
}
ALWAYS = ("ImagePresent", "PoolSelects", "Shadowed", "NameTaken", "OnClusterLayering")
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.list.v2+json")


def parse_ignored(values: Sequence[str], ignorable: Optional[Dict[str, str]] = None) -> Set[str]:
    """``--ignore-preflight-errors A,B`` (repeatable; ``all`` for every ignorable check). ``ignorable``:
    the checks that may be ignored (apply's by default; ``apply --on-cluster`` has its own)."""
    ignorable = IGNORABLE if ignorable is None else ignorable
    names = {part.strip() for value in values for part in value.split(",") if part.strip()}
    if "all" in names:
        return set(ignorable)
    lowered = {name.lower(): name for name in ignorable}
    result = set()
    for name in names:
        if name.lower() not in lowered:
            shown = "never ignorable" if name in ALWAYS else "unknown"
            raise InvalidInput(f"--ignore-preflight-errors {name}: {shown} check (the ignorable ones:"
                               f" {', '.join(sorted(ignorable))}, or all)")
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
    replaces: Optional[Dict[str, Any]] = None  # our MachineOSConfig that --replace removes (oncluster_apply)

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


def _loopback(host: str) -> bool:
    """``127.0.0.1:5000``, ``[::1]:5000``, ``localhost``: an address each node reads as itself."""
    name = host.partition("]")[0].lstrip("[") if host.startswith("[") else host.partition(":")[0]
    return name in ("localhost", "::1") or name.startswith("127.") or name.endswith(".localhost")


def image_labels(image: reference.ImageReference, authfile: Optional[str], tls: TLSSettings) -> Dict[str, str]:
    """The image's labels, read with the user's credentials and TLS settings.

    A missing image raises ImageNotFound; a wrong password or an untrusted CA for the user raise as
    they do for push.
    """
    from .adapters.registry import RegistryClient
    from .errors import ImageNotFound

    creds = auth.resolve(authfile).lookup(image.name)
    with RegistryClient(image.registry, creds, tls) as client:
        body, media_type, _ = client.get_manifest(image.repository, str(image.digest))
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
        if not config_digest:
            return {}
        config = client.get_json_blob(image.repository, config_digest)
        return {str(k): str(v) for k, v in ((config.get("config") or {}).get("Labels") or {}).items()}


_SECRET_HINT = ("add the registry's credentials to the cluster's global pull secret: oc set data"
                " secret/pull-secret -n openshift-config --from-file=.dockerconfigjson=FILE")
_SECRET_WHERE = "the cluster's global pull secret (openshift-config/pull-secret)"
# What the check cannot see from here, said in its message so nobody reads more into a pass.
_UNSEEN = ("checked from this machine with the cluster's pull secret, mirrors and added CAs; not the nodes'"
           " network, proxy or system CA bundle")


@dataclass
class NodeTrust:
    """What the nodes use to pull, as far as the cluster tells: the registry CAs it adds
    (images.config.openshift.io/cluster spec.additionalTrustedCA, a ConfigMap in openshift-config keyed
    ``host`` or ``host..port``) and its digest mirrors (ImageDigestMirrorSet, and the older
    ImageContentSourcePolicy), which the MCO writes into each node's registries.conf
    (openshift/machine-config-operator pkg/controller/container-runtime-config)."""

    cas: Dict[str, str] = field(default_factory=dict)  # host or host:port -> PEM
    mirrors: List[Tuple[str, List[str], bool]] = field(default_factory=list)  # source, mirrors, never source
    unseen: List[str] = field(default_factory=list)  # what this login could not read
    malformed: List[Tuple[str, str]] = field(default_factory=list)  # (source or host, what is wrong)

    @classmethod
    def read(cls, cluster: ClusterAPI) -> NodeTrust:
        """Read what the nodes pull with; what this login may not read is listed in ``unseen``."""
        from .errors import ClusterForbidden, ClusterObjectNotFound

        trust = cls()
        try:
            image = cluster.get_object("config.openshift.io", "v1", "images", "cluster") or {}
            ca_name = _field(_field(image, "spec"), "additionalTrustedCA", "name")
            if isinstance(ca_name, str) and ca_name:
                try:
                    trust.add_cas(cluster.configmap("openshift-config", ca_name).get("data"))
                except ClusterObjectNotFound:
                    trust.unseen.append(f"ConfigMap openshift-config/{ca_name} named by additionalTrustedCA is"
                                        " missing")
        except ClusterForbidden:
            trust.unseen.append("the registry CAs the cluster adds (images.config.openshift.io/cluster)")
        for group, version, plural, kind in (
                ("config.openshift.io", "v1", "imagedigestmirrorsets", "ImageDigestMirrorSet"),
                ("operator.openshift.io", "v1alpha1", "imagecontentsourcepolicies", "ImageContentSourcePolicy")):
            try:
                objs = cluster.list_objects(group, version, plural)
            except ClusterForbidden:
                trust.unseen.append(f"the cluster's mirrors ({kind})")
                continue
            for obj in objs:
                trust.add_mirror_set(kind, obj)
        return trust

    def add_cas(self, data: Any) -> None:
        """The additionalTrustedCA ConfigMap's data: ``host`` or ``host..port`` -> PEM."""
        for key, pem in (data.items() if isinstance(data, dict) else ()):
            host = str(key).replace("..", ":")
            if isinstance(pem, str) and "-----BEGIN CERTIFICATE-----" in pem:
                self.cas[host] = pem
            else:
                self.malformed.append((host, "not a PEM certificate"))

    def add_mirror_set(self, kind: str, obj: Any) -> None:
        """An ImageDigestMirrorSet (spec.imageDigestMirrors) or ImageContentSourcePolicy
        (spec.repositoryDigestMirrors), whatever its shape: what is malformed is kept aside."""
        field_name = "imageDigestMirrors" if kind == "ImageDigestMirrorSet" else "repositoryDigestMirrors"
        entries = _field(_field(obj, "spec"), field_name)
        name = _field(_field(obj, "metadata"), "name")
        for entry in entries if isinstance(entries, list) else []:
            self._add_mirror(entry, f"{kind} {name if isinstance(name, str) else '?'}")

    def _add_mirror(self, entry: Any, where: str) -> None:
        """One mirror entry; a malformed one is kept aside: it fails the check only for its own source."""
        source = _field(entry, "source")
        if not isinstance(source, str) or not source:
            self.malformed.append(("", f"{where}: an entry without a source"))
            return
        mirrors = _field(entry, "mirrors")
        mirrors = [] if mirrors is None else mirrors
        if not isinstance(mirrors, list) or not all(isinstance(m, str) and m for m in mirrors):
            self.malformed.append((source, f"{where}: the mirrors of {source} are not a list of names"))
            return
        self.mirrors.append((source, list(mirrors), _field(entry, "mirrorSourcePolicy") == "NeverContactSource"))

    def sources_for(self, name: str) -> Tuple[List[str], List[str]]:
        """(repositories a node tries for ``name``, in order; problems with entries for it).

        As containers-registries.conf does for a digest: the mirrors of the most specific matching
        source first, then the source itself unless a policy says never.
        """
        def covers(source: str) -> bool:
            return name == source or name.startswith(source.rstrip("/") + "/")

        problems = [why for source, why in self.malformed if source and covers(source)]
        matching = sorted((m for m in self.mirrors if covers(m[0])), key=lambda m: -len(m[0]))
        if not matching:
            return [name], problems
        longest = len(matching[0][0])
        tried: List[str] = []
        never = False
        for source, mirrors, never_source in (m for m in matching if len(m[0]) == longest):
            never = never or never_source
            tried += [mirror + name[len(source):] for mirror in mirrors if mirror + name[len(source):] not in tried]
        if not never:
            tried.append(name)
        return tried, problems

    def ca_for(self, host: str) -> Optional[str]:
        """The CA the cluster adds for ``host`` (``host:port`` needs the ``host..port`` key)."""
        return self.cas.get(host)


def nodes_can_pull(image: reference.ImageReference, facts: ClusterFacts) -> Check:
    """Pull the image's manifest as a node would: with the cluster's pull secret, through its mirrors,
    trusting the system CAs plus the ones the cluster adds, never the user's --cert-dir or
    --tls-verify=false. Passes when one of the places a node tries serves it."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from .adapters.registry import RegistryClient
    from .errors import CredentialsRejected, ImageNotFound, RegistryUnavailable, UntrustedCertificate

    trust = facts.trust or NodeTrust()
    unseen = "; cannot see " + ", ".join(trust.unseen) if trust.unseen else ""
    if facts.pull_secret_error:
        return Check("NodesCanPull", False, facts.pull_secret_error + (
            "" if facts.pull_secret_unknown else ": nodes cannot pull private images") + unseen,
            "ask for read access to it (oc auth can-i get secret/pull-secret -n openshift-config), or ignore this"
            " check if you know the nodes can pull" if facts.pull_secret_unknown
            else "restore it: see the OpenShift docs on updating the global cluster pull secret")
    secrets = None
    if facts.pull_secret is not None:
        try:
            secrets = auth.parse(facts.pull_secret.decode("utf-8"), _SECRET_WHERE, strict=False)
        except (InvalidInput, UnicodeDecodeError):
            return Check("NodesCanPull", False, f"{_SECRET_WHERE} is not valid docker config JSON",
                         "fix the secret's .dockerconfigjson")
    tried, problems = trust.sources_for(image.name)
    if problems:
        return Check("NodesCanPull", False, f"the cluster's mirror configuration for {image.name} is malformed ("
                     + "; ".join(problems) + "): what the nodes would do cannot be told",
                     "fix the ImageDigestMirrorSet / ImageContentSourcePolicy entry")
    failures: List[str] = []
    folder = Path(tempfile.mkdtemp(prefix="rhcos-layer-node-ca-"))
    try:
        for name in tried:
            registry, _, repository = name.partition("/")
            ca = trust.ca_for(registry)
            ca_dir = folder / registry.replace(":", "_")
            if not ca_dir.exists():  # a mirror on the same registry as its source shares the folder
                ca_dir.mkdir(mode=0o700)
            if ca and not (ca_dir / "ca.crt").exists():
                fd = os.open(str(ca_dir / "ca.crt"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(ca)
            creds = secrets.lookup(name) if secrets is not None else None
            try:
                # cert_dir given (empty when the cluster adds no CA): the user's certs.d is never consulted
                with RegistryClient(registry, creds, TLSSettings(verify=True, cert_dir=ca_dir), attempts=2) as client:
                    client.manifest_digest(repository, str(image.digest))
            except CredentialsRejected:
                said = "has no credentials for" if creds is None else "holds credentials that are rejected by"
                failures.append(f"{_SECRET_WHERE} {said} {registry}")
            except UntrustedCertificate as exc:
                failures.append(f"{registry}: {exc.message} (the nodes trust their system CAs and the"
                                " cluster's additionalTrustedCA, not this machine's --cert-dir)")
            except (RegistryUnavailable, ImageNotFound) as exc:
                failures.append(f"{name}: {exc.message}")
            else:
                via = f" (mirror of {image.name})" if name != image.name else ""
                return Check("NodesCanPull", True, f"{_SECRET_WHERE} can pull {name}{via}; {_UNSEEN}{unseen}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    hint = _SECRET_HINT
    if any("not trusted" in f or "certificate" in f for f in failures):
        hint = ("add the registry's CA to the cluster: a ConfigMap in openshift-config keyed HOST..PORT, named in"
                " images.config.openshift.io/cluster spec.additionalTrustedCA")
    return Check("NodesCanPull", False, "every node would fail to pull the image and go Degraded: "
                 + "; ".join(failures) + unseen, hint)


def _name(obj: Dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name", ""))


def _labels(obj: Dict[str, Any]) -> Dict[str, str]:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}


def _generated_render(meta: Dict[str, Any]) -> bool:
    """A rendered-* config: the MCO's output for a pool, never one of its inputs (owned by the pool)."""
    owners = meta.get("ownerReferences") or []
    return str(meta.get("name", "")).startswith("rendered-") or any(
        isinstance(o, dict) and o.get("kind") == "MachineConfigPool" for o in owners)


@dataclass
class ClusterFacts:
    """Everything plan() needs from the cluster, read once for all pools.

    Reads what the checks need and no more: a real cluster keeps every rendered-* MachineConfig the
    MCO ever made, each hundreds of KB, so the MachineConfigs are first listed as metadata only and
    then only those the wanted pools select are fetched in full (one labelSelector list per pool).
    """

    base: str
    pools: Dict[str, Dict[str, Any]]
    configs: Dict[str, Dict[str, Any]]  # full objects: the wanted pools' inputs, and ours
    pull_secret: Optional[bytes]
    pull_secret_error: str = ""
    pull_secret_unknown: bool = False  # the login may not read it: NodesCanPull cannot be told
    names: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # every MachineConfig's metadata
    version: Optional[Tuple[int, int]] = None
    selector_errors: Dict[str, str] = field(default_factory=dict)  # pool -> why its selector is unusable
    trust: Optional[NodeTrust] = None

    @classmethod
    def read(cls, cluster: ClusterAPI, wanted: Sequence[str] = ()) -> ClusterFacts:
        from .adapters.cluster import MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP, PULL_SECRET
        from .errors import ClusterForbidden, ClusterObjectNotFound
        from .pools import parse_version, require
        from .selectors import InvalidSelector, parse

        data = cluster.configmap(MCO_NAMESPACE, OSIMAGEURL_CONFIGMAP).get("data") or {}
        base = str(data.get("baseOSContainerImage") or "")
        pools = {_name(p): p for p in cluster.pools()}
        require(wanted, pools)
        # The release the MCO renders with now is in the same ConfigMap; older ones lack the key
        version = parse_version(data.get("releaseVersion")) or _cluster_version(cluster)
        names = {str(m.get("name", "")): m for m in cluster.machineconfig_metadata()}
        facts = cls(base, pools, {}, None, names=names, version=version)
        queries: Dict[str, Set[str]] = {}
        for pool in dict.fromkeys(wanted):
            selector_obj = (pools[pool].get("spec") or {}).get("machineConfigSelector")
            try:
                selector = parse(selector_obj, f"machineConfigSelector of pool {pool}")
            except InvalidSelector as exc:
                facts.selector_errors[pool] = exc.message
                continue
            chosen = {name for name, meta in names.items() if not _generated_render(meta)
                      and selector.matches(_labels({"metadata": meta}))}
            query = selector.query()
            if chosen and query:
                queries.setdefault(query, set()).update(chosen)
            elif chosen:  # an empty selector: fetch the few it picks one by one, never the whole list
                queries.setdefault("", set()).update(chosen)
            ours = name_for(pool)
            if ours in names and ours not in chosen:
                queries.setdefault("", set()).add(ours)
        for query, chosen in queries.items():
            if query:
                for mc in cluster.machineconfigs(query):
                    if _name(mc) in chosen:
                        facts.configs[_name(mc)] = mc
            for name in sorted(chosen - set(facts.configs)):
                got = cluster.machineconfig(name)
                if got is not None:
                    facts.configs[name] = got
        try:
            facts.pull_secret = cluster.secret_data(*PULL_SECRET).get(".dockerconfigjson")
            if facts.pull_secret is None:
                facts.pull_secret_error = "the cluster's global pull secret has no .dockerconfigjson key"
        except ClusterObjectNotFound:
            facts.pull_secret_error = "the cluster has no global pull secret (openshift-config/pull-secret)"
        except ClusterForbidden:
            facts.pull_secret_unknown = True
            facts.pull_secret_error = ("this login may not read the cluster's global pull secret"
                                       " (openshift-config/pull-secret): whether the nodes can pull is unknown")
        facts.trust = NodeTrust.read(cluster)
        return facts

    def selected(self, pool: str) -> List[Dict[str, Any]]:
        """The MachineConfigs ``pool`` merges (never rendered-* ones), in merge order."""
        from .pools import merge_order
        from .selectors import InvalidSelector, parse

        try:
            selector = parse((self.pools[pool].get("spec") or {}).get("machineConfigSelector"))
        except InvalidSelector:
            return []
        return merge_order(pool, [mc for mc in self.configs.values()
                                  if not _generated_render(mc.get("metadata") or {})
                                  and selector.matches(_labels(mc))], self.version)

    def live_image(self, pool: str) -> Optional[str]:
        """The image the pool's configs merge to now, ours aside (what the rendered config says,
        without reading that config: real ones are hundreds of KB)."""
        image = None
        for mc in self.selected(pool):
            if _name(mc) != name_for(pool) and (mc.get("spec") or {}).get("osImageURL"):
                image = str(mc["spec"]["osImageURL"])
        return image or self.base or None


def _cluster_version(cluster: ClusterAPI) -> Optional[Tuple[int, int]]:
    """The version the cluster runs (the last completed update), or None when it cannot be read."""
    from .errors import ClusterForbidden, ClusterObjectNotFound
    from .objects import completed_update
    from .pools import parse_version

    try:
        status = cluster.cluster_version().get("status") or {}
    except (ClusterForbidden, ClusterObjectNotFound):
        return None
    return parse_version((completed_update(status) or status.get("desired") or {}).get("version"))


def _shadowers(facts: ClusterFacts, pool: str, ours: str) -> List[str]:
    """Selected MachineConfigs that set osImageURL and merge after ours. On an unknown version both
    merge rules are tried (4.14's name order, 4.15's worker-first): a shadow under either refuses."""
    from .pools import merge_key

    versions: List[Optional[Tuple[int, int]]] = [facts.version] if facts.version else [(4, 14), (4, 15)]
    mine = {"metadata": {"name": ours, "labels": {ROLE_LABEL: pool}}}
    later: Set[str] = set()
    for version in versions:
        key = merge_key(pool, mine, version)
        later.update(_name(mc) for mc in facts.selected(pool) if _name(mc) != ours
                     and merge_key(pool, mc, version) > key and (mc.get("spec") or {}).get("osImageURL"))
    return sorted(later)


def pool_degraded(obj: Dict[str, Any], pool: str) -> Check:
    """PoolDegraded: a rollout would stall behind a degraded node (also apply --on-cluster's check)."""
    from .objects import conditions

    present = conditions(obj)
    degraded = [kind for kind in ("Degraded", "NodeDegraded", "RenderDegraded")
                if present.get(kind, {}).get("status") == "True"]
    count = int((obj.get("status") or {}).get("degradedMachineCount") or 0)
    if degraded or count:
        reason = present[degraded[0]].get("message") if degraded else ""
        return Check("PoolDegraded", False, f"pool {pool} is degraded ({count} degraded node(s)"
                     + (f": {reason}" if reason else "") + "): a rollout would stall behind it",
                     f"fix the degraded nodes first (oc describe mcp {pool})")
    return Check("PoolDegraded", True, f"pool {pool} is not degraded")


def check_pool(facts: ClusterFacts, pool: str, image: str, labels: Dict[str, str], plan: Plan) -> None:
    """The pool's own checks: selects our config, degraded, paused, shadowed, name taken, RPM
    conflicts; custom pools that inherit the change."""
    from .lint import conflicts
    from .pools import facts_from, inheriting, patch_command, pause_patch
    from .selectors import parse

    obj = facts.pools[pool]
    ours = name_for(pool)
    selector_obj = (obj.get("spec") or {}).get("machineConfigSelector")
    if pool in facts.selector_errors:
        plan.checks.append(Check("PoolSelects", False, f"{facts.selector_errors[pool]}: the Machine Config Operator"
                                 " cannot render this pool", f"fix the pool's selector (oc edit mcp {pool})"))
    elif not parse(selector_obj).matches(plan.machineconfig["metadata"]["labels"]):
        shown = parse(selector_obj).describe()
        plan.checks.append(Check("PoolSelects", False, f"pool {pool}'s machineConfigSelector ({shown}) does not"
                                 f" select {ours} (labels {ROLE_LABEL}={pool}): the pool would never merge it,"
                                 " and its nodes would stay on their image",
                                 f"make the pool select role {pool} (oc edit mcp {pool}), or apply to the pool"
                                 " whose selector picks it"))
    else:
        plan.checks.append(Check("PoolSelects", True, f"pool {pool}'s machineConfigSelector selects {ours}"))
    plan.checks.append(pool_degraded(obj, pool))
    if (obj.get("spec") or {}).get("paused"):
        plan.warnings.append(f"pool {pool} is paused: nothing rolls out until it is unpaused"
                             f" ({patch_command(pool, pause_patch(False))})")

    existing_meta = facts.names.get(ours)
    if existing_meta is not None and not is_managed({"metadata": existing_meta}):
        plan.checks.append(Check("NameTaken", False, f"a MachineConfig named {ours} exists that rhcos-layer did"
                                 " not create", "rename or delete it; rhcos-layer never changes it"))
    later = _shadowers(facts, pool, ours)
    if later:
        plan.checks.append(Check("Shadowed", False, f"MachineConfig {later[-1]} of pool {pool} also sets"
                                 f" osImageURL and merges after {ours}: it would win, and the image would never"
                                 " roll out", f"delete it or drop its osImageURL (oc get mc {later[-1]} -o yaml)"))
    else:
        plan.checks.append(Check("Shadowed", True, f"{ours} is the last MachineConfig of pool {pool} to set"
                                 " osImageURL"))
    packages = {p for p in labels.get(RPMS_LABEL, "").split(",") if p}
    others = [mc for mc in facts.selected(pool) if _name(mc) != ours]
    clashes = conflicts(packages, facts_from(pool, others, facts.version))
    if clashes:
        plan.checks.append(Check("PackageConflict", False, f"pool {pool}: " + "; ".join(clashes)
                                 + ": installing both degrades the pool",
                                 "drop the RPMs from the Containerfile, or the extension / kernelType from the pool"))
    elif INPUTS_LABEL not in labels:
        plan.warnings.append(f"{image} was not built by rhcos-layer: its layered RPMs cannot be checked against"
                             f" pool {pool}'s extensions and kernel type")
    else:
        plan.checks.append(Check("PackageConflict", True, "no layered RPM clashes with the pool's MachineConfigs"))
    for other in inheriting(facts.pools.values(), pool):
        if name_for(other) not in facts.names:
            plan.warnings.append(f"custom pool {other} inherits the worker MachineConfigs: its nodes move to"
                                 " this image too")


def check_on_cluster(pool: str, moscs: Optional[List[Dict[str, Any]]], plan: Plan, replace: bool = False) -> None:
    """OnClusterLayering (never ignorable): a pool with a MachineOSConfig boots what the cluster builds;
    our MachineConfig would only trigger a rebuild, and the done rule would still report success.
    With ``replace``, our MachineOSConfig is removed in the same step (oncluster_apply.to_machineconfigs)."""
    from . import oncluster

    mosc = oncluster.for_pool(moscs, pool)
    if mosc is not None and replace and is_managed(mosc):
        plan.replaces = mosc
        plan.checks.append(Check("OnClusterLayering", True, f"--replace removes MachineOSConfig"
                                 f" {oncluster.name(mosc)} of pool {pool} in the same step"))
    elif mosc is not None:
        plan.checks.append(Check("OnClusterLayering", False, oncluster.refusal(pool, mosc),
                                 oncluster.hint(pool, mosc)))
    elif moscs is None:
        plan.warnings.append(f"not allowed to list machineosconfigs: cannot tell whether pool {pool} uses"
                             " on-cluster layering (if it does, this image will never be booted)")
    else:
        plan.checks.append(Check("OnClusterLayering", True, f"pool {pool} has no MachineOSConfig"))


def plan(cluster: ClusterAPI, pools: Sequence[str], image: str, *, authfile: Optional[str], tls: TLSSettings,
         ignore: Set[str], project: Optional[str] = None, replace: bool = False) -> List[Plan]:
    """Preflight every pool and say what apply would do; no write."""
    try:
        ref = reference.parse_pinned(image)
    except reference.InvalidReference as exc:
        raise InvalidInput(f"--image: {exc}; nodes pull on their own, and a tag can move between two of them")\
            from None
    pinned = ref.pinned()
    facts = ClusterFacts.read(cluster, pools)
    labels = image_labels(ref, authfile, tls)
    shared = [nodes_can_pull(ref, facts)]
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
                         project=project, previous_image=previous, release=labels.get(RELEASE_LABEL))
        action = "create"
        if existing is not None:
            same = (existing.get("spec") or {}).get("osImageURL") == pinned
            action = "unchanged" if same and is_managed(existing) else "update"
        target = str((((facts.pools[pool].get("spec") or {}).get("configuration")) or {}).get("name") or "")
        item = Plan(pool, pinned, action, desired, existing, previous, target, checks=list(shared))
        check_pool(facts, pool, pinned, labels, item)
        check_on_cluster(pool, moscs, item, replace)
        for check in item.checks:
            check.ignored = not check.ok and check.name in ignore
        plans.append(item)
    return plans


def refuse(plans: Sequence[Plan], ignorable: Optional[Dict[str, str]] = None) -> None:
    """Raise PreflightFailed naming the first refusal (all of them in the detail). ``ignorable``: the
    checks --ignore-preflight-errors may skip (apply's by default)."""
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
    if first.name in (IGNORABLE if ignorable is None else ignorable):
        hint = (hint + "; " if hint else "") + f"or override with --ignore-preflight-errors={first.name}"
    more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    raise PreflightFailed(f"pool {first_plan.pool}: {first.message}{more}; nothing was changed", hint=hint,
                          detail="\n".join(lines[1:]) if len(lines) > 1 else "")


def writes_for(plans: Sequence[Plan]) -> List[Tuple[str, str]]:
    """The verbs on machineconfigs that writing ``plans`` needs, and why (undoing included)."""
    changing = [p for p in plans if p.action != "unchanged"]
    needs = [({"create": "create", "update": "update"}[p.action], "to write the pools' MachineConfigs")
             for p in changing]
    if len(changing) > 1:  # a failed later write is undone: delete what was created, put back what was updated
        needs += [({"create": "delete", "update": "update"}[p.action], "to undo the earlier writes if a later one"
                   " fails") for p in changing]
    return list(dict.fromkeys(needs))


def require_permissions(cluster: ClusterAPI, writes: Sequence[Tuple[str, str]], *, wait: bool,
                        extra: Sequence[Tuple[str, str, str, str]] = ()) -> None:
    """Before anything is written: may this login do ``writes`` (verbs on machineconfigs, and why)
    and follow the rollout?

    Each is asked with a SelfSubjectAccessReview (as ``oc auth can-i``). A login that may write but
    not list nodes would change the pools and then fail while watching: refused here, exit 10,
    naming the verb and resource. A cluster that does not answer the review is not refused for it.
    """
    from .adapters.cluster import MCO_GROUP
    from .errors import ClusterForbidden

    needs: List[Tuple[str, str, str, str]] = [(verb, "machineconfigs", MCO_GROUP, why) for verb, why in writes]
    needs += list(extra)  # (verb, resource, group, why) on other resources: apply --on-cluster's
    if wait:
        # what rollout.follow reads: the pools (and the custom ones that inherit worker), the nodes of
        # a small pool listed then watched, a large pool's degraded nodes one by one, the rendered config
        needs += [("get", "machineconfigpools", MCO_GROUP, "to follow the rollout"),
                  ("list", "machineconfigpools", MCO_GROUP, "to follow the pools that inherit the image"),
                  ("list", "nodes", "", "to follow the rollout node by node"),
                  ("watch", "nodes", "", "to follow the rollout node by node"),
                  ("get", "nodes", "", "to name a degraded node"),
                  ("get", "machineconfigs", MCO_GROUP, "to read the rendered config the pool moves to")]
    missing = []
    seen: Set[Tuple[str, str]] = set()
    for verb, resource, group, why in needs:
        if (verb, resource) in seen:
            continue
        seen.add((verb, resource))
        try:
            allowed = cluster.can_i(verb, resource, group=group)
        except ClusterForbidden:
            return  # the review itself is not allowed: the writes will tell
        if not allowed:
            shown = f"{resource}.{group}" if group else resource
            missing.append((f"{verb} {shown}", why))
    if missing:
        first, why = missing[0]
        others = "".join(f", {what} ({reason})" for what, reason in missing[1:])
        raise ClusterForbidden(f"not allowed to {first} ({why}){others}; nothing was changed",
                               hint="ask a cluster admin for these permissions (oc auth can-i VERB RESOURCE shows"
                                    " them), or run with --no-wait if only the watch lacks them")


def execute(cluster: ClusterAPI, item: Plan, *, dry_run: bool = False) -> Dict[str, Any]:
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


def revert(cluster: ClusterAPI, item: Plan, written: Dict[str, Any]) -> None:
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


def _undo_line(item: Plan) -> str:
    """How to undo one write by hand."""
    if item.action == "create":
        return f"oc delete machineconfig {item.name}"
    old = ((item.existing or {}).get("spec") or {}).get("osImageURL")
    return f"rhcos-layer rollback --pool {item.pool} --to-previous (back to {old})"


def undo(cluster: ClusterAPI, written: Sequence[Tuple[Plan, Dict[str, Any]]]
         ) -> Tuple[List[Plan], List[Tuple[Plan, RhcosLayerError]]]:
    """Put back every write of ``written``, newest first: delete what was created, restore what was
    updated. Returns (the writes put back, those that could not be, each with why). The one undo path
    of ``execute_all`` (a later write failed) and of ``undo_rollout`` (--rollback-on-failure)."""
    put_back: List[Plan] = []
    left: List[Tuple[Plan, RhcosLayerError]] = []
    for item, obj in reversed(written):
        if item.action == "unchanged":
            continue
        try:
            revert(cluster, item, obj)
        except RhcosLayerError as exc:
            left.append((item, exc))
        else:
            put_back.append(item)
    return put_back, left


def _still_written(message: str, left: Sequence[Tuple[Plan, RhcosLayerError]]) -> PartiallyApplied:
    """The error for writes that could not be put back: what is on the cluster now, and how to undo it."""
    kept = "; ".join(f"MachineConfig {p.name} of pool {p.pool} {p.action}d to {p.image} (undo failed: {e.message})"
                     for p, e in left)
    return PartiallyApplied(f"{message}: {kept}", hint="undo with: " + "; ".join(_undo_line(p) for p, _ in left))


def undo_rollout(cluster: ClusterAPI, written: Sequence[Tuple[Plan, Dict[str, Any]]], cause: str
                 ) -> List[Tuple[Plan, Expectation]]:
    """--rollback-on-failure: put back what ``execute_all`` wrote, after the rollout failed with ``cause``.

    Returns each write put back and what the watch then waits for (the pool without our config, or
    with the image it had). A write that cannot be put back raises PartiallyApplied (after the others
    were put back), naming what is still on the cluster and how to undo it: never "rolled back" when
    a pool still moves to the new image."""
    from .rollout import Expectation

    put_back, left = undo(cluster, written)
    if left:
        done = "".join(f"; put back: {p.name} (pool {p.pool})" for p in put_back)
        raise _still_written(f"{cause}; rolling back (--rollback-on-failure) failed{done}; still on the cluster",
                             left)
    expectations = []
    for item in put_back:
        old_image = str(((item.existing or {}).get("spec") or {}).get("osImageURL") or "") or None
        expectations.append((item, Expectation(item.name, item.action == "update", old_image)))
    return expectations


def execute_all(cluster: ClusterAPI, plans: Sequence[Plan], *, dry_run: bool = False
                ) -> List[Tuple[Plan, Dict[str, Any]]]:
    """Write every pool's MachineConfig, in order. If a write fails after others succeeded, those are
    put back (newest first) and the error says so; what cannot be put back is named in a
    PartiallyApplied error with the command that undoes it. Never "nothing was changed" when
    something was."""
    written: List[Tuple[Plan, Dict[str, Any]]] = []
    for item in plans:
        try:
            written.append((item, execute(cluster, item, dry_run=dry_run)))
        except RhcosLayerError as exc:
            done = [(p, obj) for p, obj in written if p.action != "unchanged"]
            if dry_run or not done:
                exc.message = f"pool {item.pool}: {exc.message}; nothing was changed"
                raise
            put_back, left = undo(cluster, done)
            if not left:
                names = ", ".join(f"{p.name} (pool {p.pool})" for p in reversed(put_back))
                exc.message = (f"pool {item.pool}: {exc.message}; the MachineConfigs written before it were put"
                               f" back ({names}): nothing was changed")
                raise
            raise _still_written(f"pool {item.pool}: {exc.message}; written before it and still on the cluster",
                                 left) from None
    return written

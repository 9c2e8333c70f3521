"""``upgrade plan``: rebuild every layered pool's image on the next release's base, ahead of the upgrade.

A pool whose MachineConfig overrides ``osImageURL`` gets no OS update from a cluster upgrade: the
MCO keeps the override (MCO docs/UsingLayering.md), so its base, kubelet and CRI-O stay behind
while the control plane moves on. The plan resolves the target release's OS image for each pool's
stream, rebuilds the project the pool's image came from on it (cached by inputs digest), pushes
it, and compares the RPM database of the new image with the target base's. Nothing in the cluster
is changed: the cluster is only read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from . import machineconfig
from .errors import (
    BuildFailed,
    ContainerfileError,
    CredentialsRejected,
    ImageNotFound,
    InvalidInput,
    RegistryUnavailable,
    RhcosLayerError,
    UntrustedCertificate,
    UpgradeNotReady,
)
from .objects import completed_update
from .objects import field as obj_field
from .progress import Reporter
from .release import version_key
from .trust import TLSSettings

if TYPE_CHECKING:
    from .adapters.cluster_api import ClusterAPI
    from .adapters.engine import ContainerEngine
    from .project import Project
    from .release import ReleaseInfo

DEFAULT_STREAM = "rhel-coreos"
RHEL10_STREAM = "rhel-coreos-10"
LOG_TAIL_LINES = 20
_MAX_TEXT = 1024  # a version, a risk's name or message from the cluster: shown, never more than this

# pool states (docs/upgrade.md lists them)
READY = "ready"
BUILD_FAILED = "build-failed"
PUSH_FAILED = "push-failed"
OTHER_PROJECT = "other-project"
ON_CLUSTER = "on-cluster"
UNKNOWN_STREAM = "unknown-stream"
NO_STREAM = "no-stream"
NO_IMAGE = "no-image"


# ------------------------------------------------------------------------------- the cluster's updates

@dataclass(frozen=True)
class Risk:
    name: str
    message: str
    url: str

    def as_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "message": self.message, "url": self.url}


@dataclass(frozen=True)
class Update:
    """One entry of ClusterVersion ``status.availableUpdates`` (recommended) or ``conditionalUpdates``."""

    version: str
    image: str
    conditional: bool = False
    risks: Tuple[Risk, ...] = ()
    recommended: Optional[str] = None  # a conditional update's Recommended condition: "True", "False", "Unknown"
    reason: str = ""  # ...and its message

    def as_dict(self) -> Dict[str, Any]:
        return {"version": self.version, "image": self.image, "conditional": self.conditional,
                "risks": [r.as_dict() for r in self.risks], "recommended": self.recommended, "reason": self.reason}


def _text(value: Any) -> str:
    return value[:_MAX_TEXT] if isinstance(value, str) else ""


def _release(entry: Any) -> Optional[Tuple[str, str]]:
    version, image = _text(obj_field(entry, "version")), _text(obj_field(entry, "image"))
    if version_key(version) is None or not image:
        return None
    return version, image


def read_updates(cluster_version: Any) -> Tuple[Optional[str], List[Update], List[Update]]:
    """(current version, recommended updates, conditional updates) from a ClusterVersion, newest
    first. The API server validates these, but whatever a proxy or an old CRD hands over reads as
    absent, never as an error: entries without a version and an image are left out
    (openshift/api config/v1 types_cluster_version.go: Release, ConditionalUpdate, ConditionalUpdateRisk)."""
    status = obj_field(cluster_version, "status")
    current = _text(completed_update(status).get("version")) or None
    available: Dict[str, Update] = {}
    raw = obj_field(status, "availableUpdates")
    for entry in raw if isinstance(raw, list) else []:
        found = _release(entry)
        if found:
            available.setdefault(found[0], Update(found[0], found[1]))
    conditional: Dict[str, Update] = {}
    raw = obj_field(status, "conditionalUpdates")
    for entry in raw if isinstance(raw, list) else []:
        found = _release(obj_field(entry, "release"))
        if not found or found[0] in conditional:
            continue
        risks = obj_field(entry, "risks")
        conditions = obj_field(entry, "conditions")
        recommended = next((c for c in conditions if isinstance(c, dict) and c.get("type") == "Recommended"), {}) \
            if isinstance(conditions, list) else {}
        conditional[found[0]] = Update(
            found[0], found[1], conditional=True,
            risks=tuple(Risk(_text(r.get("name")), _text(r.get("message")), _text(r.get("url")))
                        for r in (risks if isinstance(risks, list) else []) if isinstance(r, dict)),
            recommended=_text(recommended.get("status")) or None, reason=_text(recommended.get("message")))
    newest_first = sorted(available.values(), key=lambda u: version_key(u.version) or (0, 0, 0), reverse=True)
    # one already recommended is not listed twice
    conditionals = sorted((u for v, u in conditional.items() if v not in available),
                          key=lambda u: version_key(u.version) or (0, 0, 0), reverse=True)
    return current, newest_first, conditionals


# --------------------------------------------------------------------------------------- the plan

@dataclass(frozen=True)
class Target:
    """The release to upgrade to."""

    version: str
    image: str  # the release payload, by digest when the cluster (or the registry) gave one
    conditional: bool = False
    risks: Tuple[Risk, ...] = ()

    def as_dict(self) -> Dict[str, Any]:
        return {"version": self.version, "image": self.image, "conditional": self.conditional,
                "risks": [r.as_dict() for r in self.risks]}


@dataclass(frozen=True)
class Skew:
    component: str  # "kubelet" | "cri-o" | "kernel"
    image_version: str  # in the rebuilt layered image
    base_version: str  # in the target release's base
    replaced: bool  # a layered package replaces it (called out)
    package: str = ""  # the package that owns it in the layered image

    def as_dict(self) -> Dict[str, Any]:
        return {"component": self.component, "image_version": self.image_version,
                "base_version": self.base_version, "replaced": self.replaced, "package": self.package}


@dataclass(frozen=True)
class PoolUpgrade:
    pool: str  # "" for a plan without a cluster
    state: str  # READY, BUILD_FAILED, PUSH_FAILED, OTHER_PROJECT, ON_CLUSTER, UNKNOWN_STREAM, NO_STREAM, NO_IMAGE
    stream: str  # "rhel-coreos" or "rhel-coreos-10"
    current_image: str  # what our MachineConfig points at today ("" without a cluster)
    new_base: str  # the target release's OS image for that stream, by digest
    new_image: Optional[str]  # pushed REPO@sha256:... when ready
    inputs_digest: Optional[str]
    skew: Tuple[Skew, ...]
    log_tail: Tuple[str, ...]  # the build log's last lines when the build failed
    reason: str  # one line when not ready
    project: str = ""
    new_extensions: Optional[str] = None
    built: bool = False  # False: unchanged inputs, the build was skipped
    current_kubelet: Optional[str] = None  # kubelet of the image the pool runs today
    kubelet_minors_behind: Optional[int] = None  # today's kubelet against the target's control plane
    kubelet_skew_allowed: Optional[int] = None  # what the Kubernetes version skew policy allows
    notes: Tuple[str, ...] = ()  # what to do about the skew

    @property
    def ready(self) -> bool:
        return self.state == READY

    def as_dict(self) -> Dict[str, Any]:
        return {
            "pool": self.pool or None, "state": self.state, "ready": self.ready, "project": self.project or None,
            "stream": self.stream, "current_image": self.current_image or None, "new_base": self.new_base or None,
            "new_extensions": self.new_extensions, "new_image": self.new_image, "inputs_digest": self.inputs_digest,
            "built": self.built, "skew": [s.as_dict() for s in self.skew], "log_tail": list(self.log_tail),
            "reason": self.reason, "current_kubelet": self.current_kubelet,
            "kubelet_minors_behind": self.kubelet_minors_behind, "kubelet_skew_allowed": self.kubelet_skew_allowed,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class UpgradePlan:
    current_version: Optional[str]
    target: Target
    pools: Tuple[PoolUpgrade, ...]
    available: Tuple[Update, ...] = ()
    conditional: Tuple[Update, ...] = ()
    up_to_date: bool = False  # no recommended update and none asked for: target is the running release
    chosen: str = ""  # how the target was chosen: "--to", "--release", "newest recommended"

    @property
    def ready(self) -> bool:
        """Every layered pool ready (pools that build on the cluster rebuild themselves)."""
        return all(p.ready for p in self.pools if p.state != ON_CLUSTER)

    def not_ready(self) -> List[PoolUpgrade]:
        return [p for p in self.pools if not p.ready and p.state != ON_CLUSTER]

    def as_dict(self) -> Dict[str, Any]:
        return {"current_version": self.current_version, "target": self.target.as_dict(), "chosen": self.chosen,
                "up_to_date": self.up_to_date, "ready": self.ready, "pools": [p.as_dict() for p in self.pools],
                "available_updates": [u.as_dict() for u in self.available],
                "conditional_updates": [u.as_dict() for u in self.conditional]}

    def check(self) -> None:
        """Raise UpgradeNotReady naming the pools that are not ready."""
        pending = self.not_ready()
        if pending:
            raise UpgradeNotReady(
                f"upgrade to {self.target.version} is not ready: "
                + "; ".join(f"{f'pool {p.pool}' if p.pool else f'project {p.project}'}: {p.state} ({p.reason})"
                            for p in pending),
                hint="fix what each pool names, then run `rhcos-layer upgrade plan` again")


def choose_target(available: Sequence[Update], conditional: Sequence[Update],
                  to: Optional[str]) -> Tuple[Optional[Update], str]:
    """The update to plan for: ``--to`` (a recommended or, named explicitly, a conditional one), else
    the newest recommended one; (None, ...) when the cluster has none (up to date)."""
    if to is not None:
        for update in list(available) + list(conditional):
            if update.version == to:
                return update, "--to"
        offered = ", ".join(u.version for u in available) or "none"
        risky = ", ".join(u.version for u in conditional)
        raise InvalidInput(
            f"--to {to}: not an update this cluster offers (recommended: {offered}"
            + (f"; conditional: {risky}" if risky else "") + ")",
            hint="pick one of those, or plan for any release payload with --release PULLSPEC")
    if available:
        return available[0], "newest recommended"
    return None, "up to date"


def pool_stream(pool: Any) -> Tuple[str, Optional[str]]:
    """(OS image tag, problem) for a pool: ``spec.osImageStream.name`` (openshift/api
    machineconfiguration/v1 MachineConfigPoolSpec, 4.21+, an OSImageStream's stream name) selects
    the RHEL 10 stream when it names it (``rhel-10``, ``rhel-coreos-10``); the default stream
    otherwise. A name we cannot map is a problem, never a guess."""
    name = _text(obj_field(pool, "spec", "osImageStream", "name"))
    if not name or name in ("rhel-9", "rhel-coreos", "rhel-coreos-9"):
        return DEFAULT_STREAM, None
    if name in ("rhel-10", "rhel-coreos-10"):
        return RHEL10_STREAM, None
    return DEFAULT_STREAM, f"spec.osImageStream.name {name!r} is not a stream rhcos-layer knows (rhel-9, rhel-10)"


# ----------------------------------------------------------------------------------- rpm answers

# (component, the file rpm -qf asks about, the package RHCOS ships it in: asked when the file is not there)
COMPONENTS = (("kubelet", "/usr/bin/kubelet", "openshift-kubelet"), ("cri-o", "/usr/bin/crio", "cri-o"))
KERNEL_PACKAGES = ("kernel", "kernel-rt-core")
_NVRA_RE = re.compile(r"^([A-Za-z0-9_.+-]{1,200})-([A-Za-z0-9_.+~^]{1,100})-([A-Za-z0-9_.+~^]{1,100})"
                      r"(?:\.([A-Za-z0-9_]{1,20}))?$")


@dataclass(frozen=True)
class Package:
    name: str
    version: str  # VERSION-RELEASE

    @property
    def minor(self) -> Optional[Tuple[int, int]]:
        """(major, minor) of the version (kubelet 1.29.6-... -> (1, 29))."""
        from .pools import parse_version

        return parse_version(self.version)

    @property
    def kubernetes(self) -> Optional[Tuple[int, int]]:
        """The Kubernetes minor of a kubelet package: RHCOS's openshift-kubelet is versioned as the
        OpenShift release (4.16.0-...), and OpenShift 4.N ships Kubernetes 1.(N+13) (4.16: 1.29, 4.17:
        1.30; OpenShift release notes); a package versioned 1.N (upstream kubernetes-node) is that."""
        minor = self.minor
        if minor is None:
            return None
        if minor[0] == 4 and minor[1] >= 1:
            return 1, minor[1] + 13
        return minor if minor[0] == 1 else None


def parse_nvra(line: str) -> Optional[Package]:
    """``openshift-kubelet-1.29.6-202406.el9.x86_64`` -> (openshift-kubelet, 1.29.6-202406.el9); None
    for anything else (rpm's "is not installed", "is not owned by any package", noise)."""
    line = line.strip()
    if " " in line or not line:
        return None
    arches = ("x86_64", "aarch64", "ppc64le", "s390x", "noarch", "i686")
    arch = next((a for a in arches if line.endswith("." + a)), None)
    core = line[: -len(arch) - 1] if arch else line
    name, _, rest = core.rpartition("-")
    name, _, version = name.rpartition("-")
    if not name or not version or not rest or not _NVRA_RE.match(core):
        return None
    return Package(name, f"{version}-{rest}")


def _single(answer: Tuple[int, str]) -> Optional[Package]:
    """The package of a one-line answer; None for anything else (an error, two owners of one file)."""
    lines = [line for line in answer[1].splitlines() if line.strip()]
    return parse_nvra(lines[0]) if len(lines) == 1 else None


def parse_rpm_answers(answers: Sequence[Tuple[int, str]]) -> Dict[str, Package]:
    """What :func:`rpm_queries` asked, by component: the owner of each component's file (``rpm -qf``),
    else its package by name (``rpm -q``); the kernel (``kernel``, else ``kernel-rt-core`` where that is
    what is installed). One query per answer, so an error line of one can never be read as another's
    answer; a component nothing answers for is absent."""
    found: Dict[str, Package] = {}
    if len(answers) != 2 * len(COMPONENTS) + len(KERNEL_PACKAGES):
        return found
    for index, (component, _, package_name) in enumerate(COMPONENTS):
        by_file = _single(answers[index])
        by_name = _single(answers[len(COMPONENTS) + index])
        package = by_file or (by_name if by_name is not None and by_name.name == package_name else None)
        if package is not None:
            found[component] = package
    for offset, wanted in enumerate(KERNEL_PACKAGES):
        package = _single(answers[2 * len(COMPONENTS) + offset])
        if package is not None and package.name == wanted:
            found["kernel"] = package
            break
    return found


def rpm_queries() -> List[List[str]]:
    return ([["-qf", path] for _, path, _ in COMPONENTS] + [["-q", name] for _, _, name in COMPONENTS]
            + [["-q", name] for name in KERNEL_PACKAGES])


def query_packages(engine: ContainerEngine, image: str, cache: Optional[Path] = None) -> Dict[str, Package]:
    """kubelet, cri-o and kernel of a local image, from its RPM database. The answers are kept by
    image ID (a digest of the image's content, so they cannot change) next to the release cache: a
    plan run again starts no container."""
    from .release import _cache_write, cache_dir

    image_id = str(engine.inspect(image).get("Id") or "")
    queries = rpm_queries()
    path = (cache or cache_dir()).parent / "rpm" / f"{image_id}.json" if re.fullmatch(r"[0-9a-f]{64}", image_id) \
        else None
    answers = _cached_answers(path, queries) if path is not None else None
    if answers is None:
        answers = engine.rpm_query(image_id or image, queries)
        if path is not None:
            _cache_write(path, {"queries": queries, "answers": [list(a) for a in answers]})
    return parse_rpm_answers(answers)


def _cached_answers(path: Path, queries: List[List[str]]) -> Optional[List[Tuple[int, str]]]:
    """Answers cached for these queries; None for a missing, damaged or hand-edited file (asked again)."""
    import json

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    answers = data.get("answers") if isinstance(data, dict) and data.get("format") == 1 \
        and data.get("queries") == queries else None
    if not isinstance(answers, list) or len(answers) != len(queries) or not all(
            isinstance(a, list) and len(a) == 2 and isinstance(a[0], int) and isinstance(a[1], str)
            and len(a[1]) <= 65536 for a in answers):
        return None
    return [(int(a[0]), str(a[1])) for a in answers]


# kubelet may be three minor releases older than kube-apiserver from Kubernetes 1.28, two before
# (kubernetes/website content/en/releases/version-skew-policy.md)
def kubelet_skew_allowed(apiserver: Tuple[int, int]) -> int:
    return 3 if apiserver >= (1, 28) else 2


def compare(image: Dict[str, Package], base: Dict[str, Package]) -> Tuple[Tuple[Skew, ...], Tuple[str, ...]]:
    """Skew of the layered image against the target base, and what to do about each replaced one."""
    skew = []
    notes = []
    for component in ("kubelet", "cri-o", "kernel"):
        mine, theirs = image.get(component), base.get(component)
        if mine is None and theirs is None:
            continue
        mine_text = f"{mine.name} {mine.version}" if mine and theirs and mine.name != theirs.name else \
            (mine.version if mine else "")
        replaced = (mine is None) != (theirs is None) or bool(mine and theirs and (mine.name, mine.version)
                                                              != (theirs.name, theirs.version))
        skew.append(Skew(component, mine_text, theirs.version if theirs else "", replaced,
                         mine.name if mine else ""))
        if replaced:
            notes.append(f"{component}: the layer replaces the base's {theirs.version if theirs else '(none)'}"
                         f" with {mine_text or '(none)'}: "
                         + ("drop the override, or update it to the new release's version" if component != "kernel"
                            else "rebuild with the kernel RPMs matching the new release, or drop the override"))
    return tuple(skew), tuple(notes)


# ------------------------------------------------------------------------------------- make_plan

@dataclass
class _Layered:
    pool: str
    image: str
    project: str
    inputs_digest: str
    stream: str
    stream_problem: Optional[str]


def _layered_pools(cluster: ClusterAPI) -> Tuple[List[_Layered], List[str]]:
    """Pools with an rhcos-layer MachineConfig (by its role label) and pools that build on the cluster."""
    from .oncluster import pool_of

    pools = {_text(obj_field(p, "metadata", "name")): p for p in cluster.pools() if isinstance(p, dict)}
    layered: Dict[str, _Layered] = {}
    selector = f"{machineconfig.MANAGED_BY_LABEL}={machineconfig.MANAGED_BY}"
    for mc in sorted(cluster.machineconfigs(selector), key=lambda m: _text(obj_field(m, "metadata", "name"))):
        if not machineconfig.is_managed(mc):
            continue
        pool = _text(obj_field(mc, "metadata", "labels", machineconfig.ROLE_LABEL))
        if not pool:
            continue
        annotations = obj_field(mc, "metadata", "annotations")
        notes = annotations if isinstance(annotations, dict) else {}
        stream, problem = pool_stream(pools.get(pool))
        layered[pool] = _Layered(pool, _text(obj_field(mc, "spec", "osImageURL")),
                                 _text(notes.get(machineconfig.PROJECT_ANNOTATION)),
                                 _text(notes.get(machineconfig.INPUTS_ANNOTATION)), stream, problem)
    moscs = cluster.machineosconfigs() or []
    on_cluster = sorted({pool_of(m) for m in moscs if pool_of(m)})
    for pool in on_cluster:
        layered.pop(pool, None)
    return [layered[name] for name in sorted(layered)], on_cluster


def _tail(text: str) -> Tuple[str, ...]:
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    return tuple(lines[-LOG_TAIL_LINES:])


@dataclass
class PlanOptions:
    """Credentials, trust and engine options, as build and push take them."""

    authfile: Optional[str] = None
    push_authfile: Optional[str] = None
    tls: TLSSettings = field(default_factory=TLSSettings)
    isolation: Optional[str] = None
    cache: Optional[Path] = None  # the release cache folder (default: release.cache_dir())
    arch: Optional[str] = None


def make_plan(cluster: Optional[ClusterAPI], projects: Sequence[Project], *, to: Optional[str] = None,
              release: Optional[str] = None, authfile: Optional[str] = None, push_authfile: Optional[str] = None,
              tls: Optional[TLSSettings] = None, isolation: Optional[str] = None, cache: Optional[Path] = None,
              arch: Optional[str] = None, engine: Optional[ContainerEngine] = None,
              reporter: Optional[Reporter] = None) -> UpgradePlan:
    """Plan the upgrade of every layered pool of ``cluster`` (or, with ``cluster`` None, of
    ``projects`` alone to ``release``): rebuild, push and compare. Reads the cluster, never writes it."""
    options = PlanOptions(authfile, push_authfile, tls or TLSSettings(), isolation, cache, arch)
    report = reporter or Reporter()
    if to is not None and release is not None:
        raise InvalidInput("--to and --release: give one", hint="--to VERSION picks one of the cluster's updates;"
                                                                " --release PULLSPEC any release payload")
    if cluster is None:
        if release is None:
            raise InvalidInput("upgrade plan without a cluster needs --release PULLSPEC",
                               hint="name the release payload to build for, and the project with --project FILE")
        if not projects:
            raise InvalidInput("upgrade plan without a cluster needs --project FILE")
    if engine is None:
        from .adapters import engine as engine_mod

        with engine_mod.start(isolation) as own:
            return make_plan(cluster, projects, to=to, release=release, authfile=authfile,
                             push_authfile=push_authfile, tls=tls, isolation=isolation, cache=cache, arch=arch,
                             engine=own, reporter=report)

    current: Optional[str] = None
    available: List[Update] = []
    conditional: List[Update] = []
    if cluster is not None:
        report.phase("Reading the cluster's updates")
        current, available, conditional = read_updates(cluster.cluster_version())
    releases: Dict[str, ReleaseInfo] = {}

    def resolve(pullspec: str, stream: str) -> ReleaseInfo:
        if stream not in releases:
            from .release import resolve_release

            report.phase(f"Reading release {pullspec} ({stream})")
            # the default stream by release.pick's rules (rhel-coreos-8 on 4.12), others by exact tag
            releases[stream] = resolve_release(pullspec, arch=arch, stream=None if stream == DEFAULT_STREAM
                                               else stream, authfile=authfile,
                                               tls=options.tls, cache=cache)
        return releases[stream]

    chosen = "--release"
    risks: Tuple[Risk, ...] = ()
    is_conditional = False
    if release is not None:
        payload = release
    else:
        update, chosen = choose_target(available, conditional, to)
        if update is None:
            return UpgradePlan(current, Target(current or "unknown", ""), (), tuple(available), tuple(conditional),
                               up_to_date=True, chosen=chosen)
        payload, risks, is_conditional = update.image, update.risks, update.conditional
    if cluster is None:
        stream = next((p.base_release.get("stream") for p in projects if p.base_release
                       and p.base_release.get("stream")), None) or DEFAULT_STREAM
        offline = resolve(payload, stream)
        pools = tuple(_plan_pool("", p, "", offline, engine, options, report) for p in projects)
        return UpgradePlan(None, Target(offline.version, offline.release, is_conditional, risks), pools, (), (),
                           chosen=chosen)

    layered, on_cluster = _layered_pools(cluster)
    by_name = {machineconfig.project_name(p.root): p for p in projects}
    results: List[PoolUpgrade] = []
    target: Optional[Target] = None
    for item in layered:
        info: Optional[ReleaseInfo] = None
        problem = item.stream_problem
        if problem is None:
            try:
                info = resolve(payload, item.stream)
            except InvalidInput as exc:  # the release has no such stream
                problem = exc.message
        if target is None and info is not None:
            target = Target(info.version, info.release, is_conditional, risks)
        if info is None:
            results.append(_not_ready(item, UNKNOWN_STREAM if item.stream_problem else NO_STREAM,
                                      str(problem)))
            continue
        project = by_name.get(item.project)
        if project is None:
            results.append(_not_ready(item, OTHER_PROJECT, _other_project(item, info), info))
            continue
        results.append(_plan_pool(item.pool, project, item.image, info, engine, options, report))
    for pool in on_cluster:
        results.append(PoolUpgrade(pool, ON_CLUSTER, DEFAULT_STREAM, "", "", None, None, (), (),
                                   "builds on the cluster (MachineOSConfig): the cluster rebuilds it on the new base"))
    if target is None:
        info = resolve(payload, DEFAULT_STREAM)
        target = Target(info.version, info.release, is_conditional, risks)
    return UpgradePlan(current, target, tuple(sorted(results, key=lambda p: p.pool)), tuple(available),
                       tuple(conditional), chosen=chosen)


def _other_project(item: _Layered, info: ReleaseInfo) -> str:
    who = f"project {item.project}" if item.project else "a project rhcos-layer did not record"
    return (f"its image comes from {who}, which was not given: run `rhcos-layer upgrade plan --release"
            f" {info.release} --project PATH/rhcos-layer.yaml` with that project")


def _not_ready(item: _Layered, state: str, reason: str, info: Optional[ReleaseInfo] = None) -> PoolUpgrade:
    return PoolUpgrade(item.pool, state, item.stream, item.image, info.os_image if info else "", None, None, (), (),
                       reason, project=item.project, new_extensions=info.extensions_image if info else None)


def _plan_pool(pool: str, project: Project, current_image: str, info: ReleaseInfo, engine: ContainerEngine,
               options: PlanOptions, report: Reporter) -> PoolUpgrade:
    """Build ``project`` on ``info``'s OS image, push it, compare its RPMs with the base's."""
    from .build import BuildOptions, build
    from .push import PushOptions, push

    name = machineconfig.project_name(project.root) or ""
    common = PoolUpgrade(pool, "", info.os_tag or DEFAULT_STREAM, current_image, info.os_image, None, None, (), (),
                         "", project=name, new_extensions=info.extensions_image)
    where = f"pool {pool}" if pool else f"project {name}"
    report.phase(f"{where}: building on {info.version}'s {info.os_tag or DEFAULT_STREAM}")
    try:
        built = build(BuildOptions(project=project, base=info.os_image, release_version=info.version,
                                   authfile=options.authfile, tls=options.tls, isolation=options.isolation),
                      report, engine)
    except (BuildFailed, ContainerfileError) as exc:
        return replace(common, state=BUILD_FAILED, new_image=None, inputs_digest=None, skew=(),
                           log_tail=_tail(exc.detail), reason=f"the build on {info.version} failed: {exc.message}")
    if not project.image:
        return replace(common, state=NO_IMAGE, new_image=None, inputs_digest=built.inputs_digest, skew=(),
                           log_tail=(), built=not built.skipped,
                           reason=f"{project.where('image')}: the project file names no image: to push to")
    try:
        pushed = push(PushOptions(project=project, image=built.image_id, authfile=options.authfile,
                                  push_authfile=options.push_authfile, tls=options.tls), report)
    except (CredentialsRejected, RegistryUnavailable, UntrustedCertificate, ImageNotFound) as exc:
        return replace(common, state=PUSH_FAILED, new_image=None, inputs_digest=built.inputs_digest, skew=(),
                           log_tail=(), built=not built.skipped, reason=f"the push failed: {exc.message}")
    report.phase(f"{where}: reading kubelet, cri-o and kernel versions")
    # a skipped build (unchanged inputs) did not pull the base: the store may no longer have it
    from . import auth, reference
    from .build import _ensure_base

    build_options = BuildOptions(project=project, authfile=options.authfile, tls=options.tls)
    _ensure_base(engine, reference.parse_pinned(info.os_image), auth.resolve(options.authfile), build_options, report)
    mine = query_packages(engine, built.image_id, options.cache)
    theirs = query_packages(engine, info.os_image, options.cache)
    skew, notes = compare(mine, theirs)
    current_kubelet, behind, allowed = _current_kubelet(engine, current_image, theirs, options, report)
    if behind is not None and allowed is not None and behind > allowed:
        notes += (f"kubelet: the image the pool runs today has kubelet {current_kubelet}, {behind} minor releases"
                  f" behind {info.version}'s control plane (the skew policy allows {allowed}): move the pool to the"
                  " new image before or right after the control plane",)
    return replace(common, state=READY, new_image=pushed.pullspec, inputs_digest=built.inputs_digest,
                       skew=skew, log_tail=(), built=not built.skipped, reason="",
                       current_kubelet=current_kubelet, kubelet_minors_behind=behind, kubelet_skew_allowed=allowed,
                       notes=notes)


def _current_kubelet(engine: ContainerEngine, image: str, target: Dict[str, Package], options: PlanOptions,
                     report: Reporter) -> Tuple[Optional[str], Optional[int], Optional[int]]:
    """(kubelet of the image the pool runs today, minors behind the target's control plane, allowed):
    the target base's kubelet is its Kubernetes version. Unknown (None) when the image cannot be read."""
    theirs = target.get("kubelet")
    target_minor = theirs.kubernetes if theirs is not None else None
    if not image or target_minor is None:
        return None, None, None
    from . import auth, reference

    try:
        ref = reference.parse_pinned(image)
        if not engine.image_exists(ref.pinned()):
            report.phase(f"Pulling {ref.pinned()} to read its kubelet version")
            creds = auth.resolve(options.authfile).lookup(ref.name)
            engine.pull(ref.pinned(), registry=ref.registry, credentials=creds, tls=options.tls,
                        on_line=report.log)
        mine = query_packages(engine, ref.pinned(), options.cache).get("kubelet")
    except (RhcosLayerError, reference.InvalidReference) as exc:
        report.warning(f"could not read the kubelet version of {image}: {exc}")
        return None, None, None
    current_minor = mine.kubernetes if mine is not None else None
    if mine is None or current_minor is None:
        return None, None, None
    return mine.version, target_minor[1] - current_minor[1], kubelet_skew_allowed(target_minor)

"""The project as a MachineOSConfig: the cluster builds the image itself (on-cluster layering).

The Machine Config Operator appends each containerFile's content to its own Containerfile,
after the stages it builds from the cluster's base and the pool's rendered MachineConfigs
(``extract``, ``configs``), and builds it in a Job whose build context holds only the MCO's own
files (machine-config-operator pkg/controller/build/buildrequest/assets/, 4.16-4.17
pkg/controller/build/assets/). So render turns the project's Containerfile into that content:
its base FROM becomes ``FROM configs AS final``, small local files are written inline, secret
mounts the cluster provides itself are dropped, build-args become ARG defaults; what cannot be
turned is refused by the on-cluster lint rules (RL118-RL125, lint.py) and the size rule here.

``FROM configs AS final`` is written for every release: the 4.16 and the 4.19 templates both
end on the ``configs`` stage, so content without a FROM would also build on it, but as soon as
the content has a stage of its own (a builder), its last stage would become the image; the
CRD's own example and the docs start the content with that line.

The fields follow openshift/api: v1 (4.18 gated, GA 4.19) ``machineconfiguration/v1/
types_machineosconfig.go``; v1alpha1 (4.16, 4.17, TechPreviewNoUpgrade) the same file under
v1alpha1 on release-4.16/4.17 (tests/data/crds has both CRDs).
"""

from __future__ import annotations

import base64
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from . import lint as lint_mod
from .containerfile import ON_CLUSTER_STAGE, Containerfile
from .errors import ContainerfileError, InvalidInput, ProjectFileError
from .machineconfig import MANAGED_BY, MANAGED_BY_LABEL, PROJECT_ANNOTATION, project_name

if TYPE_CHECKING:
    from .adapters.cluster_api import ClusterAPI
    from .context import BuildContext
    from .project import Project

GROUP = "machineconfiguration.openshift.io"
API_VERSIONS = ("v1", "v1alpha1")
KIND = "MachineOSConfig"
PLURAL = "machineosconfigs"
# spec.containerFile[].content maxLength in the v1 CRD; v1alpha1 has none, but the same file
# must render for either, so both are held to it
MAX_CONTENT = 4096
# project base.arch -> v1 containerfileArch; v1alpha1 spells them in lower case (and noarch)
V1_ARCHES = {"amd64": "AMD64", "arm64": "ARM64", "ppc64le": "PPC64LE", "s390x": "S390X"}
NO_ARCH = "NoArch"
RULE_TOO_LONG = ("RL119", "content-too-long")
# a Secret name: RFC 1123 subdomain (the v1 CRD's `!format.dns1123Subdomain().validate(self)`)
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# renderedImagePushSpec, v1 CRD x-kubernetes-validations (a tag is required, a digest refused)
_V1_PUSH_SPEC = (re.compile(r"^([a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+(:[0-9]{2,5})?(/[a-zA-Z0-9-_]{1,61})*/[a-zA-Z0-9-_.]+"
                            r":[a-zA-Z0-9._-]+$"),
                 re.compile(r"^[^.]+\.[^.]+\.svc:\d+/[^/]+/[^/]+:[^/]+$"))
# renderedImagePushspec, v1alpha1 CRD: exactly one ':' (so no registry port), or the .svc form
_V1ALPHA1_NAME = re.compile(r"^([a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+(:[0-9]{2,5})?/([a-zA-Z0-9-_]{0,61}/)?[a-zA-Z0-9-_.]*?$")
_V1ALPHA1_TAG = re.compile(r"^([a-zA-Z0-9-./:])+$")
_V1ALPHA1_SVC = re.compile(r"^[^.]+\.[^.]+\.svc:\d+/[^/]+/[^/]+:[^/]+$")


@dataclass
class Source:
    """One containerFile entry's input: the project's Containerfile, or a per-architecture one."""

    arch: str  # v1 spelling: NoArch, AMD64, ...
    path: Path
    display: str  # as messages name it
    cf: Containerfile


def _context(project: Project) -> BuildContext:
    from .context import collect
    from .project import PROJECT_FILE, STATE_FILE

    skip = [project.root / STATE_FILE, project.path or project.root / PROJECT_FILE]
    skip += [project.root / src for src in project.secrets.values()]
    return collect(project.root / project.context if project.context else project.root, skip=skip)


def sources(project: Project) -> List[Source]:
    """The Containerfiles render turns into containerFile entries: ``containerfile-ARCH`` files
    from the project's ``on-cluster:`` when given (one entry each), else the project's
    Containerfile for base.arch, or for every architecture (NoArch) without one."""
    from .containerfile import load

    per_arch = {key[len("containerfile-"):]: value for key, value in project.on_cluster.items()
                if key.startswith("containerfile-")}
    if per_arch:
        entries = [(V1_ARCHES[arch], rel) for arch, rel in sorted(per_arch.items())]
    else:
        arch = project.base_release.get("arch", "")
        entries = [(V1_ARCHES.get(arch, NO_ARCH), project.containerfile or "Containerfile")]
    found = []
    for arch, rel in entries:
        path = project.root / rel
        if per_arch and not path.is_file():
            raise ProjectFileError(f"{project.where('on-cluster')}: on-cluster.containerfile-{arch.lower()}: {rel}:"
                                   " no such file", hint="give the path of a Containerfile, relative to the project"
                                                         " file")
        found.append(Source(arch, path, rel, load(path, rel)))
    return found


def _multi_arch(project: Project) -> bool:
    release = project.base_release.get("release", "")
    return "-multi" in release.rsplit("/", 1)[-1] and "arch" not in project.base_release


def findings(project: Project, containerfile: Optional[Path] = None) -> List[Tuple[str, lint_mod.Finding]]:
    """Every on-cluster lint finding of the project's Containerfile(s) (or of ``containerfile``
    alone), as (file, finding), the size rule (RL119) included: what ``lint --on-cluster`` prints
    and ``render --on-cluster`` refuses when one is an error."""
    from .containerfile import load

    context = _context(project)
    found: List[Tuple[str, lint_mod.Finding]] = []
    chosen = sources(project) if containerfile is None else [
        Source(V1_ARCHES.get(project.base_release.get("arch", ""), NO_ARCH), containerfile, str(containerfile),
               load(containerfile, str(containerfile)))]
    for source in chosen:
        facts = lint_mod.OnCluster(arch=source.arch, multi_arch=_multi_arch(project))
        results = lint_mod.lint(source.cf, build_args=project.build_args, context=context, on_cluster=facts)
        found += [(source.display, f) for f in results]
        if not lint_mod.errors(results):
            size = len(content(source.cf, context, project.build_args))
            if size > MAX_CONTENT:
                found.append((source.display, lint_mod.Finding(
                    *RULE_TOO_LONG, lint_mod.ERROR, 0,
                    f"the rendered content is {size} characters; a MachineOSConfig's containerFile holds at most"
                    f" {MAX_CONTENT}", "move configuration files to a MachineConfig, copy large content from an"
                    " image (COPY --from=IMAGE@sha256:...), and drop comments")))
    return found


def containerfiles(project: Project) -> List[Dict[str, str]]:
    """``[{"containerfileArch": ..., "content": ...}]`` (v1 spelling) for the project, after the
    on-cluster lint: an error finding raises ContainerfileError naming its file and line."""
    failed = [(path, f) for path, f in findings(project) if f.severity == lint_mod.ERROR]
    if failed:
        path, first = failed[0]
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise ContainerfileError(f"{first.format(path)}{more}",
                                 hint="`rhcos-layer lint --on-cluster` lists them all with their fixes")
    context = _context(project)
    return [{"containerfileArch": s.arch, "content": content(s.cf, context, project.build_args)}
            for s in sources(project)]


def content(cf: Containerfile, context: Optional[BuildContext], build_args: Dict[str, str]) -> str:
    """``cf`` as a containerFile's content: see the module docstring. Assumes the on-cluster lint
    found no error (a COPY it cannot inline is left as it is)."""
    lines = cf.text.split("\n")
    keep = [True] * len(lines)
    replaced: Dict[int, List[str]] = {}  # first line index -> new lines (the instruction's lines dropped)
    root = lint_mod.base_stage(cf)
    for ins in cf.instructions:
        first, last = ins.line - 1, max(ins.end_line, ins.line) - 1
        new: Optional[List[str]] = None
        if ins.keyword == "FROM" and ins.line == root and not cf.is_on_cluster():
            words = lint_mod.from_words(ins)
            alias = words[2] if len(words) == 3 and words[1].lower() == "as" else "final"
            new = [f"FROM {ON_CLUSTER_STAGE} AS {alias}"]
        elif ins.keyword in ("COPY", "ADD"):
            plan = lint_mod.copy_plan(ins, context)
            if plan is not None and plan.file is not None:
                new = [_inline(plan)]
        elif ins.keyword == "RUN" and lint_mod.secret_mounts(ins):
            new = [_without_cluster_mounts(line) for line in lines[first:last + 1]]
            # a line that held only the dropped mounts would stay as an empty continuation
            new = new[:1] + [line for line in new[1:] if line.strip() not in ("\\", "")]
        elif ins.keyword == "ARG" and _arg_defaults(ins.args, build_args) is not None:
            new = [str(_arg_defaults(ins.args, build_args))]
        if new is not None:
            for index in range(first, last + 1):
                keep[index] = False
            replaced[first] = new
    out: List[str] = []
    for index, line in enumerate(lines):
        if index in replaced:
            out += replaced[index]
        elif keep[index] and not _comment_only(line):
            out.append(line)
    text = "\n".join(out).strip("\n")
    text = re.sub(r"\n{3,}", "\n\n", text)
    if not cf.is_on_cluster() and root == 0:
        text = f"FROM {ON_CLUSTER_STAGE} AS final\n" + text
    return text + "\n"


def _comment_only(line: str) -> bool:
    # comments cost characters of the 4096 and Buildah drops them anyway
    return line.lstrip().startswith("#")


def _inline(plan: lint_mod.CopyPlan) -> str:
    """A RUN that writes the file a COPY would have sent (base64: any byte survives the shell)."""
    assert plan.file is not None
    data = base64.b64encode(plan.file.path.read_bytes()).decode("ascii")
    dest = shlex.quote(plan.dest)
    folder = shlex.quote(plan.dest.rsplit("/", 1)[0] or "/")
    mode = plan.chmod or ("0755" if plan.file.mode & 0o111 else "0644")
    return f"RUN mkdir -p {folder} && echo {data} | base64 -d > {dest} && chmod {mode} {dest}"


def _without_cluster_mounts(line: str) -> str:
    """The line without ``--mount=type=secret,...`` flags whose target the cluster mounts itself."""
    def drop(match: re.Match[str]) -> str:
        options = dict(part.partition("=")[::2] for part in match.group(1).split(","))
        target = options.get("target") or options.get("dst") or options.get("destination") or ""
        provided = options.get("type") == "secret" and any(target == m or target.startswith(m + "/")
                                                           for m in lint_mod.CLUSTER_MOUNTS)
        return "" if provided else match.group(0)

    return re.sub(r"--mount=(\S*)\s*", drop, line)


def _arg_defaults(args: str, build_args: Dict[str, str]) -> Optional[str]:
    """The ARG with the project's build-args as defaults; None when it takes none of them."""
    from .containerfile import shell_words

    words = shell_words(args, keep_quotes=True) or args.split()
    out = []
    changed = False
    for word in words:
        name, sep, _ = word.partition("=")
        if not sep and name in build_args:
            word = f"{name}={shlex.quote(str(build_args[name]))}"
            changed = True
        out.append(word)
    return "ARG " + " ".join(out) if changed else None


def target(project: Project, pool: str, explicit: Optional[str] = None) -> str:
    """Where the cluster pushes what it builds: ``explicit``, else the project's ``image:`` with
    its tag, or tagged with the pool's name (the CRDs require a tag; v1 builds replace it with the
    MachineOSBuild's name, v1alpha1 ones push to it, so each pool gets its own)."""
    from . import reference

    spec = explicit or project.image
    if not spec:
        raise InvalidInput("no image to push to: the cluster pushes what it builds to the project's `image:`",
                           hint="set image: REGISTRY/REPOSITORY[:TAG] in rhcos-layer.yaml, or give --push-spec")
    try:
        parsed = reference.parse(spec)
    except reference.InvalidReference as exc:
        raise InvalidInput(f"push spec {spec[:200]!r}: {exc}", hint="give REGISTRY/REPOSITORY[:TAG]") from None
    if parsed.digest:
        raise InvalidInput(f"push spec {spec[:200]!r} has a digest: the cluster pushes to a tag",
                           hint="give REGISTRY/REPOSITORY[:TAG]")
    return spec if parsed.tag else f"{spec}:{pool}"


def check_push_spec(spec: str, api_version: str) -> None:
    """The CRD's rules for the push spec (its x-kubernetes-validations), as one clear error."""
    if api_version == "v1":
        ok = len(spec) <= 447 and any(rule.match(spec) for rule in _V1_PUSH_SPEC)
        shape = "HOST.DOMAIN[:PORT]/PATH/NAME:TAG"
    else:
        parts = spec.split(":")
        ok = len(spec) <= 447 and ((len(parts) == 2 and bool(_V1ALPHA1_TAG.match(parts[1]))
                                    and bool(_V1ALPHA1_NAME.match(parts[0]))) or bool(_V1ALPHA1_SVC.match(spec)))
        shape = "HOST.DOMAIN/PATH/NAME:TAG without a registry port, or SERVICE.NAMESPACE.svc:PORT/NAMESPACE/NAME:TAG"
    if not ok:
        raise InvalidInput(f"push spec {spec[:200]!r}: MachineOSConfig {api_version} refuses it (renderedImagePushSpec"
                           f" must look like {shape})", hint="set image: in rhcos-layer.yaml to such a repository, or"
                                                            " give --push-spec")


def _secret_name(flag: str, value: str) -> str:
    if len(value) > 253 or not _DNS1123_SUBDOMAIN.match(value):
        raise InvalidInput(f"{flag} {value[:60]!r}: not a Secret name",
                           hint="give the name of a Secret in openshift-machine-config-operator (lowercase letters,"
                                " digits, '-', '.'), never its content")
    return value


def render(project: Project, pool: str, *, api_version: str, push_secret: Optional[str],
           pull_secret: Optional[str] = None, push_spec: Optional[str] = None,
           current_pull_secret: Optional[str] = None) -> Dict[str, Any]:
    """The MachineOSConfig that has the cluster build ``project`` for ``pool``.

    ``push_secret``: the Secret the build pushes with; ``pull_secret``: the one it pulls the base
    with (v1: optional, the cluster's pull secret by default; v1alpha1: required). Either, when
    None, comes from the project file's ``on-cluster:`` (push-secret, pull-secret).
    ``current_pull_secret`` (v1alpha1 only): the one nodes pull the built image with, by default
    ``pull_secret`` (the push secret's write access stays off the nodes, as the CRD advises).
    Raises InvalidInput / ContainerfileError (exit 3) for what the cluster would refuse.
    """
    from .machineconfig import name_for

    if api_version not in API_VERSIONS:
        raise InvalidInput(f"--api-version {api_version[:40]}: one of {', '.join(API_VERSIONS)}")
    name_for(pool)  # the pool name check every command shares
    push_secret = push_secret or project.on_cluster.get("push-secret")
    pull_secret = pull_secret or project.on_cluster.get("pull-secret")
    if not push_secret:
        raise InvalidInput("on-cluster layering needs the Secret the cluster pushes the image with",
                           hint="give --push-secret NAME, or set on-cluster: {push-secret: NAME} in rhcos-layer.yaml"
                                " (a Secret in openshift-machine-config-operator)")
    _secret_name("--push-secret", push_secret)
    if pull_secret is not None:
        _secret_name("--pull-secret", pull_secret)
    spec = target(project, pool, push_spec)
    check_push_spec(spec, api_version)
    files = containerfiles(project)
    metadata: Dict[str, Any] = {"name": pool, "labels": {MANAGED_BY_LABEL: MANAGED_BY}}
    source = project_name(project.root)
    if source:
        metadata["annotations"] = {PROJECT_ANNOTATION: source}
    if api_version == "v1":
        body: Dict[str, Any] = {
            "machineConfigPool": {"name": pool},
            "imageBuilder": {"imageBuilderType": "Job"},
            "renderedImagePushSecret": {"name": push_secret},
            "renderedImagePushSpec": spec,
            "containerFile": files,
        }
        if pull_secret:
            body["baseImagePullSecret"] = {"name": pull_secret}
        return {"apiVersion": f"{GROUP}/v1", "kind": KIND, "metadata": metadata, "spec": body}
    if not pull_secret:
        raise InvalidInput("MachineOSConfig v1alpha1 needs a pull secret for the base image"
                           " (spec.buildInputs.baseImagePullSecret)",
                           hint="give --pull-secret NAME (or on-cluster: pull-secret: in rhcos-layer.yaml): a copy of"
                                " the cluster's pull secret in openshift-machine-config-operator")
    current = _secret_name("--pull-secret", current_pull_secret) if current_pull_secret else pull_secret
    inputs = {
        "imageBuilder": {"imageBuilderType": "PodImageBuilder"},
        "baseImagePullSecret": {"name": pull_secret},
        "renderedImagePushSecret": {"name": push_secret},
        "renderedImagePushspec": spec,
        "containerFile": [{"containerfileArch": "noarch" if f["containerfileArch"] == NO_ARCH
                           else f["containerfileArch"].lower(), "content": f["content"]} for f in files],
    }
    return {"apiVersion": f"{GROUP}/v1alpha1", "kind": KIND, "metadata": metadata,
            "spec": {"machineConfigPool": {"name": pool}, "buildInputs": inputs,
                     "buildOutputs": {"currentImagePullSecret": {"name": current}}}}


def served_api_version(cluster: ClusterAPI) -> Optional[str]:
    """The MachineOSConfig version the cluster serves: "v1", "v1alpha1" (4.16/4.17 with
    TechPreviewNoUpgrade) or None (before 4.16, or the feature gate off), from API discovery."""
    served = cluster.served_versions(GROUP, PLURAL)
    return next((v for v in API_VERSIONS if v in served), None)

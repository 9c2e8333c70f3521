"""Build a layered image: check the Containerfile, skip unchanged inputs, run the build."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from . import __version__, auth, containerfile, reference
from .context import BuildContext, collect, inputs_digest, make_tar
from .errors import InvalidInput
from .progress import Reporter, safety_warnings
from .project import PROJECT_FILE, STATE_FILE, Project
from .trust import TLSSettings

if TYPE_CHECKING:
    from .adapters.engine import ContainerEngine

INPUTS_LABEL = "io.rhcos-layer.inputs-digest"
VERSION_LABEL = "io.rhcos-layer.version"
RPMS_LABEL = "io.rhcos-layer.rpms"  # what the Containerfile layers: apply checks it against the pool
RELEASE_LABEL = "io.rhcos-layer.release"
BASE_NAME_LABEL = "org.opencontainers.image.base.name"
BASE_DIGEST_LABEL = "org.opencontainers.image.base.digest"

# podman prints "STEP 2/5: ..." and, in multi-stage builds, "[1/2] STEP 2/5: ..."
_STEP_RE = re.compile(r"^(?:\[(\d+)/(\d+)\] )?STEP (\d+)/(\d+): (.*)$")


@dataclass
class BuildOptions:
    project: Project
    containerfile: Optional[Path] = None
    context_dir: Optional[Path] = None
    base: Optional[str] = None
    build_args: Dict[str, str] = field(default_factory=dict)
    secrets: Dict[str, Path] = field(default_factory=dict)
    tags: List[str] = field(default_factory=list)
    isolation: Optional[str] = None
    no_cache: bool = False
    authfile: Optional[str] = None
    tls: TLSSettings = field(default_factory=TLSSettings)
    release_version: Optional[str] = None
    skip_lint: bool = False
    kubeconfig: Optional[str] = None
    kube_context: Optional[str] = None  # the kubeconfig context (--context); the folder is context_dir


@dataclass
class BuildResult:
    image_id: str
    inputs_digest: str
    base: str
    tags: List[str]
    skipped: bool
    containerfile: str

    def as_dict(self) -> Dict[str, Any]:
        return {
            "image_id": self.image_id,
            "inputs_digest": self.inputs_digest,
            "base": self.base,
            "tags": self.tags,
            "skipped": self.skipped,
            "containerfile": self.containerfile,
        }


@dataclass
class PreparedBuild:
    """Everything decided before the engine is touched."""

    containerfile_display: str
    text: str
    base: reference.ImageReference
    build_args: Dict[str, str]
    context: BuildContext
    inputs_digest: str
    labels: Dict[str, str]
    tags: List[str]
    warnings: List[str] = field(default_factory=list)
    secret_files: Dict[str, Path] = field(default_factory=dict)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _locate(options: BuildOptions) -> Tuple[Path, Path]:
    """(Containerfile, context folder): flags first, then the project file, then podman's defaults."""
    project = options.project
    if options.containerfile is not None:
        cf_path = options.containerfile
    elif project.containerfile:
        cf_path = project.root / project.containerfile
    else:
        root = options.context_dir or project.root
        cf_path = root / "Containerfile"
        if not cf_path.exists() and (root / "Dockerfile").exists():
            cf_path = root / "Dockerfile"
    if options.context_dir is not None:
        context_dir = options.context_dir
    elif project.context:
        context_dir = project.root / project.context
    else:
        context_dir = project.root
    return cf_path, context_dir


def _base_and_text(options: BuildOptions, parsed: containerfile.Containerfile,
                   build_args: Dict[str, str]) -> Tuple[reference.ImageReference, str, Optional[str]]:
    """(digest-pinned base, Containerfile text to build, release version when known): --base,
    else the project file's ``base:`` (an image, or a release to read it from), else the FROM
    line; each refused with where it came from when unpinned."""
    project = options.project
    base_line = parsed.base(build_args)
    version = options.release_version
    if options.base:
        override, source = options.base, "--base"
    elif project.base == "cluster":
        from .release import resolve_from_cluster

        info = resolve_from_cluster(options.kubeconfig, options.kube_context)
        override, source, version = info.os_image, f"{project.where('base')}: base: cluster", info.version
    elif project.base:
        override, source = project.base, f"{project.where('base')}: base"
    elif project.base_release:
        from .release import resolve_release

        info = resolve_release(project.base_release["release"], arch=project.base_release.get("arch"),
                               stream=project.base_release.get("stream"), authfile=options.authfile,
                               tls=options.tls)
        override, source, version = info.os_image, f"{project.where('base')}: base.release", info.version
    else:
        return base_line.checked(parsed.path), parsed.text, version
    try:
        base = reference.parse_pinned(override)
    except reference.InvalidReference as exc:
        raise InvalidInput(f"{source}: {exc}") from None
    return base, parsed.with_base(base_line, base.pinned()), version


def prepare(options: BuildOptions) -> PreparedBuild:
    """Read and check the inputs, compute the inputs digest. No engine, no network."""
    project = options.project
    cf_path, context_dir = _locate(options)
    display = _display(cf_path)
    parsed = containerfile.load(cf_path, display)
    build_args = {**project.build_args, **options.build_args}
    base, text, release_version = _base_and_text(options, parsed, build_args)
    # rhcos-layer's own files and the project's secret files never travel in the context
    skip = [project.root / STATE_FILE, project.lock_path, project.path or project.root / PROJECT_FILE]
    secret_files = _secret_files(options)
    # every secret file named anywhere stays out, also a project one that --secret replaced
    skip += list(secret_files.values()) + [project.root / src for src in project.secrets.values()]
    context = collect(context_dir, skip=skip)
    digest = inputs_digest(text, base.pinned(), build_args, context,
                           {"release": release_version} if release_version else None)
    labels = {
        BASE_NAME_LABEL: base.pinned(),
        BASE_DIGEST_LABEL: str(base.digest),
        INPUTS_LABEL: digest,
        VERSION_LABEL: __version__,
    }
    if release_version:
        labels[RELEASE_LABEL] = release_version
    tags = []
    for tag in options.tags:
        try:
            tags.append(str(reference.parse_local(tag)))
        except reference.InvalidReference as exc:
            raise InvalidInput(f"-t/--tag: {exc}") from None
    own = default_tag(project, digest)  # every build carries it: how an unchanged build is found
    tags = tags + ([own] if own not in tags else [])
    return PreparedBuild(display, text, base, build_args, context, digest, labels, tags, [], secret_files)


def _secret_files(options: BuildOptions) -> Dict[str, Path]:
    """The project file's secrets, then --secret (which wins per ID); each must be a file."""
    from .errors import ProjectFileError

    project = options.project
    files = {}
    for secret_id, src in project.secrets.items():
        if secret_id in options.secrets:
            continue
        path = project.root / src
        if not path.is_file():
            raise ProjectFileError(f"{project.where('secrets')}: secrets.{secret_id}: {src} is not a file",
                                   hint="put the file there, or remove the entry")
        files[secret_id] = path
    files.update(options.secrets)
    return files


def check(prepared: PreparedBuild, options: BuildOptions) -> List[str]:
    """Lint the Containerfile as it will be built (errors stop the build, one line and the
    findings below it; warnings are returned) and label the image with the RPMs it layers."""
    from .errors import ContainerfileError
    from .lint import errors, layered_packages, lint

    parsed = containerfile.parse(prepared.text, prepared.containerfile_display)
    if parsed.open_continuation:  # not a lint rule here: the LABEL line would be swallowed
        raise ContainerfileError(_OPEN_CONTINUATION.format(path=parsed.path, line=parsed.open_continuation))
    packages = layered_packages(parsed)
    if packages:
        prepared.labels[RPMS_LABEL] = ",".join(sorted(packages))
    if options.skip_lint:
        return []
    findings = lint(parsed, build_args=prepared.build_args, context=prepared.context)
    failed = errors(findings)
    if failed:
        first = failed[0]
        raise ContainerfileError(
            f"{parsed.path}:{first.line}: {first.rule} {first.name}: {first.message}"
            + (f" (and {len(failed) - 1} more lint error(s))" if len(failed) > 1 else ""),
            hint=f"{first.fix}; or build anyway with --skip-lint",
            detail="\n".join(f.format(parsed.path) for f in failed),
        )
    return [f.format(parsed.path) for f in findings]


def is_step_line(line: str) -> bool:
    """A line of the build log that :class:`Reporter` receives as a ``step``."""
    return _STEP_RE.match(line) is not None


_OPEN_CONTINUATION = ("{path}:{line}: the last instruction ends with a line continuation, so the LABEL line"
                      " build appends would join it: remove the escape character at the end of the file")


def with_labels(text: str, labels: Dict[str, str], path: str = "Containerfile") -> str:
    """The Containerfile with one LABEL line appended to the final stage.

    One instruction, one extra commit: podman's ``labels`` build parameter would add a LABEL
    step (and a commit) per label. Appended last, so changing labels never invalidates the
    cached layers of the user's own steps. A file whose last line continues (ends in the
    escape character) is refused: no line can end that continuation without changing the
    instruction, and the LABEL would silently become part of it.
    """
    parsed = containerfile.parse(text, path)
    if parsed.open_continuation:
        raise InvalidInput(_OPEN_CONTINUATION.format(path=path, line=parsed.open_continuation))
    escape = parsed.escape
    quoted = " ".join(f'{key}="{_escape(value, escape)}"' for key, value in sorted(labels.items()))
    return text.rstrip("\n") + f"\n\n# added by rhcos-layer: provenance\nLABEL {quoted}\n"


def _escape(value: str, escape: str = "\\") -> str:
    """A LABEL value inside double quotes: the escape character (a backslash, or the backtick an
    escape directive chose) before itself, ``"`` and ``$``; line breaks, which would end the
    instruction, as spaces."""
    value = value.replace("\r", " ").replace("\n", " ")
    return value.replace(escape, escape * 2).replace('"', escape + '"').replace("$", escape + "$")


def default_tag(project: Project, digest: str) -> str:
    """``localhost/rhcos-layer/<project folder>:<first 12 hex of the inputs digest>``."""
    name = re.sub(r"[^a-z0-9._-]+", "-", project.root.name.lower()).strip("-._") or "image"
    return f"localhost/rhcos-layer/{name}:{digest[7:19]}"


def build(options: BuildOptions, reporter: Optional[Reporter] = None,
          engine: Optional[ContainerEngine] = None) -> BuildResult:
    """Build the image (or reuse one with the same inputs digest) and record it in the state file.

    ``engine``: one the caller started (``engine.start()``) as early as it could and closes;
    without it, one is started here, before the inputs are read, and closed before returning.
    Either way a private service's start-up overlaps the reading, hashing and linting.
    """
    report = reporter or Reporter()
    if engine is None:
        from .adapters import engine as engine_mod

        with engine_mod.start(options.isolation) as own:
            return build(options, report, own)
    prepared = prepare(options)
    # The same inputs as the last build: most likely a no-op, so lint only if there is
    # something to build (that build was linted). Otherwise lint now, before Podman is asked.
    last = options.project.read_state().get("build", {})
    likely_noop = not options.no_cache and last.get("inputs_digest") == prepared.inputs_digest
    if not likely_noop:
        prepared.warnings = check(prepared, options)
    authfile = auth.resolve(options.authfile)
    report.phase("Connecting to Podman")
    engine.ready()
    for warning in prepared.warnings + safety_warnings(engine.url, options.tls.verify, prepared.base.registry):
        report.warning(warning)
    result = None if options.no_cache else _reuse(engine, prepared, options.project, last, report)
    if result is None:
        if likely_noop:  # the image is gone from the store: build it, linted as any build
            for warning in check(prepared, options):
                report.warning(warning)
        _ensure_base(engine, prepared.base, authfile, options, report)
        result = _run_build(engine, prepared, authfile, options, report)
    entry = {
        "image_id": result.image_id,
        "inputs_digest": result.inputs_digest,
        "base": result.base,
        "tags": result.tags,
        "containerfile": result.containerfile,
    }
    if {k: last.get(k) for k in entry} != entry:  # a no-op rebuild leaves the state file as it is
        entry["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        options.project.record("build", entry)
    return result


def _reuse(engine: ContainerEngine, prepared: PreparedBuild, project: Project, last: Dict[str, Any],
           report: Reporter) -> Optional[BuildResult]:
    """The image already built from these exact inputs, if the store still has it: the state file's
    ``last`` build (the common case, the same project built again), else the image named by the
    inputs digest."""
    candidate = None
    if last.get("inputs_digest") == prepared.inputs_digest and last.get("image_id"):
        candidate = _image_with_inputs(engine, str(last["image_id"]), prepared.inputs_digest)
    if candidate is None:
        candidate = _image_with_inputs(engine, default_tag(project, prepared.inputs_digest), prepared.inputs_digest)
    if candidate is None:
        return None
    image_id = str(candidate["Id"])
    present = set(candidate.get("Names") or [])
    for tag in prepared.tags:
        ref = reference.parse(tag)
        if f"{ref.name}:{ref.tag or 'latest'}" not in present:
            engine.tag(image_id, repository=ref.name, tag=ref.tag or "latest")
    return BuildResult(image_id, prepared.inputs_digest, prepared.base.pinned(), prepared.tags, True,
                       prepared.containerfile_display)


def _image_with_inputs(engine: ContainerEngine, name: str, digest: str) -> Optional[Dict[str, Any]]:
    """Image ``name`` (an ID or a name), when the store has it and its inputs-digest label is
    ``digest``. One cheap lookup: every build is also named by its inputs digest (default_tag),
    so no search through every image of the store is needed."""
    from .errors import ImageNotFound

    try:
        details = engine.inspect(name)
    except ImageNotFound:
        return None
    from .adapters.engine import image_labels

    if image_labels(details).get(INPUTS_LABEL) != digest:
        return None
    return {"Id": details["Id"], "Names": details.get("RepoTags") or []}


def _ensure_base(engine: ContainerEngine, base: reference.ImageReference, authfile: auth.AuthFile,
                 options: BuildOptions, report: Reporter) -> None:
    """Pull the base unless the store has it; check access first so errors are one clear line."""
    pinned = base.pinned()
    if engine.image_exists(pinned):
        return
    from .adapters.registry import RegistryClient

    report.phase(f"Pulling base {pinned}")
    creds = authfile.lookup(base.name)
    with RegistryClient(base.registry, creds, options.tls) as registry:
        registry.manifest_digest(base.repository, str(base.digest))
    engine.pull(pinned, registry=base.registry, credentials=creds, tls=options.tls, on_line=report.log)


def _run_build(engine: ContainerEngine, prepared: PreparedBuild, authfile: auth.AuthFile, options: BuildOptions,
               report: Reporter) -> BuildResult:
    import json

    report.phase("Building")
    tar = make_tar(prepared.context, with_labels(prepared.text, prepared.labels), prepared.secret_files)
    try:
        params: Dict[str, Any] = {
            "dockerfile": tar.containerfile_name,
            "t": prepared.tags,
            "layers": True,
            "nocache": options.no_cache,
            "tlsVerify": options.tls.verify,
            "excludes": json.dumps([tar.containerfile_name]),
        }
        if prepared.build_args:
            params["buildargs"] = json.dumps(prepared.build_args)
        if options.isolation:
            params["isolation"] = options.isolation
        if tar.secret_names:
            params["secrets"] = json.dumps([f"id={sid},src={name}" for sid, name in tar.secret_names.items()])

        def on_line(text: str) -> None:
            for line in text.splitlines():
                step = _STEP_RE.match(line)
                if step:
                    stage = (int(step.group(1)), int(step.group(2))) if step.group(1) else None
                    report.step(int(step.group(3)), int(step.group(4)), step.group(5), stage)
                report.log(line)

        image_id = engine.build(tar.stream, params=params, registry_config=authfile.registry_config(),
                                on_line=on_line)
    finally:
        tar.close()
    return BuildResult(image_id, prepared.inputs_digest, prepared.base.pinned(), prepared.tags, False,
                       prepared.containerfile_display)

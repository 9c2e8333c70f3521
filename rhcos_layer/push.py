"""Push a built image and report the digest the registry serves for it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from . import auth, reference
from .errors import ImageNotFound, InvalidInput, RegistryUnavailable, RhcosLayerError
from .progress import Reporter, safety_warnings
from .project import Project
from .trust import TLSSettings

if TYPE_CHECKING:
    from .adapters.engine import ContainerEngine


@dataclass
class PushOptions:
    project: Project
    image: Optional[str] = None
    destination: Optional[str] = None
    authfile: Optional[str] = None
    push_authfile: Optional[str] = None
    tls: TLSSettings = field(default_factory=TLSSettings)
    digestfile: Optional[Path] = None
    attempts: int = 3
    backoff: float = 1.0


@dataclass
class PushResult:
    pullspec: str
    digest: str
    destination: str
    image_id: str
    attempts: int  # 0: nothing needed pushing

    def as_dict(self) -> Dict[str, Any]:
        return {
            "pullspec": self.pullspec,
            "digest": self.digest,
            "destination": self.destination,
            "image_id": self.image_id,
        }


def _source_image(options: PushOptions, state: Dict[str, Any]) -> str:
    if options.image:
        return options.image
    last = state.get("build", {})
    if not last.get("image_id"):
        raise InvalidInput(
            "no IMAGE given and no build recorded for this project",
            hint="run `rhcos-layer build` first, or give the image: rhcos-layer push IMAGE DESTINATION",
        )
    return str(last["image_id"])


def _destination(options: PushOptions) -> reference.ImageReference:
    text = options.destination or options.project.image
    where = "DESTINATION" if options.destination else f"{options.project.where('image')}: image"
    if not text and options.image:
        # like `podman push IMAGE`: an image named for a registry goes to that name
        try:
            named = reference.parse(options.image)
        except reference.InvalidReference:
            named = None
        if named is not None and named.registry not in ("localhost", reference.DEFAULT_REGISTRY) \
                and "/" in options.image:
            text, where = options.image, "IMAGE"
    if not text:
        raise InvalidInput(
            "no DESTINATION given and the project file has no `image:`",
            hint="give one: rhcos-layer push [IMAGE] REGISTRY/REPOSITORY[:TAG], or set image: in rhcos-layer.yaml",
        )
    try:
        ref = reference.parse(text)
    except reference.InvalidReference as exc:
        raise InvalidInput(f"{where}: {exc}") from None
    if ref.digest:
        raise InvalidInput(f"{where}: {text!r} has a digest: push to a repository or tag; the digest is the result")
    return ref


def push(options: PushOptions, reporter: Optional[Reporter] = None,
         sleep: Callable[[float], None] = time.sleep) -> PushResult:
    """Push the image, retrying transient registry failures, and verify the digest served.

    When this project's last push sent the same image to the same place and the registry still
    serves that digest there, nothing is pushed: no Podman, one HEAD (``_already_pushed``).
    """
    report = reporter or Reporter()
    state = options.project.read_state()
    image = _source_image(options, state)
    destination = _destination(options)
    # resolved once: the registry checks and the engine get the same credentials
    if options.push_authfile:
        push_auth = auth.resolve(options.push_authfile, flag="--push-authfile")
    else:
        push_auth = auth.resolve(options.authfile)
    creds = push_auth.lookup(destination.name)

    unchanged = _already_pushed(options, state, image, destination, creds)
    if unchanged is not None:
        for warning in safety_warnings("", options.tls.verify, destination.registry):
            report.warning(warning)
        report.phase(f"{unchanged.destination} already holds {unchanged.digest}: nothing to push")
        if options.digestfile is not None:
            options.digestfile.write_text(unchanged.digest, encoding="utf-8")
        return unchanged

    from .adapters import engine as engine_mod
    from .adapters.registry import RegistryClient
    from .build import INPUTS_LABEL  # with all the build code: not needed by a no-op push

    with engine_mod.connect() as engine:
        for warning in safety_warnings(engine.url, options.tls.verify, destination.registry):
            report.warning(warning)
        try:
            details = engine.inspect(image)
        except ImageNotFound:
            raise ImageNotFound(f"no local image {image!r} to push",
                                hint="run `rhcos-layer build` first, or check `podman images`") from None
        image_id = str(details["Id"])
        labels = engine_mod.image_labels(details)
        tag = destination.tag or derived_tag(labels.get(INPUTS_LABEL), image_id)
        with RegistryClient(destination.registry, creds, options.tls) as registry:
            report.phase(f"Checking access to {destination.registry}")
            registry.check_access()
            report.phase(f"Pushing {destination.name}:{tag}")
            pushed, attempts = _push_with_retries(engine, image_id, destination, tag, creds, options, report,
                                                  sleep)
            served, _ = registry.manifest_digest(destination.repository, tag)
    if served != pushed:
        raise RhcosLayerError(
            f"{destination.name}:{tag} now points to {served}, not the {pushed} just pushed:"
            " someone else pushed to this tag",
            hint="push to a tag of your own (rhcos-layer push IMAGE REPO:TAG)",
        )
    pullspec = f"{destination.name}@{served}"
    if options.digestfile is not None:
        options.digestfile.write_text(served, encoding="utf-8")
    entry = {
        "pullspec": pullspec,
        "digest": served,
        "destination": f"{destination.name}:{tag}",
        "image_id": image_id,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    options.project.record("push", entry)
    _remember(options.project, entry)
    return PushResult(pullspec, served, f"{destination.name}:{tag}", image_id, attempts)


def _already_pushed(options: PushOptions, state: Dict[str, Any], image: str,
                    destination: reference.ImageReference, creds: Optional[auth.Credentials]) -> Optional[PushResult]:
    """The state file's last push, when pushing again would change nothing: the same image (by
    ID, as the state file names it) to the same repository and tag, which the registry still
    serves with the digest that push got. Anything else, or any doubt (an image given by name,
    a failed or challenged HEAD), is None: push as usual."""
    last = state.get("push") or {}
    if str(last.get("image_id") or "") != image:  # another image pushed since: one of the recent ones?
        recent = state.get(RECENT_PUSHES)
        last = recent.get(image) if isinstance(recent, dict) and isinstance(recent.get(image), dict) else {}
    image_id, digest, where = (str(last.get(key) or "") for key in ("image_id", "digest", "destination"))
    name, _, tag = where.rpartition(":")
    if not (image_id and digest and name and tag) or image != image_id:
        return None
    if name != destination.name or (destination.tag is not None and destination.tag != tag):
        return None
    from .adapters.manifesthead import manifest_digest

    if manifest_digest(destination.registry, destination.repository, tag, creds, options.tls) != digest:
        return None
    return PushResult(f"{name}@{digest}", digest, where, image_id, 0)


RECENT_PUSHES = "recent-pushes"
_RECENT_MAX = 16


def _remember(project: Project, entry: Dict[str, Any]) -> None:
    """Keep the last few pushes by image ID: `upgrade plan` pushes one image per release in turn,
    and each of them pushed again unchanged must stay a no-op (one HEAD), not only the last one."""
    recent = project.read_state().get(RECENT_PUSHES)
    kept = {k: v for k, v in recent.items() if isinstance(v, dict)} if isinstance(recent, dict) else {}
    kept[str(entry["image_id"])] = entry
    newest = sorted(kept.items(), key=lambda item: str(item[1].get("time") or ""))[-_RECENT_MAX:]
    project.record(RECENT_PUSHES, dict(newest))


def derived_tag(inputs: Optional[str], image_id: str) -> str:
    """A tag from the inputs digest (``layer-<12 hex>``), or from the image ID without one."""
    if inputs and inputs.startswith("sha256:"):
        return f"layer-{inputs[7:19]}"
    return f"image-{image_id[:12]}"


def _push_with_retries(engine: ContainerEngine, image_id: str, destination: reference.ImageReference, tag: str,
                       creds: Optional[auth.Credentials], options: PushOptions, report: Reporter,
                       sleep: Callable[[float], None]) -> Tuple[str, int]:
    delay = options.backoff
    for attempt in range(1, options.attempts + 1):
        try:
            digest = engine.push(image_id, repository=destination.name, tag=tag, registry=destination.registry,
                                 credentials=creds, tls=options.tls, on_line=report.log)
            return digest, attempt
        except RegistryUnavailable as exc:
            if attempt == options.attempts:
                raise RegistryUnavailable(
                    f"{exc.message}; gave up after {attempt} attempts", hint=exc.hint, detail=exc.detail
                ) from None
            report.phase(f"Push failed ({exc.message}); retrying in {delay:g}s")
            sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")

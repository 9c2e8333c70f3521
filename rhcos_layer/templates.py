"""Containerfile templates and `init`: a project that builds as it is, on the right base."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from .containerfile import BASE_NOT_SET
from .errors import InvalidInput

PLACEHOLDER = "{{ base }}"
# shown by `init --help` and written into the project file's comment
SUMMARIES: Dict[str, str] = {
    "config-files": "configuration files and a systemd unit (COPY + systemctl enable)",
    "hotfix": "hotfix RPMs from Red Hat support (rpm-ostree override replace)",
    "rhel-packages": "RHEL packages, entitlement certs and redhat.repo mounted as build secrets",
    "third-party": "EPEL or vendor RPMs (rpm-ostree install of the repo's release RPM, then packages)",
    "kernel": "a replacement kernel: the whole kernel package set in one override",
    "on-cluster": "the on-cluster form (FROM configs AS final) for a MachineOSConfig",
}
# build secrets a template's RUN mounts, and the file names `init` suggests for them
SECRETS: Dict[str, Dict[str, str]] = {
    "rhel-packages": {
        "entitlement-cert": "entitlement/entitlement.pem",
        "entitlement-key": "entitlement/entitlement-key.pem",
        "redhat-repo": "entitlement/redhat.repo",
    },
}


def _root() -> Path:
    """containerfiles/ beside the package in a checkout; the package data of an installed wheel."""
    source = Path(__file__).resolve().parent.parent / "containerfiles"
    if (source / "__init__.py").is_file():
        return source
    from importlib import resources

    return Path(str(resources.files("rhcos_layer.containerfiles")))


def names() -> List[str]:
    return sorted(p.name for p in _root().iterdir() if (p / "Containerfile").is_file())


@dataclass
class Written:
    folder: Path
    files: List[Path]


def render(name: str, base: Optional[str]) -> Dict[str, str]:
    """The template's files (relative name -> text), the Containerfile's base filled in."""
    folder = _root() / name
    if not (folder / "Containerfile").is_file():
        raise InvalidInput(f"--template {name}: no such template: choose one of {', '.join(names())}")
    files = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and not path.name.startswith(("_", ".")):
            text = path.read_text(encoding="utf-8")
            if path.name == "Containerfile" and base is not None:
                text = text.replace(PLACEHOLDER, base)
            files[path.name] = text
    return files


def project_file(name: str, base: Optional[str], release: Optional[str], image: Optional[str],
                 arch: Optional[str] = None, stream: Optional[str] = None) -> str:
    """A commented rhcos-layer.yaml for template ``name``."""
    lines = [
        f"# rhcos-layer project: {SUMMARIES.get(name, name)}.",
        "# What stays the same between runs; `rhcos-layer schema` prints the full schema.",
        "containerfile: Containerfile",
    ]
    if name == "on-cluster":
        lines += ["# An on-cluster Containerfile: the cluster builds it on its own base (MachineOSConfig)."]
    elif release:
        lines += ["# The base image is read from this release's payload (its rhel-coreos tag), so a rebuild",
                  "# after an upgrade only needs this line changed.",
                  "base:", f"  release: {release}"]
        lines += [f"  arch: {arch}"] if arch else []
        lines += [f"  stream: {stream}"] if stream else []
    elif base:
        lines += ["# The cluster's RHCOS image, by digest (`rhcos-layer resolve --release ...`): never a tag.",
                  f"base: {base}"]
    else:
        lines += ["# Set the cluster's RHCOS image, by digest (`rhcos-layer resolve --release ...`):",
                  "# base: quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:<64 hex>"]
    lines += ["# Where `rhcos-layer push` sends the image (a registry every node can pull from with the",
              "# cluster's pull secret)."]
    lines += [f"image: {image}"] if image else ["# image: registry.example.com/ops/rhcos-layered"]
    if name in SECRETS:
        lines += ["# Build secrets, mounted for RUN --mount=type=secret only: put the files there, and keep",
                  "# them out of version control.", "secrets:"]
        lines += [f"  {sid}: {src}" for sid, src in SECRETS[name].items()]
    return "\n".join(lines) + "\n"


def init(folder: Path, name: str, *, base: Optional[str], release: Optional[str], image: Optional[str],
         force: bool = False, arch: Optional[str] = None, stream: Optional[str] = None) -> Written:
    """Write the template's files and a project file into ``folder``; never overwrite unasked,
    never write through a symbolic link (it could point anywhere, outside the project too)."""
    files = render(name, base)
    if base is None and name != "on-cluster":
        # not a reference anything can pull: lint (RL115) and build name it until base: is set
        files["Containerfile"] = files["Containerfile"].replace(PLACEHOLDER, BASE_NOT_SET)
    files["rhcos-layer.yaml"] = project_file(name, base, release, image, arch, stream)
    folder.mkdir(parents=True, exist_ok=True)
    links = [n for n in files if (folder / n).is_symlink()]
    if links:
        raise InvalidInput(f"{folder}: {', '.join(links)} is a symbolic link: init never writes through one;"
                           " remove it, or choose another folder")
    existing = [n for n in files if os.path.lexists(folder / n)]
    if existing and not force:
        raise InvalidInput(f"{folder}: {', '.join(existing)} already exist(s): choose an empty folder or add --force")
    written = []
    for relname, text in files.items():
        path = folder / relname
        _write_no_follow(path, text)
        written.append(path)
    for src in SECRETS.get(name, {}).values():
        (folder / src).parent.mkdir(parents=True, exist_ok=True)
    return Written(folder, written)


def _write_no_follow(path: Path, text: str) -> None:
    """Write ``path``, failing rather than following a link made since the check above."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot write: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)

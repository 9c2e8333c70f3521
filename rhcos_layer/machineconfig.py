"""The MachineConfig that points a pool at a layered image, as rhcos-layer writes it.

One per pool, named so that it sorts after the pool's other MachineConfigs (the MCO merges
them by name and the last ``osImageURL`` wins), labelled with the pool's role and as managed
by rhcos-layer (so rollback deletes only these), annotated with where the image came from.
"""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any, Dict, Optional, Union

from . import reference
from .errors import InvalidInput
from .objects import field

API_VERSION = "machineconfiguration.openshift.io/v1"
ROLE_LABEL = "machineconfiguration.openshift.io/role"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "rhcos-layer"
ANNOTATION_PREFIX = "rhcos-layer.io/"
BASE_ANNOTATION = ANNOTATION_PREFIX + "base-image"
INPUTS_ANNOTATION = ANNOTATION_PREFIX + "inputs-digest"
PROJECT_ANNOTATION = ANNOTATION_PREFIX + "project"
PREVIOUS_ANNOTATION = ANNOTATION_PREFIX + "previous-image"
RELEASE_ANNOTATION = ANNOTATION_PREFIX + "release"  # the release version the image was built for (status: behind)
_POOL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# The MCO's built-in pools sort first; a custom pool's own config must sort after the worker
# one it inherits, or the worker image would win the merge on that pool too.
_BUILTIN_POOLS = ("master", "worker", "arbiter")


def name_for(pool: str) -> str:
    """``99-zz-rhcos-layer-0-<pool>`` (built-in pools) or ``...-1-<pool>`` (custom pools).

    ``zz`` puts it after the usual ``00``..``99-<pool>-*`` names, so it wins the merge.
    """
    if not _POOL_RE.match(pool) or len(pool) > 40:
        raise InvalidInput(f"--pool {pool}: not a machine config pool name (lowercase letters, digits, '-')")
    rank = 0 if pool in _BUILTIN_POOLS else 1
    return f"99-zz-rhcos-layer-{rank}-{pool}"


def project_name(root: Union[str, PurePath]) -> Optional[str]:
    """What the project annotation says: the project folder's name (``init my-layer`` makes
    ``my-layer``), never its path: the MachineConfig lives in the cluster, and the workstation's
    home folder and user name have no business there."""
    return PurePath(root).name or None


def render(pool: str, image: str, *, base: Optional[str] = None, inputs_digest: Optional[str] = None,
           project: Optional[str] = None, previous_image: Optional[str] = None,
           release: Optional[str] = None) -> Dict[str, Any]:
    """The MachineConfig for ``pool`` with ``spec.osImageURL = image`` (which must be pinned).

    ``project`` is the project's name (see project_name), recorded as an annotation."""
    try:
        pinned = reference.parse_pinned(image).pinned()
    except reference.InvalidReference as exc:
        raise InvalidInput(f"--image: {exc}; nodes pull on their own, and a tag can move between two of them")\
            from None
    annotations = {}
    if base:
        annotations[BASE_ANNOTATION] = base
    if inputs_digest:
        annotations[INPUTS_ANNOTATION] = inputs_digest
    if project:
        annotations[PROJECT_ANNOTATION] = project
    if previous_image:
        annotations[PREVIOUS_ANNOTATION] = previous_image
    if release:
        annotations[RELEASE_ANNOTATION] = release
    metadata: Dict[str, Any] = {
        "name": name_for(pool),
        "labels": {ROLE_LABEL: pool, MANAGED_BY_LABEL: MANAGED_BY},
    }
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": API_VERSION, "kind": "MachineConfig", "metadata": metadata,
            "spec": {"osImageURL": pinned}}


def is_managed(obj: Any) -> bool:
    """Labelled as ours (app.kubernetes.io/managed-by=rhcos-layer): a MachineConfig or a MachineOSConfig,
    whatever shape the cluster sent (a wrong one is not ours)."""
    return bool(field(obj, "metadata", "labels", MANAGED_BY_LABEL) == MANAGED_BY)

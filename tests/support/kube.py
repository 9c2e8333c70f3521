"""An emulated OpenShift API server for tests of the cluster code (kubectl and the kubernetes client).

Usage::

    api = KubeAPI().start()                      # HTTPS on 127.0.0.1:<free port>, bearer token
    seed = seed_openshift(api, workers=2)        # pools, MachineConfigs, nodes, ClusterVersion ...
    api.write_kubeconfig(tmp / "kubeconfig")     # CA embedded, token, current-context "admin"
    ...                                          # kubectl --kubeconfig ... / kubernetes.config
    api.stop()                                   # open watches end cleanly, nothing left running

It answers like kube-apiserver 1.29 (OpenShift 4.16) does, as far as a client can tell:

* discovery: ``/version``, ``/api``, ``/apis`` (legacy lists, or aggregated discovery when asked
  for it as kubectl 1.26+ does), ``/api/v1``, ``/apis/<group>[/<version>]``;
* core v1 nodes, namespaces, configmaps, secrets; machineconfiguration.openshift.io/v1
  machineconfigs (mc), machineconfigpools (mcp), controllerconfigs, and machineosconfigs,
  machineosbuilds, machineconfignodes at the API version the seeded release serves them (VERSIONED:
  absent on 4.14/4.15, v1alpha1 behind TechPreviewNoUpgrade on 4.16-4.17, v1 later; every v1 one
  when no release is set); config.openshift.io/v1 clusterversions; plus
  SelfSubjectAccessReview / SelfSubjectReview (``kubectl auth can-i`` / ``whoami``).
  Names, scopes, short names, status subresources and printer columns come from the real CRDs;
* get / list (labelSelector, fieldSelector, limit + continue) / create (generateName, 409
  AlreadyExists) / update (409 Conflict on a stale resourceVersion; 422 for a custom resource sent
  without one: CRs disallow unconditional update) / patch (merge, JSON patch,
  strategic merge for core types only, server-side apply approximated by a merge) / delete
  (preconditions, finalizers) / deletecollection, ``dryRun=All``, the status subresource, one
  global resourceVersion counter, generation bumped on spec changes only, no-op updates not
  written;
* watch: ADDED/MODIFIED/DELETED/BOOKMARK as chunked newline-delimited JSON, selector
  transitions reported as ADDED/DELETED like the watch cache, ``sendInitialEvents``, an
  ``ERROR`` event with a 410 Expired Status once a resourceVersion left the retained window;
* server-side Table output (``kubectl get`` columns), PartialObjectMetadata (406 unless a list asks
  for PartialObjectMetadataList and an object or a watch for PartialObjectMetadata), YAML;
* CRD structural schemas in miniature: unknown fields pruned with a ``Warning`` header, or
  rejected with 400 under ``fieldValidation=Strict`` (what kubectl sends), wrong types and
  missing required fields rejected with 422 Invalid; name and label syntax checked;
* authentication: a bearer token (401 ``Unauthorized`` for a wrong or expired one, 403 for
  ``system:anonymous`` without one) and ``forbid()`` for RBAC-shaped 403s;
* ``/openapi/v3`` (index + per group-version documents with the kinds' schemas): kubectl
  ``create -f`` / ``apply`` probe it to validate on the server side.

Differences from the real thing, on purpose: managedFields only as seeded (writes through the API
neither keep nor update them), no admission webhooks, no
controllers (nothing reconciles pools or nodes unless a test does it through ``api.store``),
namespaces are deleted at once with their contents, server-side apply is a merge patch with
no field ownership, list pagination does not pin the first page's snapshot, JSON/YAML only
(no protobuf: kubectl >= 1.32's typed ``create configmap|secret|namespace`` get 415, and
``/openapi/v2`` is 404), the ``timeout`` query parameter is ignored.

The kubectl on the test machines is Google's dispatcher: it asks ``/version`` first and runs
``kubectl.1.<server minor>`` when installed, so the server's ``git_version`` (v1.29 for 4.16)
chooses the real kubectl that talks to the emulator.

Everything runs in threads of this process; ``stop()`` ends them.
"""

from __future__ import annotations

import atexit
import base64
import collections
import copy
import dataclasses
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Deque, Dict, Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple, Union
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from ._util import PathLike, RigError

Obj = Dict[str, Any]

MCO_GROUP = "machineconfiguration.openshift.io"
CONFIG_GROUP = "config.openshift.io"
DEFAULT_GIT_VERSION = "v1.29.6+aba1e8d"
DEFAULT_USER = "system:admin"
DEFAULT_GROUPS = ("system:masters", "system:cluster-admins", "system:authenticated")
ANONYMOUS_PATHS = ("/version", "/healthz", "/livez", "/readyz", "/.well-known/oauth-authorization-server")


# ============================================================================ resource facts
class Column(NamedTuple):
    name: str
    type: str
    json_path: str
    description: str = ""
    priority: int = 0
    format: str = ""


_CR_VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")
_CORE_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
_NS_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
_STATUS_VERBS = ("get", "patch", "update")
_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow"
    " a client to request the generation of an appropriate name automatically. Name is primarily intended for"
    " creation idempotence and configuration definition. Cannot be updated. More info:"
    " https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not"
    " guaranteed to be set in happens-before order across separate operations. Clients may not set this value."
    " It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists."
    " More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


@dataclasses.dataclass(frozen=True)
class ResourceType:
    """One served resource: what discovery says about it and how the server treats it."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: Tuple[str, ...] = ()
    status_subresource: bool = False
    verbs: Tuple[str, ...] = _CR_VERBS
    columns: Tuple[Column, ...] = ()  # CRD additionalPrinterColumns (CRs) or the built-in printer's
    custom: bool = True  # a CRD's resource (unstructured semantics) or a built-in type
    schema: Optional[Obj] = None  # miniature structural schema of everything but metadata
    field_labels: Tuple[str, ...] = ("metadata.name", "metadata.namespace")
    virtual: bool = False  # create-only review resources (nothing stored)
    label_name: bool = False  # names are RFC 1123 labels (namespaces), not subdomains

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """``machineconfigs.machineconfiguration.openshift.io`` / ``configmaps``."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def group_kind(self) -> str:
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def list_kind(self) -> str:
        return self.kind + "List"


def _t(type_: str, **extra: Any) -> Obj:
    return dict({"type": type_}, **extra)


def _props(properties: Dict[str, Obj], required: Sequence[str] = (), **extra: Any) -> Obj:
    out: Obj = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    out.update(extra)
    return out


_ANY: Obj = {"x-kubernetes-preserve-unknown-fields": True}
_OBJ_ANY: Obj = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_STR_MAP: Obj = {"type": "object", "additionalProperties": {"type": "string"}}
_STR_LIST: Obj = {"type": "array", "items": {"type": "string"}}


def _cr_schema(spec: Obj, status: bool = True, required: Sequence[str] = ("spec",)) -> Obj:
    props: Dict[str, Obj] = {"spec": spec}
    if status:
        props["status"] = _OBJ_ANY
    return _props(props, required)


def _loose(fields: Iterable[str], required: Sequence[str] = ()) -> Obj:
    """A spec whose top-level field names are known (unknown ones are pruned), values unchecked."""
    return _props({f: _ANY for f in fields}, required)


# MachineConfig: the CRD's openAPIV3Schema, descriptions dropped (openshift/api machineconfigs.crd.yaml).
_MC_SCHEMA = _props({
    "spec": _props({
        "baseOSExtensionsContainerImage": _t("string"),
        "config": _OBJ_ANY,
        "extensions": _t("array", items=_t("string")),
        "fips": _t("boolean"),
        "kernelArguments": _t("array", items=_t("string"), nullable=True),
        "kernelType": _t("string"),
        "osImageURL": _t("string"),
    }),
})
_MCP_SCHEMA = _cr_schema(_props({
    "configuration": _OBJ_ANY,
    "machineConfigSelector": _OBJ_ANY,
    "maxUnavailable": _ANY,  # int-or-string
    "nodeSelector": _OBJ_ANY,
    "osImageStream": _OBJ_ANY,
    "paused": _t("boolean"),
    "pinnedImageSets": _t("array"),
}), required=())
_CV_SCHEMA = _cr_schema(_props({
    "capabilities": _OBJ_ANY,
    "channel": _t("string"),
    "clusterID": _t("string"),
    # openshift/api config/v1 types_cluster_version.go Update; the CEL rules are in _desired_update_errors
    "desiredUpdate": _props({"architecture": _t("string"), "force": _t("boolean"), "image": _t("string"),
                             "version": _t("string")}),
    "overrides": _t("array"),
    "upstream": _t("string"),
}, required=("clusterID",)))
_CC_SPEC_FIELDS = (
    "additionalTrustBundle", "baseOSContainerImage", "baseOSExtensionsContainerImage", "cloudProviderCAData",
    "cloudProviderConfig", "clusterDNSIP", "dns", "etcdDiscoveryDomain", "imageRegistryBundleData",
    "imageRegistryBundleUserData", "images", "infra", "internalRegistryPullSecret", "ipFamilies",
    "kubeAPIServerServingCAData", "network", "networkType", "osImageURL", "platform", "proxy", "pullSecret",
    "releaseImage", "rootCAData",
)
_CC_REQUIRED = (
    "additionalTrustBundle", "baseOSContainerImage", "cloudProviderCAData", "cloudProviderConfig", "clusterDNSIP",
    "dns", "images", "infra", "ipFamilies", "kubeAPIServerServingCAData", "network", "proxy", "releaseImage",
    "rootCAData",
)


def _cond(type_: str, path: str = ".status.conditions", field: str = "status") -> str:
    return f'{path}[?(@.type=="{type_}")].{field}'


_AGE = Column("Age", "date", ".metadata.creationTimestamp")

RESOURCES: Tuple[ResourceType, ...] = (
    # ---------------------------------------------------------------------------- core v1
    ResourceType(
        "", "v1", "Node", "nodes", "node", False, ("no",), True, _CORE_VERBS, custom=False,
        columns=(
            Column("Status", "string", "", "The status of the node"),
            Column("Roles", "string", "", "The roles of the node"),
            Column("Age", "string", "", _AGE_DESCRIPTION),
            Column("Version", "string", "", "Kubelet Version reported by the node."),
            Column("Internal-IP", "string", "", "List of internal IPs in the cluster.", 1),
            Column("External-IP", "string", "", "List of external IPs in the cluster.", 1),
            Column("OS-Image", "string", "", "OS Image reported by the node from /etc/os-release (e.g. Debian"
                   " GNU/Linux 7 (wheezy)).", 1),
            Column("Kernel-Version", "string", "", "Kernel Version reported by the node from 'uname -r' (e.g."
                   " 3.16.0-0.bpo.4-amd64).", 1),
            Column("Container-Runtime", "string", "", "Container runtime version reported by the node through"
                   " runtime remote API (e.g. containerd://1.4.2).", 1),
        ),
        schema=_props({"spec": _OBJ_ANY, "status": _OBJ_ANY}),
        field_labels=("metadata.name", "spec.unschedulable"),
    ),
    ResourceType(
        "", "v1", "Namespace", "namespaces", "namespace", False, ("ns",), True, _NS_VERBS, custom=False,
        columns=(
            Column("Status", "string", "", "The status of the namespace"),
            Column("Age", "string", "", _AGE_DESCRIPTION),
        ),
        schema=_props({"spec": _OBJ_ANY, "status": _OBJ_ANY}),
        field_labels=("metadata.name", "status.phase"),
        label_name=True,
    ),
    ResourceType(
        "", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",), False, _CORE_VERBS, custom=False,
        columns=(
            Column("Data", "string", "", "Data contains the configuration data."),  # printed as integer
            Column("Age", "string", "", _AGE_DESCRIPTION),
        ),
        schema=_props({"data": _STR_MAP, "binaryData": _STR_MAP, "immutable": _t("boolean")}),
    ),
    ResourceType(
        "", "v1", "Secret", "secrets", "secret", True, (), False, _CORE_VERBS, custom=False,
        columns=(
            Column("Type", "string", "", "The type of the secret"),
            Column("Data", "string", "", "The number of entries in the data"),
            Column("Age", "string", "", _AGE_DESCRIPTION),
        ),
        schema=_props({"data": _STR_MAP, "stringData": _STR_MAP, "type": _t("string"), "immutable": _t("boolean")}),
        field_labels=("metadata.name", "metadata.namespace", "type"),
    ),
    # The on-cluster build's builder Pod and its Job (kubernetes pkg/apis/core/types.go, pkg/apis/batch/types.go);
    # the table columns as kube-apiserver prints them (pkg/printers/internalversion/printers.go, 1.32).
    ResourceType(
        "", "v1", "Pod", "pods", "pod", True, ("po",), True, _CORE_VERBS, custom=False,
        columns=(
            Column("Ready", "string", "", "The aggregate readiness state of this pod for accepting traffic."),
            Column("Status", "string", "", "The aggregate status of the containers in this pod."),
            Column("Restarts", "string", "", "The number of times the containers in this pod have been restarted"
                   " and when the last container in this pod has restarted."),
            Column("Age", "string", "", _AGE_DESCRIPTION),
            Column("IP", "string", "", "IP address allocated to the pod. Routable at least within the cluster.", 1),
            Column("Node", "string", "", "Name of the Node where the Pod is scheduled.", 1),
        ),
        schema=_props({"spec": _OBJ_ANY, "status": _OBJ_ANY}),
        field_labels=("metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"),
    ),
    ResourceType(
        "batch", "v1", "Job", "jobs", "job", True, (), True, _CORE_VERBS, custom=False,
        columns=(
            Column("Status", "string", "", "Status of the job."),
            Column("Completions", "string", "", "The completion status of the job."),
            Column("Duration", "string", "", "Time required to complete the job."),
            Column("Age", "string", "", _AGE_DESCRIPTION),
            Column("Containers", "string", "", "Names of each container in the template.", 1),
            Column("Images", "string", "", "Images referenced by each container in the template.", 1),
            Column("Selector", "string", "", "Selector of the job.", 1),
        ),
        schema=_props({"spec": _OBJ_ANY, "status": _OBJ_ANY}),
    ),
    # ------------------------------------------------------- machineconfiguration.openshift.io/v1
    ResourceType(
        MCO_GROUP, "v1", "MachineConfig", "machineconfigs", "machineconfig", False, ("mc",), False,
        columns=(
            Column("GeneratedByController", "string",
                   r".metadata.annotations.machineconfiguration\.openshift\.io/generated-by-controller-version",
                   "Version of the controller that generated the machineconfig. This will be empty if the"
                   " machineconfig is not managed by a controller."),
            Column("IgnitionVersion", "string", ".spec.config.ignition.version",
                   "Version of the Ignition Config defined in the machineconfig."),
            _AGE,
        ),
        schema=_MC_SCHEMA,
    ),
    ResourceType(
        MCO_GROUP, "v1", "MachineConfigPool", "machineconfigpools", "machineconfigpool", False, ("mcp",), True,
        columns=(
            Column("Config", "string", ".status.configuration.name"),
            Column("Updated", "string", _cond("Updated"),
                   "When all the machines in the pool are updated to the correct machine config."),
            Column("Updating", "string", _cond("Updating"),
                   "When at least one of machine is not either not updated or is in the process of updating to"
                   " the desired machine config."),
            Column("Degraded", "string", _cond("Degraded"),
                   "When progress is blocked on updating one or more nodes or the pool configuration is failing."),
            Column("MachineCount", "number", ".status.machineCount",
                   "Total number of machines in the machine config pool"),
            Column("ReadyMachineCount", "number", ".status.readyMachineCount",
                   "Total number of ready machines targeted by the pool"),
            Column("UpdatedMachineCount", "number", ".status.updatedMachineCount",
                   "Total number of machines targeted by the pool that have the CurrentMachineConfig as their"
                   " config"),
            Column("DegradedMachineCount", "number", ".status.degradedMachineCount",
                   "Total number of machines marked degraded (or unreconcilable)"),
            _AGE,
        ),
        schema=_MCP_SCHEMA,
    ),
    ResourceType(
        MCO_GROUP, "v1", "MachineOSConfig", "machineosconfigs", "machineosconfig", False, (), True,
        schema=_cr_schema(_loose(
            ("baseImagePullSecret", "containerFile", "imageBuilder", "machineConfigPool", "renderedImagePushSecret",
             "renderedImagePushSpec"),
            ("imageBuilder", "machineConfigPool", "renderedImagePushSecret", "renderedImagePushSpec"))),
    ),
    ResourceType(
        MCO_GROUP, "v1", "MachineOSBuild", "machineosbuilds", "machineosbuild", False, (), True,
        columns=(
            Column("Prepared", "string", _cond("Prepared")),
            Column("Building", "string", _cond("Building")),
            Column("Succeeded", "string", _cond("Succeeded")),
            Column("Interrupted", "string", _cond("Interrupted")),
            Column("Failed", "string", _cond("Failed")),
            _AGE,
        ),
        schema=_cr_schema(_loose(("machineConfig", "machineOSConfig", "renderedImagePushSpec"),
                                 ("machineConfig", "machineOSConfig", "renderedImagePushSpec"))),
    ),
    ResourceType(
        MCO_GROUP, "v1", "ControllerConfig", "controllerconfigs", "controllerconfig", False, (), True,
        schema=_cr_schema(_loose(_CC_SPEC_FIELDS, _CC_REQUIRED)),
    ),
    ResourceType(
        MCO_GROUP, "v1", "MachineConfigNode", "machineconfignodes", "machineconfignode", False, (), True,
        columns=(
            Column("PoolName", "string", ".spec.pool.name"),
            Column("DesiredConfig", "string", ".spec.configVersion.desired"),
            Column("CurrentConfig", "string", ".status.configVersion.current"),
            Column("Updated", "string", _cond("Updated")),
            _AGE,
        ),
        schema=_cr_schema(_loose(("configVersion", "node", "pool"), ("configVersion", "node", "pool"))),
    ),
    # ------------------------------------------ machineconfiguration.openshift.io/v1alpha1 (4.16-4.18)
    ResourceType(
        MCO_GROUP, "v1alpha1", "MachineOSConfig", "machineosconfigs", "machineosconfig", False, (), True,
        schema=_cr_schema(_loose(("buildInputs", "buildOutputs", "machineConfigPool"),
                                 ("buildInputs", "machineConfigPool"))),
    ),
    ResourceType(
        MCO_GROUP, "v1alpha1", "MachineOSBuild", "machineosbuilds", "machineosbuild", False, (), True,
        schema=_cr_schema(_loose(("configGeneration", "desiredConfig", "machineOSConfig", "renderedImagePushspec",
                                  "version"),
                                 ("configGeneration", "desiredConfig", "machineOSConfig", "renderedImagePushspec",
                                  "version"))),
    ),
    ResourceType(
        MCO_GROUP, "v1alpha1", "MachineConfigNode", "machineconfignodes", "machineconfignode", False, (), True,
        schema=_cr_schema(_loose(("configVersion", "node", "pool"), ("configVersion", "node", "pool"))),
    ),
    # ------------------------------------------------------------------- config.openshift.io/v1
    ResourceType(
        CONFIG_GROUP, "v1", "ClusterVersion", "clusterversions", "clusterversion", False, (), True,
        columns=(
            Column("Version", "string", '.status.history[?(@.state=="Completed")].version'),
            Column("Available", "string", _cond("Available")),
            Column("Progressing", "string", _cond("Progressing")),
            Column("Since", "date", _cond("Progressing", field="lastTransitionTime")),
            Column("Status", "string", _cond("Progressing", field="message")),
        ),
        schema=_CV_SCHEMA,
    ),
    # What the nodes trust and where they pull from (openshift/api config/v1 types_image.go,
    # types_image_digest_mirrorset.go; operator/v1alpha1 types_image_content_source_policy.go):
    # cluster-scoped, no printer columns beyond AGE in the real CRDs.
    ResourceType(CONFIG_GROUP, "v1", "Image", "images", "image", False, (), True,
                 schema=_cr_schema(_loose(("additionalTrustedCA", "allowedRegistriesForImport",
                                           "externalRegistryHostnames", "registrySources", "imageStreamImportMode")),
                                   required=())),
    ResourceType(CONFIG_GROUP, "v1", "ImageDigestMirrorSet", "imagedigestmirrorsets", "imagedigestmirrorset", False,
                 ("idms",), True, schema=_cr_schema(_loose(("imageDigestMirrors",)))),
    ResourceType("operator.openshift.io", "v1alpha1", "ImageContentSourcePolicy", "imagecontentsourcepolicies",
                 "imagecontentsourcepolicy", False, ("icsp",), False,
                 schema=_cr_schema(_loose(("repositoryDigestMirrors",)), status=False)),
    # ----------------------------------------------------------------- reviews (nothing stored)
    ResourceType("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
                 "selfsubjectaccessreview", False, (), False, ("create",), custom=False, virtual=True),
    ResourceType("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", "selfsubjectreview",
                 False, (), False, ("create",), custom=False, virtual=True),
)

# Resources whose API version depends on the release (openshift/api machineconfiguration/v1alpha1 and v1,
# the CRD manifests' release.openshift.io/feature-set annotations per release branch, e.g.
# machineconfiguration/v1alpha1/zz_generated.crd-manifests/0000_80_machine-config_01_machineosconfigs-
# TechPreviewNoUpgrade.crd.yaml; the gates OnClusterBuild and MachineConfigNodes in features/features.go): per plural,
# (first minor, last minor, served version, only behind a Tech Preview feature set). Outside every range
# (4.14, 4.15) the resource is not served at all: 404, also in discovery. Where a release is unsure, the
# stricter entry (gated, or absent) was taken.
TECH_PREVIEW_SETS = ("TechPreviewNoUpgrade", "DevPreviewNoUpgrade", "CustomNoUpgrade")
VERSIONED: Dict[str, Tuple[Tuple[int, int, str, bool], ...]] = {
    # on-cluster layering: v1alpha1 Tech Preview in 4.16-4.17; v1 from 4.18 (gated), GA in 4.19
    "machineosconfigs": ((16, 17, "v1alpha1", True), (18, 18, "v1", True), (19, 99, "v1", False)),
    "machineosbuilds": ((16, 17, "v1alpha1", True), (18, 18, "v1", True), (19, 99, "v1", False)),
    # MachineConfigNode: v1alpha1 Tech Preview 4.16-4.18; v1 gated in 4.19, default from 4.20
    "machineconfignodes": ((16, 18, "v1alpha1", True), (19, 19, "v1", True), (20, 99, "v1", False)),
}

_BY_GVR: Dict[Tuple[str, str, str], ResourceType] = {(r.group, r.version, r.plural): r for r in RESOURCES}
_BY_GVK: Dict[Tuple[str, str], ResourceType] = {(r.api_version, r.kind): r for r in RESOURCES}
_GROUP_ORDER = ("", "authentication.k8s.io", "authorization.k8s.io", "batch", CONFIG_GROUP, MCO_GROUP,
                "operator.openshift.io")


def resource_type(name: str) -> ResourceType:
    """A resource by plural, singular, short name, kind or ``plural.group`` (case-insensitive)."""
    want = name.lower()
    for rt in RESOURCES:
        if want in (rt.plural, rt.singular, rt.kind.lower(), rt.group_resource) or want in rt.short_names:
            return rt
    raise KeyError(f"no resource {name!r} in the emulator")


# ============================================================================ small helpers
def _now() -> datetime:
    return datetime.now(timezone.utc)


def _timestamp(when: Optional[datetime] = None) -> str:
    return (when or _now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> Optional[datetime]:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def human_duration(seconds: float) -> str:
    """Age as kubectl prints it (apimachinery's duration.HumanDuration)."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(obj: Obj) -> str:
    created = _parse_time(str((obj.get("metadata") or {}).get("creationTimestamp") or ""))
    if created is None:
        return "<unknown>"
    return human_duration((_now() - created).total_seconds())


def _truthy(value: Optional[str]) -> bool:
    """Go's strconv.ParseBool, as query parameters are parsed."""
    return (value or "") in ("1", "t", "T", "true", "TRUE", "True")


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN_RE = re.compile(rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*$")
_DNS_LABEL_RE = re.compile(rf"^{_DNS_LABEL}$")
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_QUALIFIED_NAME_RE = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start"
    " and end with an alphanumeric character (e.g. 'example.com', regex used for validation is"
    " '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end"
    " with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is"
    " '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start"
    " and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for"
    " validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_QUALIFIED_NAME_MESSAGE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an"
    " alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is"
    " '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


def _subdomain_errors(value: str) -> List[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _DNS_SUBDOMAIN_RE.match(value):
        errs.append(SUBDOMAIN_MESSAGE)
    return errs


def _qualified_name_errors(key: str) -> List[str]:
    """A label or annotation key: ``[prefix/]name``."""
    prefix, _, name = key.rpartition("/")
    if "/" in prefix:
        return ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end"
                " with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for"
                " validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix"
                " and '/' (e.g. 'example.com/MyName')"]
    errs = []
    if key.endswith("/") or not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    elif not _QUALIFIED_NAME_RE.match(name):
        errs.append(_QUALIFIED_NAME_MESSAGE)
    if "/" in key:
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + e for e in _subdomain_errors(prefix))
    return errs


# ============================================================================ errors
def status_body(code: int, reason: str, message: str, details: Optional[Obj] = None) -> Obj:
    """A metav1.Status as the API server writes it (field order included)."""
    out: Obj = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                "reason": reason}
    if details is not None:
        out["details"] = details
    out["code"] = code
    return out


class ApiError(Exception):
    """An API error answered as a Status."""

    def __init__(self, code: int, reason: str, message: str, details: Optional[Obj] = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status_body(code, reason, message, details)


def _details(rt: ResourceType, name: str = "", kind: Optional[str] = None, **extra: Any) -> Obj:
    out: Obj = {}
    if name:
        out["name"] = name
    if rt.group:
        out["group"] = rt.group
    out["kind"] = kind or rt.plural
    out.update(extra)
    return out


def _place_namespace(rt: ResourceType, meta: Obj, namespace: Optional[str]) -> None:
    """The URL's namespace goes into metadata (a different one in the body is refused, as the
    API server does); cluster-scoped objects carry none."""
    if rt.namespaced:
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the"
                              " request")
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)


def not_found(rt: ResourceType, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rt.group_resource} "{name}" not found', _details(rt, name))


def already_exists(rt: ResourceType, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rt.group_resource} "{name}" already exists', _details(rt, name))


def conflict(rt: ResourceType, name: str, why: str = "") -> ApiError:
    why = why or "the object has been modified; please apply your changes to the latest version and try again"
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {rt.group_resource} "{name}": {why}',
                    _details(rt, name))


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def page_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed() -> ApiError:
    return ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {})


class FieldError(NamedTuple):
    field: str
    reason: str  # FieldValueInvalid, FieldValueRequired, FieldValueTypeInvalid, ...
    detail: str  # "Invalid value: ...", "Required value"

    def __str__(self) -> str:
        return f"{self.field}: {self.detail}"


def invalid(rt: ResourceType, name: str, errors: Sequence[FieldError]) -> ApiError:
    text = str(errors[0]) if len(errors) == 1 else "[" + ", ".join(str(e) for e in errors) + "]"
    causes = [{"reason": e.reason, "message": e.detail, "field": e.field} for e in errors]
    details: Obj = {"name": name} if name else {}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.kind
    details["causes"] = causes
    return ApiError(422, "Invalid", f'{rt.group_kind} "{name}" is invalid: {text}', details)


def _invalid_value(field: str, value: Any, message: str, reason: str = "FieldValueInvalid") -> FieldError:
    shown = json.dumps(value) if isinstance(value, str) else str(value)
    return FieldError(field, reason, f"Invalid value: {shown}: {message}")


def _desired_update_errors(update: Any) -> List[FieldError]:
    """spec.desiredUpdate's enum and x-kubernetes-validations, as the ClusterVersion CRD has them
    (openshift/api config/v1 types_cluster_version.go, Update; zz_generated.crd-manifests
    0000_00_cluster-version-operator_01_clusterversions-Default.crd.yaml)."""
    if not isinstance(update, dict):
        return []
    path = "spec.desiredUpdate"
    errors: List[FieldError] = []
    arch = update.get("architecture")
    if isinstance(arch, str) and arch not in ("Multi", ""):
        errors.append(FieldError(f"{path}.architecture", "FieldValueNotSupported",
                                 f'Unsupported value: "{arch}": supported values: "Multi", ""'))
    if "architecture" in update and "image" in update and not (arch == "" or update.get("image") == ""):
        errors.append(_invalid_value(path, "object", "cannot set both Architecture and Image"))
    if arch and update.get("version", "") == "":
        errors.append(_invalid_value(path, "object", "Version must be set if Architecture is set"))
    return errors


# ============================================================================ selectors
class Requirement(NamedTuple):
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: Tuple[str, ...]

    def matches(self, labels: Dict[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if self.op in ("=", "in"):
            return has and value in self.values
        if self.op in ("!=", "notin"):
            return not has or value not in self.values
        if not has:
            return False
        try:
            number = int(str(value))
        except ValueError:
            return False
        limit = int(self.values[0])
        return number > limit if self.op == "gt" else number < limit


_LS_TOKEN_RE = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=(),<>]+)")


def parse_label_selector(text: Optional[str]) -> List[Requirement]:
    """A labelSelector string, as k8s.io/apimachinery/pkg/labels parses it (raises ValueError)."""
    text = (text or "").strip()
    if not text:
        return []
    tokens: List[str] = []
    pos = 0
    while pos < len(text):
        m = _LS_TOKEN_RE.match(text, pos)
        if not m:
            if text[pos:].strip():
                raise ValueError(f"unable to parse requirement: found {text[pos:]!r}")
            break
        tokens.append(m.group(1))
        pos = m.end()
    ops = {"!=", "==", "=", "!", "(", ")", ",", ">", "<"}
    reqs: List[Requirement] = []
    i = 0

    def expect_identifier(what: str) -> str:
        nonlocal i
        if i >= len(tokens) or tokens[i] in ops:
            found = tokens[i] if i < len(tokens) else ""
            raise ValueError(f"unable to parse requirement: found '{found}', expected: {what}")
        i += 1
        return tokens[i - 1]

    def check_key(key: str) -> str:
        errs = _qualified_name_errors(key)
        if errs:
            raise ValueError(f'unable to parse requirement: <nil>: Invalid value: "{key}": {"; ".join(errs)}')
        return key

    def check_value(value: str) -> str:
        if len(value) > 63 or not _LABEL_VALUE_RE.match(value):
            raise ValueError(f'unable to parse requirement: values[0][{value}]: Invalid value: "{value}": '
                             + ("must be no more than 63 characters" if len(value) > 63 else _LABEL_VALUE_MESSAGE))
        return value

    while i < len(tokens):
        if tokens[i] == "!":
            i += 1
            reqs.append(Requirement(check_key(expect_identifier("identifier")), "!", ()))
        else:
            key = check_key(expect_identifier("identifier"))
            if i >= len(tokens) or tokens[i] == ",":
                reqs.append(Requirement(key, "exists", ()))
            elif tokens[i] in ("=", "==", "!="):
                op = "!=" if tokens[i] == "!=" else "="
                i += 1
                value = ""
                if i < len(tokens) and tokens[i] not in ops:
                    value = tokens[i]
                    i += 1
                reqs.append(Requirement(key, op, (check_value(value),)))
            elif tokens[i] in (">", "<"):
                op = "gt" if tokens[i] == ">" else "lt"
                i += 1
                value = expect_identifier("integer")
                if not re.match(r"^-?\d+$", value):
                    raise ValueError(f"unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an"
                                     f" integer, got {value!r}")
                reqs.append(Requirement(key, op, (value,)))
            elif tokens[i] in ("in", "notin"):
                op = tokens[i]
                i += 1
                if i >= len(tokens) or tokens[i] != "(":
                    raise ValueError("unable to parse requirement: found '', expected: '('")
                i += 1
                values: List[str] = []
                while True:
                    if i < len(tokens) and tokens[i] not in ops:
                        values.append(check_value(tokens[i]))
                        i += 1
                    elif i < len(tokens) and tokens[i] in (",", ")") and (not values or tokens[i - 1] == ","):
                        values.append("")  # an empty value between separators
                    if i < len(tokens) and tokens[i] == ",":
                        i += 1
                        continue
                    if i < len(tokens) and tokens[i] == ")":
                        i += 1
                        break
                    found = tokens[i] if i < len(tokens) else ""
                    raise ValueError(f"unable to parse requirement: found '{found}', expected: ',' or ')'")
                if values == [""]:
                    raise ValueError("unable to parse requirement: for 'in', 'notin' operators, values set can't"
                                     " be empty")
                reqs.append(Requirement(key, op, tuple(values)))
            else:
                raise ValueError(f"unable to parse requirement: found '{tokens[i]}', expected: in, notin, =, ==,"
                                 " !=, gt, lt")
        if i < len(tokens):
            if tokens[i] != ",":
                raise ValueError(f"found '{tokens[i]}', expected: ',' or 'end of string'")
            i += 1
            if i >= len(tokens):
                raise ValueError("found '', expected: identifier after ','")
    return reqs


def labels_match(reqs: Sequence[Requirement], obj: Obj) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


class FieldTerm(NamedTuple):
    field: str
    op: str  # "=" or "!="
    value: str


def _split_unescaped(text: str, sep: str) -> List[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            cur.append(text[i:i + 2])
            i += 2
            continue
        if text[i] == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(text[i])
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape_field_value(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_field_selector(text: Optional[str], rt: ResourceType) -> List[FieldTerm]:
    """A fieldSelector string; raises ApiError 400 for an unsupported field."""
    text = (text or "").strip()
    if not text:
        return []
    terms = []
    for part in _split_unescaped(text, ","):
        if not part:
            continue
        for op in ("!=", "==", "="):
            idx = part.find(op)
            if idx > 0:
                field, value = part[:idx].strip(), _unescape_field_value(part[idx + len(op):])
                break
        else:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{part}'")
        if field not in rt.field_labels and not (rt.namespaced and field == "metadata.namespace"):
            raise bad_request(f"field label not supported: {field}")
        terms.append(FieldTerm(field, "!=" if op == "!=" else "=", value))
    return terms


def _field_value(obj: Obj, field: str) -> str:
    meta = obj.get("metadata") or {}
    if field == "metadata.name":
        return str(meta.get("name") or "")
    if field == "metadata.namespace":
        return str(meta.get("namespace") or "")
    if field == "spec.unschedulable":
        return "true" if (obj.get("spec") or {}).get("unschedulable") else "false"
    if field == "status.phase":
        return str((obj.get("status") or {}).get("phase") or "")
    if field == "type":
        return str(obj.get("type") or "")
    return ""


def fields_match(terms: Sequence[FieldTerm], obj: Obj) -> bool:
    for term in terms:
        equal = _field_value(obj, term.field) == term.value
        if equal != (term.op == "="):
            return False
    return True


# ============================================================================ JSONPath (printer columns)
_FILTER_RE = re.compile(r"""^\?\(@\.([^=!<>\s]+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|([^\s)]+))\)$""")


def _jsonpath_steps(path: str) -> List[Tuple[str, Any]]:
    steps: List[Tuple[str, Any]] = []
    i = 0
    path = path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1]
    while i < len(path):
        if path[i] == ".":
            i += 1
            name: List[str] = []
            while i < len(path) and path[i] not in ".[":
                if path[i] == "\\" and i + 1 < len(path):
                    name.append(path[i + 1])
                    i += 2
                    continue
                name.append(path[i])
                i += 1
            if name:
                steps.append(("field", "".join(name)))
        elif path[i] == "[":
            end = path.index("]", i)
            inner = path[i + 1:end]
            i = end + 1
            m = _FILTER_RE.match(inner)
            if m:
                value = next(v for v in m.groups()[2:] if v is not None)
                steps.append(("filter", (m.group(1).split("."), m.group(2), value)))
            elif inner == "*":
                steps.append(("all", None))
            else:
                steps.append(("index", int(inner)))
        else:
            raise ValueError(f"unsupported JSONPath {path!r}")
    return steps


def jsonpath(obj: Any, path: str) -> List[Any]:
    """All values a simple JSONPath (fields, [n], [*], [?(@.a=="b")]) selects."""
    values = [obj]
    for kind, arg in _jsonpath_steps(path):
        found: List[Any] = []
        for v in values:
            if kind == "field" and isinstance(v, dict) and arg in v:
                found.append(v[arg])
            elif kind == "index" and isinstance(v, list) and -len(v) <= arg < len(v):
                found.append(v[arg])
            elif kind == "all":
                found.extend(v if isinstance(v, list) else list(v.values()) if isinstance(v, dict) else [])
            elif kind == "filter" and isinstance(v, list):
                keys, op, want = arg
                for item in v:
                    cur: Any = item
                    for k in keys:
                        cur = cur.get(k) if isinstance(cur, dict) else None
                    got = cur if isinstance(cur, str) else json.dumps(cur) if cur is not None else None
                    if got is not None and (got == want) == (op == "=="):
                        found.append(item)
        values = found
    return values


# ============================================================================ patches
def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class _PatchError(Exception):
    pass


def _pointer(path: str) -> List[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise _PatchError(f"JSON pointer {path!r} must start with '/'")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc: Any, parts: List[str], path: str) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict) and p in cur:
            cur = cur[p]
        elif isinstance(cur, list) and p.isdigit() and int(p) < len(cur):
            cur = cur[int(p)]
        else:
            raise _PatchError(f'doc is missing path: "{path}": missing value')
    return cur


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise _PatchError("Unexpected kind: <nil>")
        kind, path = op.get("op"), str(op.get("path", ""))
        parts = _pointer(path)

        def get(parts: List[str], path: str) -> Any:
            return _container(doc, parts, path)

        def remove(parts: List[str], path: str) -> Any:
            if not parts:
                raise _PatchError("cannot remove the whole document")
            parent = get(parts[:-1], path)
            last = parts[-1]
            if isinstance(parent, dict) and last in parent:
                return parent.pop(last)
            if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
                return parent.pop(int(last))
            raise _PatchError(f'remove operation does not apply: doc is missing path: "{path}": missing value')

        def add(parts: List[str], value: Any, path: str) -> None:
            nonlocal doc
            if not parts:
                doc = copy.deepcopy(value)
                return
            parent = get(parts[:-1], path)
            last = parts[-1]
            if isinstance(parent, dict):
                parent[last] = copy.deepcopy(value)
            elif isinstance(parent, list):
                if last == "-":
                    parent.append(copy.deepcopy(value))
                elif last.isdigit() and int(last) <= len(parent):
                    parent.insert(int(last), copy.deepcopy(value))
                else:
                    raise _PatchError(f"add operation does not apply: index out of bounds: {path}")
            else:
                raise _PatchError(f'add operation does not apply: doc is missing path: "{path}": missing value')

        if kind == "add":
            add(parts, op.get("value"), path)
        elif kind == "remove":
            remove(parts, path)
        elif kind == "replace":
            if parts:
                get(parts, path)  # must exist
                remove(parts, path)
            add(parts, op.get("value"), path)
        elif kind in ("move", "copy"):
            src = str(op.get("from", ""))
            value = get(_pointer(src), src)
            if kind == "move":
                remove(_pointer(src), src)
            add(parts, value, path)
        elif kind == "test":
            if get(parts, path) != op.get("value"):
                raise _PatchError(f"testing value {path} failed: test failed")
        else:
            raise _PatchError(f"Unexpected kind: {kind}")
    return doc


# ============================================================================ schema (pruning + validation)
def _check_type(value: Any, want: str) -> bool:
    got = _json_type(value)
    if want == "number":
        return got in ("integer", "number")
    return got == want


def prune_and_validate(value: Any, schema: Obj, path: str, unknown: List[str], errors: List[FieldError]) -> Any:
    """Structural-schema pruning and type checks: unknown fields dropped (their paths collected)."""
    if value is None:
        return value
    want = schema.get("type")
    if want and not _check_type(value, want):
        got = _json_type(value)
        errors.append(FieldError(path, "FieldValueTypeInvalid",
                                 f'Invalid value: "{got}": {path} in body must be of type {want}: "{got}"'))
        return value
    if isinstance(value, dict):
        props = schema.get("properties")
        extra = schema.get("additionalProperties")
        if props is None and extra is None:
            return value  # x-kubernetes-preserve-unknown-fields / untyped
        out: Obj = {}
        for key, sub in value.items():
            sub_path = f"{path}.{key}" if path else key
            if props is not None and key in props:
                child = props[key]
                if sub is None and not child.get("nullable") and child.get("type"):
                    continue  # nulls of non-nullable fields are pruned
                out[key] = prune_and_validate(sub, child, sub_path, unknown, errors)
            elif isinstance(extra, dict):
                out[key] = prune_and_validate(sub, extra, sub_path, unknown, errors)
            elif schema.get("x-kubernetes-preserve-unknown-fields"):
                out[key] = sub
            else:
                unknown.append(sub_path)
        for key in schema.get("required") or ():
            if key not in out:
                errors.append(FieldError(f"{path}.{key}" if path else key, "FieldValueRequired", "Required value"))
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune_and_validate(v, schema["items"], f"{path}[{i}]", unknown, errors) for i, v in enumerate(value)]
    return value


def _metadata_errors(rt: ResourceType, meta: Obj) -> List[FieldError]:
    errs: List[FieldError] = []
    name = meta.get("name")
    if name:
        if rt.label_name:
            problems = (["must be no more than 63 characters"] if len(name) > 63 else []) + (
                [LABEL_MESSAGE] if not _DNS_LABEL_RE.match(name) else [])
        else:
            problems = _subdomain_errors(name)
        errs.extend(_invalid_value("metadata.name", name, p) for p in problems)
    labels = meta.get("labels") or {}
    if not isinstance(labels, dict):
        errs.append(FieldError("metadata.labels", "FieldValueTypeInvalid", "Invalid value: must be a map"))
        labels = {}
    for key, value in labels.items():
        errs.extend(_invalid_value("metadata.labels", key, p) for p in _qualified_name_errors(key))
        if not isinstance(value, str):
            errs.append(_invalid_value("metadata.labels", value, "label values must be strings"))
        elif len(value) > 63 or not _LABEL_VALUE_RE.match(value):
            errs.append(_invalid_value("metadata.labels", value,
                                       "must be no more than 63 characters" if len(value) > 63
                                       else _LABEL_VALUE_MESSAGE))
    annotations = meta.get("annotations") or {}
    if isinstance(annotations, dict):
        for key, value in annotations.items():
            errs.extend(_invalid_value("metadata.annotations", key, p) for p in _qualified_name_errors(key))
            if not isinstance(value, str):
                errs.append(_invalid_value("metadata.annotations", value, "annotation values must be strings"))
    return errs


# ============================================================================ the store
class WatchEvent(NamedTuple):
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    plural: str
    namespace: str
    name: str
    object: Obj  # the new state (for DELETED: the last state, at the deletion's resourceVersion)
    old: Optional[Obj]  # the previous state (MODIFIED, DELETED)


Key = Tuple[str, str]  # (namespace or "", name)


def _clone(obj: Any) -> Any:
    """A deep copy of stored JSON data: a JSON round trip is several times faster than copy.deepcopy on
    node-sized objects (managedFields are hundreds of small dicts), which keeps seeding 2,000 nodes fast."""
    try:
        return json.loads(json.dumps(obj))
    except (TypeError, ValueError):  # not plain JSON (a test put a date or a tuple): copy it as it is
        return copy.deepcopy(obj)


class Store:
    """All objects of one emulated cluster, a global resourceVersion and the watch history.

    The plain methods (put, get, list, delete, patch) are test hooks: they write directly, without
    the API's rules (status subresource, validation), and still emit watch events.
    """

    def __init__(self, history: int = 1000) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.history = history
        self._objects: Dict[str, Dict[Key, Obj]] = {rt.plural: {} for rt in RESOURCES if not rt.virtual}
        self._rv = 0
        self._events: Deque[WatchEvent] = collections.deque()
        self._compacted = 0  # events up to this resourceVersion are gone

    # ------------------------------------------------------------------------- test hooks
    @property
    def resource_version(self) -> str:
        with self.lock:
            return str(self._rv)

    def put(self, obj: Obj, resource: Optional[str] = None, *, adopt: bool = False) -> Obj:
        """Create or replace *obj* as given (status included); fills uid, resourceVersion,
        creationTimestamp and (custom resources) generation; returns the stored copy. With *adopt* the
        store keeps *obj* itself and returns it (the caller must never change it again: seeding)."""
        if not adopt:
            obj = _clone(obj)
        if resource:
            rt = resource_type(resource)
            obj.setdefault("apiVersion", rt.api_version)
            obj.setdefault("kind", rt.kind)
        else:
            found = _BY_GVK.get((str(obj.get("apiVersion")), str(obj.get("kind"))))
            if found is None:
                raise KeyError(f"no resource for apiVersion={obj.get('apiVersion')!r} kind={obj.get('kind')!r}")
            rt = found
        meta = _meta(obj)
        if not meta.get("name"):
            raise ValueError("put() needs metadata.name")
        ns = str(meta.get("namespace") or "") if rt.namespaced else ""
        if rt.namespaced:
            meta["namespace"] = ns or "default"
            ns = meta["namespace"]
        else:
            meta.pop("namespace", None)
        with self.lock:
            old = self._objects[rt.plural].get((ns, meta["name"]))
            meta.setdefault("uid", (old or {}).get("metadata", {}).get("uid") or str(uuid.uuid4()))
            meta.setdefault("creationTimestamp",
                            (old or {}).get("metadata", {}).get("creationTimestamp") or _timestamp())
            if rt.custom and "generation" not in meta:
                if old is None:
                    meta["generation"] = 1
                else:
                    meta["generation"] = int(old["metadata"].get("generation") or 1) + (
                        1 if _spec_part(old) != _spec_part(obj) else 0)
            self._commit(rt, (ns, meta["name"]), obj, old)
            return obj if adopt else _clone(obj)

    def get(self, resource: str, name: str, namespace: Optional[str] = None) -> Optional[Obj]:
        rt = resource_type(resource)
        with self.lock:
            obj = self._objects[rt.plural].get((self._ns(rt, namespace), name))
            return _clone(obj) if obj is not None else None

    def list(self, resource: str, namespace: Optional[str] = None, label_selector: Optional[str] = None) -> List[Obj]:
        rt = resource_type(resource)
        reqs = parse_label_selector(label_selector)
        with self.lock:
            items = self._select(rt, namespace, reqs, [])
            return [_clone(o) for o in items]

    def delete(self, resource: str, name: str, namespace: Optional[str] = None) -> Optional[Obj]:
        """Remove at once (finalizers ignored); returns the deleted object or None."""
        rt = resource_type(resource)
        with self.lock:
            key = (self._ns(rt, namespace), name)
            old = self._objects[rt.plural].get(key)
            if old is None:
                return None
            return _clone(self._commit(rt, key, None, old))

    def patch(self, resource: str, name: str, patch: Obj, namespace: Optional[str] = None) -> Obj:
        """Merge-patch an object directly (status included), e.g. to play the MCO in a test."""
        with self.lock:
            current = self.get(resource, name, namespace)
            if current is None:
                raise KeyError(f"{resource} {name!r} not found")
            new = merge_patch(current, patch)
            if "generation" not in ((patch.get("metadata") or {}) if isinstance(patch, dict) else {}):
                _meta(new).pop("generation", None)
            return self.put(new, resource)

    def events(self, resource: Optional[str] = None) -> List[Tuple[str, str, str, str]]:
        """The retained watch history as (type, plural, name, resourceVersion)."""
        plural = resource_type(resource).plural if resource else None
        with self.lock:
            return [(e.type, e.plural, e.name, str(e.rv)) for e in self._events if plural in (None, e.plural)]

    def compact(self) -> str:
        """Forget the watch history (like etcd compaction): older resourceVersions get 410 Gone."""
        with self.lock:
            self._events.clear()
            self._compacted = self._rv
            return str(self._rv)

    # ---------------------------------------------------------------------------- internals
    @staticmethod
    def _ns(rt: ResourceType, namespace: Optional[str]) -> str:
        return (namespace or "default") if rt.namespaced else ""

    def _select(self, rt: ResourceType, namespace: Optional[str], reqs: Sequence[Requirement],
                terms: Sequence[FieldTerm]) -> List[Obj]:
        out = []
        for (ns, _name), obj in sorted(self._objects[rt.plural].items()):
            if namespace and ns != namespace:
                continue
            if labels_match(reqs, obj) and fields_match(terms, obj):
                out.append(obj)
        return out

    def _commit(self, rt: ResourceType, key: Key, new: Optional[Obj], old: Optional[Obj]) -> Obj:
        """Write (new) or remove (None) under the lock: next resourceVersion, one watch event."""
        self._rv += 1
        if new is not None:
            _meta(new)["resourceVersion"] = str(self._rv)
            self._objects[rt.plural][key] = new
            # no copies: a stored object is never changed in place (every write stores a new one), so the
            # event can share it, and the replaced one
            event = WatchEvent(self._rv, "ADDED" if old is None else "MODIFIED", rt.plural, key[0], key[1],
                               new, old)
        else:
            assert old is not None
            del self._objects[rt.plural][key]
            gone = _clone(old)
            _meta(gone)["resourceVersion"] = str(self._rv)
            event = WatchEvent(self._rv, "DELETED", rt.plural, key[0], key[1], gone, old)
        self._events.append(event)
        while len(self._events) > self.history:
            self._compacted = self._events.popleft().rv
        self.changed.notify_all()
        return event.object

    def _events_after(self, rv: int) -> Optional[List[WatchEvent]]:
        if rv < self._compacted:
            return None
        return [e for e in self._events if e.rv > rv]


def _spec_part(obj: Obj) -> Obj:
    """What a change of bumps metadata.generation: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


# ============================================================================ API semantics
_SERVER_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


class _Semantics:
    """What the API server does to requests (on top of the store)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --------------------------------------------------------------------------- decoding
    @staticmethod
    def check_type_meta(rt: ResourceType, obj: Any, raw: bytes) -> Obj:
        if not isinstance(obj, dict):
            raise bad_request(f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: json:"
                              f" cannot unmarshal {_json_type(obj)} into Go value of type map[string]interface {{}}")
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if rt.custom and not kind:
            shown = raw.decode("utf-8", "replace")[:1024]
            raise bad_request(f"Object 'Kind' is missing in '{shown}'")
        if kind and kind != rt.kind:
            raise bad_request(f"{kind} in version \"{str(api_version or '').rpartition('/')[2]}\" cannot be handled"
                              f" as a {rt.kind}: the kind in the data ({kind}) does not match the expected kind"
                              f" ({rt.kind})")
        if api_version and api_version != rt.api_version:
            raise bad_request(f"the API version in the data ({api_version}) does not match the expected API version"
                              f" ({rt.api_version})")
        obj = dict(obj)
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
        if obj.get("metadata") is None:
            obj["metadata"] = {}
        if not isinstance(obj["metadata"], dict):
            raise bad_request(f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: json:"
                              " cannot unmarshal into Go struct field .metadata of type v1.ObjectMeta")
        return obj

    @staticmethod
    def schema_pass(rt: ResourceType, obj: Obj, validation: str, warnings: List[str]) -> Obj:
        """Prune unknown fields (Warn / Ignore / Strict) and check types: 422 (CRs), 400 (built-ins)."""
        if rt.schema is None:
            return obj
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
        unknown: List[str] = []
        errors: List[FieldError] = []
        pruned = prune_and_validate(body, rt.schema, "", unknown, errors)
        meta_unknown = [f"metadata.{k}" for k in obj["metadata"] if k not in _OBJECT_META_FIELDS]
        unknown = meta_unknown + unknown
        if unknown and validation == "Strict":
            listed = ", ".join(f'unknown field "{u}"' for u in unknown)
            raise bad_request(f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: strict"
                              f" decoding error: {listed}")
        if unknown and validation != "Ignore":
            warnings.extend(f'unknown field "{u}"' for u in unknown)
        type_errors = [e for e in errors if e.reason == "FieldValueTypeInvalid"]
        if type_errors and not rt.custom:
            e = type_errors[0]
            got = e.detail.split('"')[1]
            raise bad_request(f"{rt.kind} in version \"{rt.version}\" cannot be handled as a {rt.kind}: json: cannot"
                              f" unmarshal {got} into Go struct field {rt.kind}.{e.field} of type"
                              f" {_GO_TYPES.get(e.detail.rsplit('type ', 1)[-1].split(':')[0], 'string')}")
        out: Obj = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                    "metadata": {k: v for k, v in obj["metadata"].items() if k in _OBJECT_META_FIELDS}}
        out.update(pruned)
        out["__errors__"] = errors
        return out

    @staticmethod
    def validation_errors(rt: ResourceType, obj: Obj) -> List[FieldError]:
        errors: List[FieldError] = list(obj.pop("__errors__", []))
        errors = _metadata_errors(rt, obj["metadata"]) + errors
        if rt.kind == "ClusterVersion":
            errors += _desired_update_errors((obj.get("spec") or {}).get("desiredUpdate"))
        if rt.kind == "Secret":
            data = obj.get("data") or {}
            if obj.get("type") == "kubernetes.io/dockerconfigjson":
                if ".dockerconfigjson" not in data:
                    errors.append(FieldError("data[.dockerconfigjson]", "FieldValueRequired", "Required value"))
                else:
                    try:
                        json.loads(base64.b64decode(data[".dockerconfigjson"]))
                    except ValueError as exc:
                        errors.append(_invalid_value("data[.dockerconfigjson]", "<secret contents redacted>",
                                                     str(exc)))
        return errors

    # ----------------------------------------------------------------------------- verbs
    def create(self, rt: ResourceType, namespace: Optional[str], obj: Obj, raw: bytes, *, dry_run: bool,
               validation: str, warnings: List[str]) -> Obj:
        obj = self.check_type_meta(rt, obj, raw)
        meta = obj["metadata"]
        _place_namespace(rt, meta, namespace)
        if meta.get("resourceVersion"):
            raise bad_request("resourceVersion should not be set on objects to be created")
        if not meta.get("name") and meta.get("generateName"):
            alphabet = "bcdfghjklmnpqrstvwxz2456789"
            meta["name"] = str(meta["generateName"]) + "".join(secrets.choice(alphabet) for _ in range(5))
        obj = self.schema_pass(rt, obj, validation, warnings)
        meta = obj["metadata"]
        if rt.custom and rt.status_subresource:
            obj.pop("status", None)
        self._defaults_on_create(rt, obj)
        errors = self.validation_errors(rt, obj)
        if not meta.get("name"):
            errors.insert(0, FieldError("metadata.name", "FieldValueRequired",
                                        "Required value: name or generateName is required"))
        if errors:
            raise invalid(rt, str(meta.get("name") or ""), errors)
        name = str(meta["name"])
        for field in ("deletionTimestamp", "deletionGracePeriodSeconds", "managedFields", "selfLink"):
            meta.pop(field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _timestamp()
        if rt.custom:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        with self.store.lock:
            if rt.namespaced and ("", namespace) not in self.store._objects["namespaces"]:
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                               {"name": namespace, "kind": "namespaces"})
            key = (namespace or "", name)
            if key in self.store._objects[rt.plural]:
                raise already_exists(rt, name)
            if dry_run:
                return obj
            return copy.deepcopy(self.store._commit(rt, key, obj, None))

    def update(self, rt: ResourceType, namespace: Optional[str], name: str, obj: Obj, raw: bytes, *,
               subresource: str, dry_run: bool, validation: str, warnings: List[str]) -> Obj:
        obj = self.check_type_meta(rt, obj, raw)
        meta = obj["metadata"]
        if meta.get("name") != name:
            raise bad_request(f"the name of the object ({meta.get('name') or ''}) does not match the name on the URL"
                              f" ({name})")
        _place_namespace(rt, meta, namespace)
        obj = self.schema_pass(rt, obj, validation, warnings)
        with self.store.lock:
            key = (namespace or "", name)
            old = self.store._objects[rt.plural].get(key)
            if old is None:
                raise not_found(rt, name)
            wanted_rv = str(obj["metadata"].get("resourceVersion") or "")
            if not wanted_rv and rt.custom:
                # custom resources disallow unconditional update (apiextensions-apiserver
                # pkg/registry/customresource/strategy.go AllowUnconditionalUpdate: false; the generic
                # store's Update then answers Invalid), also through /status
                raise invalid(rt, name, [FieldError("metadata.resourceVersion", "FieldValueInvalid",
                                                    "Invalid value: 0x0: must be specified for an update")])
            if wanted_rv and wanted_rv != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name)
            if subresource == "status":
                errors = list(obj.pop("__errors__", []))
                new = copy.deepcopy(old)
                if "status" in obj:
                    new["status"] = obj["status"]
                else:
                    new.pop("status", None)
                errors = [e for e in errors if e.field.startswith("status")]
            else:
                if rt.kind == "Secret":
                    self._secret_defaults(obj)
                errors = self.validation_errors(rt, obj)
                new = obj
                if rt.status_subresource:
                    if "status" in old:
                        new["status"] = copy.deepcopy(old["status"])
                    else:
                        new.pop("status", None)
                new_meta = new["metadata"]
                for field in _SERVER_META:
                    if field in old["metadata"]:
                        new_meta[field] = old["metadata"][field]
                    else:
                        new_meta.pop(field, None)
                new_meta.pop("managedFields", None)
                new_meta.pop("selfLink", None)
                if rt.custom and _spec_part(new) != _spec_part(old):
                    new_meta["generation"] = int(old["metadata"].get("generation") or 1) + 1
            if errors:
                raise invalid(rt, name, errors)
            new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
            if new == old:
                return copy.deepcopy(old)  # a no-op update is not written
            if dry_run:
                return new
            new_meta = new["metadata"]
            if new_meta.get("deletionTimestamp") and not new_meta.get("finalizers"):
                self.store._commit(rt, key, None, new)
                return new
            return copy.deepcopy(self.store._commit(rt, key, new, old))

    def patch(self, rt: ResourceType, namespace: Optional[str], name: str, patch_type: str, raw: bytes, *,
              subresource: str, dry_run: bool, validation: str, warnings: List[str],
              field_manager: Optional[str]) -> Tuple[int, Obj]:
        with self.store.lock:  # read, patch and write as one step (the server retries conflicts itself)
            return self._patch(rt, namespace, name, patch_type, raw, subresource=subresource, dry_run=dry_run,
                               validation=validation, warnings=warnings, field_manager=field_manager)

    def _patch(self, rt: ResourceType, namespace: Optional[str], name: str, patch_type: str, raw: bytes, *,
               subresource: str, dry_run: bool, validation: str, warnings: List[str],
               field_manager: Optional[str]) -> Tuple[int, Obj]:
        if patch_type == "application/apply-patch+yaml":
            if not field_manager:
                raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value:'
                               " is required for apply patch",
                               {"group": "meta.k8s.io", "kind": "PatchOptions",
                                "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required"
                                            " for apply patch", "field": "fieldManager"}]})
            try:
                applied = yaml.safe_load(raw.decode("utf-8") or "{}")
            except (yaml.YAMLError, UnicodeDecodeError) as exc:
                raise bad_request(f"error decoding YAML: {exc}") from None
            current = self.store.get(rt.plural, name, namespace)
            if current is None:
                if subresource:
                    raise not_found(rt, name)
                applied = self.check_type_meta(rt, applied, raw)
                if _meta(applied).get("name") != name:
                    raise bad_request(f"the name of the object ({_meta(applied).get('name') or ''}) does not match"
                                      f" the name on the URL ({name})")
                return 201, self.create(rt, namespace, applied, raw, dry_run=dry_run, validation=validation,
                                        warnings=warnings)
            patched = merge_patch(current, applied)
            return 200, self.update(rt, namespace, name, patched, raw, subresource=subresource, dry_run=dry_run,
                                    validation=validation, warnings=warnings)
        try:
            body = json.loads(raw.decode("utf-8") or "null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"error decoding patch: {exc}") from None
        current = self.store.get(rt.plural, name, namespace)
        if current is None:
            raise not_found(rt, name)
        if patch_type == "application/json-patch+json":
            if not isinstance(body, list):
                raise bad_request(f"json: cannot unmarshal {_json_type(body)} into Go value of type jsonpatch.Patch")
            try:
                patched = json_patch(current, body)
            except _PatchError as exc:
                raise ApiError(422, "Invalid", "the server rejected our request due to an error in our request",
                               {"causes": [{"reason": "UnexpectedServerResponse", "message": str(exc)}]}) from None
        else:  # merge patch (strategic merge patch: core types only, treated as a merge patch)
            if not isinstance(body, dict):
                raise bad_request(f"json: cannot unmarshal {_json_type(body)} into Go value of type"
                                  " map[string]interface {}")
            patched = merge_patch(current, body)
        return 200, self.update(rt, namespace, name, patched, raw, subresource=subresource, dry_run=dry_run,
                                validation=validation, warnings=warnings)

    def delete(self, rt: ResourceType, namespace: Optional[str], name: str, options: Obj, *,
               dry_run: bool) -> Tuple[int, Obj]:
        with self.store.lock:
            key = (namespace or "", name)
            old = self.store._objects[rt.plural].get(key)
            if old is None:
                raise not_found(rt, name)
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
                raise conflict(rt, name, f"Precondition failed: UID in precondition: {pre['uid']}, UID in object"
                                         f" meta: {old['metadata'].get('uid')}")
            if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
                raise conflict(rt, name, "Precondition failed: ResourceVersion in precondition:"
                                         f" {pre['resourceVersion']}, ResourceVersion in object meta:"
                                         f" {old['metadata']['resourceVersion']}")
            if old["metadata"].get("finalizers"):
                new = copy.deepcopy(old)
                if not new["metadata"].get("deletionTimestamp"):
                    new["metadata"]["deletionTimestamp"] = _timestamp()
                    new["metadata"]["deletionGracePeriodSeconds"] = 0
                    if not dry_run:
                        return 200, copy.deepcopy(self.store._commit(rt, key, new, old))
                return 200, new
            if rt.kind == "Namespace":
                gone = copy.deepcopy(old)
                gone["metadata"]["deletionTimestamp"] = _timestamp()
                gone.setdefault("status", {})["phase"] = "Terminating"
                if not dry_run:
                    for other in RESOURCES:
                        if other.namespaced:
                            for okey in [k for k in self.store._objects[other.plural] if k[0] == name]:
                                self.store._commit(other, okey, None, self.store._objects[other.plural][okey])
                    self.store._commit(rt, key, None, old)
                return 200, gone
            if not dry_run:
                self.store._commit(rt, key, None, old)
            details = _details(rt, name, uid=old["metadata"].get("uid"))
            return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                         "details": details}

    # --------------------------------------------------------------------------- defaults
    def _defaults_on_create(self, rt: ResourceType, obj: Obj) -> None:
        if rt.kind == "Namespace":
            spec = obj.setdefault("spec", {})
            spec.setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
            labels = obj["metadata"].setdefault("labels", {})
            labels["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")
        elif rt.kind == "Secret":
            self._secret_defaults(obj)

    @staticmethod
    def _secret_defaults(obj: Obj) -> None:
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None) or {}
        data = obj.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        for key, value in data.items():
            try:
                base64.b64decode(str(value), validate=True)
            except ValueError:
                raise bad_request(f"Secret in version \"v1\" cannot be handled as a Secret: illegal base64 data at"
                                  f" input byte 0 (data[{key}])") from None
        if not data:
            obj.pop("data")


_OBJECT_META_FIELDS = frozenset({
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers",
    "managedFields",
})
_GO_TYPES = {"string": "string", "object": "map[string]string", "boolean": "bool", "array": "[]string"}


# ============================================================================ tables
def _node_cells(obj: Obj) -> List[Any]:
    meta, spec, status = obj.get("metadata") or {}, obj.get("spec") or {}, obj.get("status") or {}
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = {"True": "Ready", "False": "NotReady"}.get(str(ready), "Unknown")
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    roles: Set[str] = set()
    for key, value in (meta.get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            roles.add(key.split("/", 1)[1])
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    addresses = status.get("addresses") or []
    info = status.get("nodeInfo") or {}

    def address(kind: str) -> str:
        return ",".join(a.get("address", "") for a in addresses if a.get("type") == kind) or "<none>"

    return [meta.get("name"), state, ",".join(sorted(roles)) or "<none>", _age(obj),
            info.get("kubeletVersion", ""), address("InternalIP"), address("ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def _builtin_cells(rt: ResourceType, obj: Obj) -> List[Any]:
    name = (obj.get("metadata") or {}).get("name")
    if rt.kind == "Node":
        return _node_cells(obj)
    if rt.kind == "Namespace":
        return [name, (obj.get("status") or {}).get("phase", ""), _age(obj)]
    if rt.kind == "ConfigMap":
        return [name, len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), _age(obj)]
    if rt.kind == "Secret":
        return [name, obj.get("type", ""), len(obj.get("data") or {}), _age(obj)]
    if rt.kind == "Pod":
        return _pod_cells(obj)
    if rt.kind == "Job":
        return _job_cells(obj)
    return [name, _age(obj)]


def _pod_cells(obj: Obj) -> List[Any]:
    """kubernetes pkg/printers/internalversion/printers.go printPod: READY ready/total, STATUS the reason of a
    terminated / waiting container (Completed, Error, ...) or the phase, RESTARTS, AGE, IP, NODE."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len(spec.get("containers") or [])
    ready = sum(1 for c in statuses if c.get("ready"))
    reason = str(status.get("phase") or "Pending")
    for c in statuses:  # the last container with a reason wins, as printPod's loop does
        state = c.get("state") or {}
        if (state.get("terminated") or {}).get("reason"):
            reason = state["terminated"]["reason"]
        elif (state.get("waiting") or {}).get("reason"):
            reason = state["waiting"]["reason"]
    if reason == "Running" and ready < total:
        reason = "NotReady" if status.get("phase") == "Running" else reason
    restarts = sum(int(c.get("restartCount") or 0) for c in statuses)
    return [(obj.get("metadata") or {}).get("name"), f"{ready}/{total}", reason, restarts, _age(obj),
            status.get("podIP") or "<none>", spec.get("nodeName") or "<none>"]


def _job_cells(obj: Obj) -> List[Any]:
    """kubernetes pkg/printers/internalversion/printers.go printJob (1.30+: STATUS from the Complete / Failed /
    Suspended conditions, else Running), COMPLETIONS succeeded/completions, DURATION start to completion."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    state = ("Complete" if conditions.get("Complete") == "True" else "Failed" if conditions.get("Failed") == "True"
             else "Suspended" if spec.get("suspend") else "Running")
    completions = f"{int(status.get('succeeded') or 0)}/{int(spec.get('completions') or 1)}"
    start, end = _parse_time(str(status.get("startTime") or "")), _parse_time(str(status.get("completionTime") or ""))
    duration = human_duration(((end or _now()) - start).total_seconds()) if start else ""
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    selector = ",".join(f"{k}={v}" for k, v in sorted(((spec.get("selector") or {}).get("matchLabels") or {}).items()))
    return [(obj.get("metadata") or {}).get("name"), state, completions, duration, _age(obj),
            ",".join(str(c.get("name")) for c in containers), ",".join(str(c.get("image")) for c in containers),
            selector or "<none>"]


def _cr_cell(column: Column, obj: Obj) -> Any:
    try:
        found = jsonpath(obj, column.json_path)
    except (ValueError, IndexError):
        return None
    if not found or found[0] is None:
        return None
    value = found[0]
    if column.type == "string":
        return value if isinstance(value, str) else json.dumps(value)
    if column.type == "date":
        when = _parse_time(value) if isinstance(value, str) else None
        return human_duration((_now() - when).total_seconds()) if when else "<invalid>"
    if column.type in ("number", "integer") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value) if column.type == "integer" or float(value).is_integer() else value
    if column.type == "boolean" and isinstance(value, bool):
        return value
    return None


def table_columns(rt: ResourceType) -> List[Obj]:
    columns = list(rt.columns) if (rt.columns or not rt.custom) else [_AGE]
    out = [{"name": "Name", "type": "string", "format": "name", "description": _NAME_DESCRIPTION, "priority": 0}]
    for c in columns:
        description = c.description or (_AGE_DESCRIPTION if c.name == "Age" else "Custom resource definition column"
                                        f" (in JSONPath format): {c.json_path}")
        out.append({"name": c.name, "type": "integer" if c.name == "Data" else c.type, "format": c.format,
                    "description": description, "priority": c.priority})
    return out


def table_row(rt: ResourceType, obj: Obj, include_object: str) -> Obj:
    if rt.custom:
        columns = list(rt.columns) or [_AGE]
        cells = [(obj.get("metadata") or {}).get("name")] + [_cr_cell(c, obj) for c in columns]
    else:
        cells = _builtin_cells(rt, obj)
    row: Obj = {"cells": cells}
    if include_object == "Object":
        row["object"] = obj
    elif include_object != "None":
        row["object"] = partial_metadata(obj)
    return row


def partial_metadata(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata") or {}}


def to_table(rt: ResourceType, objs: Sequence[Obj], list_meta: Obj, include_object: str, headers: bool = True) -> Obj:
    table: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta}
    table["columnDefinitions"] = table_columns(rt) if headers else None
    table["rows"] = [table_row(rt, o, include_object) for o in objs]
    return table


# ============================================================================ discovery
def _storage_hash(rt: ResourceType) -> str:
    digest = hashlib.sha256(f"{rt.group}/{rt.version}/{rt.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


Serves = Optional[Callable[[ResourceType], bool]]  # KubeAPI.serves: what this cluster's release serves


def _served(group: str, version: str, serves: Serves = None) -> List[ResourceType]:
    return [rt for rt in RESOURCES if rt.group == group and rt.version == version and (serves is None or serves(rt))]


def api_resource_list(group: str, version: str, serves: Serves = None) -> Obj:
    resources: List[Obj] = []
    for rt in _served(group, version, serves):
        entry: Obj = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced, "kind": rt.kind,
                      "verbs": list(rt.verbs)}
        if rt.short_names:
            entry["shortNames"] = list(rt.short_names)
        if not rt.virtual:
            entry["storageVersionHash"] = _storage_hash(rt)
        resources.append(entry)
        if rt.status_subresource:
            resources.append({"name": f"{rt.plural}/status", "singularName": "", "namespaced": rt.namespaced,
                              "kind": rt.kind, "verbs": list(_STATUS_VERBS)})
        if rt.kind == "Pod":  # pods/log: get only, kind Pod (kube-apiserver's discovery for the log REST)
            resources.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod",
                              "verbs": ["get"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}" if group else version,
            "resources": resources}


def _groups(serves: Serves = None) -> List[Tuple[str, List[str]]]:
    """Served groups and their versions, the preferred (stable) version first as the real server orders them
    (apiextensions-apiserver pkg/apiserver/customresource_discovery_controller.go: sortGroupDiscoveryByKubeAwareVersion,
    and the first version listed is the preferred one)."""
    out = []
    for group in _GROUP_ORDER:
        if group:
            versions = {rt.version for rt in RESOURCES if rt.group == group and (serves is None or serves(rt))}
            out.append((group, sorted(versions, key=lambda v: (v != "v1", v))))
    return out


def api_group(group: str, versions: List[str]) -> Obj:
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": gvs, "preferredVersion": gvs[0]}


def aggregated_discovery(core: bool, version: str = "v2", serves: Serves = None) -> Obj:
    items = []
    groups = [("", ["v1"])] if core else _groups(serves)
    for group, versions in groups:
        out_versions = []
        for v in versions:
            resources = []
            for rt in _served(group, v, serves):
                entry: Obj = {"resource": rt.plural, "responseKind": {"group": rt.group, "version": v, "kind": rt.kind},
                              "scope": "Namespaced" if rt.namespaced else "Cluster", "singularResource": rt.singular,
                              "verbs": list(rt.verbs)}
                if rt.short_names:
                    entry["shortNames"] = list(rt.short_names)
                if rt.status_subresource:
                    entry["subresources"] = [{"subresource": "status", "responseKind": dict(entry["responseKind"]),
                                              "verbs": list(_STATUS_VERBS)}]
                if rt.kind == "Pod":
                    entry.setdefault("subresources", []).append({
                        "subresource": "log", "responseKind": {"group": "", "version": "", "kind": "Pod"},
                        "verbs": ["get"]})
                resources.append(entry)
            out_versions.append({"version": v, "resources": resources, "freshness": "Current"})
        meta: Obj = {"creationTimestamp": None}
        if group:
            meta["name"] = group
        items.append({"metadata": meta, "versions": out_versions})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}", "metadata": {},
            "items": items}


# ============================================================================ OpenAPI v3
_OBJECT_META_REF = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


def _schema_name(rt: ResourceType) -> str:
    if not rt.custom:
        prefix = "io.k8s.api.core" if not rt.group else "io.k8s.api." + rt.group.split(".")[0]
        return f"{prefix}.{rt.version}.{rt.kind}"
    return ".".join(reversed(rt.group.split("."))) + f".{rt.version}.{rt.kind}"


def _openapi_schema(mini: Obj) -> Obj:
    out: Obj = {}
    for key in ("type", "nullable", "x-kubernetes-preserve-unknown-fields", "required"):
        if key in mini:
            out[key] = mini[key]
    if "properties" in mini:
        out["properties"] = {k: _openapi_schema(v) for k, v in mini["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(mini.get(key), dict):
            out[key] = _openapi_schema(mini[key])
    return out


def _openapi_param(name: str, where: str = "query", required: bool = False) -> Obj:
    return {"name": name, "in": where, "required": required, "schema": {"type": "string", "uniqueItems": True}}


def openapi_v3_group(group: str, version: str, serves: Serves = None) -> Obj:
    """The OpenAPI v3 document of a group-version: enough for kubectl's field validation probe
    (a PATCH operation with a fieldValidation parameter per kind) and ``kubectl explain``."""
    paths: Obj = {}
    schemas: Obj = {_OBJECT_META_REF: {"type": "object", "properties": {
        f: {"type": "string"} for f in ("name", "generateName", "namespace", "uid", "resourceVersion",
                                        "creationTimestamp")}}}
    prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
    for rt in _served(group, version, serves):
        gvk = {"group": rt.group, "version": rt.version, "kind": rt.kind}
        name = _schema_name(rt)
        body = _openapi_schema(rt.schema or _OBJ_ANY)
        body.setdefault("type", "object")
        body.setdefault("properties", {}).update({
            "apiVersion": {"type": "string"}, "kind": {"type": "string"},
            "metadata": {"allOf": [{"$ref": f"#/components/schemas/{_OBJECT_META_REF}"}], "default": {}}})
        body["x-kubernetes-group-version-kind"] = [gvk]
        schemas[name] = body
        ref = {"$ref": f"#/components/schemas/{name}"}
        content = {"application/json": {"schema": ref}}

        def op(action: str, params: Sequence[str] = (), with_body: bool = False, rt: ResourceType = rt,
               content: Obj = content, gvk: Obj = gvk, ref: Obj = ref) -> Obj:
            out: Obj = {"operationId": f"{action}{rt.kind}", "parameters": [_openapi_param(p) for p in params],
                        "responses": {"200": {"description": "OK", "content": content}},
                        "x-kubernetes-action": action, "x-kubernetes-group-version-kind": dict(gvk)}
            if with_body:
                out["requestBody"] = {"content": {"*/*": {"schema": ref}}, "required": True}
            return out

        write = ("dryRun", "fieldManager", "fieldValidation")
        collection = f"{prefix}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{prefix}/{rt.plural}"
        scope_params = [_openapi_param("namespace", "path", True)] if rt.namespaced else []
        if rt.virtual:
            paths[collection] = {"post": op("post", write, True), "parameters": scope_params}
            continue
        paths[collection] = {
            "get": op("list", ("labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch")),
            "post": op("post", write, True), "parameters": scope_params}
        if "deletecollection" in rt.verbs:
            paths[collection]["delete"] = op("deletecollection", ("labelSelector", "fieldSelector", "dryRun"))
        item_params = [_openapi_param("name", "path", True)] + scope_params
        item = {"get": op("get"), "put": op("put", write, True), "patch": op("patch", write + ("force",), True),
                "delete": op("delete", ("dryRun",)), "parameters": item_params}
        paths[f"{collection}/{{name}}"] = item
        if rt.status_subresource:
            paths[f"{collection}/{{name}}/status"] = {
                "get": op("get"), "put": op("put", write, True), "patch": op("patch", write + ("force",), True),
                "parameters": item_params}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "unversioned"}, "paths": paths,
            "components": {"schemas": schemas}}


def _openapi_hash(doc: Obj) -> str:
    return hashlib.sha512(json.dumps(doc, sort_keys=True).encode()).hexdigest().upper()


def openapi_v3_root(serves: Serves = None) -> Obj:
    paths: Obj = {}
    for group, versions in [("", ["v1"])] + _groups(serves):
        for version in versions:
            key = f"apis/{group}/{version}" if group else f"api/{version}"
            digest = _openapi_hash(openapi_v3_group(group, version, serves))
            paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


# ============================================================================ content negotiation
class _Accept(NamedTuple):
    format: str  # json, yaml, table, partial, discovery
    param: str = ""  # discovery version; for partial, the kind asked for


def _not_acceptable() -> ApiError:
    return ApiError(406, "NotAcceptable", "only the following media types are accepted: application/json,"
                    " application/yaml, application/vnd.kubernetes.protobuf")


def _as_version(obj: Obj, rt: ResourceType) -> Obj:
    """A custom resource read through another served version: the CRD's None conversion only
    rewrites apiVersion (apiextensions-apiserver pkg/apiserver/conversion/nop_converter.go)."""
    if rt.custom and obj.get("apiVersion") not in (None, rt.api_version):
        obj = dict(obj, apiVersion=rt.api_version)
    return obj


def negotiate(accept: Optional[str], discovery: Sequence[str] = ("v2", "v2beta1")) -> Optional[_Accept]:
    """The first media range of an Accept header that the server can produce (None: 406)."""
    if not accept or not accept.strip():
        return _Accept("json")
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        params = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        if params.get("q") == "0":
            continue
        if media in ("application/json", "application/*", "*/*"):
            as_ = params.get("as")
            if not as_:
                return _Accept("json")
            if as_ == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
                return _Accept("table")
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList") and params.get("g") == "meta.k8s.io":
                return _Accept("partial", as_)
            if as_ == "APIGroupDiscoveryList" and params.get("g") == "apidiscovery.k8s.io" and params.get(
                    "v") in discovery:
                return _Accept("discovery", params["v"])
        elif media in ("application/yaml", "application/*+yaml"):
            return _Accept("yaml")
    return None


# ============================================================================ HTTP
class KubeRequest(NamedTuple):
    method: str
    path: str
    query: Dict[str, str]


@dataclasses.dataclass
class KubeCall:
    """One request in detail (``KubeAPI.calls``): status is None until answered (or for a dropped one)."""

    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]
    body: bytes = b""
    status: Optional[int] = None
    user: Optional[str] = None
    sent: int = 0  # response body bytes (a watch: every chunk so far), what the client had to read


class _User(NamedTuple):
    name: str
    groups: Tuple[str, ...]


class _Rule(NamedTuple):
    verb: str
    resource: str  # plural or plural/subresource, "*" for any
    namespace: Optional[str]
    user: Optional[str]


class _Fault(NamedTuple):
    method: Optional[str]
    path: Optional[str]
    status: Obj
    remaining: List[int]  # a one-element counter


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, api: KubeAPI, context: ssl.SSLContext) -> None:
        self.api = api
        self.context = context
        self.connections: Set[socket.socket] = set()
        self.busy: Set[socket.socket] = set()  # connections in the middle of a request (or a watch)
        self.threads: Set[threading.Thread] = set()
        self.conn_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> Tuple[socket.socket, Any]:
        sock, addr = self.socket.accept()
        tls = self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return tls, addr

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.conn_lock:
            self.connections.add(request)
            self.threads.add(threading.current_thread())
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.conn_lock:
                self.connections.discard(request)
                self.threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (OSError, EOFError)):
            return  # clients going away, TLS handshakes of port probes
        self.api._record_error(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "kube-apiserver-emulator"
    sys_version = ""
    timeout = 60  # idle keep-alive connections and stuck clients
    server: _Server
    _call: KubeCall

    def setup(self) -> None:
        super().setup()
        self.connection.do_handshake()  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_GET(self) -> None:  # noqa: N802 - BaseHTTPRequestHandler's names
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._dispatch("PUT")

    def do_PATCH(self) -> None:  # noqa: N802
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:  # noqa: N802
        self._dispatch("DELETE")

    # -------------------------------------------------------------------------- plumbing
    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _headers_common(self) -> None:
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("X-Kubernetes-Pf-Flowschema-Uid", self.server.api._flowschema_uid)
        self.send_header("X-Kubernetes-Pf-Prioritylevel-Uid", self.server.api._prioritylevel_uid)

    def _send(self, code: int, body: bytes, content_type: str = "application/json",
              warnings: Sequence[str] = ()) -> None:
        self.send_response(code)
        self._headers_common()
        self.send_header("Content-Type", content_type)
        for w in warnings:
            self.send_header("Warning", '299 - "' + w.replace("\\", "\\\\").replace('"', '\\"') + '"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self._call.status = code
        self._call.sent += len(body)

    def _send_obj(self, code: int, obj: Obj, fmt: Optional[_Accept] = None, warnings: Sequence[str] = (),
                  content_type: Optional[str] = None, sort_keys: bool = False) -> None:
        if fmt is not None and fmt.format == "yaml":
            body = yaml.safe_dump(obj, sort_keys=False).encode()
            self._send(code, body, "application/yaml", warnings)
            return
        body = json.dumps(obj, separators=(",", ":"), sort_keys=sort_keys).encode() + b"\n"
        self._send(code, body, content_type or "application/json", warnings)

    # --------------------------------------------------------------------------- dispatch
    def _dispatch(self, method: str) -> None:
        api = self.server.api
        with self.server.conn_lock:
            self.server.busy.add(self.connection)
        try:
            self._handle(api, method)
        finally:
            with self.server.conn_lock:
                self.server.busy.discard(self.connection)
            if api._stopping.is_set():
                self.close_connection = True

    def _handle(self, api: KubeAPI, method: str) -> None:
        url = urlsplit(self.path)
        path = unquote(url.path) or "/"
        multi = parse_qs(url.query, keep_blank_values=True)
        query = {k: v[-1] for k, v in multi.items()}
        self._call = api._log(method, path, query, dict(self.headers.items()))
        try:
            raw = self._read_body()
            self._call.body = raw
            fault = api._fault_for(method, path)
            if fault is not None:
                self._send_obj(int(fault["code"]), fault)
                return
            user = self._authenticate(path)
            self._call.user = user.name if user else "system:anonymous"
            self._route(method, path, query, multi, raw, user)
        except ApiError as exc:
            self._send_obj(exc.code, exc.status)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, socket.timeout):
            self.close_connection = True
        except Exception:
            api._record_error(traceback.format_exc())
            self.close_connection = True
            try:
                self._send_obj(500, status_body(500, "InternalError", "emulator error (see KubeAPI.errors)"))
            except OSError:
                pass

    def _authenticate(self, path: str) -> Optional[_User]:
        api = self.server.api
        header = self.headers.get("Authorization")
        if header is None:
            if path.rstrip("/") in ANONYMOUS_PATHS:
                return None  # system:public-info-viewer
            raise self._anonymous_forbidden(path)
        scheme, _, token = header.partition(" ")
        user = api._users.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        return user

    def _anonymous_forbidden(self, path: str) -> ApiError:
        try:
            target = _parse_resource_path(path)
        except ApiError:
            target = None
        if target is None:
            return ApiError(403, "Forbidden", f'forbidden: User "system:anonymous" cannot get path "{path}"', {})
        rt, ns, name, sub, _watch = target
        verb = {"GET": "get" if name else "list", "POST": "create", "PUT": "update", "PATCH": "patch",
                "DELETE": "delete" if name else "deletecollection"}.get(self.command, "get")
        return forbidden(rt, verb, "system:anonymous", name, ns, sub)

    def _route(self, method: str, path: str, query: Dict[str, str], multi: Dict[str, List[str]], raw: bytes,
               user: Optional[_User]) -> None:
        api = self.server.api
        fmt = negotiate(self.headers.get("Accept"), api._discovery_versions())
        clean = "/" + "/".join(s for s in path.split("/") if s)
        if clean in ("/healthz", "/livez", "/readyz"):
            self._send(200, b"ok", "text/plain; charset=utf-8")
            return
        if clean == "/version":
            self._send_obj(200, api.version_info())
            return
        if clean == "/.well-known/oauth-authorization-server":
            issuer = api.url.replace("127.0.0.1", "oauth-openshift.apps.emulator.local")
            self._send_obj(200, {"issuer": issuer, "authorization_endpoint": issuer + "/oauth/authorize",
                                 "token_endpoint": issuer + "/oauth/token"})
            return
        if clean == "/openapi/v3":
            self._require(method, "GET")
            self._send_obj(200, openapi_v3_root(api.serves))
            return
        if clean == "/openapi/v2":
            raise page_not_found()  # kubectl asks for protobuf there; it copes without, as with old servers
        if clean.startswith("/openapi/v3/"):
            self._require(method, "GET")
            key = clean[len("/openapi/v3/"):].split("/")
            if key[0] == "api" and len(key) == 2 and _served("", key[1], api.serves):
                self._send_obj(200, openapi_v3_group("", key[1], api.serves))
                return
            if key[0] == "apis" and len(key) == 3 and _served(key[1], key[2], api.serves):
                self._send_obj(200, openapi_v3_group(key[1], key[2], api.serves))
                return
            raise page_not_found()
        if fmt is None:
            raise _not_acceptable()
        if clean in ("/api", "/apis"):
            self._require(method, "GET")
            core = clean == "/api"
            if fmt.format == "discovery":
                ctype = f"application/json;g=apidiscovery.k8s.io;v={fmt.param};as=APIGroupDiscoveryList"
                self._send_obj(200, aggregated_discovery(core, fmt.param, api.serves), content_type=ctype)
            elif core:
                self._send_obj(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                    {"clientCIDR": "0.0.0.0/0", "serverAddress": api.host}]})
            else:
                groups = [api_group(g, vs) for g, vs in _groups(api.serves)]
                self._send_obj(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
            return
        segs = [s for s in path.split("/") if s]
        if len(segs) == 2 and segs[0] == "apis":
            self._require(method, "GET")
            for group, versions in _groups(api.serves):
                if group == segs[1]:
                    self._send_obj(200, dict({"kind": "APIGroup", "apiVersion": "v1"}, **api_group(group, versions)))
                    return
            raise page_not_found()
        if (len(segs) == 2 and segs[0] == "api") or (len(segs) == 3 and segs[0] == "apis"):
            group, version = ("", segs[1]) if segs[0] == "api" else (segs[1], segs[2])
            if not _served(group, version, api.serves):
                raise page_not_found()
            self._require(method, "GET")
            self._send_obj(200, api_resource_list(group, version, api.serves))
            return
        target = _parse_resource_path(path)
        if target is None or not api.serves(target[0]):
            # a resource this release does not serve (or only behind a feature gate): the CRD handler passes a
            # version it does not serve to the delegate, whose answer is 404 (apiextensions-apiserver
            # pkg/apiserver/customresource_handler.go, ServeHTTP: HasServedCRDVersion)
            raise page_not_found()
        self._resource(method, target, query, multi, raw, user, fmt)

    @staticmethod
    def _require(method: str, allowed: str) -> None:
        if method != allowed:
            raise method_not_allowed()

    # -------------------------------------------------------------------------- resources
    def _resource(self, method: str, target: Tuple[ResourceType, Optional[str], Optional[str], str, bool],
                  query: Dict[str, str], multi: Dict[str, List[str]], raw: bytes, user: Optional[_User],
                  fmt: _Accept) -> None:
        api = self.server.api
        rt, ns, name, sub, watch_path = target
        if sub == "log":
            self._require(method, "GET")
            assert user is not None and ns is not None and name is not None
            api._authorize(user, "get", rt, sub, name, ns)
            self._pod_log(ns, name, query)
            return
        watch = watch_path or _truthy(query.get("watch"))
        if method == "GET":
            verb = "watch" if watch else ("get" if name else "list")
        elif method == "POST":
            verb = "create"
        elif method == "PUT":
            verb = "update"
        elif method == "PATCH":
            verb = "patch"
        elif method == "DELETE":
            verb = "delete" if name else "deletecollection"
        else:
            raise method_not_allowed()
        if sub:
            if verb not in _STATUS_VERBS:
                raise method_not_allowed()
        elif verb not in rt.verbs or (verb == "create" and name) or (verb in ("update", "patch") and not name):
            raise method_not_allowed()
        if rt.namespaced and ns is None and verb not in ("list", "watch"):
            raise page_not_found()
        assert user is not None
        api._authorize(user, verb, rt, sub, name, ns)
        dry_run = self._dry_run(multi)
        validation = query.get("fieldValidation") or "Warn"
        if validation not in ("Ignore", "Warn", "Strict"):
            raise bad_request(f'fieldValidation: Unsupported value: "{validation}": supported values: "Ignore",'
                              ' "Strict", "Warn"')
        sem = api._semantics
        warnings: List[str] = []
        sort = rt.custom
        if rt.virtual:
            self._review(rt, raw, user, api)
            return
        if verb == "watch":
            self._watch(rt, ns, name, query, fmt)
        elif verb == "list":
            self._list(rt, ns, query, fmt)
        elif verb == "get":
            assert name is not None
            obj = api.store.get(rt.plural, name, ns)
            if obj is None:
                raise not_found(rt, name)
            self._send_one(obj, rt, fmt, query)
        elif verb == "create":
            obj = self._decode(raw, rt)
            created = sem.create(rt, ns, obj, raw, dry_run=dry_run, validation=validation, warnings=warnings)
            self._send_obj(201, created, fmt, warnings, sort_keys=sort)
        elif verb == "update":
            assert name is not None
            obj = self._decode(raw, rt)
            updated = sem.update(rt, ns, name, obj, raw, subresource=sub, dry_run=dry_run, validation=validation,
                                 warnings=warnings)
            self._send_obj(200, updated, fmt, warnings, sort_keys=sort)
        elif verb == "patch":
            assert name is not None
            patch_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            accepted = ["application/json-patch+json", "application/merge-patch+json"]
            if not rt.custom:
                accepted.append("application/strategic-merge-patch+json")
            accepted.append("application/apply-patch+yaml")
            if patch_type not in accepted:
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format -"
                               " accepted media types include: " + ", ".join(accepted), {})
            code, patched = sem.patch(rt, ns, name, patch_type, raw, subresource=sub, dry_run=dry_run,
                                      validation=validation, warnings=warnings,
                                      field_manager=query.get("fieldManager"))
            self._send_obj(code, patched, fmt, warnings, sort_keys=sort)
        elif verb == "delete":
            assert name is not None
            options = self._decode_options(raw)
            dry_run = dry_run or "All" in (options.get("dryRun") or [])
            code, result = sem.delete(rt, ns, name, options, dry_run=dry_run)
            self._send_obj(code, result, fmt, sort_keys=sort and result.get("kind") != "Status")
        elif verb == "deletecollection":
            options = self._decode_options(raw)
            dry_run = dry_run or "All" in (options.get("dryRun") or [])
            reqs, terms = self._selectors(rt, query)
            with api.store.lock:
                victims = api.store._select(rt, ns, reqs, terms)
                names = [(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in victims]
                deleted = []
                for vns, vname in names:
                    code, result = sem.delete(rt, vns, vname, options, dry_run=dry_run)
                    if result.get("kind") == "Status":
                        deleted.append(next(o for o in victims if o["metadata"]["name"] == vname
                                            and o["metadata"].get("namespace") == vns))
                    else:
                        deleted.append(result)
                listing = {"apiVersion": rt.api_version, "items": deleted, "kind": rt.list_kind,
                           "metadata": {"resourceVersion": str(api.store._rv)}}
            self._send_obj(200, listing, fmt, sort_keys=sort)

    @staticmethod
    def _dry_run(multi: Dict[str, List[str]]) -> bool:
        values = [v for v in multi.get("dryRun", []) if v]
        for v in values:
            if v != "All":
                raise ApiError(422, "Invalid", f'DryRun: Unsupported value: "{v}": supported values: "All"')
        return bool(values)

    def _decode(self, raw: bytes, rt: ResourceType) -> Any:
        ctype = (self.headers.get("Content-Type") or "application/json").split(";")[0].strip().lower()
        try:
            if ctype in ("application/yaml", "application/x-yaml", "text/yaml"):
                return yaml.safe_load(raw.decode("utf-8"))
            if ctype not in ("application/json", "*/*", ""):
                accepted = "application/json, application/yaml" + (
                    "" if rt.custom else ", application/vnd.kubernetes.protobuf")
                raise ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown format -'
                               f' accepted media types include: {accepted}', {})
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from None

    @staticmethod
    def _decode_options(raw: bytes) -> Obj:
        if not raw.strip():
            return {}
        try:
            options = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from None
        return options if isinstance(options, dict) else {}

    @staticmethod
    def _selectors(rt: ResourceType, query: Dict[str, str]) -> Tuple[List[Requirement], List[FieldTerm]]:
        try:
            reqs = parse_label_selector(query.get("labelSelector"))
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        return reqs, parse_field_selector(query.get("fieldSelector"), rt)

    def _send_one(self, obj: Obj, rt: ResourceType, fmt: _Accept, query: Dict[str, str]) -> None:
        obj = _as_version(obj, rt)
        if fmt.format == "partial" and fmt.param != "PartialObjectMetadata":
            # staging/src/k8s.io/apiserver/pkg/endpoints/handlers/response.go (transformResponseObject):
            # one object transforms to PartialObjectMetadata only, a list to PartialObjectMetadataList only
            raise _not_acceptable()
        if fmt.format == "table":
            meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            self._send_obj(200, to_table(rt, [obj], meta, query.get("includeObject", "Metadata")))
        elif fmt.format == "partial":
            self._send_obj(200, partial_metadata(obj))
        else:
            self._send_obj(200, obj, fmt, sort_keys=rt.custom)

    def _list(self, rt: ResourceType, ns: Optional[str], query: Dict[str, str], fmt: _Accept) -> None:
        api = self.server.api
        if fmt.format == "partial" and fmt.param != "PartialObjectMetadataList":
            raise _not_acceptable()  # handlers/response.go: a list is PartialObjectMetadataList or nothing
        reqs, terms = self._selectors(rt, query)
        limit = int(query.get("limit") or 0) if (query.get("limit") or "0").isdigit() else 0
        cont = query.get("continue") or ""
        with api.store.lock:
            items = api.store._select(rt, ns, reqs, terms)
            rv = api.store._rv
            items = [_as_version(copy.deepcopy(o), rt) for o in items]
        if cont:
            try:
                token = json.loads(base64.b64decode(cont))
                start = str(token["start"])
            except (ValueError, KeyError, TypeError):
                raise bad_request("continue key is not valid: incorrect encoded start resourceVersion (version"
                                  " meta.k8s.io/v1)") from None
            items = [o for o in items if _list_key(o) >= start]
        meta: Obj = {"resourceVersion": str(rv)}
        if limit and len(items) > limit:
            rest = len(items) - limit
            items, after = items[:limit], items[limit]
            token = {"v": "meta.k8s.io/v1", "rv": rv, "start": _list_key(after)}
            meta["continue"] = base64.b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()
            if not reqs and not terms:
                meta["remainingItemCount"] = rest
        if fmt.format == "table":
            self._send_obj(200, to_table(rt, items, meta, query.get("includeObject", "Metadata")))
            return
        if fmt.format == "partial":
            listing = {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                       "items": [partial_metadata(o) for o in items]}
            self._send_obj(200, listing)
            return
        if rt.custom:
            listing = {"apiVersion": rt.api_version, "items": items, "kind": rt.list_kind, "metadata": meta}
        else:
            listing = {"kind": rt.list_kind, "apiVersion": rt.api_version, "metadata": meta, "items": items}
        self._send_obj(200, listing, fmt, sort_keys=rt.custom)

    def _review(self, rt: ResourceType, raw: bytes, user: _User, api: KubeAPI) -> None:
        body = self._decode(raw, rt)
        if not isinstance(body, dict):
            raise bad_request("the body must be an object")
        if rt.kind == "SelfSubjectReview":
            out = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"creationTimestamp": None},
                   "status": {"userInfo": {"username": user.name, "groups": list(user.groups)}}}
            self._send_obj(201, out)
            return
        spec = body.get("spec") or {}
        attrs = spec.get("resourceAttributes")
        allowed = True
        if isinstance(attrs, dict):
            resource = str(attrs.get("resource") or "")
            if attrs.get("subresource"):
                resource += "/" + str(attrs["subresource"])
            allowed = not api._denied(user, str(attrs.get("verb") or ""), resource, attrs.get("namespace"))
        status: Obj = {"allowed": allowed}
        if allowed:
            status["reason"] = ('RBAC: allowed by ClusterRoleBinding "cluster-admins" of ClusterRole "cluster-admin"'
                                ' to Group "system:cluster-admins"')
        out = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": {"creationTimestamp": None},
               "spec": spec, "status": status}
        self._send_obj(201, out)

    # ------------------------------------------------------------------------------ pods/log
    def _pod_log(self, ns: str, name: str, query: Dict[str, str]) -> None:
        """GET pods/NAME/log as kube-apiserver answers it (kubernetes pkg/registry/core/pod/rest/log.go: the
        options validated by pkg/apis/core/validation ValidatePodLogOptions, the container chosen by
        pkg/registry/core/pod/strategy.go LogLocation / ValidateContainer; the text as the kubelet serves
        it, tailLines before limitBytes, pkg/kubelet/kuberuntime/logs)."""
        api = self.server.api
        rt = resource_type("pods")
        pod = api.store.get("pods", name, ns)
        if pod is None:
            raise not_found(rt, name)

        def number(key: str, least: int, rule: str) -> Optional[int]:
            text = query.get(key)
            if text is None or text == "":
                return None
            try:
                value = int(text)
            except ValueError:
                raise bad_request(f'{key}: Invalid value: "{text}": strconv.ParseInt: parsing "{text}": invalid'
                                  " syntax") from None
            if value < least:
                raise ApiError(422, "Invalid", f'PodLogOptions "{name}" is invalid: {key}: Invalid value: {value}:'
                               f" {rule}", {"name": name, "kind": "PodLogOptions", "causes": [
                                   {"reason": "FieldValueInvalid", "message": f"Invalid value: {value}: {rule}",
                                    "field": key}]})
            return value

        tail = number("tailLines", 0, "must be greater than or equal to 0")
        limit = number("limitBytes", 1, "must be greater than 0")
        names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
        container = query.get("container") or ""
        if not container:
            if len(names) != 1:
                raise bad_request(f"a container name must be specified for pod {name}, choose one of:"
                                  f" [{' '.join(names)}]")
            container = names[0]
        elif container not in names:
            raise bad_request(f"container {container} is not valid for pod {name}")
        logs = api.pod_logs
        if not logs.started(ns, name, container):
            # the kubelet's answer before the container runs (pkg/kubelet/kubelet_pods.go validateContainerLogStatus)
            raise bad_request(f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating')
        data, ended = logs.read(ns, name, container)
        offset = len(data)  # what this first read saw: output appended after it is streamed below
        if tail is not None:
            lines = data.splitlines(keepends=True)
            data = b"".join(lines[len(lines) - tail:]) if tail else b""
        follow = _truthy(query.get("follow"))
        if not follow or ended:
            if limit is not None:
                data = data[:limit]
            self._send(200, data, "text/plain")
            return
        self.send_response(200)
        self._headers_common()
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._call.status = 200
        sent = 0
        while True:
            if limit is not None:
                data = data[:limit - sent]
            if data:
                self._chunk(data)
                sent += len(data)
            if (limit is not None and sent >= limit) or ended or api._stopping.is_set():
                break
            if api.store.get("pods", name, ns) is None:  # the pod was deleted: the kubelet closes the stream
                break
            with logs.changed:
                more, ended = logs.read(ns, name, container, offset)
                if not more and not ended:
                    logs.changed.wait(0.2)
                    more, ended = logs.read(ns, name, container, offset)
            offset += len(more)
            data = more
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ------------------------------------------------------------------------------ watch
    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
        self._call.sent += len(data)

    def _event(self, etype: str, obj: Obj, rt: ResourceType, fmt: _Accept, state: Dict[str, bool],
               include_object: str) -> None:
        if fmt.format == "table" and etype in ("ADDED", "MODIFIED", "DELETED"):
            meta = {"resourceVersion": obj["metadata"].get("resourceVersion", "")}
            obj = to_table(rt, [obj], meta, include_object, headers=not state.get("headers_sent"))
            state["headers_sent"] = True
        elif fmt.format == "partial" and etype in ("ADDED", "MODIFIED", "DELETED"):
            obj = partial_metadata(obj)
        elif etype in ("ADDED", "MODIFIED", "DELETED"):
            obj = _as_version(obj, rt)
        line = json.dumps({"type": etype, "object": obj}, separators=(",", ":"), sort_keys=False)
        self._chunk(line.encode() + b"\n")

    def _watch(self, rt: ResourceType, ns: Optional[str], name: Optional[str], query: Dict[str, str],
               fmt: _Accept) -> None:
        api = self.server.api
        store = api.store
        if fmt.format == "partial" and fmt.param != "PartialObjectMetadata":
            # staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go: each event is one object, so
            # PartialObjectMetadata (as client-go's metadata informers ask); the List form is not acceptable
            # (stricter where unsure)
            raise _not_acceptable()
        reqs, terms = self._selectors(rt, query)
        if name:
            terms.append(FieldTerm("metadata.name", "=", name))
        rv_param = query.get("resourceVersion") or ""
        if rv_param and not rv_param.isdigit():
            raise bad_request(f'resourceVersion: Invalid value: "{rv_param}": must be a non-negative integer')
        send_initial = query.get("sendInitialEvents")
        if send_initial is not None and query.get("resourceVersionMatch") != "NotOlderThan":
            raise ApiError(422, "Invalid", 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden:'
                           " sendInitialEvents requires setting resourceVersionMatch to NotOlderThan")
        initial_events = _truthy(send_initial) if send_initial is not None else rv_param in ("", "0")
        bookmarks = _truthy(query.get("allowWatchBookmarks"))
        try:
            timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else api.watch_timeout
        except ValueError:
            raise bad_request("timeoutSeconds must be a number") from None
        include_object = query.get("includeObject", "Metadata")

        def matches(obj: Optional[Obj]) -> bool:
            if obj is None:
                return False
            if ns and obj["metadata"].get("namespace") != ns:
                return False
            return labels_match(reqs, obj) and fields_match(terms, obj)

        start = time.monotonic()
        deadline = start + timeout
        expired: Optional[Tuple[int, int]] = None
        with store.lock:
            current = store._rv
            initial = [copy.deepcopy(o) for o in store._select(rt, ns, reqs, terms)] if initial_events else []
            last = current if (initial_events or not rv_param) else int(rv_param)
            if rv_param and int(rv_param) and int(rv_param) < store._compacted and not initial_events:
                expired = (int(rv_param), store._compacted + 1)
        self.send_response(200)
        self._headers_common()
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._call.status = 200
        state: Dict[str, bool] = {}

        def bookmark(rv: int, annotations: Optional[Dict[str, str]] = None) -> None:
            meta: Obj = {"resourceVersion": str(rv)}
            if not rt.custom:
                meta["creationTimestamp"] = None
            if annotations:
                meta["annotations"] = annotations
            obj = {"kind": rt.kind, "apiVersion": rt.api_version, "metadata": meta}
            if fmt.format == "table":
                obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": str(rv)},
                       "columnDefinitions": None, "rows": None}
            self._chunk(json.dumps({"type": "BOOKMARK", "object": obj}, separators=(",", ":")).encode() + b"\n")

        def gone(asked: int, oldest: int) -> None:
            status = status_body(410, "Expired", f"too old resource version: {asked} ({oldest})")
            self._chunk(json.dumps({"type": "ERROR", "object": status}, separators=(",", ":")).encode() + b"\n")

        try:
            if expired:
                gone(*expired)
                return
            for obj in initial:
                self._event("ADDED", obj, rt, fmt, state, include_object)
            if send_initial is not None and initial_events and bookmarks:
                bookmark(last, {"k8s.io/initial-events-end": "true"})
            interval = max(api.bookmark_interval, 0.01)
            next_bookmark = start + interval
            if deadline - start > 2:
                next_bookmark = min(next_bookmark, deadline - 2)  # the watch cache's "before the deadline"
            while not api._stopping.is_set():
                now = time.monotonic()
                if now >= deadline:
                    break
                wake = min(deadline, next_bookmark) if bookmarks else deadline
                with store.lock:
                    events = store._events_after(last)
                    if events == [] and not api._stopping.is_set():
                        store.changed.wait(timeout=max(0.0, min(wake - now, 1.0)))
                        events = store._events_after(last)
                    current = store._rv
                    compacted = store._compacted
                if events is None:
                    gone(last, compacted + 1)
                    return
                for ev in events:
                    if ev.plural != rt.plural:
                        continue
                    old_in, new_in = matches(ev.old), matches(ev.object)
                    if ev.type == "ADDED" and new_in:
                        self._event("ADDED", ev.object, rt, fmt, state, include_object)
                    elif ev.type == "DELETED" and (old_in or new_in):
                        self._event("DELETED", ev.object, rt, fmt, state, include_object)
                    elif ev.type == "MODIFIED":
                        if old_in and new_in:
                            self._event("MODIFIED", ev.object, rt, fmt, state, include_object)
                        elif old_in:
                            self._event("DELETED", ev.object, rt, fmt, state, include_object)
                        elif new_in:
                            self._event("ADDED", ev.object, rt, fmt, state, include_object)
                last = current
                if bookmarks and time.monotonic() >= next_bookmark:
                    bookmark(last)
                    next_bookmark = time.monotonic() + interval
        finally:
            try:
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except OSError:
                self.close_connection = True
            if api._stopping.is_set():
                self.close_connection = True


def _list_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name')}"


def _parse_resource_path(path: str) -> Optional[Tuple[ResourceType, Optional[str], Optional[str], str, bool]]:
    """(resource, namespace, name, subresource, legacy /watch/ path) of a resource URL, None if it is none."""
    segs = [s for s in path.split("/") if s]
    if len(segs) >= 3 and segs[0] == "api" and segs[1] == "v1":
        group, version, rest = "", "v1", segs[2:]
    elif len(segs) >= 4 and segs[0] == "apis":
        group, version, rest = segs[1], segs[2], segs[3:]
    else:
        return None
    watch = False
    if rest and rest[0] == "watch":
        watch, rest = True, rest[1:]
    ns: Optional[str] = None
    if len(rest) >= 3 and rest[0] == "namespaces" and not (group == "" and rest[2] in ("status", "finalize")):
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    rt = _BY_GVR.get((group, version, rest[0]))
    if rt is None:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else ""
    if ns is not None and not rt.namespaced:
        return None
    if ns is None and rt.namespaced and name is not None:
        return None
    if sub and not ((sub == "status" and rt.status_subresource) or (sub == "log" and rt.kind == "Pod")):
        return None
    return rt, ns, name, sub, watch


def forbidden(rt: ResourceType, verb: str, user: str, name: Optional[str], namespace: Optional[str],
              sub: str = "") -> ApiError:
    resource = rt.plural + (f"/{sub}" if sub else "")
    scope = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
    why = f'User "{user}" cannot {verb} resource "{resource}" in API group "{rt.group}" {scope}'
    subject = f'{rt.group_resource} "{name}"' if name else rt.group_resource
    message = f"{subject} is forbidden: {why}"
    return ApiError(403, "Forbidden", message, _details(rt, name or ""))


# ============================================================================ certificates
_CERT_LOCK = threading.Lock()
_SHARED_CERT: Optional[Tuple[Path, Path]] = None


def make_cert(directory: PathLike) -> Tuple[Path, Path]:
    """A self-signed EC certificate for 127.0.0.1 / localhost (cert, key) made with openssl."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    cert, key = d / "apiserver.crt", d / "apiserver.key"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-days", "2", "-subj", "/CN=kube-apiserver-emulator",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", str(key), "-out", str(cert)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30,
        )
    except FileNotFoundError:
        raise RigError("openssl is not installed: apt-get install openssl") from None
    except subprocess.CalledProcessError as exc:
        raise RigError(f"openssl req failed: {exc.stderr.decode(errors='replace')}") from None
    os.chmod(str(key), 0o600)
    return cert, key


def _shared_cert() -> Tuple[Path, Path]:
    """One certificate per test process (making one costs more than starting a server)."""
    global _SHARED_CERT
    with _CERT_LOCK:
        if _SHARED_CERT is None or not _SHARED_CERT[0].exists():
            d = Path(tempfile.mkdtemp(prefix="kubeapi-cert-"))
            atexit.register(shutil.rmtree, str(d), True)
            _SHARED_CERT = make_cert(d)
        return _SHARED_CERT


def skip_reason() -> Optional[str]:
    """Why KubeAPI cannot run here (it needs openssl for its certificate), or None."""
    return None if shutil.which("openssl") else "openssl not installed: apt-get install openssl"


# ============================================================================ the server
class PodLogs:
    """What the kubelet would hold of each container's output: ``append()`` text, ``close()`` when the
    container ends. ``GET .../pods/NAME/log`` reads it (``follow`` streams until close())."""

    def __init__(self) -> None:
        self._logs: Dict[Tuple[str, str, str], bytearray] = {}
        self._closed: Set[Tuple[str, str, str]] = set()
        self.changed = threading.Condition()

    def append(self, namespace: str, pod: str, container: str, text: str) -> None:
        with self.changed:
            self._logs.setdefault((namespace, pod, container), bytearray()).extend(text.encode())
            self.changed.notify_all()

    def close(self, namespace: str, pod: str, container: str) -> None:
        with self.changed:
            self._logs.setdefault((namespace, pod, container), bytearray())
            self._closed.add((namespace, pod, container))
            self.changed.notify_all()

    def forget(self, namespace: str, pod: str) -> None:
        """The pod is gone: its logs with it (a follower then ends)."""
        with self.changed:
            for key in [k for k in self._logs if k[:2] == (namespace, pod)]:
                self._logs.pop(key, None)
                self._closed.add(key)
            self.changed.notify_all()

    def started(self, namespace: str, pod: str, container: str) -> bool:
        with self.changed:
            return (namespace, pod, container) in self._logs

    def read(self, namespace: str, pod: str, container: str, offset: int = 0) -> Tuple[bytes, bool]:
        """(bytes from *offset*, whether the container has ended)."""
        with self.changed:
            key = (namespace, pod, container)
            return bytes(self._logs.get(key, b"")[offset:]), key in self._closed

    def text(self, namespace: str, pod: str, container: str) -> str:
        return self.read(namespace, pod, container)[0].decode(errors="replace")


class KubeAPI:
    """An emulated OpenShift API server on https://127.0.0.1:<port> (see the module docstring).

    Test hooks: ``store`` (objects, direct writes that emit watch events), ``requests`` (method,
    path, query) / ``calls`` (with headers, body, status, user) / ``reset_requests()`` / ``count()``,
    ``expire_token()``, ``add_user()``, ``forbid()`` / ``allow()``, ``fail()`` (inject 5xx),
    ``write_kubeconfig()``, ``bookmark_interval`` / ``watch_timeout`` (seconds), ``git_version``,
    ``errors`` (the emulator's own failures, re-raised by ``check()``).
    """

    def __init__(
        self,
        *,
        username: str = DEFAULT_USER,
        groups: Sequence[str] = DEFAULT_GROUPS,
        history: int = 1000,
        bookmark_interval: float = 60.0,
        watch_timeout: float = 1800.0,
        aggregated_discovery: bool = True,
        git_version: str = DEFAULT_GIT_VERSION,
        cert: Optional[Tuple[PathLike, PathLike]] = None,
        openshift_version: Optional[str] = None,
        feature_set: str = "",
    ) -> None:
        self.store = Store(history)
        self.pod_logs = PodLogs()
        # the OpenShift release (seed_openshift sets it) and FeatureGate cluster's spec.featureSet: which
        # version of MachineOSConfig & co. is served (VERSIONED); None serves every v1 resource
        self.openshift_version = openshift_version
        self.feature_set = feature_set
        self._semantics = _Semantics(self.store)
        self.username = username
        self.token = "sha256~" + secrets.token_urlsafe(32)
        self._users: Dict[str, _User] = {self.token: _User(username, tuple(groups))}
        self.bookmark_interval = bookmark_interval
        self.watch_timeout = watch_timeout
        self.aggregated_discovery = aggregated_discovery
        self.git_version = git_version
        self.errors: List[str] = []
        self._cert = (Path(cert[0]), Path(cert[1])) if cert else None
        self._lock = threading.Lock()
        self._calls: List[KubeCall] = []
        self._rules: List[_Rule] = []
        self._faults: List[_Fault] = []
        self._stopping = threading.Event()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._flowschema_uid = str(uuid.uuid4())
        self._prioritylevel_uid = str(uuid.uuid4())
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.store.put(_namespace(ns))

    # -------------------------------------------------------------------------- lifecycle
    def start(self) -> KubeAPI:
        if self._server is not None:
            return self
        cert, key = self._cert or _shared_cert()
        self.ca_path = cert
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert), str(key))
        context.set_alpn_protocols(["http/1.1"])
        self._stopping.clear()
        self._server = _Server(self, context)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"kubeapi-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """End watches (cleanly), close every connection and join the server's threads."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        with self.store.lock:
            self.store.changed.notify_all()
        server.shutdown()
        server.server_close()
        deadline = time.monotonic() + timeout
        grace = time.monotonic() + min(1.0, timeout / 2)
        while time.monotonic() < deadline:  # requests and watches in progress finish first
            with server.conn_lock:
                if not server.threads:
                    break
                late = time.monotonic() > grace  # then also writers stuck on a client that does not read
                conns = [c for c in server.connections if late or c not in server.busy]
            for conn in conns:
                try:  # the plain socket's shutdown: SSLSocket.shutdown() would drop the TLS state under a writer
                    socket.socket.shutdown(conn, socket.SHUT_RDWR)
                except OSError:
                    pass
            time.sleep(0.01)
        with server.conn_lock:
            threads = list(server.threads)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if self._thread is not None:
            self._thread.join(timeout)
        with server.conn_lock:
            left = [t for t in server.threads if t.is_alive()]
        if left:
            raise RigError(f"KubeAPI on port {self.port}: {len(left)} handler thread(s) did not stop")

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> KubeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    @property
    def ca_pem(self) -> bytes:
        return Path(self.ca_path).read_bytes()

    def _minor(self) -> int:
        m = re.match(r"^v\d+\.(\d+)", self.git_version)
        return int(m.group(1)) if m else 29

    def _discovery_versions(self) -> Tuple[str, ...]:
        """Aggregated discovery as the server's version has it: v2beta1 in 1.26-1.32, v2 from 1.30."""
        if not self.aggregated_discovery:
            return ()
        minor = self._minor()
        return tuple(v for v, ok in (("v2", minor >= 30), ("v2beta1", 26 <= minor <= 32)) if ok)

    def serves(self, rt: ResourceType) -> bool:
        """Whether this cluster's release (and feature set) serves *rt* (see VERSIONED)."""
        table = VERSIONED.get(rt.plural)
        if table is None:
            return True
        parts = (self.openshift_version or "").split(".")
        if len(parts) < 2 or not parts[1].isdigit():
            return rt.version == "v1"
        minor = int(parts[1])
        for first, last, version, gated in table:
            if first <= minor <= last:
                return rt.version == version and (not gated or self.feature_set in TECH_PREVIEW_SETS)
        return False

    def version_info(self) -> Obj:
        m = re.match(r"^v(\d+)\.(\d+)", self.git_version)
        major, minor = (m.group(1), m.group(2)) if m else ("1", "29")
        return {"major": major, "minor": minor, "gitVersion": self.git_version,
                "gitCommit": hashlib.sha1(self.git_version.encode()).hexdigest(), "gitTreeState": "clean",
                "buildDate": "2024-07-03T17:06:38Z", "goVersion": "go1.21.11 (Red Hat 1.21.11-1.el9_4)",
                "compiler": "gc", "platform": "linux/amd64"}

    # ------------------------------------------------------------------------ credentials
    def expire_token(self) -> str:
        """The current token stops working (401); returns the new one ("logged in again")."""
        with self._lock:
            user = self._users.pop(self.token, _User(self.username, DEFAULT_GROUPS))
            self.token = "sha256~" + secrets.token_urlsafe(32)
            self._users[self.token] = user
            return self.token

    def add_user(self, name: str, groups: Sequence[str] = ("system:authenticated",),
                 token: Optional[str] = None) -> str:
        """Another valid token (for ``forbid(..., user=name)`` tests); returns it."""
        token = token or "sha256~" + secrets.token_urlsafe(32)
        with self._lock:
            self._users[token] = _User(name, tuple(groups))
        return token

    def forbid(self, verb: str, resource: str, namespace: Optional[str] = None, user: Optional[str] = None) -> None:
        """Answer *verb* (or "*") on *resource* ("machineconfigs", "mc", "machineconfigpools/status", "*")
        with 403 Forbidden, as RBAC would, optionally only in *namespace* / for *user*."""
        if resource != "*":
            base, _, sub = resource.partition("/")
            resource = resource_type(base).plural + (f"/{sub}" if sub else "")
        with self._lock:
            self._rules.append(_Rule(verb, resource, namespace, user))

    def allow(self) -> None:
        """Drop every forbid()."""
        with self._lock:
            self._rules.clear()

    def _denied(self, user: _User, verb: str, resource: str, namespace: Optional[str]) -> bool:
        with self._lock:
            rules = list(self._rules)
        return any(r.verb in ("*", verb) and r.resource in ("*", resource) and r.namespace in (None, namespace)
                   and r.user in (None, user.name) for r in rules)

    def _authorize(self, user: _User, verb: str, rt: ResourceType, sub: str, name: Optional[str],
                   namespace: Optional[str]) -> None:
        resource = rt.plural + (f"/{sub}" if sub else "")
        if self._denied(user, verb, resource, namespace):
            raise forbidden(rt, verb, user.name, name, namespace, sub)

    # ----------------------------------------------------------------------------- faults
    def fail(self, code: int = 500, *, method: Optional[str] = None, path: Optional[str] = None, times: int = 1,
             reason: str = "InternalError", message: Optional[str] = None) -> None:
        """The next *times* requests matching *method* / *path* (exact, or a prefix ending in "*") get
        a Status with *code* (before authentication, like a failing load balancer or apiserver)."""
        message = message or f"Internal error occurred: injected failure ({code})"
        with self._lock:
            self._faults.append(_Fault(method, path, status_body(code, reason, message), [times]))

    def _fault_for(self, method: str, path: str) -> Optional[Obj]:
        with self._lock:
            for fault in self._faults:
                if fault.remaining[0] <= 0:
                    continue
                if fault.method not in (None, method):
                    continue
                if fault.path is not None and not (
                        path == fault.path or (fault.path.endswith("*") and path.startswith(fault.path[:-1]))):
                    continue
                fault.remaining[0] -= 1
                return fault.status
        return None

    # --------------------------------------------------------------------------- request log
    def _log(self, method: str, path: str, query: Dict[str, str], headers: Dict[str, str]) -> KubeCall:
        call = KubeCall(method, path, dict(query), headers)
        with self._lock:
            self._calls.append(call)
        return call

    @property
    def requests(self) -> List[KubeRequest]:
        """Every request so far as (method, path, query), oldest first (a copy)."""
        with self._lock:
            return [KubeRequest(c.method, c.path, dict(c.query)) for c in self._calls]

    @property
    def calls(self) -> List[KubeCall]:
        """Every request with its headers, body, answer status and user (copies)."""
        with self._lock:
            return [dataclasses.replace(c, query=dict(c.query), headers=dict(c.headers)) for c in self._calls]

    def reset_requests(self) -> None:
        with self._lock:
            self._calls.clear()

    def count(self, method: Optional[str] = None, path: Optional[str] = None, **query: str) -> int:
        """How many logged requests match (path exact, or a prefix ending in "*"; query items equal)."""
        n = 0
        for r in self.requests:
            if method and r.method != method:
                continue
            if path and not (r.path == path or (path.endswith("*") and r.path.startswith(path[:-1]))):
                continue
            if any(r.query.get(k) != v for k, v in query.items()):
                continue
            n += 1
        return n

    def _record_error(self, text: str) -> None:
        with self._lock:
            self.errors.append(text)

    def check(self) -> None:
        """Raise if the emulator itself failed while serving (a bug here, not in the client)."""
        if self.errors:
            raise RigError("KubeAPI internal error(s):\n" + "\n".join(self.errors))

    # ---------------------------------------------------------------------------- kubeconfig
    def write_kubeconfig(self, path: PathLike, context: str = "admin", user_token: Optional[str] = None, *,
                         namespace: Optional[str] = None, cluster: Optional[str] = None) -> Path:
        """A 0600 kubeconfig as ``oc login`` leaves it: CA data embedded, the token, current-context."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        cluster = cluster or f"api-emulator-local:{self.port}"
        user = f"{self.username}/{cluster}"
        ctx: Obj = {"cluster": cluster, "user": user}
        if namespace:
            ctx["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": cluster, "cluster": {
                "server": self.url, "certificate-authority-data": base64.b64encode(self.ca_pem).decode()}}],
            "users": [{"name": user, "user": {"token": user_token if user_token is not None else self.token}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
            "preferences": {},
        }
        fd = os.open(str(p), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            yaml.safe_dump(config, fh, sort_keys=False)
        os.chmod(str(p), 0o600)
        return p

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "stopped"
        return f"<KubeAPI {where} rv={self.store.resource_version}>"


def _namespace(name: str, labels: Optional[Dict[str, str]] = None, created: Optional[str] = None) -> Obj:
    meta: Obj = {"name": name, "labels": dict({"kubernetes.io/metadata.name": name}, **(labels or {}))}
    if created:
        meta["creationTimestamp"] = created
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
            "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}


# ============================================================================ an OpenShift cluster
DEFAULT_BASE_IMAGE = ("quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:"
                      + hashlib.sha256(b"rhel-coreos").hexdigest())
DEFAULT_EXTENSIONS_IMAGE = ("quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:"
                            + hashlib.sha256(b"rhel-coreos-extensions").hexdigest())
DEFAULT_RELEASE_IMAGE = "quay.io/openshift-release-dev/ocp-release@sha256:" + hashlib.sha256(b"4.16.3").hexdigest()
MCO_NAMESPACE = "openshift-machine-config-operator"
CONTROLLER_VERSION = "8c1f4a1e0ad3a8d1bd1aa1a1f76c3d1e9b5a3c21"


@dataclasses.dataclass
class OpenShiftSeed:
    """What seed_openshift() created (for assertions)."""

    api: KubeAPI
    version: str
    release_image: str
    base_image: str
    extensions_image: str
    cluster_id: str
    rendered: Dict[str, str]  # pool -> rendered-<pool>-<hash>
    nodes: Dict[str, List[str]]  # pool -> node names
    base_configs: Dict[str, List[str]]  # pool -> MachineConfig names selected by the pool


def rendered_name(pool: str, *parts: str) -> str:
    """rendered-<pool>-<32 hex>, like the MCO's names (a hash of what was merged)."""
    return f"rendered-{pool}-" + hashlib.sha256("\0".join((pool,) + parts).encode()).hexdigest()[:32]


def _condition(type_: str, status: str, message: str = "", reason: str = "", when: str = "") -> Obj:
    return {"lastTransitionTime": when, "message": message, "reason": reason, "status": status, "type": type_}


def pool_status(pool: str, rendered: str, configs: Sequence[str], count: int, *, updated: Optional[int] = None,
                ready: Optional[int] = None, degraded: int = 0, generation: int = 1, when: str = "") -> Obj:
    """A MachineConfigPool status as the MCO writes it; updated < count means the pool is updating."""
    updated = count if updated is None else updated
    ready = updated if ready is None else ready
    done = updated == count and degraded == 0
    when = when or _timestamp()
    return {
        "certExpirys": [],
        "conditions": [
            _condition("RenderDegraded", "False", when=when),
            _condition("NodeDegraded", "True" if degraded else "False", when=when),
            _condition("Degraded", "True" if degraded else "False", when=when),
            _condition("Updated", "True" if done else "False",
                       f"All nodes are updated with MachineConfig {rendered}" if done else "", when=when),
            _condition("Updating", "False" if done else "True",
                       "" if done else f"All nodes are updating to MachineConfig {rendered}", when=when),
        ],
        "configuration": {
            "name": rendered,
            "source": [{"apiVersion": f"{MCO_GROUP}/v1", "kind": "MachineConfig", "name": c} for c in configs],
        },
        "degradedMachineCount": degraded,
        "machineCount": count,
        "observedGeneration": generation,
        "readyMachineCount": ready,
        "unavailableMachineCount": count - ready,
        "updatedMachineCount": updated,
    }


def _ignition(extra: Optional[Obj] = None) -> Obj:
    config: Obj = {"ignition": {"version": "3.4.0"}}
    config.update(extra or {})
    return config


def _mc(name: str, pool: Optional[str], created: str, *, generated: bool = True, config: Optional[Obj] = None,
        os_image: str = "", extensions_image: str = "", owner: Optional[Obj] = None,
        annotations: Optional[Dict[str, str]] = None) -> Obj:
    meta: Obj = {"name": name, "creationTimestamp": created}
    if pool:
        meta["labels"] = {f"{MCO_GROUP}/role": pool}
    ann = dict(annotations or {})
    if generated:
        ann[f"{MCO_GROUP}/generated-by-controller-version"] = CONTROLLER_VERSION
    if ann:
        meta["annotations"] = ann
    if owner:
        meta["ownerReferences"] = [owner]
    return {"apiVersion": f"{MCO_GROUP}/v1", "kind": "MachineConfig", "metadata": meta, "spec": {
        "baseOSExtensionsContainerImage": extensions_image, "config": config or _ignition(), "extensions": [],
        "fips": False, "kernelArguments": None, "kernelType": "default" if os_image else "", "osImageURL": os_image}}


def _rendered_ignition(size: int) -> Obj:
    """A rendered config's Ignition: the MCO's templates put dozens of files (kubelet, CRI-O, systemd
    units, certificates) in it; with *size*, about that many bytes of JSON."""
    config = _ignition()
    if size <= 0:
        return config
    chunk = 12_000
    files = []
    for i in range(max(1, size // chunk)):
        body = base64.b64encode(hashlib.sha512(f"{size}/{i}".encode()).digest() * (chunk // 88)).decode()
        files.append({"contents": {"source": "data:text/plain;charset=utf-8;base64," + body[:chunk - 200]},
                      "mode": 420, "overwrite": True, "path": f"/etc/kubernetes/static-pod-resources/file-{i}"})
    config["storage"] = {"files": files}
    return config


def _ovn_annotations(address: int, size: int) -> Dict[str, str]:
    """The annotations OVN-Kubernetes and CSI drivers leave on every node (shapes of a 4.16 node)."""
    ip = f"10.0.{address // 256 % 256}.{address % 256}"
    return {
        "csi.volume.kubernetes.io/nodeid": json.dumps({"ebs.csi.aws.com": f"i-{address:017x}"}),
        "k8s.ovn.org/host-cidrs": json.dumps([f"{ip}/19"]),
        "k8s.ovn.org/l3-gateway-config": json.dumps({"default": {
            "mode": "shared", "bridge-id": "br-ex", "interface-id": f"br-ex_{ip}", "mac-address": "02:c7:4b:1e:7f:9d",
            "ip-addresses": [f"{ip}/19"], "ip-address": f"{ip}/19", "next-hops": ["10.0.0.1"], "next-hop": "10.0.0.1",
            "node-port-enable": "true", "vlan-id": "0"}}),
        "k8s.ovn.org/node-chassis-id": str(uuid.uuid5(uuid.NAMESPACE_OID, ip)),
        "k8s.ovn.org/node-gateway-router-lrp-ifaddrs": json.dumps({"default": {"ipv4": "100.64.0.4/16"}}),
        "k8s.ovn.org/node-id": str(address),
        "k8s.ovn.org/node-mgmt-port-mac-addresses": json.dumps({"default": "2a:9e:55:8d:3f:41"}),
        "k8s.ovn.org/node-primary-ifaddr": json.dumps({"ipv4": f"{ip}/19"}),
        "k8s.ovn.org/node-subnets": json.dumps({"default": [f"10.{128 + address // 256 % 64}.{address % 256}.0/23"]}),
        "k8s.ovn.org/node-transit-switch-port-ifaddr": json.dumps({"ipv4": "100.88.0.4/16"}),
        "k8s.ovn.org/remote-zone-migrated": f"node-{address}",
        "k8s.ovn.org/zone-name": f"node-{address}",
        f"{MCO_GROUP}/lastSyncedControllerConfigResourceVersion": str(20000 + address),
    } if size else {}


def _fields(keys: Iterable[str]) -> Obj:
    return dict({".": {}}, **{f"f:{k}": {} for k in keys})


def _node_managed_fields(labels: Dict[str, str], annotations: Dict[str, str], when: str) -> List[Obj]:
    """metadata.managedFields as a real node has them: one entry per writer (kubelet, its status,
    the MCO's controller and daemon, OVN-Kubernetes, the node lifecycle controller)."""
    mco = [k for k in annotations if k.startswith(MCO_GROUP)]
    ovn = [k for k in annotations if k.startswith(("k8s.ovn.org/", "csi.volume"))]

    def entry(manager: str, fields: Obj, subresource: str = "") -> Obj:
        out: Obj = {"apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields, "manager": manager,
                    "operation": "Update", "time": when}
        if subresource:
            out["subresource"] = subresource
        return out

    conditions = {f'k:{{"type":"{t}"}}': {".": {}, "f:lastHeartbeatTime": {}, "f:lastTransitionTime": {},
                                          "f:message": {}, "f:reason": {}, "f:status": {}, "f:type": {}}
                  for t in ("DiskPressure", "MemoryPressure", "PIDPressure", "Ready")}
    return [
        entry("kubelet", {"f:metadata": {"f:annotations": _fields(
            ["volumes.kubernetes.io/controller-managed-attach-detach"]), "f:labels": _fields(sorted(labels))}}),
        entry("kube-controller-manager", {"f:spec": {"f:podCIDR": {}, "f:podCIDRs": {
            ".": {}, 'v:"10.128.2.0/23"': {}}}}),
        entry("machine-config-controller", {"f:metadata": {"f:annotations": {
            f"f:{k}": {} for k in mco if k.endswith(("desiredConfig", "controlPlaneTopology"))}}}),
        entry("machine-config-daemon", {"f:metadata": {"f:annotations": {
            f"f:{k}": {} for k in mco if not k.endswith(("desiredConfig", "controlPlaneTopology"))}}}),
        entry("ovnkube-controller", {"f:metadata": {"f:annotations": {f"f:{k}": {} for k in ovn}}}, "status"),
        entry("kubelet", {"f:status": {"f:allocatable": {"f:cpu": {}, "f:memory": {}, "f:pods": {}}, "f:capacity": {
            "f:cpu": {}, "f:memory": {}, "f:pods": {}}, "f:conditions": conditions, "f:images": {}, "f:nodeInfo": {
            "f:bootID": {}, "f:containerRuntimeVersion": {}, "f:kernelVersion": {}, "f:kubeProxyVersion": {},
            "f:kubeletVersion": {}, "f:machineID": {}, "f:osImage": {}, "f:systemUUID": {}}}}, "status"),
    ]


def _pad_metadata(meta: Obj, size: int) -> None:
    """Grow the node's metadata to about *size* bytes of JSON with more OVN-Kubernetes host CIDRs (real
    nodes with many interfaces carry long lists there)."""
    have = len(json.dumps(meta, separators=(",", ":")))
    if have < size:
        cidrs = json.loads(meta["annotations"].get("k8s.ovn.org/host-cidrs", "[]"))
        meta["annotations"]["k8s.ovn.org/host-cidrs"] = json.dumps(cidrs + _extra_cidrs((size - have) // 25 + 1))


@functools.lru_cache(maxsize=8)
def _extra_cidrs(count: int) -> List[str]:
    """*count* IPv6 CIDRs of 20 characters (25 bytes each once quoted and escaped in the annotation)."""
    return [f"fd69:{n // 65536 % 65536:04x}:{n % 65536:04x}::1/64" for n in range(count)]


def push_secret(api: KubeAPI, name: str, registry_host: str, user: str, password: str,
                namespace: str = MCO_NAMESPACE) -> Obj:
    """Store Secret *namespace*/*name* of type kubernetes.io/dockerconfigjson with *user*:*password* for
    *registry_host*, as ``oc create secret docker-registry`` writes it: what a MachineOSConfig's
    renderedImagePushSecret names (the MCO reads ``.dockerconfigjson`` from its own namespace,
    machine-config-operator pkg/controller/build/utils.go)."""
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    config = json.dumps({"auths": {registry_host: {"username": user, "password": password, "auth": auth}}})
    return api.store.put({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                          "metadata": {"name": name, "namespace": namespace},
                          "data": {".dockerconfigjson": base64.b64encode(config.encode()).decode()}})


def seed_openshift(
    api: KubeAPI,
    *,
    workers: int = 3,
    masters: int = 3,
    base_image: str = DEFAULT_BASE_IMAGE,
    extensions_image: str = DEFAULT_EXTENSIONS_IMAGE,
    version: str = "4.16.3",
    release_image: str = DEFAULT_RELEASE_IMAGE,
    pull_secret: Union[None, Obj, str, bytes] = None,
    channel: Optional[str] = None,
    os_image_url: str = "",
    age: timedelta = timedelta(days=3),
    feature_set: str = "",
    managed_fields: bool = True,
    node_metadata_bytes: int = 0,
    rendered_configs: int = 0,
    rendered_bytes: int = 0,
) -> OpenShiftSeed:
    """An installed, settled OpenShift cluster: namespaces, the MCO's ConfigMap machine-config-osimageurl,
    ClusterVersion "version", openshift-config/pull-secret, ControllerConfig, pools master and worker with
    their MachineConfigs (00-, 01-, 99- and rendered-*), nodes master-N / worker-N on the rendered configs.

    *pull_secret*: the docker config JSON (dict, str or bytes) stored as ``.dockerconfigjson``.
    *version* also decides which API versions of MachineOSConfig, MachineOSBuild and MachineConfigNode
    are served, *feature_set* (``TechPreviewNoUpgrade``) whether the gated ones are (see VERSIONED).

    As a real cluster looks: ``00-<pool>`` carries the base osImageURL; nodes carry managedFields
    (*managed_fields*) and, with *node_metadata_bytes*, OVN-Kubernetes annotations up to about that many
    bytes of metadata each (8192 is typical); *rendered_configs* rendered MachineConfigs in all (the
    current ones plus earlier ones the MCO never deletes, spread over the pools), each about
    *rendered_bytes* of Ignition (real ones run to hundreds of KB). A 2,000-node cluster with 8 KB nodes
    and 100 rendered configs of 500 KB seeds in a few seconds.
    """
    created = _timestamp(_now() - age)
    api.openshift_version = version
    api.feature_set = feature_set
    minor = int(version.split(".")[1]) if version.count(".") >= 1 and version.split(".")[1].isdigit() else 16
    kube_minor = minor + 13
    api.git_version = f"v1.{kube_minor}.6+aba1e8d"
    kubelet = f"v1.{kube_minor}.6+aba1e8d"
    rhcos = f"4{minor}.94.202407081958-0"
    cluster_id = str(uuid.uuid5(uuid.NAMESPACE_URL, api.url + "/" + version))

    def put(obj: Obj) -> Obj:
        return api.store.put(obj, adopt=True)  # fresh objects, never touched again: no copies

    for ns in ("openshift-config", "openshift-config-managed", MCO_NAMESPACE, "openshift-cluster-version"):
        put(_namespace(ns, {"openshift.io/cluster-monitoring": "true"} if ns != "openshift-config" else None,
                       created))

    put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "machine-config-osimageurl", "namespace": MCO_NAMESPACE, "creationTimestamp": created,
        "annotations": {"include.release.openshift.io/self-managed-high-availability": "true",
                        "include.release.openshift.io/single-node-developer": "true"}},
        "data": {"baseOSContainerImage": base_image, "baseOSExtensionsContainerImage": extensions_image,
                 "osImageURL": os_image_url, "releaseVersion": version}})

    if pull_secret is None:
        auth = base64.b64encode(b"emulator:not-a-real-password").decode()
        pull_secret = {"auths": {h: {"auth": auth, "email": "emulator@example.com"}
                                 for h in ("cloud.openshift.com", "quay.io", "registry.redhat.io")}}
    raw_secret = (json.dumps(pull_secret) if isinstance(pull_secret, dict) else pull_secret)
    secret_bytes = raw_secret.encode() if isinstance(raw_secret, str) else raw_secret
    put({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson", "metadata": {
        "name": "pull-secret", "namespace": "openshift-config", "creationTimestamp": created},
        "data": {".dockerconfigjson": base64.b64encode(secret_bytes).decode()}})

    completed = _timestamp(_now() - age + timedelta(minutes=45))
    put({"apiVersion": f"{CONFIG_GROUP}/v1", "kind": "ClusterVersion", "metadata": {
        "name": "version", "creationTimestamp": created},
        "spec": {"channel": channel or f"stable-4.{minor}", "clusterID": cluster_id},
        "status": {
            "availableUpdates": None,
            "capabilities": {"enabledCapabilities": ["Build", "Console", "Ingress", "MachineAPI", "marketplace"],
                             "knownCapabilities": ["Build", "Console", "Ingress", "MachineAPI", "marketplace"]},
            "conditions": [
                _condition("RetrievedUpdates", "False", "Unable to retrieve available updates", "RemoteFailed",
                           completed),
                _condition("Available", "True", f"Done applying {version}", "", completed),
                _condition("Failing", "False", "", "", completed),
                _condition("Progressing", "False", f"Cluster version is {version}", "", completed),
                _condition("ReleaseAccepted", "True", f'Payload loaded version="{version}"'
                           f' image="{release_image}" architecture="amd64"', "PayloadLoaded", created),
            ],
            "desired": {"channels": [f"stable-4.{minor}", f"fast-4.{minor}"], "image": release_image,
                        "version": version},
            "history": [{"completionTime": completed, "image": release_image, "startedTime": created,
                         "state": "Completed", "verified": False, "version": version}],
            "observedGeneration": 1,
            "versionHash": base64.urlsafe_b64encode(hashlib.sha256(release_image.encode()).digest()[:8]).decode(),
        }})

    put({"apiVersion": f"{MCO_GROUP}/v1", "kind": "ControllerConfig", "metadata": {
        "name": "machine-config-controller", "creationTimestamp": created,
        "annotations": {f"{MCO_GROUP}/generated-by-controller-version": CONTROLLER_VERSION}},
        "spec": {"baseOSContainerImage": base_image, "baseOSExtensionsContainerImage": extensions_image,
                 "osImageURL": os_image_url, "releaseImage": release_image, "platform": "none",
                 "additionalTrustBundle": None, "cloudProviderCAData": None, "cloudProviderConfig": "",
                 "clusterDNSIP": "172.30.0.10", "dns": {}, "images": {}, "infra": {}, "ipFamilies": "IPv4",
                 "kubeAPIServerServingCAData": "", "network": {}, "proxy": None, "rootCAData": ""},
        "status": {"conditions": [_condition("TemplateControllerCompleted", "True", "", "", created),
                                  _condition("TemplateControllerRunning", "False", "", "", created),
                                  _condition("TemplateControllerFailing", "False", "", "", created)],
                   "observedGeneration": 1}})

    controller_owner = {"apiVersion": f"{MCO_GROUP}/v1", "kind": "ControllerConfig",
                        "name": "machine-config-controller", "uid": api.store.get(
                            "controllerconfigs", "machine-config-controller")["metadata"]["uid"],  # type: ignore[index]
                        "controller": True, "blockOwnerDeletion": True}
    rendered: Dict[str, str] = {}
    node_names: Dict[str, List[str]] = {}
    base_configs: Dict[str, List[str]] = {}
    address = 10
    extra = max(0, rendered_configs - 2)  # beyond the two current ones; most pile up on worker
    old_rendered = {"master": extra // 4, "worker": extra - extra // 4}
    for pool, count in (("master", masters), ("worker", workers)):
        configs = [f"00-{pool}", f"01-{pool}-container-runtime", f"01-{pool}-kubelet", f"97-{pool}-generated-kubelet",
                   f"98-{pool}-generated-kubelet", f"99-{pool}-generated-registries", f"99-{pool}-ssh"]
        base_configs[pool] = configs
        for name in configs:
            ssh = name.endswith("-ssh")
            config = _ignition({"passwd": {"users": [{"name": "core", "sshAuthorizedKeys": [
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEmulatorKeyEmulatorKeyEmulatorKey emulator"]}]}}) if ssh \
                else _ignition({"storage": {"files": [{"path": f"/etc/emulator/{name}", "mode": 420,
                                                       "contents": {"source": "data:,"}}]}})
            # 00-<pool> comes from the MCO's templates with the release's base osImageURL, as on real clusters,
            # and holds most of what a rendered config carries (so the simulated MCO's renders are as big)
            base_mc = name == f"00-{pool}"
            if base_mc and rendered_bytes:
                config = merge_patch(config, {"storage": {"files": (
                    config["storage"]["files"] + _rendered_ignition(rendered_bytes)["storage"]["files"])}})
            put(_mc(name, pool, created, generated=not ssh, config=config,
                    owner=None if ssh else controller_owner, os_image=base_image if base_mc else "",
                    extensions_image=extensions_image if base_mc else ""))
        name = rendered_name(pool, base_image, extensions_image, *configs)
        rendered[pool] = name
        pool_meta: Obj = {"name": pool, "creationTimestamp": created, "labels": {
            f"{MCO_GROUP}/mco-built-in": "", f"pools.operator.{MCO_GROUP}/{pool}": ""}}
        if pool == "master":
            pool_meta["labels"][f"operator.{MCO_GROUP}/required-for-upgrade"] = ""
        put({"apiVersion": f"{MCO_GROUP}/v1", "kind": "MachineConfigPool", "metadata": pool_meta, "spec": {
            "configuration": {"name": name, "source": [
                {"apiVersion": f"{MCO_GROUP}/v1", "kind": "MachineConfig", "name": c} for c in configs]},
            "machineConfigSelector": {"matchLabels": {f"{MCO_GROUP}/role": pool}},
            "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{pool}": ""}},
            "paused": False}, "status": pool_status(pool, name, configs, count, when=completed)})
        pool_uid = api.store.get("machineconfigpools", pool)["metadata"]["uid"]  # type: ignore[index]
        pool_owner = {"apiVersion": f"{MCO_GROUP}/v1", "kind": "MachineConfigPool", "name": pool, "uid": pool_uid,
                      "controller": True, "blockOwnerDeletion": True}
        put(_mc(name, None, created, config=_rendered_ignition(rendered_bytes), os_image=base_image,
                extensions_image=extensions_image, owner=pool_owner,
                annotations={f"{MCO_GROUP}/release-image-version": version}))
        # the MCO never garbage-collects rendered configs: every earlier update and upgrade left one
        for n in range(old_rendered.get(pool, 0)):
            put(_mc(rendered_name(pool, "earlier", str(n)), None, created, config=_rendered_ignition(rendered_bytes),
                    os_image=base_image, extensions_image=extensions_image, owner=pool_owner,
                    annotations={f"{MCO_GROUP}/release-image-version": version}))
        node_names[pool] = []
        for i in range(count):
            node = f"{pool}-{i}"
            node_names[pool].append(node)
            address += 1
            labels = {"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                      "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": node, "kubernetes.io/os": "linux",
                      f"node-role.kubernetes.io/{pool}": "", "node.openshift.io/os_id": "rhcos"}
            spec: Obj = {}
            if pool == "master":
                labels["node-role.kubernetes.io/control-plane"] = ""
                spec["taints"] = [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/master"}]
            annotations = {
                f"{MCO_GROUP}/controlPlaneTopology": "HighlyAvailable",
                f"{MCO_GROUP}/currentConfig": name, f"{MCO_GROUP}/desiredConfig": name,
                f"{MCO_GROUP}/desiredDrain": f"uncordon-{name}", f"{MCO_GROUP}/lastAppliedDrain":
                f"uncordon-{name}", f"{MCO_GROUP}/reason": "", f"{MCO_GROUP}/state": "Done",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
            if minor >= 16:  # the daemon writes it from 4.16 (MCO pkg/daemon/constants/constants.go, update.go)
                annotations[f"{MCO_GROUP}/post-config-action"] = ""
            node_meta: Obj = {"name": node, "creationTimestamp": created, "labels": labels,
                              "annotations": annotations}
            if node_metadata_bytes:
                annotations.update(_ovn_annotations(address, node_metadata_bytes))
            if managed_fields:
                node_meta["managedFields"] = _node_managed_fields(labels, annotations, completed)
            if node_metadata_bytes:
                _pad_metadata(node_meta, node_metadata_bytes)
            put({"apiVersion": "v1", "kind": "Node", "metadata": node_meta,
                "spec": spec,
                "status": {
                    "addresses": [{"address": f"10.0.0.{address}", "type": "InternalIP"},
                                  {"address": node, "type": "Hostname"}],
                    "allocatable": {"cpu": "7500m", "memory": "31068Mi", "pods": "250"},
                    "capacity": {"cpu": "8", "memory": "32768Mi", "pods": "250"},
                    "conditions": [
                        _condition("MemoryPressure", "False", "kubelet has sufficient memory available",
                                   "KubeletHasSufficientMemory", completed),
                        _condition("DiskPressure", "False", "kubelet has no disk pressure", "KubeletHasNoDiskPressure",
                                   completed),
                        _condition("PIDPressure", "False", "kubelet has sufficient PID available",
                                   "KubeletHasSufficientPID", completed),
                        _condition("Ready", "True", "kubelet is posting ready status", "KubeletReady", completed),
                    ],
                    "nodeInfo": {"architecture": "amd64", "bootID": str(uuid.uuid5(uuid.NAMESPACE_DNS, node)),
                                 "containerRuntimeVersion": f"cri-o://1.{kube_minor}.6-3.rhaos4.{minor}.el9",
                                 "kernelVersion": "5.14.0-427.26.1.el9_4.x86_64", "kubeProxyVersion": kubelet,
                                 "kubeletVersion": kubelet, "machineID": hashlib.md5(
                                     node.encode(), usedforsecurity=False).hexdigest(),
                                 "operatingSystem": "linux",
                                 "osImage": f"Red Hat Enterprise Linux CoreOS {rhcos} (Plow)",
                                 "systemUUID": str(uuid.uuid5(uuid.NAMESPACE_OID, node))},
                }})
    return OpenShiftSeed(api=api, version=version, release_image=release_image, base_image=base_image,
                         extensions_image=extensions_image, cluster_id=cluster_id, rendered=rendered,
                         nodes=node_names, base_configs=base_configs)


def trust_registry_ca(api: KubeAPI, host: str, ca_pem: bytes, configmap: str = "registry-cas") -> None:
    """Make the cluster's nodes trust *ca_pem* for registry *host* ("host" or "host:port"), as an admin
    does: a ConfigMap in openshift-config keyed "host" or "host..port", named by
    images.config.openshift.io/cluster spec.additionalTrustedCA (openshift/api config/v1 types_image.go)."""
    api.store.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": configmap, "namespace": "openshift-config"}, "data": {host.replace(":", ".."): ca_pem.decode()}})
    image = api.store.get("images", "cluster") or {
        "apiVersion": f"{CONFIG_GROUP}/v1", "kind": "Image", "metadata": {"name": "cluster"}, "spec": {}}
    image = copy.deepcopy(image)
    image.setdefault("spec", {})["additionalTrustedCA"] = {"name": configmap}
    api.store.put(image)


__all__ = [
    "RESOURCES",
    "ApiError",
    "Column",
    "KubeAPI",
    "KubeCall",
    "KubeRequest",
    "OpenShiftSeed",
    "ResourceType",
    "Store",
    "WatchEvent",
    "human_duration",
    "jsonpath",
    "json_patch",
    "make_cert",
    "merge_patch",
    "parse_field_selector",
    "parse_label_selector",
    "pool_status",
    "rendered_name",
    "resource_type",
    "seed_openshift",
    "skip_reason",
    "status_body",
    "trust_registry_ca",
]


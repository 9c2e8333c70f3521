"""The OpenShift API through the official Kubernetes client: the only module that imports it.

Access comes from a kubeconfig as `oc login` leaves it: ``--kubeconfig``, else ``KUBECONFIG``
(a list of files is merged), else ``~/.kube/config``; ``--context`` picks a context. Objects
come back as plain dicts; API errors become the project's errors, each saying what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from ..errors import (
    ClusterAccessError,
    ClusterConflict,
    ClusterForbidden,
    ClusterObjectNotFound,
    ClusterUnreachable,
    RhcosLayerError,
)

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

MCO_GROUP = "machineconfiguration.openshift.io"
MCO_VERSION = "v1"
CONFIG_GROUP = "config.openshift.io"
MCO_NAMESPACE = "openshift-machine-config-operator"
OSIMAGEURL_CONFIGMAP = "machine-config-osimageurl"
PULL_SECRET = ("openshift-config", "pull-secret")
PARTIAL_METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json"


def kubeconfig_paths(explicit: Optional[str], environ: Optional[Mapping[str, str]] = None) -> List[Path]:
    env = os.environ if environ is None else environ
    if explicit:
        return [Path(explicit)]
    if env.get("KUBECONFIG"):
        return [Path(p) for p in env["KUBECONFIG"].split(os.pathsep) if p]
    home = Path(env.get("HOME") or Path.home())
    return [home / ".kube" / "config"]


def usable_kubeconfig(explicit: Optional[str], environ: Optional[Mapping[str, str]] = None) -> bool:
    """Whether a kubeconfig exists to try (without reading it)."""
    return any(p.is_file() for p in kubeconfig_paths(explicit, environ))


class Cluster:
    """A logged-in OpenShift API."""

    def __init__(self, kubeconfig: Optional[str] = None, context: Optional[str] = None) -> None:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        paths = kubeconfig_paths(kubeconfig)
        if not any(p.is_file() for p in paths):
            shown = ", ".join(str(p) for p in paths)
            raise ClusterAccessError(f"no kubeconfig at {shown}",
                                     hint="log in with `oc login`, or give --kubeconfig FILE / KUBECONFIG")
        try:
            self._api: ApiClient = config.new_client_from_config(
                config_file=os.pathsep.join(str(p) for p in paths if p.is_file()), context=context)
        except ConfigException as exc:
            raise ClusterAccessError(f"kubeconfig {paths[0]}: {exc}",
                                     hint="check --context, or log in again with `oc login`") from None
        except (OSError, ValueError) as exc:
            raise ClusterAccessError(f"kubeconfig {paths[0]} is unusable: {exc}") from None
        self.server = str(self._api.configuration.host)

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- calls ------------------------------------------------------------------------------

    def _call(self, what: str, func: Any, *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return func(*args, **kwargs)
        except ApiException as exc:
            raise self._api_error(what, exc) from None
        except (HTTPError, OSError) as exc:
            raise ClusterUnreachable(f"the API server {self.server} did not answer ({type(exc).__name__})",
                                     hint="check the network and the cluster's health, then try again") from None

    def _api_error(self, what: str, exc: Any) -> RhcosLayerError:
        import json

        message = ""
        try:
            message = str(json.loads(exc.body or "{}").get("message") or "")
        except ValueError:
            pass
        if exc.status == 401:
            return ClusterAccessError(f"{self.server} rejected the login (HTTP 401): the token has expired or"
                                      " was revoked", hint="log in again with `oc login`")
        if exc.status == 403:
            return ClusterForbidden(f"not allowed to {what}: {message or 'forbidden'}",
                                    hint="ask a cluster admin for that permission, or log in as one")
        if exc.status == 409:
            # the caller knows what it wrote before: it says whether anything changed
            return ClusterConflict(f"{what}: someone changed it meanwhile (HTTP 409 Conflict)",
                                   hint="check the cluster and run the command again")
        if exc.status == 404:
            # an object of the cluster's, never an image: "image not found" would send the user to the registry
            return ClusterObjectNotFound(f"{what}: not found on {self.server}" + (f" ({message})" if message else ""))
        return RhcosLayerError(f"{what} failed with HTTP {exc.status}: {message or exc.reason}")

    def _plain(self, obj: Any) -> Dict[str, Any]:
        return dict(self._api.sanitize_for_serialization(obj))

    def configmap(self, namespace: str, name: str) -> Dict[str, Any]:
        from kubernetes.client import CoreV1Api

        api = CoreV1Api(self._api)
        return self._plain(self._call(f"get configmap {namespace}/{name}", api.read_namespaced_config_map,
                                      name, namespace))

    def cluster_version(self) -> Dict[str, Any]:
        return dict(self._call("get clusterversion version", self._custom().get_cluster_custom_object,
                               CONFIG_GROUP, "v1", "clusterversions", "version"))

    def machineconfigs(self, label_selector: Optional[str] = None) -> List[Dict[str, Any]]:
        listed = self._call("list machineconfigs", self._custom().list_cluster_custom_object, MCO_GROUP, MCO_VERSION,
                            "machineconfigs", label_selector=label_selector or "")
        return list(listed.get("items") or [])

    def pools(self) -> List[Dict[str, Any]]:
        listed = self._call("list machineconfigpools", self._custom().list_cluster_custom_object, MCO_GROUP,
                            MCO_VERSION, "machineconfigpools")
        return list(listed.get("items") or [])

    def pool(self, name: str) -> Dict[str, Any]:
        return dict(self._call(f"get machineconfigpool {name}", self._custom().get_cluster_custom_object, MCO_GROUP,
                               MCO_VERSION, "machineconfigpools", name))

    def secret_data(self, namespace: str, name: str) -> Dict[str, bytes]:
        """A Secret's decoded data. The values are secrets: never print or log them."""
        import base64

        from kubernetes.client import CoreV1Api

        api = CoreV1Api(self._api)
        response = self._call(f"get secret {namespace}/{name}", api.read_namespaced_secret, name, namespace,
                              _preload_content=False)
        import json

        data = json.loads(response.data).get("data") or {}
        return {str(key): base64.b64decode(str(value)) for key, value in data.items()}

    def machineconfig(self, name: str) -> Optional[Dict[str, Any]]:
        """The MachineConfig ``name``, or None when there is none."""
        try:
            return dict(self._call(f"get machineconfig {name}", self._custom().get_cluster_custom_object,
                                   MCO_GROUP, MCO_VERSION, "machineconfigs", name))
        except ClusterObjectNotFound:
            return None

    def machineconfig_metadata(self) -> List[Dict[str, Any]]:
        """The metadata (name, labels, owners) of every MachineConfig, in one small response.

        A real cluster keeps every rendered-* config it ever made (the MCO does not garbage-collect
        them) and each runs to hundreds of KB: listing them in full to learn their names would read
        tens of MB. PartialObjectMetadataList (not ``as=PartialObjectMetadata``, which a list answers
        with 406) sends only metadata.
        """
        import json

        response = self._call("list machineconfigs", self._custom().list_cluster_custom_object, MCO_GROUP,
                              MCO_VERSION, "machineconfigs", _preload_content=False,
                              _headers={"Accept": PARTIAL_METADATA_LIST})
        try:
            return [dict(item.get("metadata") or {}) for item in json.loads(response.data).get("items") or []]
        finally:
            response.release_conn()

    def get_object(self, group: str, version: str, plural: str, name: str) -> Optional[Dict[str, Any]]:
        """A cluster-scoped custom object (``images.config.openshift.io/cluster``...), None when absent
        (also when the API group is not served, as on a cluster without that operator)."""
        try:
            return dict(self._call(f"get {plural}.{group} {name}", self._custom().get_cluster_custom_object,
                                   group, version, plural, name))
        except ClusterObjectNotFound:
            return None

    def list_objects(self, group: str, version: str, plural: str) -> List[Dict[str, Any]]:
        """Every cluster-scoped custom object of a kind; [] when the API group is not served."""
        try:
            listed = self._call(f"list {plural}.{group}", self._custom().list_cluster_custom_object, group, version,
                                plural)
        except ClusterObjectNotFound:
            return []
        return list(listed.get("items") or [])

    def can_i(self, verb: str, resource: str, *, group: str = "", namespace: Optional[str] = None) -> bool:
        """Whether the login may ``verb`` ``resource`` (a SelfSubjectAccessReview, as ``oc auth can-i``)."""
        from kubernetes.client import AuthorizationV1Api

        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group,
                                                **({"namespace": namespace} if namespace else {})}}}
        api = AuthorizationV1Api(self._api)
        response = self._call(f"create selfsubjectaccessreview ({verb} {resource})",
                              api.create_self_subject_access_review, body, _preload_content=False)
        import json

        try:
            return bool((json.loads(response.data).get("status") or {}).get("allowed"))
        finally:
            response.release_conn()  # back to the pool: the next request reuses the connection

    def create_machineconfig(self, obj: Dict[str, Any], *, dry_run: bool = False) -> Dict[str, Any]:
        return dict(self._call(f"create machineconfig {obj['metadata']['name']}",
                               self._custom().create_cluster_custom_object, MCO_GROUP, MCO_VERSION, "machineconfigs",
                               obj, **_dry_run(dry_run)))

    def replace_machineconfig(self, obj: Dict[str, Any], *, dry_run: bool = False) -> Dict[str, Any]:
        """Update ``obj`` (which carries the resourceVersion it was read at: a concurrent change is a
        conflict, not a silent overwrite)."""
        name = str(obj["metadata"]["name"])
        return dict(self._call(f"update machineconfig {name}", self._custom().replace_cluster_custom_object,
                               MCO_GROUP, MCO_VERSION, "machineconfigs", name, obj, **_dry_run(dry_run)))

    def delete_machineconfig(self, name: str, resource_version: Optional[str] = None) -> None:
        """Delete ``name``; with ``resource_version``, only if nobody changed it since it was read."""
        body: Dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        self._call(f"delete machineconfig {name}", self._custom().delete_cluster_custom_object, MCO_GROUP,
                   MCO_VERSION, "machineconfigs", name, body=body)

    def machineosconfigs(self) -> Optional[List[Dict[str, Any]]]:
        """The MachineOSConfigs (on-cluster layering) at v1, else v1alpha1 (4.16, 4.17 Tech Preview);
        [] when the cluster serves neither (404: 4.14, 4.15, feature gate off); None when this login
        may not list them (403): the caller decides what not knowing means."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        for version in ("v1", "v1alpha1"):
            try:
                listed = self._custom().list_cluster_custom_object(MCO_GROUP, version, "machineosconfigs")
            except ApiException as exc:
                if exc.status == 404:
                    continue
                if exc.status == 403:
                    return None
                raise self._api_error("list machineosconfigs", exc) from None
            except (HTTPError, OSError) as exc:
                raise ClusterUnreachable(f"the API server {self.server} did not answer ({type(exc).__name__})",
                                         hint="check the network and the cluster's health, then try again") from None
            return list(listed.get("items") or [])
        return []

    def _custom(self) -> Any:
        from kubernetes.client import CustomObjectsApi

        return CustomObjectsApi(self._api)

    def preload_nodes_api(self) -> None:
        """Load the client's core API (about 0.7 s) now, so a watch that follows a write sees its
        first moments instead of spending them importing."""
        from kubernetes.client import CoreV1Api  # noqa: F401

    def node_metadata(self, label_selector: str) -> List[Dict[str, Any]]:
        """The metadata (labels, annotations) of the nodes ``label_selector`` selects, in one request.

        Asks for PartialObjectMetadataList: a 2,000-node pool costs one small response, not a full
        Node object per node, and no client-side model building.
        """
        import json

        from kubernetes.client import CoreV1Api

        api = CoreV1Api(self._api)
        response = self._call("list nodes", api.list_node, label_selector=label_selector, _preload_content=False,
                              _headers={"Accept": PARTIAL_METADATA_LIST})
        return [dict(item.get("metadata") or {}) for item in json.loads(response.data).get("items") or []]


def _dry_run(on: bool) -> Dict[str, Any]:
    """The API server's server-side dry run: validated and admitted, never stored."""
    return {"dry_run": "All"} if on else {}

"""The OpenShift API through the official Kubernetes client: the only module that imports it.

Access comes from a kubeconfig as `oc login` leaves it: ``--kubeconfig``, else ``KUBECONFIG``
(a list of files is merged), else ``~/.kube/config``; ``--context`` picks a context. Objects
come back as plain dicts; API errors become the project's errors, each saying what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, List, Mapping, Optional, Tuple

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
# a single object, and each watch event, is a PartialObjectMetadata (the List form is for lists only)
PARTIAL_METADATA = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"
# the statuses a watch retries: the API server or its load balancer failing for a moment
TRANSIENT_STATUS = (429, 500, 502, 503, 504)
WATCH_REQUEST_TIMEOUT = (10.0, 30.0)  # connect, read (seconds): no refresh hangs on a silent server
WATCH_SECONDS = 45  # a node watch is closed by the server after this and opened again where it stopped


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

        from ..kubeconfig import load

        # rhcos_layer.kubeconfig reads, checks and merges the files; the client gets only the chosen,
        # checked context (its own loader formats whole entries and rewrites files: see that module)
        login = load(kubeconfig_paths(kubeconfig), context)
        try:
            self._api: ApiClient = config.new_client_from_config_dict(login.config, context="context",
                                                                      persist_config=False)
        except (ConfigException, OSError, ValueError, TypeError, LookupError, AttributeError) as exc:
            # what the client still refuses in checked fields: a tokenFile that is missing, a PEM
            # that is not one; its messages name keys and files, not their secret values
            raise ClusterAccessError(f"kubeconfig {login.source}: context {login.context} is unusable: "
                                     f"{str(exc)[:200] or type(exc).__name__}",
                                     hint="check --context, or log in again with `oc login`") from None
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
            raise self._connection_error(exc) from None

    def _connection_error(self, exc: BaseException) -> RhcosLayerError:
        """A refused TLS certificate is a login to fix (the kubeconfig's CA), not an outage."""
        import ssl

        verify = _find_cause(exc, ssl.SSLCertVerificationError)
        if verify is not None:
            reason = getattr(verify, "verify_message", "") or verify.reason or "certificate verify failed"
            return ClusterAccessError(
                f"the API server {self.server}: untrusted certificate ({reason})",
                hint="the kubeconfig's certificate-authority does not match this server: log in again with"
                     " `oc login`, or fix certificate-authority-data")
        if _find_cause(exc, ssl.SSLError) is not None:
            return ClusterUnreachable(f"the API server {self.server}: TLS handshake failed",
                                      hint="check that the kubeconfig's server URL is the API's HTTPS endpoint")
        return ClusterUnreachable(f"the API server {self.server} did not answer ({type(exc).__name__})",
                                  hint="check the network and the cluster's health, then try again")

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
        return self.secret(namespace, name)[1]

    def secret(self, namespace: str, name: str) -> Tuple[str, Dict[str, bytes]]:
        """A Secret's type and decoded data. The values are secrets: never print or log them."""
        import base64

        from kubernetes.client import CoreV1Api

        api = CoreV1Api(self._api)
        response = self._call(f"get secret {namespace}/{name}", api.read_namespaced_secret, name, namespace,
                              _preload_content=False)
        import json

        body = json.loads(response.data)
        data = body.get("data") or {}
        return str(body.get("type") or ""), {str(key): base64.b64decode(str(value)) for key, value in data.items()}

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

    def patch_pool(self, name: str, patch: Dict[str, Any], resource_version: Optional[str] = None
                   ) -> Dict[str, Any]:
        """A JSON merge patch of the MachineConfigPool ``name`` (``spec.paused``, our annotations); with
        ``resource_version``, only if nobody changed the pool since it was read (409 otherwise). The client
        sends a custom object's patch as application/merge-patch+json (no ``_content_type``: the client
        for Python 3.9 does not take it)."""
        body = dict(patch)
        if resource_version:
            body["metadata"] = {**(body.get("metadata") or {}), "resourceVersion": resource_version}
        return dict(self._call(f"patch machineconfigpool {name}", self._custom().patch_cluster_custom_object,
                               MCO_GROUP, MCO_VERSION, "machineconfigpools", name, body))

    def set_desired_update(self, version: str, image: str, resource_version: Optional[str] = None
                           ) -> Dict[str, Any]:
        """Start a cluster upgrade: ClusterVersion ``version`` spec.desiredUpdate {version, image}, as
        ``oc adm upgrade --to`` writes it (openshift/oc pkg/cli/admin/upgrade/upgrade.go)."""
        body: Dict[str, Any] = {"spec": {"desiredUpdate": {"version": version, "image": image}}}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        return dict(self._call("patch clusterversion version", self._custom().patch_cluster_custom_object,
                               CONFIG_GROUP, "v1", "clusterversions", "version", body))

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
                raise self._connection_error(exc) from None
            return list(listed.get("items") or [])
        return []

    def served_versions(self, group: str, plural: str) -> List[str]:
        """The versions of ``group`` that serve ``plural``, from API discovery (as `oc api-resources`):
        MachineOSConfig is v1alpha1 only with TechPreviewNoUpgrade on 4.16/4.17, v1 from 4.18/4.19."""
        import json

        from kubernetes.client import ApisApi
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        def get(what: str, call: Any, *args: str) -> Optional[Dict[str, Any]]:
            # raw JSON (_preload_content=False): the same on the kubernetes clients for Python 3.9 and later,
            # which differ in their lower-level request API
            try:
                response = call(*args, _preload_content=False, _request_timeout=WATCH_REQUEST_TIMEOUT)
                body = response.data
            except ApiException as exc:
                if exc.status == 404:
                    return None  # the group or version is not served
                raise self._api_error(f"discover {what}", exc) from None
            except (HTTPError, OSError) as exc:
                raise self._connection_error(exc) from None
            try:
                data = json.loads(body)
            except ValueError:
                return None
            return data if isinstance(data, dict) else None

        groups = get("/apis", ApisApi(self._api).get_api_versions) or {}
        found = next((g for g in groups.get("groups") or [] if isinstance(g, dict) and g.get("name") == group), {})
        versions = [str(v.get("version")) for v in found.get("versions") or [] if isinstance(v, dict)]
        served = []
        for version in versions:
            listing = get(f"/apis/{group}/{version}", self._custom().get_api_resources, group, version) or {}
            names = [r.get("name") for r in listing.get("resources") or [] if isinstance(r, dict)]
            if plural in names:
                served.append(version)
        return served

    # -- on-cluster layering (apply --on-cluster): MachineOSConfig writes, its builds, their builder pods ---

    def create_machineosconfig(self, obj: Dict[str, Any], *, dry_run: bool = False) -> Dict[str, Any]:
        version = str(obj["apiVersion"]).rpartition("/")[2]
        return dict(self._call(f"create machineosconfig {obj['metadata']['name']}",
                               self._custom().create_cluster_custom_object, MCO_GROUP, version, "machineosconfigs",
                               obj, **_dry_run(dry_run)))

    def replace_machineosconfig(self, obj: Dict[str, Any], *, dry_run: bool = False) -> Dict[str, Any]:
        """Update ``obj`` at the resourceVersion it carries (a concurrent change is a conflict)."""
        name, version = str(obj["metadata"]["name"]), str(obj["apiVersion"]).rpartition("/")[2]
        return dict(self._call(f"update machineosconfig {name}", self._custom().replace_cluster_custom_object,
                               MCO_GROUP, version, "machineosconfigs", name, obj, **_dry_run(dry_run)))

    def delete_machineosconfig(self, name: str, version: str, resource_version: Optional[str] = None) -> None:
        body: Dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        self._call(f"delete machineosconfig {name}", self._custom().delete_cluster_custom_object, MCO_GROUP,
                   version, "machineosconfigs", name, body=body)

    def watched_machineosbuilds(self, version: str, label_selector: str) -> List[Dict[str, Any]]:
        """The MachineOSBuilds ``label_selector`` picks, read while following a build (bounded in time,
        transient failures as ClusterFlaky)."""
        listed = self._watch_call("list machineosbuilds", self._custom().list_cluster_custom_object, MCO_GROUP,
                                  version, "machineosbuilds", label_selector=label_selector)
        return list((listed or {}).get("items") or [])

    def watched_pods(self, namespace: str, label_selector: str) -> List[Dict[str, Any]]:
        """The pods ``label_selector`` picks in ``namespace`` (a Job's pods: ``job-name=NAME``)."""
        import json

        from kubernetes.client import CoreV1Api

        response = self._watch_call(f"list pods in {namespace}", CoreV1Api(self._api).list_namespaced_pod, namespace,
                                    label_selector=label_selector, _preload_content=False)
        try:
            return [dict(p) for p in json.loads(response.data).get("items") or []]
        finally:
            response.release_conn()

    def pod_log_tail(self, namespace: str, name: str, lines: int, container: Optional[str] = None) -> str:
        """The last ``lines`` lines of a pod's log (the ``pods/log`` subresource, at most 256 KB of it)."""
        from kubernetes.client import CoreV1Api

        extra: Dict[str, Any] = {"container": container} if container else {}
        response = self._watch_call(f"get pods/log {namespace}/{name}", CoreV1Api(self._api).read_namespaced_pod_log,
                                    name, namespace, tail_lines=lines, limit_bytes=256 << 10,
                                    _preload_content=False, **extra)
        try:
            return bytes(response.data).decode("utf-8", errors="replace")
        finally:
            response.release_conn()

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

    # -- watching a rollout (rollout.py): bounded time per call, transient failures told apart ---------

    def _watch_call(self, what: str, func: Any, *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
        """Like ``_call``, with a time limit, and with what a watch may retry (5xx, 429, timeouts, resets,
        refused connections) raised as ClusterFlaky; 401 / 403 stay what they are. ``missing_ok``: None
        for a 404 (an object gone meanwhile)."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        from ..errors import ClusterFlaky

        kwargs.setdefault("_request_timeout", WATCH_REQUEST_TIMEOUT)
        try:
            return func(*args, **kwargs)
        except ApiException as exc:
            if missing_ok and exc.status == 404:
                return None
            if exc.status in TRANSIENT_STATUS:
                raise ClusterFlaky(f"the API server {self.server} answered HTTP {exc.status} to {what}") from None
            raise self._api_error(what, exc) from None
        except (HTTPError, OSError, ValueError) as exc:  # ValueError: a response cut off mid-JSON
            if not isinstance(exc, ValueError):
                error = self._connection_error(exc)
                if isinstance(error, ClusterAccessError):  # an untrusted certificate: retrying cannot help
                    raise error from None
            raise ClusterFlaky(f"the API server {self.server} did not answer {what} ({type(exc).__name__})")\
                from None

    def watched_configmap(self, namespace: str, name: str) -> Dict[str, Any]:
        """A ConfigMap (the MCO's machine-config-osimageurl: small), for a refresh of ``status --watch``."""
        import json

        from kubernetes.client import CoreV1Api

        api = CoreV1Api(self._api)
        response = self._watch_call(f"get configmap {namespace}/{name}", api.read_namespaced_config_map, name,
                                    namespace, _preload_content=False)
        return dict(json.loads(response.data))

    def watched_pool(self, name: str) -> Dict[str, Any]:
        """The MachineConfigPool ``name`` (one small GET), for a refresh of the watch."""
        import json

        response = self._watch_call(f"get machineconfigpool {name}", self._custom().get_cluster_custom_object,
                                    MCO_GROUP, MCO_VERSION, "machineconfigpools", name, _preload_content=False)
        return dict(json.loads(response.data))

    def watched_cluster_version(self) -> Dict[str, Any]:
        """ClusterVersion ``version`` (one GET), for a refresh of ``upgrade apply``'s wait."""
        import json

        response = self._watch_call("get clusterversion version", self._custom().get_cluster_custom_object,
                                    CONFIG_GROUP, "v1", "clusterversions", "version", _preload_content=False)
        return dict(json.loads(response.data))

    def watched_pools(self) -> List[Dict[str, Any]]:
        """Every MachineConfigPool (one list), for a refresh of ``status --watch``."""
        import json

        response = self._watch_call("list machineconfigpools", self._custom().list_cluster_custom_object,
                                    MCO_GROUP, MCO_VERSION, "machineconfigpools", _preload_content=False)
        return list(json.loads(response.data).get("items") or [])

    def watched_machineconfigs(self, label_selector: str) -> List[Dict[str, Any]]:
        """The MachineConfigs ``label_selector`` selects (rhcos-layer's own: small), for a refresh."""
        import json

        response = self._watch_call("list machineconfigs", self._custom().list_cluster_custom_object, MCO_GROUP,
                                    MCO_VERSION, "machineconfigs", label_selector=label_selector,
                                    _preload_content=False)
        return list(json.loads(response.data).get("items") or [])

    def watched_machineconfig(self, name: str) -> Optional[Dict[str, Any]]:
        """One MachineConfig (a rendered one can weigh hundreds of KB: callers keep what they need)."""
        import json

        response = self._watch_call(f"get machineconfig {name}", self._custom().get_cluster_custom_object,
                                    MCO_GROUP, MCO_VERSION, "machineconfigs", name, _preload_content=False,
                                    missing_ok=True)
        return None if response is None else dict(json.loads(response.data))

    def watched_node(self, name: str) -> Optional[Dict[str, Any]]:
        """One node's metadata (PartialObjectMetadata), or None when it is gone."""
        import json

        from kubernetes.client import CoreV1Api

        api = CoreV1Api(self._api)
        response = self._watch_call(f"get node {name}", api.read_node, name, _preload_content=False,
                                    _headers={"Accept": PARTIAL_METADATA}, missing_ok=True)
        return None if response is None else dict(json.loads(response.data).get("metadata") or {})

    def list_node_metadata(self, label_selector: str) -> Tuple[List[Dict[str, Any]], str]:
        """The metadata of the selected nodes and the list's resourceVersion (where a watch starts)."""
        import json

        from kubernetes.client import CoreV1Api

        api = CoreV1Api(self._api)
        response = self._watch_call("list nodes", api.list_node, label_selector=label_selector,
                                    _preload_content=False, _headers={"Accept": PARTIAL_METADATA_LIST})
        listed = json.loads(response.data)
        items = [dict(item.get("metadata") or {}) for item in listed.get("items") or []]
        return items, str((listed.get("metadata") or {}).get("resourceVersion") or "")

    def watch_node_metadata(self, label_selector: str, resource_version: str, seconds: int = WATCH_SECONDS,
                            opened: Optional[Callable[[Callable[[], None]], None]] = None,
                            ) -> Iterator[Tuple[str, Dict[str, Any]]]:
        """The selected nodes' changes after ``resource_version`` as (event type, metadata), as ``oc get
        nodes -w`` streams them; ends after ``seconds`` (the server closes the watch). BOOKMARK events
        carry only a resourceVersion; ERROR ones (410 Gone: the version left the server's window) the
        Status as metadata. ``opened`` receives a function that ends the watch from another thread."""
        import json

        from kubernetes.client import CoreV1Api
        from urllib3.exceptions import HTTPError

        from ..errors import ClusterFlaky

        api = CoreV1Api(self._api)
        response = self._watch_call(
            "watch nodes", api.list_node, label_selector=label_selector, watch=True,
            resource_version=resource_version, allow_watch_bookmarks=True, timeout_seconds=seconds,
            _preload_content=False, _headers={"Accept": PARTIAL_METADATA},
            _request_timeout=(WATCH_REQUEST_TIMEOUT[0], seconds + WATCH_REQUEST_TIMEOUT[1]))
        if opened is not None:
            opened(lambda: _shutdown(response))
        try:
            for line in _lines(response):
                event = json.loads(line)
                obj = event.get("object") or {}
                kind = str(event.get("type") or "")
                yield kind, (dict(obj) if kind == "ERROR" else dict(obj.get("metadata") or {}))
        except (HTTPError, OSError, ValueError) as exc:
            raise ClusterFlaky(f"the watch of nodes on {self.server} broke off ({type(exc).__name__})") from None
        finally:
            response.release_conn()

    # -- on-cluster layering (status, rollback): a MachineOSConfig read again at each refresh --------------

    def watched_machineosconfig(self, name: str, version: str) -> Optional[Dict[str, Any]]:
        """The MachineOSConfig ``name`` at ``version`` (small), for a refresh of ``status --watch``; None when gone."""
        import json

        response = self._watch_call(f"get machineosconfig {name}", self._custom().get_cluster_custom_object,
                                    MCO_GROUP, version, "machineosconfigs", name, _preload_content=False,
                                    missing_ok=True)
        return None if response is None else dict(json.loads(response.data))


def _find_cause(exc: BaseException, kind: Any) -> Any:
    """The first ``kind`` among ``exc``, its causes and what urllib3 wraps (``reason``, args)."""
    seen: List[BaseException] = []
    todo: List[Any] = [exc]
    while todo and len(seen) < 20:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        if isinstance(item, kind):
            return item
        seen.append(item)
        todo.extend([getattr(item, "reason", None), item.__cause__, item.__context__, *item.args])
    return None


def _dry_run(on: bool) -> Dict[str, Any]:
    """The API server's server-side dry run: validated and admitted, never stored."""
    return {"dry_run": "All"} if on else {}


def _lines(response: Any) -> Iterator[bytes]:
    """The newline-delimited JSON events of a watch response, as they arrive."""
    pending = b""
    for chunk in response.stream(amt=None, decode_content=True):
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if line.strip():
                yield line
    if pending.strip():
        yield pending


def _shutdown(response: Any) -> None:
    """End a streaming response from another thread: its blocked read returns."""
    try:
        shutdown = getattr(response, "shutdown", None)  # urllib3 >= 2.3
        if shutdown is not None:
            shutdown()
        else:
            response.close()
    except OSError:
        pass

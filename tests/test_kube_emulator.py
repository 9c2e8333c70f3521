"""Tests of the emulated OpenShift API server (tests/support/kube.py) with kubectl, the official
kubernetes client and raw HTTP, checked against what the real kube-apiserver answers."""

from __future__ import annotations

import base64
import inspect
import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
import requests

from tests.support.kube import (
    KubeAPI,
    OpenShiftSeed,
    human_duration,
    json_patch,
    jsonpath,
    merge_patch,
    parse_label_selector,
    seed_openshift,
)

MCO = "machineconfiguration.openshift.io"
MCS = f"/apis/{MCO}/v1/machineconfigs"
MCPS = f"/apis/{MCO}/v1/machineconfigpools"
ROLE = f"{MCO}/role"
IMAGE = "registry.example.com/ops/rhcos-layered@sha256:" + "b" * 64
KubectlRunner = Callable[..., "subprocess.CompletedProcess[str]"]  # the kubectl fixture


def _mc(name: str, role: Optional[str] = "worker", image: str = IMAGE, **meta: Any) -> Dict[str, Any]:
    metadata: Dict[str, Any] = {"name": name, **meta}
    if role:
        metadata.setdefault("labels", {})[ROLE] = role
    return {"apiVersion": f"{MCO}/v1", "kind": "MachineConfig", "metadata": metadata, "spec": {"osImageURL": image}}


def _req(api: KubeAPI, method: str, path: str, *, token: Optional[str] = "", **kw: Any) -> requests.Response:
    """A raw request; token "" = the valid one, None = no Authorization header."""
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token or api.token}"
    kw.setdefault("timeout", 10)
    return requests.request(method, api.url + path, headers=headers, verify=str(api.ca_path), **kw)


def _watch_lines(api: KubeAPI, path: str, **params: Any) -> Tuple[requests.Response, List[Dict[str, Any]]]:
    """Run a watch to its end (give timeoutSeconds); returns the response and its events."""
    params["watch"] = "true"
    r = _req(api, "GET", path, params=params, stream=True, timeout=30)
    events = [json.loads(line) for line in r.iter_lines() if line]
    return r, events


# ======================================================================== kubectl
def test_kubectl_get_mcp_prints_the_crd_columns(openshift: OpenShiftSeed, kubectl: KubectlRunner) -> None:
    res = kubectl("get", "mcp")
    assert res.returncode == 0, res.stderr
    header, *rows = res.stdout.splitlines()
    assert header.split() == ["NAME", "CONFIG", "UPDATED", "UPDATING", "DEGRADED", "MACHINECOUNT",
                              "READYMACHINECOUNT", "UPDATEDMACHINECOUNT", "DEGRADEDMACHINECOUNT", "AGE"]
    worker = next(r.split() for r in rows if r.startswith("worker "))
    assert worker == ["worker", openshift.rendered["worker"], "True", "False", "False", "3", "3", "3", "0", "3d"]
    assert len(rows) == 2


def test_kubectl_get_nodes(openshift: OpenShiftSeed, kubectl: KubectlRunner) -> None:
    res = kubectl("get", "nodes")
    assert res.returncode == 0, res.stderr
    header, *rows = res.stdout.splitlines()
    assert header.split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    table = {r.split()[0]: r.split()[1:] for r in rows}
    assert sorted(table) == ["master-0", "master-1", "master-2", "worker-0", "worker-1", "worker-2"]
    assert table["worker-0"] == ["Ready", "worker", "3d", "v1.29.6+aba1e8d"]
    assert table["master-2"][:2] == ["Ready", "control-plane,master"]


def test_kubectl_get_mc_json(openshift: OpenShiftSeed, kubectl: KubectlRunner) -> None:
    res = kubectl("get", "mc", "00-worker", "-o", "json")
    assert res.returncode == 0, res.stderr
    mc = json.loads(res.stdout)
    assert mc["kind"] == "MachineConfig" and mc["apiVersion"] == f"{MCO}/v1"
    assert mc["metadata"]["labels"] == {ROLE: "worker"}
    assert mc["metadata"]["resourceVersion"].isdigit() and mc["metadata"]["uid"]
    assert mc["metadata"]["ownerReferences"][0]["kind"] == "ControllerConfig"
    assert mc["spec"]["config"]["ignition"]["version"] == "3.4.0"

    rendered = json.loads(kubectl("get", "mc", openshift.rendered["worker"], "-o", "json").stdout)
    assert rendered["spec"]["osImageURL"] == openshift.base_image
    assert rendered["metadata"]["annotations"][f"{MCO}/generated-by-controller-version"]
    assert "labels" not in rendered["metadata"]  # so the pool's selector does not pick it up


def test_kubectl_label_selectors(openshift: OpenShiftSeed, kubectl: KubectlRunner, kube_api: KubeAPI) -> None:
    res = kubectl("get", "mc", "-l", f"{ROLE}=worker", "-o", "name")
    assert res.returncode == 0, res.stderr
    names = {line.split("/", 1)[1] for line in res.stdout.split()}
    assert names == set(openshift.base_configs["worker"])
    assert kube_api.count("GET", MCS, labelSelector=f"{ROLE}=worker") == 1

    table = kubectl("get", "mc", "-l", f"!{ROLE}")
    assert [r.split()[0] for r in table.stdout.splitlines()[1:]] == sorted(openshift.rendered.values())
    assert table.stdout.splitlines()[0].split() == ["NAME", "GENERATEDBYCONTROLLER", "IGNITIONVERSION", "AGE"]
    both = kubectl("get", "mc", "-l", f"{ROLE} in (master,worker),{ROLE}!=master", "-o", "name")
    assert {line.split("/", 1)[1] for line in both.stdout.split()} == names


def test_kubectl_delete_mc(openshift: OpenShiftSeed, kubectl: KubectlRunner, kube_api: KubeAPI) -> None:
    res = kubectl("delete", "mc", "99-worker-ssh")
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == f'machineconfig.{MCO} "99-worker-ssh" deleted'
    assert kube_api.store.get("mc", "99-worker-ssh") is None
    again = kubectl("delete", "mc", "99-worker-ssh")
    assert again.returncode == 1
    assert f'Error from server (NotFound): machineconfigs.{MCO} "99-worker-ssh" not found' in again.stderr


def test_kubectl_not_found_exit_code(openshift: OpenShiftSeed, kubectl: KubectlRunner) -> None:
    res = kubectl("get", "mc", "no-such-config")
    assert res.returncode == 1
    assert res.stdout == ""
    assert res.stderr.strip() == (f'Error from server (NotFound): machineconfigs.{MCO} "no-such-config" not found')


def test_kubectl_jsonpath_on_clusterversion(openshift: OpenShiftSeed, kubectl: KubectlRunner) -> None:
    res = kubectl("get", "clusterversion", "version", "-o",
                  'jsonpath={.status.desired.version} {.status.history[?(@.state=="Completed")].image}')
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"4.16.3 {openshift.release_image}"
    table = kubectl("get", "clusterversion")
    assert table.stdout.splitlines()[0].split() == ["NAME", "VERSION", "AVAILABLE", "PROGRESSING", "SINCE",
                                                    "STATUS"]
    assert table.stdout.splitlines()[1].split()[:4] == ["version", "4.16.3", "True", "False"]


def test_kubectl_expired_token(openshift: OpenShiftSeed, kubectl: KubectlRunner, kube_api: KubeAPI,
                               kubeconfig: Path) -> None:
    assert kubectl("get", "mcp").returncode == 0
    kube_api.expire_token()
    res = kubectl("get", "mcp")
    assert res.returncode == 1
    assert "error: You must be logged in to the server (Unauthorized)" in res.stderr
    kube_api.write_kubeconfig(kubeconfig)  # "oc login" again
    assert kubectl("get", "mcp").returncode == 0


def test_kubectl_create_apply_patch_and_validation(openshift: OpenShiftSeed, kubectl: KubectlRunner,
                                                   kube_api: KubeAPI) -> None:
    doc = json.dumps(_mc("99-zz-rhcos-layer-0-worker"))
    created = kubectl("create", "-f", "-", input=doc)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == f"machineconfig.{MCO}/99-zz-rhcos-layer-0-worker created"
    # kubectl validates on the server (fieldValidation=Strict) once /openapi/v3 says it can
    post = [c for c in kube_api.calls if c.method == "POST"][-1]
    assert post.query["fieldValidation"] == "Strict"

    unknown = dict(_mc("99-zz-typo"), spec={"osImageUrl": IMAGE})
    res = kubectl("create", "-f", "-", input=json.dumps(unknown))
    assert res.returncode == 1
    assert ('Error from server (BadRequest): error when creating "STDIN": MachineConfig in version "v1" cannot be'
            ' handled as a MachineConfig: strict decoding error: unknown field "spec.osImageUrl"') in res.stderr

    wrong = dict(_mc("99-zz-wrong"), spec={"osImageURL": ["not", "a", "string"]})
    res = kubectl("create", "-f", "-", input=json.dumps(wrong))
    assert res.returncode == 1
    assert ('The MachineConfig "99-zz-wrong" is invalid: spec.osImageURL: Invalid value: "array": spec.osImageURL'
            ' in body must be of type string: "array"') in res.stderr

    # custom resources take no strategic merge patch (kubectl's default for `patch`)
    res = kubectl("patch", "mc", "99-zz-rhcos-layer-0-worker", "-p", '{"spec":{"kernelType":"realtime"}}')
    assert res.returncode == 1 and "application/strategic-merge-patch+json is not supported" in res.stderr
    res = kubectl("patch", "mc", "99-zz-rhcos-layer-0-worker", "--type", "merge", "-p",
                  '{"spec":{"kernelType":"realtime"}}')
    assert res.returncode == 0, res.stderr
    stored = kube_api.store.get("mc", "99-zz-rhcos-layer-0-worker")
    assert stored is not None and stored["spec"]["kernelType"] == "realtime"
    assert stored["metadata"]["generation"] == 2

    res = kubectl("apply", "--server-side", "-f", "-", input=json.dumps(_mc("99-zz-applied")))
    assert res.returncode == 0, res.stderr
    assert kube_api.store.get("mc", "99-zz-applied") is not None


def test_kubectl_forbidden_message(openshift: OpenShiftSeed, kubectl: KubectlRunner, kube_api: KubeAPI) -> None:
    kube_api.forbid("create", "mc")
    res = kubectl("create", "-f", "-", input=json.dumps(_mc("99-zz-x")))
    assert res.returncode == 1
    assert (f'Error from server (Forbidden): error when creating "STDIN": machineconfigs.{MCO} is forbidden: User'
            f' "system:admin" cannot create resource "machineconfigs" in API group "{MCO}" at the cluster'
            " scope") in res.stderr
    assert kubectl("auth", "can-i", "create", "mc").stdout.strip() == "no"
    assert kubectl("auth", "can-i", "delete", "mc").stdout.strip() == "yes"


def test_kubectl_watch_and_status_subresource(openshift: OpenShiftSeed, kubectl: KubectlRunner,
                                              kube_api: KubeAPI) -> None:
    res = kubectl("patch", "mcp", "worker", "--subresource", "status", "--type", "merge",
                  "-p", '{"status":{"updatedMachineCount":1}}')
    assert res.returncode == 0, res.stderr
    res = kubectl("get", "mcp", "worker", "-o", "jsonpath={.status.updatedMachineCount}")
    assert res.stdout == "1"

    def play_the_mco() -> None:  # once kubectl watches (from its list's resourceVersion)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(c.query.get("watch") for c in kube_api.calls):
            time.sleep(0.02)
        kube_api.store.patch("mcp", "worker", {"status": {"updatedMachineCount": 2}})

    mco = threading.Thread(target=play_the_mco)
    mco.start()
    watched = kubectl("get", "mcp", "worker", "-w", "--request-timeout", "3s")
    mco.join()
    assert watched.returncode == 0, watched.stderr  # ends with the request timeout
    rows = [line.split() for line in watched.stdout.splitlines()[1:]]
    assert [(r[0], r[7]) for r in rows] == [("worker", "1"), ("worker", "2")]
    watch = next(c for c in kube_api.calls if c.query.get("watch"))
    assert "as=Table" in watch.headers["Accept"] and watch.status == 200


@pytest.mark.parametrize("git_version,aggregated", [("v1.29.6+aba1e8d", False), ("v1.32.1", True)])
def test_kubectl_versions_and_discovery_kinds(tmp_path_factory: pytest.TempPathFactory, kubectl: KubectlRunner,
                                              git_version: str, aggregated: bool) -> None:
    """kubectl here is Google's dispatcher: it execs kubectl.1.<server minor> when it has one."""
    with KubeAPI(git_version=git_version, aggregated_discovery=aggregated) as api:
        seed_openshift(api)
        api.git_version = git_version
        config = api.write_kubeconfig(tmp_path_factory.mktemp("kc") / "config")
        res = kubectl("--kubeconfig", str(config), "get", "mcp", "-o", "name")
        assert res.returncode == 0, res.stderr
        assert res.stdout.split() == [f"machineconfigpool.{MCO}/master", f"machineconfigpool.{MCO}/worker"]
        if _kubectl_is_dispatcher():
            minor = git_version.split(".")[1]
            agents = {c.headers.get("User-Agent", "").split()[0] for c in api.calls}
            assert f"kubectl/v1.{minor}" in {a.rsplit(".", 1)[0] for a in agents}
        legacy = api.count("GET", f"/apis/{MCO}/v1")
        assert (legacy == 0) == aggregated


def _kubectl_is_dispatcher() -> bool:
    exe = shutil.which("kubectl")
    res = subprocess.run([exe or "kubectl", "version", "--client"], capture_output=True, text=True, check=False)
    return "dispatcher" in res.stdout


# ======================================================================== kubernetes client
def _custom(k8s: Any) -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(k8s)


def _api_exception() -> Any:
    from kubernetes.client.exceptions import ApiException

    return ApiException


def test_client_list_with_label_selector(openshift: OpenShiftSeed, k8s: Any) -> None:
    from kubernetes import client

    listed = _custom(k8s).list_cluster_custom_object(MCO, "v1", "machineconfigs", label_selector=f"{ROLE}=worker")
    assert listed["kind"] == "MachineConfigList" and listed["apiVersion"] == f"{MCO}/v1"
    assert listed["metadata"]["resourceVersion"].isdigit()
    assert [i["metadata"]["name"] for i in listed["items"]] == openshift.base_configs["worker"]
    assert all(i["kind"] == "MachineConfig" for i in listed["items"])

    nodes = client.CoreV1Api(k8s).list_node(label_selector="node-role.kubernetes.io/worker")
    assert [n.metadata.name for n in nodes.items] == ["worker-0", "worker-1", "worker-2"]
    one = client.CoreV1Api(k8s).list_node(field_selector="metadata.name=master-1")
    assert [n.metadata.name for n in one.items] == ["master-1"]
    assert one.items[0].metadata.annotations[f"{MCO}/state"] == "Done"


def test_client_create_returns_the_object(openshift: OpenShiftSeed, k8s: Any, kube_api: KubeAPI) -> None:
    before = int(kube_api.store.resource_version)
    body, status, _headers = _custom(k8s).create_cluster_custom_object_with_http_info(
        MCO, "v1", "machineconfigs", _mc("99-zz-rhcos-layer-0-worker"))
    assert status == 201
    meta = body["metadata"]
    assert meta["generation"] == 1 and meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert int(meta["resourceVersion"]) == before + 1
    assert body["spec"] == {"osImageURL": IMAGE}
    assert kube_api.store.get("machineconfigs", "99-zz-rhcos-layer-0-worker") == body


def test_client_duplicate_create_is_409(openshift: OpenShiftSeed, k8s: Any) -> None:
    with pytest.raises(_api_exception()) as info:
        _custom(k8s).create_cluster_custom_object(MCO, "v1", "machineconfigs", _mc("00-worker"))
    assert info.value.status == 409
    body = json.loads(info.value.body)
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == f'machineconfigs.{MCO} "00-worker" already exists'


def test_client_stale_update_is_409(openshift: OpenShiftSeed, k8s: Any) -> None:
    api = _custom(k8s)
    first = api.get_cluster_custom_object(MCO, "v1", "machineconfigs", "00-worker")
    second = json.loads(json.dumps(first))
    first["metadata"].setdefault("annotations", {})["a"] = "1"
    updated = api.replace_cluster_custom_object(MCO, "v1", "machineconfigs", "00-worker", first)
    assert int(updated["metadata"]["resourceVersion"]) > int(second["metadata"]["resourceVersion"])
    assert updated["metadata"]["generation"] == 1  # metadata only
    second["spec"]["kernelType"] = "realtime"
    with pytest.raises(_api_exception()) as info:
        api.replace_cluster_custom_object(MCO, "v1", "machineconfigs", "00-worker", second)
    assert info.value.status == 409
    assert json.loads(info.value.body)["message"] == (
        f'Operation cannot be fulfilled on machineconfigs.{MCO} "00-worker": the object has been modified; please'
        " apply your changes to the latest version and try again")
    second["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]
    third = api.replace_cluster_custom_object(MCO, "v1", "machineconfigs", "00-worker", second)
    assert third["metadata"]["generation"] == 2


def test_client_404_is_a_not_found_status(kube_api: KubeAPI, k8s: Any) -> None:
    with pytest.raises(_api_exception()) as info:
        _custom(k8s).get_cluster_custom_object(MCO, "v1", "machineconfigs", "x")
    assert info.value.status == 404
    assert json.loads(info.value.body) == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": f'machineconfigs.{MCO} "x" not found', "reason": "NotFound",
        "details": {"name": "x", "group": MCO, "kind": "machineconfigs"}, "code": 404}


def test_client_watch_stream(openshift: OpenShiftSeed, k8s: Any, kube_api: KubeAPI) -> None:
    from kubernetes import watch

    api = _custom(k8s)
    rv = api.list_cluster_custom_object(MCO, "v1", "machineconfigs")["metadata"]["resourceVersion"]
    seen: List[Tuple[str, str, str]] = []
    w = watch.Watch()

    def consume() -> None:
        for event in w.stream(api.list_cluster_custom_object, MCO, "v1", "machineconfigs", resource_version=rv,
                              label_selector=f"{ROLE}=worker", timeout_seconds=10):
            obj = event["object"]
            seen.append((event["type"], obj["metadata"]["name"], obj["metadata"]["resourceVersion"]))
            if event["type"] == "DELETED":
                w.stop()

    thread = threading.Thread(target=consume)
    thread.start()
    name = "99-zz-rhcos-layer-0-worker"
    created = api.create_cluster_custom_object(MCO, "v1", "machineconfigs", _mc(name))
    api.create_cluster_custom_object(MCO, "v1", "machineconfigs", _mc("99-zz-master", role="master"))
    patched = api.patch_cluster_custom_object(MCO, "v1", "machineconfigs", name, {"spec": {"kernelType": "realtime"}})
    api.delete_cluster_custom_object(MCO, "v1", "machineconfigs", name)
    thread.join(15)
    assert not thread.is_alive()
    assert [(t, n) for t, n, _ in seen] == [("ADDED", name), ("MODIFIED", name), ("DELETED", name)]
    assert seen[0][2] == created["metadata"]["resourceVersion"]
    assert seen[1][2] == patched["metadata"]["resourceVersion"]
    assert int(seen[2][2]) > int(seen[1][2])  # the deletion's own resourceVersion


def test_client_status_subresource(openshift: OpenShiftSeed, k8s: Any) -> None:
    api = _custom(k8s)
    pool = api.patch_cluster_custom_object_status(MCO, "v1", "machineconfigpools", "worker",
                                                  {"status": {"updatedMachineCount": 1}, "spec": {"paused": True}})
    assert pool["status"]["updatedMachineCount"] == 1
    assert pool["spec"]["paused"] is False  # /status changes only status
    assert pool["metadata"]["generation"] == 1
    pool = api.patch_cluster_custom_object(MCO, "v1", "machineconfigpools", "worker",
                                           {"status": {"updatedMachineCount": 3}, "spec": {"paused": True}})
    assert pool["status"]["updatedMachineCount"] == 1  # the main resource ignores status
    assert pool["spec"]["paused"] is True and pool["metadata"]["generation"] == 2
    with pytest.raises(_api_exception()) as info:  # MachineConfig has no status subresource
        api.patch_cluster_custom_object_status(MCO, "v1", "machineconfigs", "00-worker", {"status": {}})
    assert info.value.status == 404


def test_client_forbidden(openshift: OpenShiftSeed, k8s: Any, kube_api: KubeAPI) -> None:
    from kubernetes import client

    kube_api.forbid("create", "machineconfigs")
    kube_api.forbid("get", "configmaps", namespace="openshift-machine-config-operator")
    with pytest.raises(_api_exception()) as info:
        _custom(k8s).create_cluster_custom_object(MCO, "v1", "machineconfigs", _mc("99-zz-x"))
    assert info.value.status == 403
    body = json.loads(info.value.body)
    assert body["reason"] == "Forbidden"
    assert body["message"] == (
        f'machineconfigs.{MCO} is forbidden: User "system:admin" cannot create resource "machineconfigs" in API'
        f' group "{MCO}" at the cluster scope')
    with pytest.raises(_api_exception()) as info:
        client.CoreV1Api(k8s).read_namespaced_config_map("machine-config-osimageurl",
                                                         "openshift-machine-config-operator")
    assert json.loads(info.value.body)["message"] == (
        'configmaps "machine-config-osimageurl" is forbidden: User "system:admin" cannot get resource "configmaps"'
        ' in API group "" in the namespace "openshift-machine-config-operator"')
    kube_api.allow()
    assert client.CoreV1Api(k8s).read_namespaced_config_map(
        "machine-config-osimageurl", "openshift-machine-config-operator").data["releaseVersion"] == "4.16.3"


def test_client_expired_token_is_401(openshift: OpenShiftSeed, k8s: Any, kube_api: KubeAPI) -> None:
    kube_api.expire_token()
    with pytest.raises(_api_exception()) as info:
        _custom(k8s).get_cluster_custom_object(MCO, "v1", "machineconfigpools", "worker")
    assert info.value.status == 401
    assert json.loads(info.value.body)["reason"] == "Unauthorized"


def test_client_dry_run_and_generate_name(openshift: OpenShiftSeed, k8s: Any, kube_api: KubeAPI) -> None:
    api = _custom(k8s)
    rv = kube_api.store.resource_version
    dry = api.create_cluster_custom_object(MCO, "v1", "machineconfigs", _mc("99-zz-dry"), dry_run="All")
    assert dry["metadata"]["uid"] and "resourceVersion" not in dry["metadata"]
    api.delete_cluster_custom_object(MCO, "v1", "machineconfigs", "00-worker", dry_run="All")
    api.patch_cluster_custom_object(MCO, "v1", "machineconfigs", "00-worker", {"spec": {"fips": True}},
                                    dry_run="All")
    assert kube_api.store.resource_version == rv
    assert kube_api.store.get("mc", "99-zz-dry") is None
    assert kube_api.store.get("mc", "00-worker")["spec"]["fips"] is False  # type: ignore[index]

    made = api.create_cluster_custom_object(MCO, "v1", "machineconfigs",
                                            {"apiVersion": f"{MCO}/v1", "kind": "MachineConfig",
                                             "metadata": {"generateName": "99-zz-gen-"}, "spec": {}})
    assert made["metadata"]["name"].startswith("99-zz-gen-") and len(made["metadata"]["name"]) == 15
    gone = api.delete_cluster_custom_object(MCO, "v1", "machineconfigs", made["metadata"]["name"])
    assert gone["kind"] == "Status" and gone["status"] == "Success"
    assert gone["details"] == {"name": made["metadata"]["name"], "group": MCO, "kind": "machineconfigs",
                               "uid": made["metadata"]["uid"]}


def test_client_patch_types(openshift: OpenShiftSeed, k8s: Any, kube_api: KubeAPI) -> None:
    from kubernetes import client

    api = _custom(k8s)
    # custom objects are always sent as merge patches unless the content type is forced:
    # _content_type= in the newer (pydantic) client, a default header in older ones
    explicit = "_content_type" in inspect.signature(api.patch_cluster_custom_object).parameters
    kwargs = {"_content_type": "application/json-patch+json"} if explicit else {}
    if not explicit:
        k8s.set_default_header("Content-Type", "application/json-patch+json")
    try:
        patched = api.patch_cluster_custom_object(MCO, "v1", "machineconfigs", "00-worker",
                                                  [{"op": "add", "path": "/metadata/labels/extra", "value": "x"}],
                                                  **kwargs)
    finally:
        k8s.default_headers.pop("Content-Type", None)
    assert patched["metadata"]["labels"]["extra"] == "x"
    with pytest.raises(_api_exception()) as info:  # a list as a merge patch
        api.patch_cluster_custom_object(MCO, "v1", "machineconfigs", "00-worker", [{"op": "remove", "path": "/x"}])
    assert info.value.status == 400
    r = _req(kube_api, "PATCH", f"{MCS}/00-worker", data=b'{"spec":{}}',
             headers={"Content-Type": "application/strategic-merge-patch+json"})
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    assert r.json()["message"] == (
        "the body of the request was in an unknown format - accepted media types include:"
        " application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
    # core objects: the client sends a dict as a strategic merge patch
    core = client.CoreV1Api(k8s)
    cm = core.patch_namespaced_config_map("machine-config-osimageurl", "openshift-machine-config-operator",
                                          {"data": {"extra": "1", "osImageURL": None}})
    assert cm.data["extra"] == "1" and "osImageURL" not in cm.data


# ======================================================================== raw HTTP
def test_authentication(kube_api: KubeAPI) -> None:
    assert _req(kube_api, "GET", "/version", token=None).json()["gitVersion"] == "v1.29.6+aba1e8d"
    r = _req(kube_api, "GET", "/apis", token=None)
    assert r.status_code == 403
    assert r.json()["message"] == 'forbidden: User "system:anonymous" cannot get path "/apis"'
    r = _req(kube_api, "GET", "/api/v1/nodes", token="sha256~wrong")
    assert r.status_code == 401
    assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    assert _req(kube_api, "GET", "/version", token="sha256~wrong").status_code == 401
    old = kube_api.token
    new = kube_api.expire_token()
    assert _req(kube_api, "GET", "/api/v1/nodes", token=old).status_code == 401
    assert _req(kube_api, "GET", "/api/v1/nodes", token=new).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(kube_api.url + "/version", timeout=5)  # the system CAs do not know the emulator's


def test_discovery_documents(kube_api: KubeAPI) -> None:
    core = _req(kube_api, "GET", "/api/v1").json()
    assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
    nodes = next(r for r in core["resources"] if r["name"] == "nodes")
    assert nodes["namespaced"] is False and nodes["kind"] == "Node" and nodes["shortNames"] == ["no"]
    assert next(r for r in core["resources"] if r["name"] == "configmaps")["namespaced"] is True

    mco = _req(kube_api, "GET", f"/apis/{MCO}/v1").json()
    assert mco["groupVersion"] == f"{MCO}/v1"
    by_name = {r["name"]: r for r in mco["resources"]}
    assert by_name["machineconfigs"]["shortNames"] == ["mc"]
    assert by_name["machineconfigs"]["singularName"] == "machineconfig"
    assert by_name["machineconfigpools"]["shortNames"] == ["mcp"]
    assert set(by_name["machineconfigs"]["verbs"]) == {"create", "delete", "deletecollection", "get", "list",
                                                       "patch", "update", "watch"}
    assert by_name["machineconfigpools/status"]["verbs"] == ["get", "patch", "update"]
    assert "machineconfigs/status" not in by_name
    assert {"machineosconfigs", "machineosbuilds", "controllerconfigs"} <= set(by_name)

    groups = _req(kube_api, "GET", "/apis").json()
    assert groups["kind"] == "APIGroupList"
    assert {g["name"] for g in groups["groups"]} >= {MCO, "config.openshift.io"}
    assert _req(kube_api, "GET", "/api").json()["versions"] == ["v1"]
    aggregated = _req(kube_api, "GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"})
    assert aggregated.headers["Content-Type"].endswith("as=APIGroupDiscoveryList")
    assert aggregated.json()["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    assert _req(kube_api, "GET", "/apis/nope.example.com/v1").status_code == 404
    assert _req(kube_api, "GET", "/apis/config.openshift.io/v1/nopes").json()["message"] == (
        "the server could not find the requested resource")


def test_table_output(openshift: OpenShiftSeed, kube_api: KubeAPI) -> None:
    table = _req(kube_api, "GET", MCPS, headers={
        "Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}).json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    names = [c["name"] for c in table["columnDefinitions"]]
    assert names[:2] == ["Name", "Config"] and names[-1] == "Age"
    row = table["rows"][1]
    assert row["cells"][:5] == ["worker", openshift.rendered["worker"], "True", "False", "False"]
    assert row["cells"][5] == 3 and row["object"]["kind"] == "PartialObjectMetadata"


def test_list_pagination(openshift: OpenShiftSeed, kube_api: KubeAPI) -> None:
    names: List[str] = []
    params: Dict[str, Any] = {"limit": 5}
    while True:
        page = _req(kube_api, "GET", MCS, params=params).json()
        names += [i["metadata"]["name"] for i in page["items"]]
        if not page["metadata"].get("continue"):
            break
        assert page["metadata"]["remainingItemCount"] == 16 - len(names)
        params["continue"] = page["metadata"]["continue"]
    assert names == sorted(mc["metadata"]["name"] for mc in kube_api.store.list("mc"))
    assert len(names) == 16


def test_field_selector_and_bad_selectors(openshift: OpenShiftSeed, kube_api: KubeAPI) -> None:
    r = _req(kube_api, "GET", MCS, params={"fieldSelector": "metadata.name=00-worker"})
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["00-worker"]
    r = _req(kube_api, "GET", MCS, params={"fieldSelector": "metadata.name!=00-worker"})
    assert len(r.json()["items"]) == 15
    r = _req(kube_api, "GET", MCS, params={"fieldSelector": "spec.osImageURL=x"})
    assert r.status_code == 400 and r.json()["message"] == "field label not supported: spec.osImageURL"
    r = _req(kube_api, "GET", MCS, params={"labelSelector": "a in (b"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"


def test_schema_checks(openshift: OpenShiftSeed, kube_api: KubeAPI) -> None:
    r = _req(kube_api, "POST", MCS, json=dict(_mc("99-zz-a"), spec={"osImageURL": IMAGE, "bogus": 1}))
    assert r.status_code == 201
    assert r.headers["Warning"] == '299 - "unknown field \\"spec.bogus\\""'
    assert r.json()["spec"] == {"osImageURL": IMAGE}  # pruned, as the real server does by default

    r = _req(kube_api, "POST", MCS, params={"fieldValidation": "Strict"},
             json=dict(_mc("99-zz-b"), spec={"bogus": 1}))
    assert r.status_code == 400 and "strict decoding error: unknown field \"spec.bogus\"" in r.json()["message"]

    r = _req(kube_api, "POST", MCS, json=dict(_mc("99-zz-c"), spec={"osImageURL": 5}))
    assert r.status_code == 422
    body = r.json()
    assert body["reason"] == "Invalid"
    assert body["message"] == (f'MachineConfig.{MCO} "99-zz-c" is invalid: spec.osImageURL: Invalid value:'
                               ' "integer": spec.osImageURL in body must be of type string: "integer"')
    assert body["details"]["causes"][0]["field"] == "spec.osImageURL"

    r = _req(kube_api, "POST", MCS, json=_mc("Bad_Name"))
    assert r.status_code == 422
    assert r.json()["message"].startswith(f'MachineConfig.{MCO} "Bad_Name" is invalid: metadata.name: Invalid'
                                          ' value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of')
    r = _req(kube_api, "POST", "/apis/config.openshift.io/v1/clusterversions", json={
        "apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion", "metadata": {"name": "x"}, "spec": {}})
    assert r.status_code == 422 and r.json()["message"].endswith("spec.clusterID: Required value")
    r = _req(kube_api, "POST", MCS, json={"metadata": {"name": "99-zz-d"}})
    assert r.status_code == 400 and r.json()["message"].startswith("Object 'Kind' is missing in")


def test_watch_bookmarks_and_headers(openshift: OpenShiftSeed, kube_api: KubeAPI) -> None:
    kube_api.bookmark_interval = 0.2
    rv = kube_api.store.resource_version
    r, events = _watch_lines(kube_api, MCPS, resourceVersion=rv, allowWatchBookmarks="true", timeoutSeconds=1)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.headers["Transfer-Encoding"] == "chunked"
    assert events and {e["type"] for e in events} == {"BOOKMARK"}
    assert events[0]["object"] == {"kind": "MachineConfigPool", "apiVersion": f"{MCO}/v1",
                                   "metadata": {"resourceVersion": rv}}
    # no resourceVersion: the current objects first, as ADDED
    _r, events = _watch_lines(kube_api, MCPS, timeoutSeconds=0.3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "master"),
                                                                               ("ADDED", "worker")]


def test_watch_expired_resource_version_is_410(openshift: OpenShiftSeed) -> None:
    with KubeAPI(history=5) as api:
        seed_openshift(api)
        for i in range(6):
            api.store.put(_mc(f"99-zz-{i}"))
        _r, events = _watch_lines(api, MCS, resourceVersion="3", timeoutSeconds=1)
        assert len(events) == 1 and events[0]["type"] == "ERROR"
        status = events[0]["object"]
        assert status["code"] == 410 and status["reason"] == "Expired"
        assert status["message"].startswith("too old resource version: 3 (")
        current = api.store.compact()
        _r, events = _watch_lines(api, MCS, resourceVersion=str(int(current) - 1), timeoutSeconds=1)
        assert events[0]["object"]["code"] == 410
        _r, events = _watch_lines(api, MCS, resourceVersion=current, timeoutSeconds=0.2)
        assert events == []


def test_watch_label_transitions_and_store_hooks(openshift: OpenShiftSeed, kube_api: KubeAPI) -> None:
    rv = kube_api.store.resource_version
    result: Dict[str, Any] = {}

    def run() -> None:
        result["events"] = _watch_lines(kube_api, MCS, resourceVersion=rv, labelSelector=f"{ROLE}=worker",
                                        timeoutSeconds=2)[1]

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.2)
    kube_api.store.patch("mc", "00-worker", {"metadata": {"labels": {ROLE: "infra"}}})  # leaves the selection
    kube_api.store.patch("mc", "00-master", {"metadata": {"labels": {ROLE: "worker"}}})  # enters it
    kube_api.store.patch("mc", "00-master", {"spec": {"fips": True}})
    kube_api.store.delete("mc", "00-master")
    thread.join(10)
    got = [(e["type"], e["object"]["metadata"]["name"]) for e in result["events"]]
    assert got == [("DELETED", "00-worker"), ("ADDED", "00-master"), ("MODIFIED", "00-master"),
                   ("DELETED", "00-master")]
    assert kube_api.store.events("mc")[-1][:3] == ("DELETED", "machineconfigs", "00-master")


def test_watch_ends_cleanly_when_the_server_stops(openshift: OpenShiftSeed) -> None:
    api = KubeAPI().start()
    seed_openshift(api)
    r = _req(api, "GET", MCPS, params={"watch": "1", "resourceVersion": api.store.resource_version},
             stream=True, timeout=30)
    lines: List[bytes] = []
    thread = threading.Thread(target=lambda: lines.extend(r.iter_lines()))
    thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    api.stop()
    thread.join(5)
    assert not thread.is_alive()  # the chunked stream was terminated, no exception in the reader
    assert time.monotonic() - started < 3
    assert not [t for t in threading.enumerate() if t.name == f"kubeapi-{api.port}"]
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", api.port), timeout=1).close()


def test_namespaced_resources(kube_api: KubeAPI) -> None:
    cms = "/api/v1/namespaces/openshift-config/configmaps"
    r = _req(kube_api, "POST", cms, json={"metadata": {"name": "x"}, "data": {"a": "b"}})
    assert r.status_code == 404 and r.json()["message"] == 'namespaces "openshift-config" not found'
    assert _req(kube_api, "POST", "/api/v1/namespaces",
                json={"metadata": {"name": "openshift-config"}}).status_code == 201
    r = _req(kube_api, "POST", cms, json={"metadata": {"name": "x"}, "data": {"a": "b"}})
    assert r.status_code == 201 and r.json()["kind"] == "ConfigMap" and "generation" not in r.json()["metadata"]
    secret = {"metadata": {"name": "pull"}, "type": "kubernetes.io/dockerconfigjson",
              "stringData": {".dockerconfigjson": '{"auths":{}}'}}
    r = _req(kube_api, "POST", "/api/v1/namespaces/openshift-config/secrets", json=secret)
    assert r.status_code == 201
    assert base64.b64decode(r.json()["data"][".dockerconfigjson"]) == b'{"auths":{}}'
    r = _req(kube_api, "GET", "/api/v1/configmaps")
    assert [i["metadata"]["namespace"] for i in r.json()["items"]] == ["openshift-config"]
    r = _req(kube_api, "DELETE", "/api/v1/namespaces/openshift-config/configmaps/x")
    assert r.json()["status"] == "Success" and r.json()["details"]["kind"] == "configmaps"


def test_finalizers_and_preconditions(kube_api: KubeAPI) -> None:
    mc = kube_api.store.put(_mc("99-zz-held", finalizers=["example.com/hold"]))
    r = _req(kube_api, "DELETE", f"{MCS}/99-zz-held", json={"preconditions": {"uid": "other"}})
    assert r.status_code == 409 and "Precondition failed: UID in precondition: other" in r.json()["message"]
    r = _req(kube_api, "DELETE", f"{MCS}/99-zz-held")
    assert r.status_code == 200 and r.json()["metadata"]["deletionTimestamp"]  # held by its finalizer
    held = r.json()
    held["metadata"]["finalizers"] = []
    r = _req(kube_api, "PUT", f"{MCS}/99-zz-held", json=held)
    assert r.status_code == 200
    assert kube_api.store.get("mc", "99-zz-held") is None
    assert [e[0] for e in kube_api.store.events("mc")] == ["ADDED", "MODIFIED", "DELETED"]
    assert mc["metadata"]["uid"] == held["metadata"]["uid"]


def test_request_log(openshift: OpenShiftSeed, kube_api: KubeAPI) -> None:
    kube_api.reset_requests()
    _req(kube_api, "GET", MCS, params={"labelSelector": f"{ROLE}=worker"})
    _req(kube_api, "GET", f"{MCPS}/worker")
    method, path, query = kube_api.requests[0]
    assert (method, path, query) == ("GET", MCS, {"labelSelector": f"{ROLE}=worker"})
    assert kube_api.count("GET", f"{MCPS}*") == 1
    assert kube_api.calls[1].status == 200 and kube_api.calls[1].user == "system:admin"
    kube_api.fail(503, path=f"{MCPS}/worker", reason="ServiceUnavailable", message="etcdserver: leader changed")
    assert _req(kube_api, "GET", f"{MCPS}/worker").status_code == 503
    assert _req(kube_api, "GET", f"{MCPS}/worker").status_code == 200


def test_seed_openshift(kube_api: KubeAPI) -> None:
    secret = {"auths": {"quay.io": {"auth": "eDp5"}}}
    seed = seed_openshift(kube_api, workers=2, masters=1, pull_secret=secret, version="4.17.1")
    store = kube_api.store
    cm = store.get("configmaps", "machine-config-osimageurl", "openshift-machine-config-operator")
    assert cm is not None and set(cm["data"]) == {"baseOSContainerImage", "baseOSExtensionsContainerImage",
                                                  "osImageURL", "releaseVersion"}
    assert cm["data"]["baseOSContainerImage"] == seed.base_image and cm["data"]["releaseVersion"] == "4.17.1"
    cv = store.get("clusterversion", "version")
    assert cv is not None and cv["status"]["desired"]["version"] == "4.17.1"
    assert cv["status"]["history"][0]["state"] == "Completed" and cv["spec"]["channel"] == "stable-4.17"
    pull = store.get("secrets", "pull-secret", "openshift-config")
    assert pull is not None and pull["type"] == "kubernetes.io/dockerconfigjson"
    assert json.loads(base64.b64decode(pull["data"][".dockerconfigjson"])) == secret
    pool = store.get("mcp", "worker")
    assert pool is not None
    assert pool["spec"]["machineConfigSelector"] == {"matchLabels": {ROLE: "worker"}}
    assert pool["spec"]["nodeSelector"] == {"matchLabels": {"node-role.kubernetes.io/worker": ""}}
    assert pool["spec"]["configuration"]["name"] == pool["status"]["configuration"]["name"] == seed.rendered["worker"]
    assert pool["status"]["machineCount"] == 2
    assert jsonpath(pool, '.status.conditions[?(@.type=="Updated")].status') == ["True"]
    node = store.get("nodes", "worker-1")
    assert node is not None and node["metadata"]["annotations"][f"{MCO}/currentConfig"] == seed.rendered["worker"]
    assert node["metadata"]["annotations"][f"{MCO}/state"] == "Done"
    assert seed.nodes == {"master": ["master-0"], "worker": ["worker-0", "worker-1"]}
    assert kube_api.version_info()["minor"] == "30"


def test_server_starts_fast_and_tests_are_isolated(kube_api: KubeAPI) -> None:
    assert kube_api.store.list("mc") == []  # nothing from other tests
    started = time.monotonic()
    with KubeAPI() as other:
        assert _req(other, "GET", "/version").status_code == 200
    assert time.monotonic() - started < 1.0


# ======================================================================== helpers
def test_label_selector_parser() -> None:
    reqs = parse_label_selector("a=b,c!=d,e in (f, g),h notin (i),j,!k,l>3")
    assert [(r.key, r.op, r.values) for r in reqs] == [
        ("a", "=", ("b",)), ("c", "!=", ("d",)), ("e", "in", ("f", "g")), ("h", "notin", ("i",)),
        ("j", "exists", ()), ("k", "!", ()), ("l", "gt", ("3",))]
    labels = {"a": "b", "e": "g", "j": "", "l": "4"}
    assert all(r.matches(labels) for r in reqs)
    for bad in ("a=b,", "a in b", "bad key=x", "a=b c"):
        with pytest.raises(ValueError):
            parse_label_selector(bad)


def test_patch_helpers_and_durations() -> None:
    assert merge_patch({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": None}, "d": [2]}) == {"a": {"c": 2}, "d": [2]}
    doc = {"a": [1, 2], "b": {"c": 1}}
    assert json_patch(doc, [{"op": "add", "path": "/a/-", "value": 3}, {"op": "remove", "path": "/b/c"},
                            {"op": "test", "path": "/a/0", "value": 1}]) == {"a": [1, 2, 3], "b": {}}
    assert [human_duration(s) for s in (5, 150, 3600 * 5 + 60, 86400 * 3)] == ["5s", "2m30s", "5h1m", "3d"]


# ======================================================================== strictness of a real API server
def test_put_of_a_custom_resource_without_resource_version_is_422(openshift: OpenShiftSeed, kube_api: KubeAPI,
                                                                   k8s: Any) -> None:
    # apiextensions-apiserver pkg/registry/customresource/strategy.go: AllowUnconditionalUpdate is false
    mc = _req(kube_api, "GET", f"{MCS}/00-worker").json()
    del mc["metadata"]["resourceVersion"]
    mc["metadata"]["labels"]["team"] = "a"
    r = _req(kube_api, "PUT", f"{MCS}/00-worker", json=mc)
    assert r.status_code == 422, r.text
    body = r.json()
    assert (body["reason"], body["message"]) == ("Invalid", f'MachineConfig.{MCO} "00-worker" is invalid:'
                                                 " metadata.resourceVersion: Invalid value: 0x0: must be specified"
                                                 " for an update")
    assert body["details"]["causes"][0]["field"] == "metadata.resourceVersion"
    assert "team" not in (kube_api.store.get("mc", "00-worker") or {})["metadata"]["labels"]
    # the status subresource too, and through the kubernetes client
    pool = _req(kube_api, "GET", f"{MCPS}/worker").json()
    del pool["metadata"]["resourceVersion"]
    assert _req(kube_api, "PUT", f"{MCPS}/worker/status", json=pool).status_code == 422
    with pytest.raises(_api_exception()) as info:
        _custom(k8s).replace_cluster_custom_object(MCO, "v1", "machineconfigs", "00-worker", mc)
    assert info.value.status == 422
    # built-in types keep unconditional update (ConfigMaps, Nodes)
    cm = _req(kube_api, "GET", "/api/v1/namespaces/openshift-config/secrets/pull-secret").json()
    del cm["metadata"]["resourceVersion"]
    assert _req(kube_api, "PUT", "/api/v1/namespaces/openshift-config/secrets/pull-secret", json=cm).status_code == 200


def test_partial_object_metadata_must_match_list_or_object(openshift: OpenShiftSeed, kube_api: KubeAPI) -> None:
    # staging/src/k8s.io/apiserver/pkg/endpoints/handlers/response.go: a list transforms only to
    # PartialObjectMetadataList, one object only to PartialObjectMetadata; no fallback to the next range
    single = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1, application/json"
    listed = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json"
    r = _req(kube_api, "GET", "/api/v1/nodes", headers={"Accept": single})
    assert (r.status_code, r.json()["reason"]) == (406, "NotAcceptable")
    r = _req(kube_api, "GET", "/api/v1/nodes", headers={"Accept": listed})
    assert r.status_code == 200 and r.json()["kind"] == "PartialObjectMetadataList"
    assert _req(kube_api, "GET", "/api/v1/nodes/worker-0", headers={"Accept": listed}).status_code == 406
    r = _req(kube_api, "GET", "/api/v1/nodes/worker-0", headers={"Accept": single})
    assert r.status_code == 200 and r.json()["kind"] == "PartialObjectMetadata"
    # a watch sends objects one by one: PartialObjectMetadata
    r = _req(kube_api, "GET", "/api/v1/nodes", params={"watch": "true", "timeoutSeconds": "1"},
             headers={"Accept": listed})
    assert r.status_code == 406
    r = _req(kube_api, "GET", "/api/v1/nodes", params={"watch": "true", "timeoutSeconds": "1"},
             headers={"Accept": single}, stream=True, timeout=30)
    kinds = {json.loads(line)["object"]["kind"] for line in r.iter_lines() if line}
    assert r.status_code == 200 and kinds == {"PartialObjectMetadata"}


MOSCS = f"/apis/{MCO}/{{}}/machineosconfigs"


def _mosc(version: str) -> Dict[str, Any]:
    if version == "v1alpha1":
        spec: Dict[str, Any] = {"machineConfigPool": {"name": "worker"}, "buildInputs": {
            "imageBuilder": {"imageBuilderType": "PodImageBuilder"}, "baseImagePullSecret": {"name": "pull"},
            "renderedImagePushSecret": {"name": "push"},
            "renderedImagePushspec": "registry.example.com/ops/os:latest"}}
    else:
        spec = {"machineConfigPool": {"name": "worker"}, "imageBuilder": {"imageBuilderType": "Job"},
                "renderedImagePushSecret": {"name": "push"},
                "renderedImagePushSpec": "registry.example.com/ops/os:latest"}
    return {"apiVersion": f"{MCO}/{version}", "kind": "MachineOSConfig", "metadata": {"name": "worker"},
            "spec": spec}


@pytest.mark.parametrize("release, feature_set, served", [
    ("4.14.30", "", {}),
    ("4.15.20", "TechPreviewNoUpgrade", {}),
    ("4.16.3", "", {}),
    ("4.16.3", "TechPreviewNoUpgrade", {"machineosconfigs": "v1alpha1", "machineconfignodes": "v1alpha1"}),
    ("4.18.1", "TechPreviewNoUpgrade", {"machineosconfigs": "v1", "machineconfignodes": "v1alpha1"}),
    ("4.18.1", "", {}),
    ("4.19.2", "", {"machineosconfigs": "v1"}),
    ("4.20.0", "", {"machineosconfigs": "v1", "machineconfignodes": "v1"}),
    ("4.21.0", "", {"machineosconfigs": "v1", "machineconfignodes": "v1"}),
])
def test_on_cluster_layering_apis_are_served_as_each_release_has_them(
        kube_api: KubeAPI, release: str, feature_set: str, served: Dict[str, str]) -> None:
    seed_openshift(kube_api, version=release, feature_set=feature_set, workers=1, masters=1)
    for plural in ("machineosconfigs", "machineosbuilds", "machineconfignodes"):
        want = served.get(plural if plural != "machineosbuilds" else "machineosconfigs")
        for version in ("v1", "v1alpha1"):
            r = _req(kube_api, "GET", f"/apis/{MCO}/{version}/{plural}")
            discovery = _req(kube_api, "GET", f"/apis/{MCO}/{version}")
            listed = discovery.json() if discovery.status_code == 200 else {"resources": []}
            in_discovery = plural in {x["name"] for x in listed["resources"]}
            if version == want:
                assert r.status_code == 200 and r.json()["apiVersion"] == f"{MCO}/{version}", (plural, version)
                assert in_discovery
            else:
                assert r.status_code == 404 and not in_discovery, (plural, version, r.status_code)
    group = _req(kube_api, "GET", f"/apis/{MCO}").json()
    assert group["preferredVersion"]["version"] == "v1"
    assert {v["version"] for v in group["versions"]} == {"v1"} | set(served.values())
    want = served.get("machineosconfigs")
    if want:
        r = _req(kube_api, "POST", MOSCS.format(want), json=_mosc(want))
        assert r.status_code == 201, r.text
        assert _req(kube_api, "GET", MOSCS.format(want) + "/worker").json()["apiVersion"] == f"{MCO}/{want}"
    else:
        assert _req(kube_api, "POST", MOSCS.format("v1"), json=_mosc("v1")).status_code == 404


def test_kubectl_knows_no_machineosconfigs_on_4_14(kube_api: KubeAPI, kubectl: KubectlRunner) -> None:
    seed_openshift(kube_api, version="4.14.30", workers=1, masters=1)
    res = kubectl("get", "machineosconfigs")
    assert res.returncode != 0
    assert 'the server doesn\'t have a resource type "machineosconfigs"' in res.stderr
    res = kubectl("get", "mcp", "-o", "name")
    assert res.returncode == 0 and "machineconfigpool.machineconfiguration.openshift.io/worker" in res.stdout


@pytest.mark.parametrize("plural", ["machineosconfigs", "machineosbuilds"])
def test_v1_on_cluster_layering_schemas_follow_the_real_crds(plural: str) -> None:
    import yaml

    from tests.support.kube import RESOURCES

    crd = yaml.safe_load((Path(__file__).parent / "data" / "crds" / f"{plural}.crd.yaml").read_text())
    real = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"]
    ours = next(r for r in RESOURCES if r.plural == plural and r.version == "v1").schema
    assert ours is not None
    assert ours["required"] == real["required"]
    assert sorted(ours["properties"]["spec"]["properties"]) == sorted(real["properties"]["spec"]["properties"])
    assert sorted(ours["properties"]["spec"]["required"]) == sorted(real["properties"]["spec"]["required"])


# ======================================================================== a cluster as it really looks
def test_a_seeded_cluster_looks_like_a_real_one(openshift: OpenShiftSeed, kube_api: KubeAPI) -> None:
    # 00-<pool> is rendered from the MCO's templates with the release's base image
    for pool in ("master", "worker"):
        mc = _req(kube_api, "GET", f"{MCS}/00-{pool}").json()
        assert mc["spec"]["osImageURL"] == openshift.base_image
        assert mc["spec"]["baseOSExtensionsContainerImage"] == openshift.extensions_image
    # nodes carry managedFields, one entry per writer, served in full and in PartialObjectMetadata
    node = _req(kube_api, "GET", "/api/v1/nodes/worker-0").json()
    managers = {(m["manager"], m.get("subresource", "")) for m in node["metadata"]["managedFields"]}
    assert {("kubelet", ""), ("kubelet", "status"), ("machine-config-daemon", ""),
            ("machine-config-controller", "")} <= managers
    mcd = next(m for m in node["metadata"]["managedFields"] if m["manager"] == "machine-config-daemon")
    assert f"f:{MCO}/state" in mcd["fieldsV1"]["f:metadata"]["f:annotations"]
    listed = _req(kube_api, "GET", "/api/v1/nodes", headers={
        "Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"}).json()
    assert all(item["metadata"]["managedFields"] for item in listed["items"])
    assert node["metadata"]["annotations"][f"{MCO}/post-config-action"] == ""  # 4.16


def test_a_large_realistic_cluster_seeds_with_real_sizes(kube_api: KubeAPI) -> None:
    api = kube_api
    seed_openshift(api, workers=2000, node_metadata_bytes=8192, rendered_configs=100, rendered_bytes=500_000)
    nodes = api.store.list("nodes")
    assert len(nodes) == 2003
    sizes = sorted(len(json.dumps(n["metadata"], separators=(",", ":"))) for n in nodes)
    assert 7600 <= sizes[0] and sizes[-1] <= 8800, (sizes[0], sizes[-1])
    rendered = [m for m in api.store.list("machineconfigs") if m["metadata"]["name"].startswith("rendered-")]
    assert len(rendered) == 100
    assert all(400_000 <= len(json.dumps(m)) <= 600_000 for m in rendered)
    assert len({m["metadata"]["name"] for m in rendered}) == 100
    pools = {p["metadata"]["name"]: p for p in api.store.list("machineconfigpools")}
    current = {p["spec"]["configuration"]["name"] for p in pools.values()}
    assert current <= {m["metadata"]["name"] for m in rendered}  # the earlier ones pile up beside them
    owners = {m["metadata"]["ownerReferences"][0]["name"] for m in rendered}
    assert owners == {"master", "worker"}

"""The on-cluster build controller of the simulated MCO (tests/support/mco.py): it really builds.

For a pool with a MachineOSConfig and its rendered config, as machine-os-builder does it
(openshift/machine-config-operator pkg/controller/build: reconciler.go, buildrequest/, utils/; the object
shapes as docs/onclusterlayering-quickstart.md shows them; field names from openshift/api
machineconfiguration/v1 types_machineosbuild.go / types_machineosconfig.go and v1alpha1 on release-4.16):

* a MachineOSBuild ``<MachineOSConfig>-<md5 of the build's inputs>`` (labels machine-os-config,
  rendered-machine-config, target-machine-config-pool; owned by the MachineOSConfig; annotations
  rendered-image-push-secret and job-uid), whose ``spec.renderedImagePushSpec`` is the MachineOSConfig's
  repository tagged with the MachineOSBuild's name; the MachineOSConfig is annotated
  ``machineconfiguration.openshift.io/current-machine-os-build``;
* the builder Job ``build-<MachineOSBuild>`` in openshift-machine-config-operator (label on-cluster-layering,
  machine-os-build; owned by the MachineOSBuild; backoffLimit 0: a failed pod fails the build) and its pod
  ``build-<MachineOSBuild>-<5 chars>`` (the Job controller's generateName) with the containers
  ``image-build`` (the build and push: its log is the real podman output) and ``create-digestfile``;
* in a worker thread a real ``podman build`` in the rig's *builder* store of a Containerfile made of the
  ``configs`` stage (``FROM <base> AS configs`` plus the rendered config's name in
  /etc/machine-config-daemon/rendered-config and the labels the MCO's template sets) and the
  MachineOSConfig's containerFile for the build's architecture (AMD64 if given, else NoArch), pulled with the
  cluster's global pull secret plus baseImagePullSecret, then ``podman push`` with the
  renderedImagePushSecret (only that: ``.dockerconfigjson``, or a legacy ``.dockercfg``, as its type says) to
  the renderedImagePushSpec repository;
* conditions Prepared, Building, Succeeded, Interrupted, Failed, each always present, reasons and messages
  as the MCO writes them (Prepared "Build Prepared and Pending", Building "Image Build In Progress",
  Succeeded reason Ready "Build Ready", Failed "Build Failed", Interrupted "Build Interrupted");
  status.buildStart / buildEnd, status.builder.job, digestedImagePushSpec (v1) or finalImagePushspec
  (v1alpha1); on success the MachineOSConfig's status.currentImagePullSpec (v1alpha1: currentImagePullspec)
  and status.machineOSBuild.

What happens when things go wrong (the stricter reading where the MCO's sources were unclear):

* a failed build is not retried (docs/onclusterlayering-troubleshooting.md: the way back is a person's); a
  new build comes only from new inputs (rendered config, containerFile, push spec) or the annotation
  ``machineconfiguration.openshift.io/rebuild`` on the MachineOSConfig (pkg/controller/build/constants.go:
  the current MachineOSBuild is deleted, so a new one is made; the annotation is then removed);
* a missing push secret (or one of a type other than kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg,
  or without the key its type names: getPullSecretKey in utils.go): no MachineOSBuild is created (the
  MachineOSConfig fails validation before any build object exists) and the builder keeps retrying; the
  reason is in ``BuildController.problems[<MachineOSConfig>]`` (what machine-os-builder would log);
* deleting the builder Job while it runs makes the build Interrupted (and kills it);
* from 4.20 the pool's condition ImageBuildDegraded tells the last finished build's verdict (True, reason
  BuildFailed, "Failed to build OS image for pool P (MachineOSBuild: B): Failed: Build Failed"; False,
  BuildSucceeded, "Build succeeded for pool P"), and a failed build makes the pool Degraded too (the stricter
  reading: the MCO's own e2e tests expect the pool to leave Degraded once the build is fixed).

Test hooks: ``hold()`` / ``release()`` keep builds in flight, ``problems``, ``outcome``, ``running()``;
``wait_for_build()``, ``build_pod()``, ``rig_pull_secret()`` below; kube.push_secret() makes push secrets.

The nodes get no new image until the build Succeeded (the node controller holds a layered pool).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from .kube import MCO_GROUP, MCO_NAMESPACE, KubeAPI, _timestamp
from .podman import PodmanStore

Obj = Dict[str, Any]

REBUILD = f"{MCO_GROUP}/rebuild"
CURRENT_BUILD = f"{MCO_GROUP}/current-machine-os-build"
LABEL_MOSC = f"{MCO_GROUP}/machine-os-config"
LABEL_RENDERED = f"{MCO_GROUP}/rendered-machine-config"
LABEL_POOL = f"{MCO_GROUP}/target-machine-config-pool"
LABEL_BUILD = f"{MCO_GROUP}/machine-os-build"
LABEL_EPHEMERAL = f"{MCO_GROUP}/on-cluster-layering"
BUILD_CONTAINER = "image-build"  # holds the build's output (podman build + push)
DIGEST_CONTAINER = "create-digestfile"
CONDITIONS = (  # type, reason, message (pkg/controller/build/apihelpers, as the quickstart shows them)
    ("Prepared", "Prepared", "Build Prepared and Pending"),
    ("Building", "Building", "Image Build In Progress"),
    ("Succeeded", "Ready", "Build Ready"),
    ("Interrupted", "Interrupted", "Build Interrupted"),
    ("Failed", "Failed", "Build Failed"),
)
BUILDER_IMAGE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "0" * 64  # the MCO's own image
_POD_SUFFIX = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery pkg/util/rand's alphabet


def image_build_degraded(pool: str, outcome: Optional[Tuple[str, str]]) -> Optional[Tuple[str, str, str]]:
    """The pool condition ImageBuildDegraded (4.20+, machine-config-operator pkg/controller/build/reconciler.go
    syncBuildFailureStatus / the success path, openshift-docs mco-coreos-layering): (status, reason, message) for
    the pool's last finished build, None before any."""
    if outcome is None:
        return None
    verdict, name = outcome
    if verdict == "Succeeded":
        return "False", "BuildSucceeded", f"Build succeeded for pool {pool}"
    message = dict((t, m) for t, _, m in CONDITIONS)[verdict]
    return "True", "BuildFailed", (f"Failed to build OS image for pool {pool} (MachineOSBuild: {name}):"
                                   f" {verdict}: {message}")


def build_name(mosc: str, rendered: str, base: str, containerfile: str, push: str) -> str:
    digest = hashlib.md5("\0".join((rendered, base, containerfile, push)).encode()).hexdigest()
    return f"{mosc}-{digest}"


def job_name(build: str) -> str:
    return f"build-{build}"


def repository(pushspec: str) -> str:
    """The repository of a pullspec (tag and digest dropped): the MCO ignores the MachineOSConfig's tag."""
    repo = pushspec.partition("@")[0]
    if repo.rfind(":") > repo.rfind("/"):
        repo = repo[:repo.rfind(":")]
    return repo


def conditions(true: str, now: str, old: Optional[List[Obj]] = None) -> List[Obj]:
    """All five conditions, *true* the one that holds ("" none); lastTransitionTime kept when unchanged."""
    before = {c.get("type"): c for c in old or []}
    out = []
    for type_, reason, message in CONDITIONS:
        status = "True" if type_ == true else "False"
        prev = before.get(type_) or {}
        since = prev.get("lastTransitionTime") if prev.get("status") == status else now
        out.append({"type": type_, "status": status, "reason": reason, "message": message,
                    "lastTransitionTime": since or now})
    return out


def condition_true(obj: Optional[Obj], type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True"
               for c in ((obj or {}).get("status") or {}).get("conditions") or [])


class _Inputs:
    """A MachineOSConfig's build inputs, v1 or v1alpha1 field names."""

    def __init__(self, mosc: Obj) -> None:
        self.v1 = str(mosc.get("apiVersion") or "").endswith("/v1")
        spec = mosc.get("spec") or {}
        inputs = spec if self.v1 else (spec.get("buildInputs") or {})
        self.name = str((mosc.get("metadata") or {}).get("name") or "")
        self.uid = str((mosc.get("metadata") or {}).get("uid") or "")
        self.api_version = str(mosc.get("apiVersion") or "")
        self.push = str(inputs.get("renderedImagePushSpec" if self.v1 else "renderedImagePushspec") or "")
        self.push_secret = str((inputs.get("renderedImagePushSecret") or {}).get("name") or "")
        self.base_secret = str((inputs.get("baseImagePullSecret") or {}).get("name") or "")
        files = inputs.get("containerFile") or []
        by_arch = {str(f.get("containerfileArch") or "NoArch"): str(f.get("content") or "") for f in files}
        self.containerfile = by_arch.get("AMD64", by_arch.get("NoArch", ""))


def _secret_key(secret: Optional[Obj]) -> Tuple[str, str]:
    """(key, "") of the docker config in a push or pull secret, or ("", why not): the Secret's type names the key
    and other types are refused (machine-config-operator pkg/controller/build/utils.go, getPullSecretKey)."""
    kind = str((secret or {}).get("type") or "")
    name = str(((secret or {}).get("metadata") or {}).get("name") or "")
    key = {"kubernetes.io/dockerconfigjson": ".dockerconfigjson", "kubernetes.io/dockercfg": ".dockercfg"}.get(kind)
    if key is None:
        return "", f"unknown secret type {kind}"
    if not ((secret or {}).get("data") or {}).get(key):
        return "", f'missing "{key}" in {name}'
    return key, ""


class BuildController:
    """Reconciles MachineOSConfigs into real builds (see the module docstring). ``reconcile()`` runs in the
    MCO's loop and never blocks: each build runs in its own thread, writing the store as it goes."""

    def __init__(self, api: KubeAPI, builder: PodmanStore, cert_dir: Optional[Path], delay: float = 0.0) -> None:
        self.api = api
        self.store = api.store
        self.builder = builder
        self.cert_dir = cert_dir
        self.delay = delay
        self.problems: Dict[str, str] = {}  # MachineOSConfig -> why no build could start
        self.outcome: Dict[str, Tuple[str, str]] = {}  # pool -> (Succeeded / Failed / Interrupted, build name)
        # cleared, running builds stop before their push ends (state Building) until set again: tests that need
        # a build in flight (hold()/release())
        self.gate = threading.Event()
        self.gate.set()
        self.errors: List[str] = []  # the controller's own failures (not a build's)
        self._threads: Dict[str, threading.Thread] = {}
        self._cancel: Dict[str, threading.Event] = {}
        self._procs: Dict[str, subprocess.Popen[str]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the controller's pass
    def reconcile(self, mosc: Obj, pool: str, rendered: str, base: str, release: str,
                  apply: bool = True) -> Optional[str]:
        """The built image for (*mosc*, *rendered*) once its build Succeeded, else None (building, failed,
        or not startable). Starts what is missing when *apply*."""
        inputs = _Inputs(mosc)
        name = build_name(inputs.name, rendered, base, inputs.containerfile, inputs.push)
        build = self.store.get("machineosbuilds", name)
        annotations = (mosc.get("metadata") or {}).get("annotations") or {}
        if REBUILD in annotations and apply:
            if build is not None:
                self._delete(build)
                build = None
            self.store.patch("machineosconfigs", inputs.name, {"metadata": {"annotations": {REBUILD: None}}})
        if build is None:
            if apply:
                self._start(inputs, pool, name, rendered, base, release)
            return None
        for verdict in ("Succeeded", "Failed", "Interrupted"):
            if condition_true(build, verdict):
                self.outcome[pool] = (verdict, name)
        if condition_true(build, "Succeeded"):
            status = build.get("status") or {}
            return str(status.get("digestedImagePushSpec") or status.get("finalImagePushspec") or "") or None
        if condition_true(build, "Building") and apply and self.store.get(
                "jobs", job_name(name), MCO_NAMESPACE) is None:
            # the Job went away under a running build (pkg/controller/build/reconciler.go: Interrupted); its pod
            # goes with it (the garbage collector's part: the emulator has none)
            self._stop_build(name)
            for pod in self.store.list("pods", MCO_NAMESPACE, f"{LABEL_BUILD}={name}"):
                self.store.delete("pods", pod["metadata"]["name"], MCO_NAMESPACE)
                self.api.pod_logs.forget(MCO_NAMESPACE, pod["metadata"]["name"])
            now = _timestamp()
            self.store.patch("machineosbuilds", name, {"status": {
                "buildEnd": now, "conditions": conditions("Interrupted", now, build["status"].get("conditions"))}})
        return None

    def _start(self, inputs: _Inputs, pool: str, name: str, rendered: str, base: str, release: str) -> None:
        with self._lock:
            if name in self._threads and self._threads[name].is_alive():
                return
        secret = self.store.get("secrets", inputs.push_secret, MCO_NAMESPACE) if inputs.push_secret else None
        why = _secret_key(secret)[1] if secret is not None else ""
        if secret is None or why:
            self.problems[inputs.name] = (
                f'could not get push secret "{inputs.push_secret}" for MachineOSConfig "{inputs.name}": secrets'
                f' "{inputs.push_secret}" not found' if secret is None else why)
            return
        self.problems.pop(inputs.name, None)
        now = _timestamp()
        repo = repository(inputs.push)
        tag = name if inputs.v1 else rendered  # 4.16/4.17 tagged with the rendered config's name
        job_uid = str(uuid.uuid4())
        build_spec: Obj = ({"machineConfig": {"name": rendered}, "machineOSConfig": {"name": inputs.name},
                            "renderedImagePushSpec": f"{repo}:{tag}"} if inputs.v1 else
                           {"configGeneration": 1, "desiredConfig": {"name": rendered},
                            "machineOSConfig": {"name": inputs.name}, "renderedImagePushspec": f"{repo}:{tag}",
                            "version": 1})
        build = self.store.put({"apiVersion": inputs.api_version, "kind": "MachineOSBuild", "metadata": {
            "name": name,
            "labels": {LABEL_MOSC: inputs.name, LABEL_RENDERED: rendered, LABEL_POOL: pool},
            "annotations": {f"{MCO_GROUP}/rendered-image-push-secret": inputs.push_secret,
                            f"{MCO_GROUP}/job-uid": job_uid},
            "ownerReferences": [{"apiVersion": inputs.api_version, "kind": "MachineOSConfig", "name": inputs.name,
                                 "uid": inputs.uid, "controller": True, "blockOwnerDeletion": True}]},
            "spec": build_spec,
            "status": {"conditions": conditions("Prepared", now),
                       "builder": {"imageBuilderType": "Job", "job": {
                           "group": "batch", "resource": "jobs", "name": job_name(name),
                           "namespace": MCO_NAMESPACE}}}})
        self.store.patch("machineosconfigs", inputs.name, {"metadata": {"annotations": {CURRENT_BUILD: name}}})
        owner = {"apiVersion": inputs.api_version, "kind": "MachineOSBuild", "name": name,
                 "uid": build["metadata"].get("uid", ""), "controller": True, "blockOwnerDeletion": True}
        labels = {LABEL_EPHEMERAL: "", LABEL_BUILD: name, LABEL_MOSC: inputs.name, LABEL_RENDERED: rendered,
                  LABEL_POOL: pool}
        containers = [{"name": BUILD_CONTAINER, "image": BUILDER_IMAGE, "command": ["/bin/bash", "-c",
                                                                                   "/tmp/build-script/buildah-build.sh"]},
                      {"name": DIGEST_CONTAINER, "image": BUILDER_IMAGE, "command": ["/bin/bash", "-c",
                                                                                     "/tmp/digest-script/digest.sh"]}]
        job = self.store.put({"apiVersion": "batch/v1", "kind": "Job", "metadata": {
            "name": job_name(name), "namespace": MCO_NAMESPACE, "uid": job_uid, "labels": dict(labels),
            "ownerReferences": [owner]},
            "spec": {"backoffLimit": 0, "completions": 1, "parallelism": 1,
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": job_uid}},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": containers, "restartPolicy": "Never"}}},
            "status": {"active": 1, "startTime": now}})
        pod_name = f"{job_name(name)}-{''.join(random.choice(_POD_SUFFIX) for _ in range(5))}"
        pod_labels = dict(labels, **{"batch.kubernetes.io/controller-uid": job_uid, "controller-uid": job_uid,
                                     "batch.kubernetes.io/job-name": job_name(name), "job-name": job_name(name)})
        self.store.put({"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": pod_name, "namespace": MCO_NAMESPACE, "labels": pod_labels,
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": job_name(name),
                                 "uid": job["metadata"].get("uid", job_uid), "controller": True,
                                 "blockOwnerDeletion": True}]},
            "spec": {"containers": containers, "restartPolicy": "Never", "serviceAccountName": "machine-os-builder"},
            "status": {"phase": "Pending", "containerStatuses": [
                {"name": c["name"], "ready": False, "restartCount": 0, "image": BUILDER_IMAGE,
                 "state": {"waiting": {"reason": "ContainerCreating"}}} for c in containers]}})
        job_args = _Build(inputs, pool, name, rendered, base, release, f"{repo}:{tag}", pod_name)
        job_args.uid = str(build["metadata"].get("uid") or "")
        cancel = threading.Event()
        thread = threading.Thread(target=self._run, args=(job_args, cancel), name=f"build-{name}", daemon=True)
        with self._lock:
            self._cancel[name] = cancel
            self._threads[name] = thread
        thread.start()

    def _delete(self, build: Obj) -> None:
        """Delete a MachineOSBuild with its Job and pod (owner references: garbage collected at once here)."""
        name = build["metadata"]["name"]
        self._stop_build(name)
        for pod in self.store.list("pods", MCO_NAMESPACE, f"{LABEL_BUILD}={name}"):
            self.store.delete("pods", pod["metadata"]["name"], MCO_NAMESPACE)
            self.api.pod_logs.forget(MCO_NAMESPACE, pod["metadata"]["name"])
        self.store.delete("jobs", job_name(name), MCO_NAMESPACE)
        self.store.delete("machineosbuilds", name)

    def _stop_build(self, name: str) -> None:
        with self._lock:
            cancel, thread, proc = self._cancel.get(name), self._threads.get(name), self._procs.get(name)
        if cancel is not None:
            cancel.set()
        if proc is not None and proc.poll() is None:
            proc.kill()
        if thread is not None and thread is not threading.current_thread():
            thread.join(30)

    def stop(self, timeout: float = 5.0) -> None:
        """Kill running builds (their objects stay as they are)."""
        with self._lock:
            names = list(self._threads)
        for name in names:
            self._stop_build(name)

    def hold(self) -> None:
        """Running and new builds stop after their podman build (still Building, nothing pushed) until release()."""
        self.gate.clear()

    def release(self) -> None:
        self.gate.set()

    def running(self) -> List[str]:
        with self._lock:
            return [n for n, t in self._threads.items() if t.is_alive()]

    # ------------------------------------------------------------------ one build (its own thread)
    def _run(self, b: _Build, cancel: threading.Event) -> None:
        logs = self.api.pod_logs
        work = Path(tempfile.mkdtemp(prefix="ocb-", dir=str(self.builder.tmp_dir)))
        try:
            if cancel.wait(self.delay):
                return
            now = _timestamp()
            self._patch_build(b, {"buildStart": now}, "Building", now)
            self._patch_pod(b, {"phase": "Running", "startTime": now, "containerStatuses": [
                _running(BUILD_CONTAINER, now), _waiting(DIGEST_CONTAINER)]})
            logs.append(MCO_NAMESPACE, b.pod, BUILD_CONTAINER, "")
            ok, why = self._build_and_push(b, work, cancel)
            if cancel.is_set():
                return
            if ok:
                digest = why
                logs.close(MCO_NAMESPACE, b.pod, BUILD_CONTAINER)
                logs.append(MCO_NAMESPACE, b.pod, DIGEST_CONTAINER, f"{digest}\n")
                logs.close(MCO_NAMESPACE, b.pod, DIGEST_CONTAINER)
                if cancel.wait(self.delay):
                    return
                self._finish(b, digest)
            else:
                logs.append(MCO_NAMESPACE, b.pod, BUILD_CONTAINER, why)
                logs.close(MCO_NAMESPACE, b.pod, BUILD_CONTAINER)
                self._fail(b)
        except Exception:
            self.errors.append(traceback.format_exc())
            try:
                self._fail(b)
            except Exception:
                self.errors.append(traceback.format_exc())
        finally:
            shutil.rmtree(work, ignore_errors=True)
            with self._lock:
                self._procs.pop(b.name, None)

    def _build_and_push(self, b: _Build, work: Path, cancel: threading.Event) -> Tuple[bool, str]:
        """(True, digest) or (False, the last words for the log)."""
        context = work / "context"
        (context / "machineconfig").mkdir(parents=True)
        (context / "machineconfig" / "rendered-config").write_text(b.rendered + "\n")
        containerfile = context / "Containerfile"
        containerfile.write_text(
            f"FROM {b.base} AS configs\n"
            "COPY ./machineconfig/rendered-config /etc/machine-config-daemon/rendered-config\n"
            f"LABEL machineconfig={b.rendered}\n"
            f"LABEL machineconfigpool={b.pool}\n"
            f"LABEL releaseversion={b.release or 'unknown'}\n"
            f"LABEL baseOSContainerImage={b.base}\n"
            "\n" + b.inputs.containerfile.rstrip("\n") + "\n")
        pull_auth = self._authfile(work / "pull.json", self._pull_auths(b.inputs))
        push_auth = self._authfile(work / "push.json", self._secret_auths(b.inputs.push_secret))
        certs = ["--cert-dir", str(self.cert_dir)] if self.cert_dir else []
        code = self._podman(b, cancel, "build", "--isolation=chroot", "--network=host", *certs,
                            "--authfile", str(pull_auth), "-f", str(containerfile), "-t", b.target, str(context))
        if code != 0:
            return False, f"error: build failed: podman build exited with status {code}\n"
        while not self.gate.wait(0.05):
            if cancel.is_set():
                return False, ""
        digestfile = work / "digest"
        code = self._podman(b, cancel, "push", *certs, "--authfile", str(push_auth), "--digestfile", str(digestfile),
                            b.target, f"docker://{b.target}")
        self._podman(b, cancel, "rmi", "--force", b.target, log=False)
        if code != 0:
            return False, f"error: push failed: podman push exited with status {code}\n"
        return True, digestfile.read_text().strip()

    def _podman(self, b: _Build, cancel: threading.Event, *args: str, log: bool = True) -> int:
        """Run podman in the builder store, its output (both streams) appended to the build's log as it comes."""
        if cancel.is_set():
            return -9
        proc = subprocess.Popen(["podman", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, env=self.builder.subprocess_env())
        with self._lock:
            self._procs[b.name] = proc
        assert proc.stdout is not None
        for line in proc.stdout:
            if log:
                self.api.pod_logs.append(MCO_NAMESPACE, b.pod, BUILD_CONTAINER, line)
        return proc.wait()

    # ------------------------------------------------------------------ secrets (files 0600, removed after)
    def _secret_auths(self, name: str) -> Obj:
        secret = self.store.get("secrets", name, MCO_NAMESPACE) if name else None
        key, why = _secret_key(secret)
        data = ((secret or {}).get("data") or {}).get(key) if not why else None
        if not data:
            return {}
        try:
            decoded = json.loads(base64.b64decode(data))
            # canonicalizePullSecretBytes (pkg/controller/build/utils.go): no "auths" map, the old format
            return dict(decoded.get("auths") or decoded) if isinstance(decoded, dict) else {}
        except (ValueError, AttributeError):
            return {}

    def _pull_auths(self, inputs: _Inputs) -> Obj:
        """The base is pulled with the cluster's global pull secret and the baseImagePullSecret."""
        auths: Obj = {}
        secret = self.store.get("secrets", "pull-secret", "openshift-config")
        data = ((secret or {}).get("data") or {}).get(".dockerconfigjson")
        if data:
            try:
                auths.update(json.loads(base64.b64decode(data)).get("auths") or {})
            except (ValueError, AttributeError):
                pass
        auths.update(self._secret_auths(inputs.base_secret))
        return auths

    @staticmethod
    def _authfile(path: Path, auths: Obj) -> Path:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump({"auths": auths}, fh)
        return path

    # ------------------------------------------------------------------ status writes
    def _current(self, b: _Build) -> Optional[Obj]:
        build = self.store.get("machineosbuilds", b.name)
        return build if build is not None and (build.get("metadata") or {}).get("uid") == b.uid else None

    def _patch_build(self, b: _Build, status: Obj, true: str, now: str) -> None:
        build = self._current(b)
        if build is None:
            return
        old = (build.get("status") or {}).get("conditions")
        self.store.patch("machineosbuilds", b.name, {"status": dict(status, conditions=conditions(true, now, old))})

    def _patch_pod(self, b: _Build, status: Obj) -> None:
        if self.store.get("pods", b.pod, MCO_NAMESPACE) is not None:
            self.store.patch("pods", b.pod, {"status": status}, MCO_NAMESPACE)

    def _patch_job(self, b: _Build, status: Obj) -> None:
        if self.store.get("jobs", job_name(b.name), MCO_NAMESPACE) is not None:
            self.store.patch("jobs", job_name(b.name), {"status": status}, MCO_NAMESPACE)

    def _finish(self, b: _Build, digest: str) -> None:
        now = _timestamp()
        image = f"{repository(b.target)}@{digest}"
        self._patch_pod(b, {"phase": "Succeeded", "containerStatuses": [
            _terminated(BUILD_CONTAINER, now, 0, "Completed"), _terminated(DIGEST_CONTAINER, now, 0, "Completed")]})
        self._patch_job(b, {"active": None, "succeeded": 1, "completionTime": now, "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "lastTransitionTime": now},
            {"type": "Complete", "status": "True", "lastTransitionTime": now}]})
        if self._current(b) is None:
            return
        self._patch_build(b, {"buildEnd": now, "digestedImagePushSpec" if b.inputs.v1 else "finalImagePushspec":
                              image}, "Succeeded", now)
        mosc = self.store.get("machineosconfigs", b.inputs.name)
        if mosc is not None:
            key = "currentImagePullSpec" if b.inputs.v1 else "currentImagePullspec"
            self.store.patch("machineosconfigs", b.inputs.name, {"status": {
                key: image, "machineOSBuild": {"group": MCO_GROUP, "resource": "machineosbuilds", "name": b.name},
                "observedGeneration": int((mosc.get("metadata") or {}).get("generation") or 1)}})

    def _fail(self, b: _Build) -> None:
        now = _timestamp()
        self._patch_pod(b, {"phase": "Failed", "containerStatuses": [
            _terminated(BUILD_CONTAINER, now, 1, "Error"), _waiting(DIGEST_CONTAINER)]})
        self._patch_job(b, {"active": None, "failed": 1, "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit", "lastTransitionTime": now},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit", "lastTransitionTime": now}]})
        self._patch_build(b, {"buildEnd": now}, "Failed", now)


class _Build:
    """What one build's thread needs."""

    def __init__(self, inputs: _Inputs, pool: str, name: str, rendered: str, base: str, release: str, target: str,
                 pod: str) -> None:
        self.inputs, self.pool, self.name, self.rendered = inputs, pool, name, rendered
        self.base, self.release, self.target, self.pod = base, release, target, pod
        self.uid = ""


def _running(name: str, now: str) -> Obj:
    return {"name": name, "ready": True, "started": True, "restartCount": 0, "image": BUILDER_IMAGE,
            "state": {"running": {"startedAt": now}}}


def _waiting(name: str) -> Obj:
    return {"name": name, "ready": False, "restartCount": 0, "image": BUILDER_IMAGE,
            "state": {"waiting": {"reason": "PodInitializing"}}}


def _terminated(name: str, now: str, code: int, reason: str) -> Obj:
    return {"name": name, "ready": False, "restartCount": 0, "image": BUILDER_IMAGE,
            "state": {"terminated": {"exitCode": code, "reason": reason, "finishedAt": now}}}


def wait_for_build(api: KubeAPI, mosc: str, timeout: float = 120.0) -> Obj:
    """Wait until the MachineOSConfig *mosc*'s current build (annotation current-machine-os-build) has
    Succeeded, Failed or been Interrupted; return that MachineOSBuild. TimeoutError otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        with api.store.changed:
            obj = api.store.get("machineosconfigs", mosc)
            name = (((obj or {}).get("metadata") or {}).get("annotations") or {}).get(CURRENT_BUILD)
            build = api.store.get("machineosbuilds", name) if name else None
            if build is not None and any(condition_true(build, t) for t in ("Succeeded", "Failed", "Interrupted")):
                return build
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"MachineOSConfig {mosc}: no finished build after {timeout} s (build {name})")
            api.store.changed.wait(min(left, 0.2))


def rig_pull_secret(registry: Any) -> Obj:
    """A docker config with *registry*'s (tests/support/registry.py) credentials: seed_openshift(pull_secret=)."""
    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    return {"auths": {registry.host: {"auth": auth}}}


def build_pod(api: KubeAPI, build: str) -> Optional[Obj]:
    """The builder pod of MachineOSBuild *build* (label machine-os-build), None if there is none."""
    pods = api.store.list("pods", MCO_NAMESPACE, f"{LABEL_BUILD}={build}")
    return pods[0] if pods else None

"""The container engine: a Podman service spoken to with podman-py. Only this module imports it.

Where the service is: ``CONTAINER_HOST`` when set (it must answer), else the default socket
(``/run/podman/podman.sock`` for root, ``$XDG_RUNTIME_DIR/podman/podman.sock`` otherwise), else
a private ``podman system service`` started on a temporary socket for the length of the
command and stopped after it.

Work-arounds for podman-py 5.x against Podman 4.3 (see docs/engine.md):
- ``images.build`` ignores ``isolation``, sends no ``X-Registry-Config`` and returns only after
  the whole log, so builds go through the raw ``POST /libpod/build`` with ``stream=True``.
- ``images.push`` returns no digest: pushes use the Docker-compatible endpoint, which streams it.
- The service API has no ``--cert-dir``: with one, pulls and pushes run the podman CLI on the
  service's own store (local services only).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ..auth import Credentials, header_value
from ..errors import (
    BuildFailed,
    CredentialsRejected,
    EngineUnavailable,
    ImageNotFound,
    RegistryUnavailable,
    RhcosLayerError,
    UntrustedCertificate,
)
from ..trust import TLSSettings

if TYPE_CHECKING:
    from podman.api.client import APIClient

LineCallback = Callable[[str], None]
_SERVICE_START_TIMEOUT = 15.0
_IMAGE_ID_RE = re.compile(r"^[0-9a-f]{64}$")
_PUSH_DIGEST_RE = re.compile(r"digest: (sha256:[0-9a-f]{64})")


class _UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket: a cheap probe that needs no podman-py import."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _socket_path(url: str) -> Optional[str]:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("unix", "http+unix"):
        return parsed.path or None
    return None


def _quick_request(url: str, method: str, path: str, timeout: float = 30.0) -> Optional[Tuple[int, bytes]]:
    """(status, body) of a small request to a unix-socket service; None when nothing answers."""
    sock_path = _socket_path(url)
    if sock_path is None:
        return None
    conn = _UnixHTTPConnection(sock_path, timeout)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, response.read()
    except OSError:
        return None
    finally:
        conn.close()


def _quick_get(url: str, path: str, timeout: float = 2.0) -> Optional[int]:
    answer = _quick_request(url, "GET", path, timeout)
    return None if answer is None else answer[0]


def default_socket_url(environ: Optional[Mapping[str, str]] = None) -> str:
    env = os.environ if environ is None else environ
    if os.getuid() == 0:
        return "unix:///run/podman/podman.sock"
    runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return f"unix://{runtime}/podman/podman.sock"


def classify_failure(text: str, registry: str) -> RhcosLayerError:
    """Turn podman's error text about a registry into the project's error for it."""
    low = text.lower()
    if "x509:" in low or "certificate signed by unknown authority" in low or "tls: failed to verify" in low:
        from .registry import tls_hint

        return UntrustedCertificate(f"registry {registry}: TLS certificate not trusted", hint=tls_hint(registry))
    if "unauthorized" in low or "authentication required" in low or "denied" in low or "403 forbidden" in low:
        return CredentialsRejected(
            f"registry {registry} rejected the credentials",
            hint=f"check the authfile entry for {registry} (--authfile / REGISTRY_AUTH_FILE)",
        )
    if "manifest unknown" in low or "name unknown" in low or "not found" in low:
        return ImageNotFound(f"registry {registry}: {_last_clause(text)}")
    transient = ("connection refused", "connection reset", "broken pipe", "eof", "i/o timeout",
                 "use of closed network connection", "server misbehaving",
                 "502 bad gateway", "503 service unavailable", "500 internal server error",
                 "504 gateway", "no such host", "network is unreachable", "timeout")
    if any(word in low for word in transient):
        return RegistryUnavailable(
            f"registry {registry} failed during the transfer ({_last_clause(text)})",
            hint="check that the registry is up and reachable, then run the command again",
        )
    return RhcosLayerError(f"podman: {_last_clause(text)}")


def _last_clause(text: str) -> str:
    text = text.strip().splitlines()[-1] if text.strip() else text
    return text.rsplit(": ", 2)[-1] if len(text) > 160 else text


@dataclass
class EngineLocation:
    url: str
    private: bool


class Engine:
    """A connected Podman service. Use :func:`connect` to get one."""

    def __init__(self, url: str, process: Optional[subprocess.Popen[bytes]] = None,
                 private_dir: Optional[str] = None) -> None:
        self.url = url
        self._process = process
        self._private_dir = private_dir
        self._api: Optional[APIClient] = None
        self._info: Optional[Dict[str, Any]] = None

    @property
    def is_private(self) -> bool:
        return self._process is not None

    # -- plumbing ---------------------------------------------------------------------------

    @property
    def api(self) -> APIClient:
        if self._api is None:
            from podman.api.client import APIClient

            self._api = APIClient(base_url=self.url, timeout=None)
        return self._api

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
            self._api = None
        if self._process is not None:
            _stop_process(self._process)
            self._process = None
        if self._private_dir is not None:
            shutil.rmtree(self._private_dir, ignore_errors=True)
            self._private_dir = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _light(self, method: str, path: str, params: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
        """A small request with a JSON answer. On a unix socket it skips podman-py, whose import
        alone costs more than the whole no-op rebuild should (docs/engine.md)."""
        query = "?" + urllib.parse.urlencode(params) if params else ""
        answer = _quick_request(self.url, method, f"/v4.0.0/libpod{path}{query}")
        if answer is None:
            response = self._call(method.lower(), path, params=params)
            return response.status_code, response.json() if response.content else None
        status, body = answer
        try:
            return status, json.loads(body) if body else None
        except ValueError:
            return status, body.decode("utf-8", "replace")

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        from podman.errors import APIError

        try:
            return getattr(self.api, method)(path, **kwargs)
        except APIError as exc:
            raise EngineUnavailable(
                f"Podman service at {self.url} failed: {exc.explanation or exc}",
                hint="check the service's own log",
            ) from None

    def info(self) -> Dict[str, Any]:
        if self._info is None:
            self._info = dict(self._light("GET", "/info")[1])
        return self._info

    # -- images -----------------------------------------------------------------------------

    def image_exists(self, name: str) -> bool:
        status, _ = self._light("GET", f"/images/{urllib.parse.quote(name, safe='')}/exists")
        return status == 204

    def images_with_label(self, key: str, value: str) -> List[Dict[str, Any]]:
        status, body = self._light("GET", "/images/json", {"filters": json.dumps({"label": [f"{key}={value}"]})})
        if status >= 400:
            raise EngineUnavailable(f"Podman service at {self.url} failed to list images: {body}")
        return list(body or [])

    def inspect(self, name: str) -> Dict[str, Any]:
        status, body = self._light("GET", f"/images/{urllib.parse.quote(name, safe='')}/json")
        if status == 404:
            raise ImageNotFound(f"no local image {name!r}", hint="build it first with `rhcos-layer build`")
        if status >= 400:
            raise EngineUnavailable(f"Podman service at {self.url} failed to inspect {name}: {body}")
        return dict(body)

    def tag(self, image: str, repository: str, tag: str) -> None:
        params = {"repo": repository, "tag": tag}
        status, body = self._light("POST", f"/images/{urllib.parse.quote(image, safe='')}/tag", params)
        if status >= 400:
            raise RhcosLayerError(f"podman could not tag {image} as {repository}:{tag}: {body}")

    def pull(self, ref: str, registry: str, creds: Optional[Credentials], tls: TLSSettings,
             authfile: Optional[Path], on_line: LineCallback) -> str:
        """Pull ``ref`` into the service's store; returns the image ID."""
        if tls.cert_dir is not None:
            args = ["pull", "--cert-dir", str(tls.cert_dir), f"--tls-verify={str(tls.verify).lower()}"]
            if authfile is not None:
                args += ["--authfile", str(authfile)]
            self._store_cli(args + [ref], registry, on_line)
            return str(self.inspect(ref)["Id"])
        headers = {"X-Registry-Auth": header_value(_auth_payload(creds))} if creds else {}
        response = self._call("post", "/images/pull", params={"reference": ref, "tlsVerify": tls.verify},
                              headers=headers, stream=True)
        image_id = ""
        for message in _json_lines(response.iter_lines()):
            if message.get("error"):
                raise classify_failure(str(message["error"]), registry)
            if message.get("stream"):
                on_line(str(message["stream"]))
            if message.get("id"):
                image_id = str(message["id"])
        return image_id

    def build(self, context_tar: IO[bytes], params: Dict[str, Any], registry_config: Mapping[str, Any],
              on_line: LineCallback) -> str:
        """Run a build from a context tarball; returns the new image ID, streaming the log."""
        headers = {"Content-Type": "application/x-tar"}
        if registry_config:
            headers["X-Registry-Config"] = header_value(dict(registry_config))
        response = self._call("post", "/build", params=params, data=context_tar, headers=headers, stream=True)
        image_id = ""
        log: List[str] = []
        if response.status_code >= 400:
            text = response.text.strip()
            raise BuildFailed(f"podman refused the build: {_api_message(text)}", detail=text)
        for message in _json_lines(response.iter_lines()):
            if message.get("error"):
                error = str(message["error"]).strip()
                log.append(error + "\n")
                raise BuildFailed(f"build failed: {error.splitlines()[-1] if error else 'unknown error'}",
                                  detail="".join(log))
            text = str(message.get("stream") or "")
            if text:
                log.append(text)
                on_line(text)
                if _IMAGE_ID_RE.match(text.strip()):
                    image_id = text.strip()
        if not image_id:
            raise BuildFailed("build ended without an image ID", detail="".join(log))
        return image_id

    def push(self, image: str, destination_repo: str, tag: str, registry: str, creds: Optional[Credentials],
             tls: TLSSettings, authfile: Optional[Path], on_line: LineCallback) -> str:
        """Push ``image`` to ``destination_repo:tag``; returns the digest podman reports."""
        target = f"{destination_repo}:{tag}"
        if tls.cert_dir is not None:
            with tempfile.TemporaryDirectory(prefix="rhcos-layer-") as tmp:
                digestfile = Path(tmp) / "digest"
                args = ["push", "--cert-dir", str(tls.cert_dir), f"--tls-verify={str(tls.verify).lower()}",
                        "--digestfile", str(digestfile)]
                if authfile is not None:
                    args += ["--authfile", str(authfile)]
                self._store_cli(args + [image, target], registry, on_line)
                return digestfile.read_text().strip()
        self.tag(image, destination_repo, tag)
        headers = {"X-Registry-Auth": header_value(_auth_payload(creds))} if creds else {}
        quoted = urllib.parse.quote(destination_repo, safe="")
        response = self._call("post", f"/images/{quoted}/push", params={"tag": tag, "tlsVerify": tls.verify},
                              headers=headers, stream=True, compatible=True)
        if response.status_code >= 400:
            raise classify_failure(_api_message(response.text), registry)
        digest = ""
        for message in _json_lines(response.iter_lines()):
            detail = message.get("errorDetail") or {}
            error = message.get("error") or (detail.get("message") if isinstance(detail, dict) else None)
            if error:
                raise classify_failure(str(error), registry)
            status = str(message.get("status") or "")
            if status:
                on_line(status + "\n")
                found = _PUSH_DIGEST_RE.search(status)
                if found:
                    digest = found.group(1)
        if not digest:
            raise RegistryUnavailable(f"registry {registry}: push ended without a digest")
        return digest

    def _store_cli(self, args: List[str], registry: str, on_line: LineCallback) -> None:
        """Run the podman CLI on the service's own store (for flags the API lacks)."""
        if _socket_path(self.url) is None:
            raise EngineUnavailable(
                f"--cert-dir needs a local Podman service; {self.url} is remote",
                hint=f"install the CA on the Podman host as /etc/containers/certs.d/{registry}/ca.crt and drop --cert-dir",
            )
        store = self.info().get("store", {})
        podman = shutil.which("podman")
        if podman is None:
            raise EngineUnavailable("podman is not installed", hint="install it: apt-get install podman / dnf install podman")
        command = [podman, "--root", str(store.get("graphRoot")), "--runroot", str(store.get("runRoot")),
                   "--storage-driver", str(store.get("graphDriverName") or "overlay"), *args]
        # with CONTAINER_HOST set, the podman CLI turns into a remote client that has no --root
        env = {k: v for k, v in os.environ.items() if k not in ("CONTAINER_HOST", "CONTAINER_CONNECTION")}
        proc = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, check=False, env=env)
        for line in (proc.stdout + proc.stderr).splitlines(keepends=True):
            on_line(line)
        if proc.returncode != 0:
            error = classify_failure(proc.stderr or proc.stdout, registry)
            error.detail = f"$ podman {' '.join(args)}\n" + _indent(proc.stderr.strip())
            raise error


def _api_message(text: str) -> str:
    try:
        data = json.loads(text)
        return str(data.get("cause") or data.get("message") or text)
    except ValueError:
        return text.strip()


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _auth_payload(creds: Optional[Credentials]) -> Dict[str, str]:
    return {"username": creds.username, "password": creds.password} if creds else {}


def _json_lines(lines: Iterable[bytes]) -> Iterable[Dict[str, Any]]:
    for raw in lines:
        raw = raw.strip()
        if not raw:
            continue
        try:
            message = json.loads(raw)
        except ValueError:
            message = {"stream": raw.decode("utf-8", "replace") + "\n"}
        if isinstance(message, dict):
            yield message


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _start_private_service(isolation: Optional[str]) -> Engine:
    podman = shutil.which("podman")
    if podman is None:
        raise EngineUnavailable(
            "no Podman service answers and podman is not installed",
            hint="install podman (apt-get install podman / dnf install podman) or set CONTAINER_HOST",
        )
    private_dir = tempfile.mkdtemp(prefix="rhcos-layer-podman-")
    url = f"unix://{private_dir}/podman.sock"
    env = dict(os.environ)
    if isolation:
        # podman-py's build ignores isolation; a private service takes it from the environment
        env["BUILDAH_ISOLATION"] = isolation
    log = open(os.path.join(private_dir, "service.log"), "wb")
    try:
        process = subprocess.Popen([podman, "system", "service", "--time=0", url], stdin=subprocess.DEVNULL,
                                   stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    finally:
        log.close()
    engine = Engine(url, process, private_dir)
    deadline = time.monotonic() + _SERVICE_START_TIMEOUT
    delay = 0.01
    while time.monotonic() < deadline:
        if _quick_get(url, "/_ping", timeout=1.0) == 200:
            return engine
        if process.poll() is not None:
            break
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    output = Path(private_dir, "service.log").read_text(errors="replace")
    engine.close()
    raise EngineUnavailable("could not start a private Podman service", detail=_indent(output.strip()),
                            hint="run `podman system service --time=0` yourself and set CONTAINER_HOST")


def locate(environ: Optional[Mapping[str, str]] = None) -> Optional[EngineLocation]:
    """Where an answering service is, without starting one (None: none answers)."""
    env = os.environ if environ is None else environ
    explicit = env.get("CONTAINER_HOST")
    if explicit:
        if _socket_path(explicit) is None:
            return EngineLocation(explicit, False)  # tcp/ssh: podman-py decides
        if _quick_get(explicit, "/_ping") == 200:
            return EngineLocation(explicit, False)
        raise EngineUnavailable(
            f"no Podman service answers at CONTAINER_HOST={explicit}",
            hint=f"start one with `podman system service --time=0 {explicit}`, or unset CONTAINER_HOST"
                 " to let rhcos-layer start a private one",
        )
    default = default_socket_url(env)
    if _quick_get(default, "/_ping") == 200:
        return EngineLocation(default, False)
    return None


def connect(isolation: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> Engine:
    """An Engine on the running service, or on a private one started now (closed with the Engine)."""
    where = locate(environ)
    if where is not None:
        return Engine(where.url)
    return _start_private_service(isolation)

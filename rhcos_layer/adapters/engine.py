"""The container engine: a Podman service and its libpod REST API. Only this module imports podman-py.

Where the service is: ``CONTAINER_HOST`` when set (it must answer), else the default socket
(``/run/podman/podman.sock`` for root, ``$XDG_RUNTIME_DIR/podman/podman.sock`` otherwise), else
a private ``podman system service`` started on a temporary socket for the length of the
command and stopped after it. :func:`start` spawns that service without waiting for it, so
that its start-up (about 0.1 s) overlaps the caller's own work; the first request waits.

Work-arounds for podman-py 5.x against Podman 4.3 (see docs/engine.md):
- ``images.build`` ignores ``isolation``, sends no ``X-Registry-Config`` and returns only after
  the whole log, so builds go through the raw ``POST /libpod/build`` with ``stream=True``.
- ``images.push`` returns no digest: pushes use the Docker-compatible endpoint, which streams it.
- The service API has no ``--cert-dir``: with one, pulls and pushes run the podman CLI on the
  service's own store (local services only).
"""

from __future__ import annotations

import io
import json
import os
import re
import time
import urllib.parse
from typing import (
    IO,
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Tuple,
)

from ..errors import (
    BuildFailed,
    CredentialsRejected,
    EngineUnavailable,
    ImageNotFound,
    RegistryUnavailable,
    RhcosLayerError,
    UntrustedCertificate,
)
from . import unixhttp
from .unixhttp import Reply

# kept out of the import chain that precedes spawning a private service (see start())
if TYPE_CHECKING:
    import subprocess

    from ..auth import Credentials
    from ..trust import TLSSettings

LineCallback = Callable[[str], None]
_SERVICE_START_TIMEOUT = 15.0
_IMAGE_ID_RE = re.compile(r"^[0-9a-f]{64}$")
_PUSH_DIGEST_RE = re.compile(r"digest: (sha256:[0-9a-f]{64})")


def _socket_path(url: str) -> Optional[str]:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in ("unix", "http+unix"):
        return parsed.path or None
    return None


class ContainerEngine(Protocol):
    """What build and push need from a container engine. Keyword-only arguments, so that a
    call cannot swap a repository and a tag or a registry and a reference unnoticed."""

    url: str

    def ready(self) -> None: ...

    def close(self) -> None: ...

    def image_exists(self, name: str) -> bool: ...

    def inspect(self, name: str) -> Dict[str, Any]: ...

    def tag(self, image: str, *, repository: str, tag: str) -> None: ...

    def pull(self, ref: str, *, registry: str, credentials: Optional[Credentials], tls: TLSSettings,
             on_line: LineCallback) -> str: ...

    def build(self, context_tar: IO[bytes], *, params: Mapping[str, Any],
              registry_config: Mapping[str, Any], on_line: LineCallback) -> str: ...

    def push(self, image: str, *, repository: str, tag: str, registry: str,
             credentials: Optional[Credentials], tls: TLSSettings, on_line: LineCallback) -> str: ...

    def rpm_query(self, image: str, queries: Sequence[Sequence[str]]) -> List[Tuple[int, str]]: ...


def _target(path: str, params: Optional[Mapping[str, Any]], compat: bool) -> str:
    prefix = "/v1.40" if compat else "/v4.0.0/libpod"
    query = "?" + urllib.parse.urlencode(_query(params), doseq=True) if params else ""
    return f"{prefix}{path}{query}"


class _SocketTransport:
    """The libpod REST API over a local unix socket (adapters/unixhttp.py): podman-py does the
    same through requests, but its import alone (requests, urllib3, rich) costs more than
    rhcos-layer may add to a build (docs/engine.md)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def request(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None,
                body: Optional[IO[bytes]] = None, headers: Optional[Mapping[str, str]] = None,
                compat: bool = False, timeout: Optional[float] = None) -> Reply:
        return unixhttp.request(self.path, method, _target(path, params, compat), headers=headers, body=body,
                                timeout=timeout)


class _PodmanPyTransport:
    """The same API through podman-py, for services that are not a local socket (tcp://, ssh://)."""

    def __init__(self, url: str) -> None:
        from podman.api.client import APIClient

        self.url = url
        self._api = APIClient(base_url=url, timeout=None)

    def request(self, method: str, path: str, *, params: Optional[Mapping[str, Any]] = None,
                body: Optional[IO[bytes]] = None, headers: Optional[Mapping[str, str]] = None,
                compat: bool = False, timeout: Optional[float] = None) -> Reply:
        from podman.errors import APIError

        extra: Dict[str, Any] = {"data": body} if body is not None else {}
        try:
            response = getattr(self._api, method.lower())(
                path, params=_query(params) if params else None, headers=dict(headers or {}), stream=True,
                compatible=compat, timeout=timeout, **extra)
        except (APIError, OSError) as exc:  # requests' errors are OSErrors
            raise _service_failed(self.url, str(getattr(exc, "explanation", None) or exc)) from None

        def blocks() -> Iterator[bytes]:
            try:
                yield from response.iter_content(chunk_size=None)
            except OSError as exc:
                raise _service_failed(self.url, str(exc)) from None

        headers_found = {k.lower(): v for k, v in response.headers.items()}
        return Reply(response.status_code, headers_found, blocks(), response.close)

    def close(self) -> None:
        self._api.close()


def _service_failed(url: str, why: str) -> EngineUnavailable:
    return EngineUnavailable(f"Podman service at {url} failed: {why}",
                             hint="check that the service still runs (its own log says why)")


def _query(params: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Booleans as Go's strconv.ParseBool spells them."""
    return {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in (params or {}).items()}


def _quick_get(url: str, path: str, timeout: float = 2.0) -> Optional[int]:
    """Status of GET ``path`` on a unix-socket service, or None when nothing answers."""
    sock_path = _socket_path(url)
    if sock_path is None:
        return None
    try:
        reply = _SocketTransport(sock_path).request("GET", path, timeout=timeout)
        reply.read()
        return reply.status
    except EngineUnavailable:
        return None


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
    if "unauthorized" in low or "authentication required" in low or "denied:" in low or "403 forbidden" in low:
        return CredentialsRejected(
            f"registry {registry} rejected the credentials",
            hint=f"check the authfile entry for {registry} (--authfile / REGISTRY_AUTH_FILE)",
        )
    if "manifest unknown" in low or "name unknown" in low or "404 not found" in low:
        return ImageNotFound(f"registry {registry}: {_last_clause(text)}")
    transient = ("connection refused", "connection reset", "broken pipe", ": eof", "unexpected eof", "i/o timeout",
                 "use of closed network connection", "server misbehaving", "tls handshake timeout",
                 "502 bad gateway", "503 service unavailable", "500 internal server error",
                 "504 gateway", "no such host", "network is unreachable", "timeout exceeded")
    if any(word in low for word in transient):
        return RegistryUnavailable(
            f"registry {registry} failed during the transfer ({_last_clause(text)})",
            hint="check that the registry is up and reachable, then run the command again",
        )
    return RhcosLayerError(f"podman: {_last_clause(text)}")


def _last_clause(text: str) -> str:
    text = text.strip().splitlines()[-1] if text.strip() else text
    return text.rsplit(": ", 2)[-1] if len(text) > 160 else text


class Engine:
    """A Podman service. Use :func:`connect` (ready) or :func:`start` (ready on first use)."""

    def __init__(self, url: str, process: Optional[subprocess.Popen[bytes]] = None,
                 private_dir: Optional[str] = None, error: Optional[RhcosLayerError] = None) -> None:
        self.url = url
        self._process = process
        self._private_dir = private_dir
        self._remote: Optional[_PodmanPyTransport] = None
        self._info: Optional[Dict[str, Any]] = None
        # why no service can be used, raised on first use so that input errors come first
        self._error = error
        # a private service spawned by start() that has not answered yet
        self._starting = process is not None

    # -- plumbing ---------------------------------------------------------------------------

    def ready(self) -> None:
        """Return once the service answers; raise why it cannot (found or started by start())."""
        if self._error is not None:
            raise self._error
        if self._starting:
            self._wait_for_private_service()

    def _wait_for_private_service(self) -> None:
        process = self._process
        assert process is not None and self._private_dir is not None
        socket_path = os.path.join(self._private_dir, "podman.sock")
        deadline = time.monotonic() + _SERVICE_START_TIMEOUT
        # a short, fixed poll: the service is up in about 0.1 s and every build waits for it
        while time.monotonic() < deadline:
            if os.path.exists(socket_path) and _quick_get(self.url, "/_ping", timeout=1.0) == 200:
                self._starting = False
                return
            if process.poll() is not None:
                break
            time.sleep(0.005)
        with open(os.path.join(self._private_dir, "service.log"), "rb") as handle:
            output = handle.read().decode("utf-8", "replace")
        self.close()
        self._error = EngineUnavailable(
            "could not start a private Podman service", detail=_indent(output.strip()),
            hint="run `podman system service --time=0` yourself and set CONTAINER_HOST")
        raise self._error

    def close(self) -> None:
        """Stop a private service (waiting for it to exit) and remove its folder; idempotent."""
        self._starting = False
        if self._remote is not None:
            self._remote.close()
            self._remote = None
        if self._process is not None:
            _stop_process(self._process)
            self._process = None
        if self._private_dir is not None:
            _remove_private_dir(self._private_dir)
            self._private_dir = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Reply:
        self.ready()
        sock_path = _socket_path(self.url)
        if sock_path is not None:
            return _SocketTransport(sock_path).request(method, path, **kwargs)
        if self._remote is None:
            self._remote = _PodmanPyTransport(self.url)
        return self._remote.request(method, path, **kwargs)

    def _json(self, method: str, path: str, params: Optional[Dict[str, str]] = None) -> Tuple[int, Any]:
        reply = self._request(method, path, params=params)
        return reply.status, reply.json()

    def info(self) -> Dict[str, Any]:
        if self._info is None:
            self._info = dict(self._json("GET", "/info")[1])
        return self._info

    # -- images -----------------------------------------------------------------------------

    def image_exists(self, name: str) -> bool:
        status, _ = self._json("GET", f"/images/{urllib.parse.quote(name, safe='')}/exists")
        return status == 204

    def inspect(self, name: str) -> Dict[str, Any]:
        status, body = self._json("GET", f"/images/{urllib.parse.quote(name, safe='')}/json")
        if status == 404:
            raise ImageNotFound(f"no local image {name!r}", hint="build it first with `rhcos-layer build`")
        if status >= 400:
            raise EngineUnavailable(f"Podman service at {self.url} failed to inspect {name}: {body}")
        return dict(body)

    def tag(self, image: str, *, repository: str, tag: str) -> None:
        params = {"repo": repository, "tag": tag}
        status, body = self._json("POST", f"/images/{urllib.parse.quote(image, safe='')}/tag", params)
        if status >= 400:
            raise RhcosLayerError(f"podman could not tag {image} as {repository}:{tag}: {body}")

    def pull(self, ref: str, *, registry: str, credentials: Optional[Credentials], tls: TLSSettings,
             on_line: LineCallback) -> str:
        """Pull ``ref`` into the service's store; returns the image ID."""
        if tls.cert_dir is not None:
            args = ["pull", "--cert-dir", str(tls.cert_dir), f"--tls-verify={str(tls.verify).lower()}"]
            self._store_cli(args, [ref], registry=registry, credentials=credentials, on_line=on_line)
            return str(self.inspect(ref)["Id"])
        headers = {"X-Registry-Auth": _header(_auth_payload(credentials))} if credentials else {}
        reply = self._request("POST", "/images/pull", params={"reference": ref, "tlsVerify": tls.verify},
                              headers=headers)
        image_id = ""
        for message in _json_lines(reply.lines()):
            if message.get("error"):
                raise classify_failure(str(message["error"]), registry)
            if message.get("stream"):
                on_line(str(message["stream"]))
            if message.get("id"):
                image_id = str(message["id"])
        return image_id

    def build(self, context_tar: IO[bytes], *, params: Mapping[str, Any], registry_config: Mapping[str, Any],
              on_line: LineCallback) -> str:
        """Run a build from a context tarball; returns the new image ID, streaming the log.

        ``forcerm``: remove the build's working containers also when a step fails, as ``podman
        build`` does by default (its --force-rm); the API's default leaves them in the store.
        """
        headers = {"Content-Type": "application/x-tar"}
        if registry_config:
            headers["X-Registry-Config"] = _header(dict(registry_config))
        reply = self._request("POST", "/build", params={"forcerm": True, **params}, body=context_tar,
                              headers=headers)
        image_id = ""
        log: List[str] = []
        if reply.status >= 400:
            text = reply.read().decode("utf-8", "replace").strip()
            raise BuildFailed(f"podman refused the build: {_api_message(text)}", detail=text)
        for message in _json_lines(reply.lines()):
            if message.get("error"):
                # the error's last line is the message; only lines before it join the log
                *before, last = str(message["error"]).strip().splitlines() or ["unknown error"]
                raise BuildFailed(f"build failed: {last}", detail="".join(log + [line + "\n" for line in before]))
            text = str(message.get("stream") or "")
            if text:
                log.append(text)
                on_line(text)
                if _IMAGE_ID_RE.match(text.strip()):
                    image_id = text.strip()
        if not image_id:
            raise BuildFailed("build ended without an image ID", detail="".join(log))
        return image_id

    def push(self, image: str, *, repository: str, tag: str, registry: str,
             credentials: Optional[Credentials], tls: TLSSettings, on_line: LineCallback) -> str:
        """Push ``image`` to ``repository:tag``; returns the digest podman reports."""
        target = f"{repository}:{tag}"
        if tls.cert_dir is not None:
            args = ["push", "--cert-dir", str(tls.cert_dir), f"--tls-verify={str(tls.verify).lower()}"]
            return self._store_cli(args, [image, target], registry=registry, credentials=credentials,
                                   on_line=on_line, digestfile=True)
        self.tag(image, repository=repository, tag=tag)
        headers = {"X-Registry-Auth": _header(_auth_payload(credentials))} if credentials else {}
        quoted = urllib.parse.quote(repository, safe="")
        reply = self._request("POST", f"/images/{quoted}/push", params={"tag": tag, "tlsVerify": tls.verify},
                              headers=headers, compat=True)
        if reply.status >= 400:
            raise classify_failure(_api_message(reply.read().decode("utf-8", "replace")), registry)
        digest = ""
        for message in _json_lines(reply.lines()):
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

    def rpm_query(self, image: str, queries: Sequence[Sequence[str]]) -> List[Tuple[int, str]]:
        """Run ``/usr/bin/rpm ARGS`` (RHCOS's rpm) for each of ``queries`` in one throw-away container
        of ``image`` (which the store must hold); returns (exit status, output) per query.

        Offline (no network namespace), no credentials, nothing mounted, and the container is
        removed afterwards, also on errors. The runtime and its limits are the service's own
        (containers.conf), as for ``podman run``. One container for all queries: starting one
        costs far more than an rpm query. Each query's output is framed by marker lines that
        carry a random token, so a package name or file in the image cannot forge a frame.
        """
        import secrets
        import shlex

        for args in queries:
            for arg in args:
                # the queries are ours, never outside data; refuse anything a shell would read twice
                if not arg or any(c not in _RPM_ARG_CHARS for c in arg):
                    raise ValueError(f"rpm argument {arg!r} is not plain")
        token = secrets.token_hex(8)
        script = "; ".join(f"echo @@{token}@@{i}; /usr/bin/rpm {' '.join(shlex.quote(a) for a in args)} 2>&1;"
                           f" echo @@{token}@@rc=$?" for i, args in enumerate(queries))
        spec = {"image": image, "command": ["/bin/sh", "-c", script], "netns": {"nsmode": "none"},
                "env": {"LANG": "C", "LC_ALL": "C"}, "terminal": False}
        reply = self._request("POST", "/containers/create", body=io.BytesIO(json.dumps(spec).encode()),
                              headers={"Content-Type": "application/json"})
        created = reply.json()
        if reply.status == 404:
            raise ImageNotFound(f"no local image {image!r} to query", hint="pull or build it first")
        if reply.status >= 400 or not isinstance(created, dict) or not created.get("Id"):
            raise EngineUnavailable(f"Podman could not create a container of {image}: {_api_message(str(created))}")
        container = urllib.parse.quote(str(created["Id"]), safe="")
        try:
            for path in (f"/containers/{container}/start", f"/containers/{container}/wait"):
                reply = self._request("POST", path)
                body = reply.read()
                if reply.status >= 400:
                    raise EngineUnavailable(f"Podman could not run rpm in {image}: "
                                            + _api_message(body.decode("utf-8", "replace")))
            reply = self._request("GET", f"/containers/{container}/logs", params={"stdout": True, "stderr": True})
            text = demux_logs(reply.read()).decode("utf-8", "replace")
        finally:
            self._request("DELETE", f"/containers/{container}", params={"force": True, "v": True}).read()
        return split_framed(text, token, len(queries))

    def _store_cli(self, args: List[str], operands: List[str], *, registry: str,
                   credentials: Optional[Credentials], on_line: LineCallback, digestfile: bool = False) -> str:
        """Run the podman CLI on the service's own store (for flags the API lacks); returns what
        ``--digestfile`` received when asked for one.

        Never ``--storage-driver``: a store first used without a storage.conf naming a driver
        (stock Debian and Ubuntu) recorded "" in its database, and podman refuses any explicit
        driver that differs from what the database recorded ("database configuration
        mismatch", libpod/runtime.go). Without the flag podman takes the recorded driver, or
        the configured one when none was recorded, as the service itself did.

        The child gets a private TMPDIR (holding the credentials file, 0600, and podman's big
        scratch files such as a push's layer copy); it is removed when the child has exited,
        also on Ctrl-C or SIGTERM, after the child was stopped with SIGTERM (SIGKILL only if it
        does not exit in 10 s).
        """
        if _socket_path(self.url) is None:
            raise EngineUnavailable(
                f"--cert-dir needs a local Podman service; {self.url} is remote",
                hint=f"install the CA on the Podman host as /etc/containers/certs.d/{registry}/ca.crt"
                     " and drop --cert-dir",
            )
        import shutil
        import tempfile

        store = self.info().get("store", {})
        podman = shutil.which("podman")
        if podman is None:
            raise EngineUnavailable("podman is not installed",
                                    hint="install it: apt-get install podman / dnf install podman")
        scratch = tempfile.mkdtemp(prefix="rhcos-layer-podman-cli-")
        try:
            extra: List[str] = []
            if credentials is not None:
                extra += ["--authfile", _write_authfile(scratch, registry, credentials)]
            digest_path = os.path.join(scratch, "digest")
            if digestfile:
                extra += ["--digestfile", digest_path]
            command = [podman, "--root", str(store.get("graphRoot")), "--runroot", str(store.get("runRoot")),
                       *args, *extra, *operands]
            # with CONTAINER_HOST set, the podman CLI turns into a remote client that has no --root
            env = {k: v for k, v in os.environ.items() if k not in ("CONTAINER_HOST", "CONTAINER_CONNECTION")}
            env["TMPDIR"] = scratch
            returncode, text = _run_child(command, env, on_line)
            if returncode != 0:
                error = classify_failure(text, registry)
                error.detail = f"$ podman {' '.join(args + operands)}\n" + _indent(text.strip())
                raise error
            if digestfile:
                with open(digest_path, encoding="utf-8") as handle:
                    return handle.read().strip()
            return ""
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


_RPM_ARG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./%{}=:+")


def demux_logs(data: bytes) -> bytes:
    """The output of a container's ``logs``: without a terminal, Podman frames each chunk with an
    8-byte header (stream 1 or 2, three zero bytes, a big-endian length), as Docker does;
    anything that does not read as such frames is returned as it is."""
    out = []
    at = 0
    while at + 8 <= len(data) and data[at] in (0, 1, 2) and data[at + 1:at + 4] == b"\0\0\0":
        size = int.from_bytes(data[at + 4:at + 8], "big")
        out.append(data[at + 8:at + 8 + size])
        at += 8 + size
    if at == 0:
        return data
    return b"".join(out) + data[at:]


def split_framed(text: str, token: str, count: int) -> List[Tuple[int, str]]:
    """(exit status, output) of each of ``count`` queries from the marker-framed output; a query
    whose frame is missing or broken reads as exit status 127 with no output."""
    answers: List[Tuple[int, str]] = []
    for index in range(count):
        start = f"@@{token}@@{index}\n"
        begin = text.find(start)
        end = text.find(f"@@{token}@@rc=", begin + len(start)) if begin >= 0 else -1
        if begin < 0 or end < 0:
            answers.append((127, ""))
            continue
        status_text = text[end + len(f"@@{token}@@rc="):].split("\n", 1)[0].strip()
        status = int(status_text) if status_text.isdigit() and len(status_text) <= 3 else 127
        answers.append((status, text[begin + len(start):end]))
    return answers


def _write_authfile(folder: str, registry: str, credentials: Credentials) -> str:
    """An auth.json holding only ``registry``'s entry, 0600 from its creation: the CLI gets a
    path, never the secret on its command line."""
    import base64

    path = os.path.join(folder, "auth.json")
    token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode()).decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"auths": {registry: {"auth": token}}}, handle)
    return path


def _run_child(command: List[str], env: Dict[str, str], on_line: LineCallback) -> Tuple[int, str]:
    """Run ``command``, passing its output (stdout and stderr together) on line by line; returns
    (exit status, output). Interrupted (Ctrl-C, SIGTERM), the child is stopped gracefully before
    the interruption goes on: subprocess.run would SIGKILL it, leaving its temporary files."""
    import subprocess

    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, env=env, start_new_session=True)
    lines: List[str] = []
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.decode("utf-8", "replace")
            lines.append(line)
            on_line(line)
        process.wait()
    except BaseException:
        _stop_process(process)
        raise
    finally:
        if process.stdout is not None:
            process.stdout.close()
    return process.returncode, "".join(lines)


def image_labels(details: Mapping[str, Any]) -> Dict[str, str]:
    """The labels of an image as `inspect` returns it (libpod puts them at the top level,
    the Docker-compatible shape under Config)."""
    return dict((details.get("Config") or {}).get("Labels") or details.get("Labels") or {})


def _api_message(text: str) -> str:
    try:
        data = json.loads(text)
        return str(data.get("cause") or data.get("message") or text)
    except ValueError:
        return text.strip()


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def _header(payload: object) -> str:
    from ..auth import header_value

    return header_value(payload)


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


def _mounts_under(folder: str) -> List[str]:
    try:
        with open("/proc/self/mounts", encoding="utf-8") as handle:
            points = [line.split()[1].replace("\\040", " ") for line in handle]
    except OSError:
        return []
    prefix = folder.rstrip("/") + "/"
    return sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True)


def _remove_private_dir(folder: str) -> None:
    """Remove the private service's folder, never deleting through a mount an interrupted
    build may have left in it (that would delete the mounted files themselves)."""
    import shutil
    import subprocess

    for point in _mounts_under(folder):
        subprocess.run(["umount", "-l", point], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    if _mounts_under(folder):
        return  # leave it rather than risk it; a reboot or `umount` clears it
    shutil.rmtree(folder, ignore_errors=True)


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    import subprocess

    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _spawn_private_service(isolation: Optional[str]) -> Engine:
    """Spawn ``podman system service`` on a socket in a new temporary folder; do not wait.

    The Engine owns the process from the moment it exists: closing it (also on errors, Ctrl-C,
    SIGTERM) stops the service and removes the folder. ``Engine.ready()`` waits for it.
    """
    import shutil
    import tempfile

    podman = shutil.which("podman")
    if podman is None:
        return Engine("", error=EngineUnavailable(
            "no Podman service answers and podman is not installed",
            hint="install podman (apt-get install podman / dnf install podman) or set CONTAINER_HOST",
        ))
    import subprocess

    private_dir = tempfile.mkdtemp(prefix="rhcos-layer-podman-")
    url = f"unix://{private_dir}/podman.sock"
    engine = Engine(url, private_dir=private_dir)
    try:
        # its scratch files (build contexts, buildah work folders) live in our folder, so that
        # whatever an interrupted build leaves is removed with it
        env = dict(os.environ, TMPDIR=private_dir)
        if isolation:
            # the service's default for builds that send no isolation parameter
            env["BUILDAH_ISOLATION"] = isolation
        with open(os.path.join(private_dir, "service.log"), "wb") as log:
            engine._process = subprocess.Popen(
                [podman, "system", "service", "--time=0", url], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env, start_new_session=True)
        engine._starting = True
    except BaseException:
        engine.close()
        raise
    return engine


def locate(environ: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The URL of an answering service, without starting one (None: none answers)."""
    env = os.environ if environ is None else environ
    explicit = env.get("CONTAINER_HOST")
    if explicit:
        if _socket_path(explicit) is None:
            return explicit  # tcp/ssh: podman-py finds out on the first request
        if _quick_get(explicit, "/_ping") == 200:
            return explicit
        raise EngineUnavailable(
            f"no Podman service answers at CONTAINER_HOST={explicit}",
            hint=f"start one with `podman system service --time=0 {explicit}`, or unset CONTAINER_HOST"
                 " to let rhcos-layer start a private one",
        )
    default = default_socket_url(env)
    if _quick_get(default, "/_ping") == 200:
        return default
    return None


def start(isolation: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> Engine:
    """An Engine on the running service, or on a private one spawned now and not waited for.

    Call it as early as possible and close the Engine (``with``) in every case. Errors (no
    service at CONTAINER_HOST, podman missing, the service does not come up) are raised by
    ``Engine.ready()`` or the first request, so that a command still reports bad input first.
    """
    try:
        url = locate(environ)
    except EngineUnavailable as exc:
        return Engine(str((os.environ if environ is None else environ).get("CONTAINER_HOST")), error=exc)
    if url is not None:
        return Engine(url)
    return _spawn_private_service(isolation)


def connect(isolation: Optional[str] = None, environ: Optional[Mapping[str, str]] = None) -> Engine:
    """An Engine on the running service, or on a private one started now (closed with the Engine)."""
    engine = start(isolation, environ)
    try:
        engine.ready()
    except BaseException:
        engine.close()
        raise
    return engine

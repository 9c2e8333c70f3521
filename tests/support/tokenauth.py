"""A Bearer-token front for the rig registry: the way quay.io and registry.redhat.io authenticate.

Usage::

    with TokenAuthFront(registry) as front:
        registry.write_authfile(auth, extra_hosts=[front.host])
        ... read f"{front.host}/openshift/release@sha256:..." with --cert-dir registry.cert_dir ...
        assert front.stats().token_requests >= 1

The conversation (the distribution "token authentication specification"):

1. ``GET https://FRONT/v2/<repo>/manifests/<ref>`` without a token: 401 with
   ``WWW-Authenticate: Bearer realm="https://FRONT/token",service="rig-front",scope="repository:<repo>:pull"``
   (no scope for ``/v2/`` itself) and the registry's JSON errors body;
2. ``GET https://FRONT/token?service=rig-front&scope=repository:<repo>:pull`` with the rig registry's
   user and password as Basic credentials: ``{"token", "access_token", "expires_in", "issued_at"}``
   (401 for missing or wrong credentials);
3. the request again with ``Authorization: Bearer <token>``: forwarded to the rig registry (HEAD and GET
   only) with the registry's own Basic credentials; status, body and the headers that matter come back.

A token is good for the scopes it was issued for only (any token will do for ``/v2/``) and for
``token_ttl`` seconds; ``expire_tokens()`` invalidates every token at once.  ``corrupt_blobs(True)``
flips one byte of every blob body passed on (the length stays right), to prove a client checks
sha256 digests.

The front serves TLS with the rig registry's certificate and key (its IP SAN 127.0.0.1 holds for
any port), so whatever trusts ``registry.cert_dir`` trusts the front too.  Every thread is a
daemon, every connection has a socket timeout, and ``stop()`` closes open connections and waits
for their threads.  Failures of the front itself (not network errors) are kept; ``check()``
raises them.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, FrozenSet, Iterator, List, Optional, Sequence, Set, Tuple
from urllib.parse import parse_qs, urlsplit

import requests
import urllib3

from ._util import RigError
from .registry import Registry

SERVICE = "rig-front"

# /v2/<repo>/manifests/<ref>, /v2/<repo>/blobs/<digest>, /v2/<repo>/tags/list (repo may hold "/")
_V2_PATHS = ("manifests", "blobs", "tags")
# response headers of the registry that are passed on to the client
_PASSED_HEADERS = (
    "Content-Type",
    "Content-Length",
    "Docker-Content-Digest",
    "Docker-Distribution-API-Version",
    "Location",
    "ETag",
    "Content-Range",
    "Accept-Ranges",
    "Link",
)
# request headers of the client that are passed on to the registry
_FORWARDED_HEADERS = ("Accept", "Range", "If-None-Match", "User-Agent")
_CHUNK = 64 * 1024

Scope = Tuple[str, str, str]  # (resource type, resource name, action)


@dataclass(frozen=True)
class FrontStats:
    token_requests: int  # GET /token answered, whatever the outcome
    tokens_issued: int
    token_rejections: int  # /token answered 401 (credentials missing or wrong)
    bearer_requests: int  # /v2 requests that carried "Authorization: Bearer ..." (valid or not)
    unauthenticated_requests: int  # /v2 requests without a Bearer token
    rejected_bearer: int  # Bearer token unknown, expired or not for this scope
    forwarded: int  # requests passed on to the registry
    corrupted_blobs: int  # blob bodies with a byte flipped


@dataclass(frozen=True)
class TokenRequest:
    """One GET /token: what was asked for, by whom, and the answer's status."""

    service: str
    scopes: Tuple[str, ...]
    user: Optional[str]
    status: int


@dataclass(frozen=True)
class FrontRequest:
    """One /v2 request the front answered (or forwarded)."""

    method: str
    path: str
    status: int
    bearer: bool  # carried a Bearer token (valid or not)
    forwarded: bool


@dataclass(frozen=True)
class _Grant:
    scopes: FrozenSet[Scope]
    expires: float  # time.monotonic()


def _error_body(code: str, message: str, detail: Any = None) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message, "detail": detail}]}).encode()


def _parse_scope(text: str) -> Optional[Tuple[str, str, Tuple[str, ...]]]:
    """"repository:openshift/release:pull,push" -> ("repository", "openshift/release", ("pull", "push"))."""
    kind, sep, rest = text.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not kind or not name:
        return None
    return kind, name, tuple(a for a in actions.split(",") if a)


def _v2_target(path: str) -> Tuple[Optional[str], Optional[str]]:
    """(repository, kind) of a /v2/<repo>/<kind>/<ref> path, else (None, None)."""
    rest = path[len("/v2/"):]
    parts = rest.split("/")
    # the last "manifests"/"blobs"/"tags" segment that is followed by exactly one more segment
    if len(parts) >= 3 and parts[-2] in _V2_PATHS and all(parts[:-2]) and parts[-1]:
        return "/".join(parts[:-2]), parts[-2]
    return None, None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, front: TokenAuthFront, port: int, context: ssl.SSLContext) -> None:
        self.front = front
        self._context = context
        super().__init__(("127.0.0.1", port), _Handler)

    def get_request(self) -> Tuple[Any, Any]:
        sock, addr = self.socket.accept()
        # the handshake happens in the connection's own thread (with its timeout), so a client
        # that connects and says nothing cannot stall the accept loop
        return self._context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        self.front._note_failure(sys.exc_info()[1])


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rig-token-front"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        front = self.server.front
        self.timeout = front.io_timeout
        self.request.settimeout(front.io_timeout)
        if not front._track(self.request):
            raise ConnectionAbortedError("the front is stopping")
        try:
            self.request.do_handshake()
            super().setup()
        except BaseException:
            front._untrack(self.request)
            raise

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.front._untrack(self.request)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.front._dispatch(self, "GET")

    def do_HEAD(self) -> None:
        self.server.front._dispatch(self, "HEAD")

    def _unsupported(self) -> None:
        self.server.front._dispatch(self, self.command)

    do_POST = do_PUT = do_PATCH = do_DELETE = _unsupported


class TokenAuthFront:
    """HTTPS on 127.0.0.1:<free port>, Bearer-token auth, in front of ``registry``."""

    def __init__(
        self,
        registry: Registry,
        *,
        service: str = SERVICE,
        port: int = 0,
        token_ttl: int = 300,
        io_timeout: float = 10.0,
        upstream_timeout: float = 30.0,
    ) -> None:
        self.registry = registry
        self.service = service
        self.port = port
        self.token_ttl = token_ttl
        self.io_timeout = io_timeout
        self.upstream_timeout = upstream_timeout

        self._lock = threading.Lock()
        self._server: Optional[_Server] = None
        self._thread: Optional[threading.Thread] = None
        self._stopping = False
        self._conns: Set[socket.socket] = set()
        self._tokens: Dict[str, _Grant] = {}
        self._corrupt = False
        self._failures: List[BaseException] = []
        self._token_log: List[TokenRequest] = []
        self._request_log: List[FrontRequest] = []
        self._counts: Dict[str, int] = dict.fromkeys(FrontStats.__dataclass_fields__, 0)

    # -------------------------------------------------------------- lifecycle
    @property
    def host(self) -> str:
        """"127.0.0.1:PORT" to use in image references and authfiles."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    @property
    def realm(self) -> str:
        return f"{self.url}/token"

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> TokenAuthFront:
        if self._thread is not None:
            return self
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.registry.ca_path), str(self.registry.key_path))
        self._stopping = False
        server = _Server(self, self.port, context)
        self.port = int(server.server_address[1])  # a restart keeps the port
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"rig-token-front-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        with self._lock:
            self._stopping = True
        server.shutdown()  # ends serve_forever
        server.server_close()
        thread.join(timeout)
        with self._lock:
            conns = list(self._conns)
        for sock in conns:  # wakes threads waiting for the next keep-alive request
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._conns:
                    break
            time.sleep(0.01)
        else:
            raise RigError(f"token front {self.host}: {len(self._conns)} connection(s) still open after stop()")

    def __enter__(self) -> TokenAuthFront:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --------------------------------------------------------------- controls
    def expire_tokens(self) -> None:
        """Every token issued so far stops working (clients must fetch new ones)."""
        with self._lock:
            self._tokens.clear()

    def corrupt_blobs(self, on: bool = True) -> None:
        """Flip one byte of every blob body forwarded from now on (or stop doing so)."""
        with self._lock:
            self._corrupt = on

    def issue_token(self, *scopes: str) -> str:
        """A valid token for ``scopes`` without going through /token (for tests of the front)."""
        return self._grant(scopes)

    # ---------------------------------------------------------------- counters
    def stats(self) -> FrontStats:
        with self._lock:
            return FrontStats(**self._counts)

    def token_log(self) -> List[TokenRequest]:
        with self._lock:
            return list(self._token_log)

    def request_log(self) -> List[FrontRequest]:
        with self._lock:
            return list(self._request_log)

    def reset_counters(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(self._counts, 0)
            self._token_log.clear()
            self._request_log.clear()

    def check(self) -> None:
        """Raise if the front itself failed while serving (a bug in the rig, not in the client)."""
        with self._lock:
            failures = list(self._failures)
        if failures:
            raise RigError(f"token front {self.host} failed {len(failures)} time(s); first: {failures[0]!r}") \
                from failures[0]

    # --------------------------------------------------------------- internals
    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._stopping:
                return False
            self._conns.add(sock)
            return True

    def _untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.discard(sock)

    def _note_failure(self, exc: Optional[BaseException]) -> None:
        if exc is None or isinstance(exc, OSError):
            # network trouble: resets, timeouts, failed handshakes, clients going away, stopping
            return
        with self._lock:
            self._failures.append(exc)

    def _grant(self, scopes: Sequence[str]) -> str:
        granted: Set[Scope] = set()
        for text in scopes:
            parsed = _parse_scope(text)
            if parsed is None:
                continue
            kind, name, actions = parsed
            allowed = {"repository": {"pull"}, "registry": {"*"}}.get(kind, set())
            granted.update((kind, name, action) for action in actions if action in allowed)
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = _Grant(frozenset(granted), time.monotonic() + self.token_ttl)
        return token

    def _token_allows(self, token: Optional[str], needed: Optional[Scope]) -> bool:
        if not token:
            return False
        with self._lock:
            grant = self._tokens.get(token)
        if grant is None or grant.expires <= time.monotonic():
            return False
        return needed is None or needed in grant.scopes

    def _basic_user(self, header: str) -> Tuple[Optional[str], bool]:
        """(user name given, whether user and password are the registry's)."""
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic" or not value.strip():
            return None, False
        try:
            user, sep, password = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, False
        ok = bool(sep) and hmac.compare_digest(user.encode(), self.registry.username.encode()) and \
            hmac.compare_digest(password.encode(), self.registry.password.encode())
        return user, ok

    # ---------------------------------------------------------------- serving
    def _dispatch(self, h: _Handler, method: str) -> None:
        try:
            path = urlsplit(h.path).path
            if path == "/token":
                self._serve_token(h, method)
            elif path in ("/v2", "/v2/") or path.startswith("/v2/"):
                self._serve_v2(h, method, path)
            else:
                self._reply(h, 404, _error_body("NOT_FOUND", "no such endpoint"))
        except OSError:
            h.close_connection = True  # the client went away or the socket timed out
        except Exception as exc:
            self._note_failure(exc)
            h.close_connection = True
            try:
                self._reply(h, 500, _error_body("UNKNOWN", f"token front failure: {exc!r}"))
            except OSError:
                pass

    def _reply(self, h: _Handler, status: int, body: bytes, headers: Optional[Dict[str, str]] = None,
               content_type: str = "application/json; charset=utf-8") -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def _serve_token(self, h: _Handler, method: str) -> None:
        if method != "GET":
            self._reply(h, 405, _error_body("UNSUPPORTED", "the token service answers GET only"),
                        {"Allow": "GET"})
            return
        params = parse_qs(urlsplit(h.path).query, keep_blank_values=True)
        service = (params.get("service") or [""])[-1]
        scopes = tuple(s for value in params.get("scope", []) for s in value.split(" ") if s)
        user, ok = self._basic_user(h.headers.get("Authorization", ""))
        if not ok:
            status = 401
            message = "authentication required" if user is None else "invalid username or password"
            self._reply(h, status, _error_body("UNAUTHORIZED", message),
                        {"WWW-Authenticate": f'Basic realm="{self.service} token service"'})
            self._count("token_rejections")
        elif service and service != self.service:
            status = 400
            self._reply(h, status, _error_body("DENIED", f"unknown service {service!r}"))
        else:
            status = 200
            token = self._grant(scopes)
            body = {
                "token": token,
                "access_token": token,
                "expires_in": self.token_ttl,
                "issued_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
            self._reply(h, status, json.dumps(body).encode())
            self._count("tokens_issued")
        with self._lock:
            self._counts["token_requests"] += 1
            self._token_log.append(TokenRequest(service, scopes, user, status))

    def _serve_v2(self, h: _Handler, method: str, path: str) -> None:
        repo, kind = (None, None) if path in ("/v2", "/v2/") else _v2_target(path)
        needed: Optional[Scope]
        if path in ("/v2", "/v2/"):
            needed = None
        elif repo is not None:
            needed = ("repository", repo, "pull")
        elif path == "/v2/_catalog":
            needed = ("registry", "catalog", "*")
        else:
            self._log(method, path, 404, False, False)
            self._reply(h, 404, _error_body("NOT_FOUND", "unknown registry API path"))
            return
        if method not in ("GET", "HEAD"):
            h.close_connection = True  # a request body may follow; not worth reading
            self._log(method, path, 405, False, False)
            self._reply(h, 405, _error_body("UNSUPPORTED", "the token front forwards HEAD and GET only"),
                        {"Allow": "GET, HEAD"})
            return
        scheme, _, value = h.headers.get("Authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
        self._count("bearer_requests" if token is not None else "unauthenticated_requests")
        if not self._token_allows(token, needed):
            if token is not None:
                self._count("rejected_bearer")
            challenge = f'Bearer realm="{self.realm}",service="{self.service}"'
            if needed is not None:
                challenge += f',scope="{needed[0]}:{needed[1]}:{needed[2]}"'
            self._log(method, path, 401, token is not None, False)
            self._reply(h, 401, _error_body("UNAUTHORIZED", "authentication required"), {
                "WWW-Authenticate": challenge,
                "Docker-Distribution-API-Version": "registry/2.0",
            })
            return
        self._forward(h, method, path, corrupt_body=kind == "blobs")

    def _log(self, method: str, path: str, status: int, bearer: bool, forwarded: bool) -> None:
        with self._lock:
            self._request_log.append(FrontRequest(method, path, status, bearer, forwarded))

    def _forward(self, h: _Handler, method: str, path: str, corrupt_body: bool) -> None:
        headers = {name: h.headers[name] for name in _FORWARDED_HEADERS if h.headers.get(name)}
        headers["Accept-Encoding"] = "identity"  # bytes as stored: digests must hold
        try:
            upstream = requests.request(
                method, self.registry.url + h.path, headers=headers, auth=self.registry.auth,
                verify=str(self.registry.ca_path), allow_redirects=False, stream=True,
                timeout=(5, self.upstream_timeout),
            )
        except requests.RequestException as exc:
            self._log(method, path, 502, True, False)
            self._reply(h, 502, _error_body("UNAVAILABLE", f"registry {self.registry.host}: {type(exc).__name__}"))
            return
        with upstream:
            status = upstream.status_code
            with self._lock:
                self._counts["forwarded"] += 1
                corrupt = self._corrupt and corrupt_body and method == "GET" and 200 <= status < 300
            self._log(method, path, status, True, True)
            passed = {name: upstream.headers[name] for name in _PASSED_HEADERS if name in upstream.headers}
            location = passed.get("Location", "")
            if location.startswith(self.registry.url + "/"):
                passed["Location"] = self.url + location[len(self.registry.url):]
            chunks: Iterator[bytes]
            if method == "HEAD":
                chunks = iter(())
            elif "Content-Length" in passed:
                chunks = upstream.raw.stream(_CHUNK, decode_content=False)
            else:  # no length known: read it all, so keep-alive framing stays right
                body = upstream.raw.read(decode_content=False)
                passed["Content-Length"] = str(len(body))
                chunks = iter((body,))
            h.send_response(status)
            for name, value in passed.items():
                h.send_header(name, value)
            h.end_headers()
            flipped = False
            try:
                for chunk in chunks:
                    if corrupt and not flipped and chunk:
                        chunk = bytes([chunk[0] ^ 0xFF]) + chunk[1:]
                        flipped = True
                        self._count("corrupted_blobs")
                    h.wfile.write(chunk)
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError):
                # mid-body: the status is out already, so all that is left is to cut the connection
                h.close_connection = True

    def __repr__(self) -> str:
        return f"<TokenAuthFront {self.host} -> {self.registry.host} running={self.running}>"


__all__ = ["SERVICE", "FrontRequest", "FrontStats", "TokenAuthFront", "TokenRequest"]

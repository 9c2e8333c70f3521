"""The registry v2 API over requests: the only module that imports requests.

Used to check access before podman pulls or pushes (so a wrong password or an unknown CA gets
one clear line, not a wall of podman text) and to read the digest a registry serves.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from typing import IO, TYPE_CHECKING, Any, Dict, Optional, Tuple

from .. import __version__
from ..auth import Credentials
from ..errors import CredentialsRejected, ImageNotFound, InvalidPayload, RegistryUnavailable, UntrustedCertificate
from ..trust import TLSSettings, read_cert_dir

if TYPE_CHECKING:
    import requests
    import requests.auth

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)
_TRANSIENT_STATUS = {429, 500, 502, 503, 504}
# distribution's own limit on a manifest it accepts (registry/handlers/manifests.go maxManifestBodySize)
MANIFEST_MAX = 4 << 20
CONFIG_MAX = 16 << 20  # an image config is a few KB; this is only a bound
_CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')


def tls_hint(host: str) -> str:
    return (
        f"put the registry's CA certificate in --cert-dir DIR/ca.crt or"
        f" /etc/containers/certs.d/{host}/ca.crt (or --tls-verify=false for a test registry)"
    )


def make_session(host: str, tls: TLSSettings, *, attempts: int = 4, backoff: float = 0.25) -> requests.Session:
    """One requests session per registry, trusting what podman would trust for ``host``.

    Transient failures (refused or reset connections, timeouts, 429 and 5xx answers) of GET and
    HEAD are retried by urllib3's ``Retry``, up to ``attempts`` in all, ``backoff`` doubling
    between them. The last answer is returned; ``RegistryClient`` says what went wrong.
    """
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(
        total=attempts - 1,
        other=0,  # a TLS failure is not transient: reported (or, with --tls-verify=false, retried over HTTP) at once
        allowed_methods=frozenset({"GET", "HEAD"}),  # reads only: nothing is sent twice
        status_forcelist=sorted(_TRANSIENT_STATUS),
        backoff_factor=backoff,  # urllib3: the first retry at once, then 2x, 4x backoff
        raise_on_status=False,
        # a Retry-After of hours from a hostile or broken registry would hang the command
        respect_retry_after_header=False,
    )
    session = requests.Session()
    if not tls.verify:
        # the user turned verification off on purpose; say it once in our words, not per request
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    session.headers["User-Agent"] = f"rhcos-layer/{__version__}"
    for prefix in ("https://", "http://"):
        session.mount(prefix, HTTPAdapter(max_retries=retry))
    if tls.verify:
        trust = read_cert_dir(tls.cert_dir_for(host))
        if trust.ca_files or trust.client_pairs:
            context = ssl.create_default_context()
            trust.load_into(context)

            class _TrustingAdapter(HTTPAdapter):
                def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                    kwargs["ssl_context"] = context
                    super().init_poolmanager(*args, **kwargs)

            session.mount(f"https://{host}/", _TrustingAdapter(max_retries=retry))
    return session


class RegistryClient:
    """A registry at ``host`` (``host[:port]``), spoken to as ``creds`` would."""

    def __init__(
        self,
        host: str,
        creds: Optional[Credentials],
        tls: TLSSettings,
        *,
        attempts: int = 4,
        backoff: float = 0.25,
    ) -> None:
        self.host = host
        self._creds = creds
        self._tls = tls
        self._session = make_session(host, tls, attempts=attempts, backoff=backoff)
        self._attempts = attempts
        self._token: Optional[str] = None
        self._scheme = "https"

    @property
    def base_url(self) -> str:
        return f"{self._scheme}://{self.host}"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests with retries and error mapping -------------------------------------------

    def _send(self, method: str, path_or_url: str, headers: Dict[str, str], stream: bool = False,
              auth: Optional[requests.auth.HTTPBasicAuth] = None) -> requests.Response:
        """One request, with the session's retries; errors mapped to the project's."""
        import requests

        while True:
            url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
            try:
                response = self._session.request(
                    method, url, headers=headers, auth=auth, timeout=(10, 60), verify=self._tls.verify,
                    allow_redirects=True, stream=stream,
                )
            except requests.exceptions.SSLError as exc:
                if not self._tls.verify and self._scheme == "https" and "://" not in path_or_url:
                    # like podman with --tls-verify=false: a registry without TLS is spoken to over HTTP
                    self._scheme = "http"
                    continue
                raise UntrustedCertificate(
                    f"registry {self.host}: TLS certificate not trusted ({_ssl_reason(exc)})",
                    hint=tls_hint(self.host),
                ) from None
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                problem = _connection_reason(exc)
            else:
                if response.status_code not in _TRANSIENT_STATUS:
                    return response
                response.close()
                problem = f"HTTP {response.status_code}"
            raise RegistryUnavailable(
                f"registry {self.host} is unreachable after {self._attempts} attempts ({problem})",
                hint="check the address and that the registry is up, then try again",
            )

    def request(self, method: str, path: str, headers: Optional[Dict[str, str]] = None,
                stream: bool = False) -> requests.Response:
        """Send a request, answering Basic and Bearer challenges with our credentials."""
        headers = dict(headers or {})
        basic = None
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        elif self._creds is not None:
            basic = _basic(self._creds)
        response = self._send(method, path, headers, stream, auth=basic)
        if response.status_code == 401:
            challenge = response.headers.get("WWW-Authenticate", "")
            if challenge.lower().startswith("bearer"):
                token = self._fetch_token(challenge)
                if token is not None:  # None: no anonymous token, reported below as missing credentials
                    self._token = token
                    headers["Authorization"] = f"Bearer {self._token}"
                    response = self._send(method, path, headers, stream)
        if response.status_code in (401, 403) and self._creds is None:
            raise CredentialsRejected(
                f"registry {self.host} requires credentials and none were found for it",
                hint="give them with --authfile FILE or REGISTRY_AUTH_FILE (e.g. the cluster's pull secret),"
                     f" or `podman login {self.host}`",
            )
        if response.status_code in (401, 403):
            who = f"as {self._creds.username!r}" if self._creds else ""
            verb = "rejected the credentials" if response.status_code == 401 else "denied access"
            raise CredentialsRejected(
                f"registry {self.host} {verb} {who} (HTTP {response.status_code})",
                hint=f"check the authfile entry for {self.host} (--authfile / REGISTRY_AUTH_FILE),"
                     f" or `podman login {self.host}`",
            )
        return response

    def _fetch_token(self, challenge: str) -> Optional[str]:
        params = dict(_CHALLENGE_RE.findall(challenge))
        realm = params.pop("realm", "")
        if not realm.startswith("https://"):
            raise RegistryUnavailable(f"registry {self.host}: unsupported token realm {realm!r}")
        query = "&".join(f"{k}={v}" for k, v in params.items())
        response = self._send("GET", f"{realm}?{query}" if query else realm, {},
                              auth=_basic(self._creds) if self._creds else None)
        if response.status_code in (401, 403) and self._creds is None:
            return None
        if response.status_code in (401, 403):
            raise CredentialsRejected(
                f"registry {self.host}: the token service rejected the credentials (HTTP {response.status_code})",
                hint=f"check the authfile entry for {self.host} (--authfile / REGISTRY_AUTH_FILE)",
            )
        try:
            body = response.json()
            return str(body.get("token") or body["access_token"])
        except (ValueError, KeyError):
            raise RegistryUnavailable(f"registry {self.host}: the token service sent no token") from None

    # -- registry operations ------------------------------------------------------------

    def check_access(self) -> None:
        """GET /v2/: raises on a bad password, an untrusted CA or an unreachable registry."""
        response = self.request("GET", "/v2/")
        if response.status_code >= 400:
            raise RegistryUnavailable(f"registry {self.host}: /v2/ answered HTTP {response.status_code}")

    def check_push(self, repository: str) -> None:
        """Whether these credentials may push to ``repository``: start a blob upload (the registry asks
        for the push scope, as for a real push) and cancel it at once, so nothing stays in the registry
        (distribution API: POST then DELETE /v2/<name>/blobs/uploads/<uuid>). Raises CredentialsRejected
        when the push is refused."""
        response = self.request("POST", f"/v2/{repository}/blobs/uploads/")
        try:
            if response.status_code == 404:
                raise ImageNotFound(f"registry {self.host} has no repository {repository} and will not create it"
                                    " (HTTP 404)")
            if response.status_code != 202:
                raise RegistryUnavailable(f"registry {self.host}: starting an upload to {repository} answered HTTP"
                                          f" {response.status_code}")
            location = response.headers.get("Location", "")
        finally:
            response.close()
        if location:
            # the session is cancelled, not left to expire: an abandoned upload holds space until the
            # registry's purge runs (distribution: uploadpurging, a week by default)
            self.request("DELETE", location).close()

    def get_manifest(self, repository: str, reference: str) -> Tuple[bytes, str, str]:
        """(body, media type, digest) of a manifest or index; a digest reference is verified."""
        path = f"/v2/{repository}/manifests/{reference}"
        response = self.request("GET", path, {"Accept": MANIFEST_TYPES}, stream=True)
        self._raise_for_missing(response, repository, reference)
        body = self._read_capped(response, MANIFEST_MAX, f"the manifest of {repository}:{reference}")
        digest = "sha256:" + hashlib.sha256(body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryUnavailable(
                f"registry {self.host} served a manifest for {repository}@{reference} whose digest is {digest}",
                hint="the registry or a proxy altered it: do not use this registry",
            )
        return body, response.headers.get("Content-Type", "").split(";")[0], digest

    def _read_capped(self, response: requests.Response, cap: int, what: str) -> bytes:
        """The body, refused past ``cap`` bytes whatever Content-Length claims."""
        import requests

        chunks = []
        size = 0
        try:
            for chunk in response.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > cap:
                    raise InvalidPayload(f"registry {self.host}: {what} is larger than {_size(cap)}: refused")
                chunks.append(chunk)
        except requests.exceptions.RequestException as exc:  # the body is read after _send's retries
            raise RegistryUnavailable(f"registry {self.host}: {what} was cut off ({_connection_reason(exc)})",
                                      hint="try again") from None
        finally:
            response.close()
        return b"".join(chunks)

    def get_blob(self, repository: str, digest: str, sink: IO[bytes], max_size: Optional[int] = None) -> int:
        """Stream a blob into ``sink``, checking its sha256; returns its size. Past ``max_size``
        bytes (announced or received) it stops with InvalidPayload."""
        response = self.request("GET", f"/v2/{repository}/blobs/{digest}", stream=True)
        self._raise_for_missing(response, repository, digest, what="blob")
        hasher = hashlib.sha256()
        size = 0
        announced = response.headers.get("Content-Length", "")
        too_big = InvalidPayload(f"registry {self.host}: blob {digest} of {repository} is larger than"
                                 f" {_size(max_size or 0)}: refused")
        try:
            if max_size is not None and announced.isdigit() and int(announced) > max_size:
                raise too_big
            for chunk in response.iter_content(chunk_size=1 << 20):
                size += len(chunk)
                if max_size is not None and size > max_size:
                    raise too_big
                hasher.update(chunk)
                sink.write(chunk)
        finally:
            response.close()
        if "sha256:" + hasher.hexdigest() != digest:
            raise RegistryUnavailable(
                f"registry {self.host}: blob {digest} of {repository} arrived corrupted (sha256 mismatch)",
                hint="try again; if it persists, the registry or a proxy is altering data",
            )
        return size

    def get_json_blob(self, repository: str, digest: str) -> Any:
        """A small JSON blob (an image config), checked like get_blob()."""
        import io
        import json

        with io.BytesIO() as sink:
            self.get_blob(repository, digest, sink, max_size=CONFIG_MAX)
            try:
                return json.loads(sink.getvalue() or b"{}")
            except (ValueError, RecursionError):
                raise InvalidPayload(f"registry {self.host}: blob {digest} of {repository} is not JSON") from None

    def _raise_for_missing(self, response: requests.Response, repository: str, reference: str,
                           what: str = "manifest") -> None:
        if response.status_code == 404:
            sep = "@" if reference.startswith("sha256:") else ":"
            raise ImageNotFound(f"registry {self.host} has no {what} {repository}{sep}{reference}",
                                hint="check the repository, tag and digest")
        if response.status_code >= 400:
            raise RegistryUnavailable(f"registry {self.host}: {what} {repository} answered HTTP {response.status_code}")

    def manifest_digest(self, repository: str, reference: str) -> Tuple[str, str]:
        """(digest, media type) of ``repository:reference`` as the registry serves it."""
        path = f"/v2/{repository}/manifests/{reference}"
        response = self.request("HEAD", path, {"Accept": MANIFEST_TYPES})
        self._raise_for_missing(response, repository, reference)
        digest = response.headers.get("Docker-Content-Digest", "")
        media_type = response.headers.get("Content-Type", "").split(";")[0]
        if not digest:
            body = self.request("GET", path, {"Accept": MANIFEST_TYPES})
            digest = "sha256:" + hashlib.sha256(body.content).hexdigest()
            media_type = body.headers.get("Content-Type", "").split(";")[0]
        return digest, media_type


def _size(count: int) -> str:
    return f"{count >> 20} MiB" if count >= 1 << 20 else f"{count >> 10} KiB"


def _basic(creds: Optional[Credentials]) -> requests.auth.HTTPBasicAuth:
    """Basic auth, sent by requests; given as UTF-8 bytes, as podman sends them (requests would
    encode text as Latin-1 and fail on any other character)."""
    from requests.auth import HTTPBasicAuth

    assert creds is not None
    return HTTPBasicAuth(creds.username.encode("utf-8"), creds.password.encode("utf-8"))


def _ssl_reason(exc: BaseException) -> str:
    text = str(exc)
    for known in ("certificate verify failed: self-signed certificate", "unable to get local issuer certificate",
                  "self-signed certificate", "certificate has expired", "Hostname mismatch",
                  "doesn't match", "unknown ca", "certificate verify failed"):
        if known.lower() in text.lower():
            return known
    return "TLS handshake failed"


def _connection_reason(exc: BaseException) -> str:
    text = str(exc)
    for known in ("Connection refused", "Connection reset", "Connection aborted", "timed out",
                  "Name or service not known", "Temporary failure in name resolution", "RemoteDisconnected"):
        if known.lower() in text.lower():
            return known.lower()
    return type(exc).__name__

"""One HEAD of a manifest, with the standard library only: the no-op push's fast check.

A push of an image the registry already holds must cost about what ``skopeo copy`` costs
(docs/push.md, ``nox -s bench``). Importing requests alone takes longer than that, so this one
question, "which digest does REPO:TAG have now?", is asked over an ssl socket, trusting
what the registry adapter trusts (``--cert-dir`` or certs.d, the system's CAs) and answering a
Basic or a Bearer challenge the same way (the Docker token protocol, realm over HTTPS only).

It never raises for the registry's sake: any answer other than a clean 200 with a digest
(an error, a redirect, a timeout, an untrusted certificate) is ``None``, and the caller then
takes the full path, whose errors are the documented ones.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.parse
from typing import TYPE_CHECKING, Dict, Optional, Tuple

from .. import __version__
from ..auth import Credentials
from ..trust import TLSSettings, read_cert_dir

if TYPE_CHECKING:
    import socket
    import ssl

MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])
_DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')
_TIMEOUT = 10.0
_MAX_TOKEN = 64 * 1024


def _context(host: str, tls: TLSSettings) -> ssl.SSLContext:
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    read_cert_dir(tls.cert_dir_for(host)).load_into(context)
    # The system's CAs through OpenSSL's hashed folder, read only for the issuer a chain needs:
    # create_default_context() parses the whole bundle first (about 0.1 s, longer than the rest
    # of a no-op push). Where the folder has no hashed names, verification fails and the caller
    # takes the normal path, which trusts the whole bundle.
    capath = ssl.get_default_verify_paths().capath
    if capath and os.path.isdir(capath):
        context.load_verify_locations(capath=capath)
    return context


def _request(host: str, context: ssl.SSLContext, method: str, target: str,
             headers: Dict[str, str]) -> Tuple[int, Dict[str, str], bytes]:
    """One HTTPS request, spoken by adapters/unixhttp.py over a TLS socket: http.client would
    bring in the email package, which costs more than the whole exchange."""
    from .unixhttp import exchange

    name, _, port = host.rpartition(":") if host.rpartition(":")[2].isdigit() else (host, "", "")
    name = name.strip("[]")  # an IPv6 literal
    raw = _connect(name, int(port) if port else 443)
    try:
        sock = context.wrap_socket(raw, server_hostname=name)
    except BaseException:
        raw.close()
        raise
    reply = exchange(sock, host, method, target, host=host,
                     headers={"User-Agent": f"rhcos-layer/{__version__}", **headers})
    body = b""
    if method != "HEAD":
        for block in reply.blocks():
            body += block
            if len(body) > _MAX_TOKEN:
                break
    reply.close()
    return reply.status, reply.headers, body


def _connect(name: str, port: int) -> socket.socket:
    """A TCP connection with Nagle's algorithm off, as curl and urllib3 open theirs: with TLS 1.3
    the client's Finished and the request leave back to back, and Nagle holds the request until
    the server acknowledges the Finished, which a server delaying its ACKs does ~40 ms later
    (measured: the HEAD took 45 ms to answer, 8 ms without the wait)."""
    import socket

    raw = socket.create_connection((name, port), timeout=_TIMEOUT)
    try:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        raw.close()
        raise
    return raw


def _token(challenge: str, creds: Optional[Credentials], context: ssl.SSLContext) -> Optional[str]:
    params = dict(_CHALLENGE_RE.findall(challenge))
    realm = urllib.parse.urlsplit(params.pop("realm", ""))
    if realm.scheme != "https" or not realm.netloc:
        return None
    query = urllib.parse.urlencode(params)
    target = (realm.path or "/") + (f"?{realm.query}&{query}" if realm.query else f"?{query}")
    status, _, body = _request(realm.netloc, context, "GET", target, _basic(creds))
    if status != 200 or len(body) > _MAX_TOKEN:
        return None
    data = json.loads(body)
    token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
    return token if isinstance(token, str) and token else None


def _basic(creds: Optional[Credentials]) -> Dict[str, str]:
    if creds is None:
        return {}
    pair = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {pair}"}


def manifest_digest(host: str, repository: str, reference: str, creds: Optional[Credentials],
                    tls: TLSSettings) -> Optional[str]:
    """The digest ``host/repository:reference`` has now, or None when that is not plainly known."""
    from ..errors import EngineUnavailable

    target = f"/v2/{repository}/manifests/{urllib.parse.quote(reference, safe=':')}"
    try:
        context = _context(host, tls)
        headers = {"Accept": MANIFEST_TYPES, **_basic(creds)}
        status, found, _ = _request(host, context, "HEAD", target, headers)
        challenge = found.get("www-authenticate", "")
        if status == 401 and challenge.lower().startswith("bearer"):
            token = _token(challenge, creds, context)
            if token is None:
                return None
            headers["Authorization"] = f"Bearer {token}"
            status, found, _ = _request(host, context, "HEAD", target, headers)
    except (OSError, EngineUnavailable, ValueError, UnicodeError):
        # refused, reset, timed out, an untrusted certificate (ssl.SSLError is an OSError), a
        # malformed answer or token: the full path will say what is wrong
        return None
    digest = found.get("docker-content-digest", "")
    return digest if status == 200 and _DIGEST_RE.match(digest) else None

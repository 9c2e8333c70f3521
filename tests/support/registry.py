"""A throw-away TLS + htpasswd protected OCI registry (CNCF distribution 2.8).

Usage::

    with Registry(tmp_dir) as reg:
        reg.write_authfile(tmp_dir / "auth.json")
        subprocess.run(["podman", "push", "--cert-dir", str(reg.cert_dir), ...])

Everything lives below ``base_dir``; the registry listens on 127.0.0.1 only.
``stop()`` then ``start()`` brings it back on the same port with the same
storage, credentials and certificate (for "registry down, then up" tests).
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

import requests

from ._util import PathLike, RigError, free_port, stop_process, tail, wait_until

MANIFEST_MEDIA_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


PROBE_USER_AGENT = "rig-readiness-probe"

# 127.0.0.1 - - [25/Nov/2026:19:44:00 +0000] "GET /v2/ HTTP/1.1" 401 87 "" "agent"
_ACCESS_RE = re.compile(
    r'^(?P<remote>\S+) \S+ \S+ \[[^\]]*\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" '
    r'(?P<status>\d{3}) \S+ "[^"]*" "(?P<agent>[^"]*)"'
)


@dataclass(frozen=True)
class AccessEntry:
    method: str
    path: str
    status: int
    agent: str


def auth_config(auths: Dict[str, tuple[str, str]]) -> Dict[str, Any]:
    """A containers-auth.json(5) / docker config document mapping host -> (user, password): an
    authfile's content, or an OpenShift pull secret's ``.dockerconfigjson``."""
    return {
        "auths": {
            host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
            for host, (user, password) in auths.items()
        }
    }


def write_authfile(
    path: PathLike, auths: Dict[str, tuple[str, str]]
) -> Path:
    """Write a containers-auth.json(5) file mapping host -> (user, password).

    The file is created with mode 0600 (never world readable, even briefly).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    data = auth_config(auths)
    fd = os.open(str(p), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
        fh.write("\n")
    os.chmod(str(p), 0o600)
    return p


class Registry:
    """A docker-registry process with TLS (self-signed) and basic auth."""

    def __init__(
        self,
        base_dir: PathLike,
        *,
        username: str = "rig",
        password: Optional[str] = None,
        port: Optional[int] = None,
        realm: str = "rig",
        ready_timeout: float = 10.0,
    ) -> None:
        self.base_dir = Path(base_dir)
        self.username = username
        self.password = password or "rig-" + secrets.token_hex(16)
        self.port = port or free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.realm = realm
        self.ready_timeout = ready_timeout

        self.cert_dir = self.base_dir / "certs"  # only ca.crt: usable as --cert-dir
        self.ca_path = self.cert_dir / "ca.crt"
        self.key_path = self.base_dir / "tls" / "server.key"
        self.storage_dir = self.base_dir / "storage"
        self.htpasswd_path = self.base_dir / "htpasswd"
        self.config_path = self.base_dir / "config.yml"
        self.log_path = self.base_dir / "registry.log"
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._prepared = False

    # ------------------------------------------------------------------ setup
    def _prepare(self) -> None:
        if self._prepared:
            return
        for d in (self.base_dir, self.cert_dir, self.key_path.parent, self.storage_dir):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(str(self.key_path.parent), 0o700)
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout", str(self.key_path), "-out", str(self.ca_path),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.chmod(str(self.key_path), 0o600)
        # bcrypt entry; the password goes through stdin, not argv.
        res = subprocess.run(
            ["htpasswd", "-B", "-i", "-n", self.username],
            input=self.password.encode(),
            check=True,
            capture_output=True,
        )
        line = res.stdout.decode().strip()
        if not line.startswith(self.username + ":"):
            raise RigError(f"unexpected htpasswd output: {line!r}")
        fd = os.open(str(self.htpasswd_path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(line + "\n")
        config: Dict[str, Any] = {
            "version": 0.1,
            "log": {"level": "info", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.storage_dir)},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {
                "addr": self.host,
                "secret": secrets.token_hex(16),
                "tls": {"certificate": str(self.ca_path), "key": str(self.key_path)},
            },
            "auth": {"htpasswd": {"realm": self.realm, "path": str(self.htpasswd_path)}},
        }
        # JSON is valid YAML; no yaml dependency needed.
        self.config_path.write_text(json.dumps(config, indent=2) + "\n")
        self._prepared = True

    # -------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        return f"https://{self.host}"

    @property
    def auth(self) -> tuple[str, str]:
        return (self.username, self.password)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Registry:
        if self.running:
            return self
        self._prepare()
        with open(self.log_path, "ab") as log:
            log.write(b"--- rig: registry starting ---\n")
            log.flush()
            self._proc = subprocess.Popen(
                ["docker-registry", "serve", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(self.base_dir),
                start_new_session=True,
            )

        def died() -> Optional[str]:
            if self._proc is not None and self._proc.poll() is not None:
                return f"docker-registry exited ({self._proc.returncode}):\n{tail(self.log_path)}"
            return None

        try:
            wait_until(self._answers_401, self.ready_timeout, f"registry on {self.host}", abort=died)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        stop_process(proc)

    def __enter__(self) -> Registry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _answers_401(self) -> bool:
        try:
            r = requests.get(
                self.url + "/v2/",
                verify=str(self.ca_path),
                timeout=1,
                headers={"User-Agent": PROBE_USER_AGENT},
            )
        except requests.RequestException:
            return False
        return r.status_code == 401

    # --------------------------------------------------------------- helpers
    def write_authfile(
        self,
        path: PathLike,
        password: Optional[str] = None,
        *,
        extra_hosts: Iterable[str] = (),
    ) -> Path:
        """Write a 0600 auth.json for this registry (and e.g. a proxy's host).

        Pass *password* to write a (wrong) password instead of the real one.
        """
        return write_authfile(path, self._auths(password, extra_hosts))

    def auth_config(self, password: Optional[str] = None, *, extra_hosts: Iterable[str] = ()) -> Dict[str, Any]:
        """What write_authfile() writes, as a dict: e.g. a cluster's pull secret for this registry."""
        return auth_config(self._auths(password, extra_hosts))

    def _auths(self, password: Optional[str], extra_hosts: Iterable[str]) -> Dict[str, tuple[str, str]]:
        pw = self.password if password is None else password
        return {h: (self.username, pw) for h in [self.host, *extra_hosts]}

    def write_certs_d(self, certs_d: PathLike, *, extra_hosts: Iterable[str] = ()) -> Path:
        """Trust the CA for this host (and *extra_hosts*) in a certs.d tree.

        containers/image looks in ``$HOME/.config/containers/certs.d/<host:port>``
        before /etc/containers/certs.d, so this is how a podman *service*
        (which has no --cert-dir) is made to trust the rig registry.
        """
        root = Path(certs_d)
        for h in [self.host, *extra_hosts]:
            d = root / h
            d.mkdir(parents=True, exist_ok=True)
            (d / "ca.crt").write_bytes(self.ca_path.read_bytes())
        return root

    def request(
        self,
        method: str,
        path: str,
        *,
        auth: Union[bool, Tuple[str, str]] = True,
        host: Optional[str] = None,
        timeout: float = 10,
        **kwargs: Any,
    ) -> requests.Response:
        """An HTTP request to the registry API.

        *auth*: True = the rig credentials, False = none, or a (user, pw)
        tuple.  *host*: e.g. a proxy's "127.0.0.1:PORT".  verify= is the rig
        CA, passed per request because REQUESTS_CA_BUNDLE would override a
        Session's verify.
        """
        url = f"https://{host or self.host}{path}"
        kwargs.setdefault("verify", str(self.ca_path))
        if auth is True:
            kwargs["auth"] = self.auth
        elif auth:
            kwargs["auth"] = tuple(auth)  # type: ignore[arg-type]
        return requests.request(method, url, timeout=timeout, **kwargs)

    def manifest_digest(self, repo: str, ref: str) -> Optional[str]:
        """Docker-Content-Digest of repo:ref (tag or digest), None if 404.

        *repo* is the path inside the registry ("rhcos/rhel-coreos"); a
        leading "127.0.0.1:PORT/" is stripped.
        """
        repo = self._strip_host(repo)
        r = self.request(
            "HEAD",
            f"/v2/{repo}/manifests/{ref}",
            headers={"Accept": ", ".join(MANIFEST_MEDIA_TYPES)},
        )
        if r.status_code == 404:
            return None
        r.raise_for_status()
        return r.headers["Docker-Content-Digest"]

    def manifest(self, repo: str, ref: str) -> Dict[str, Any]:
        repo = self._strip_host(repo)
        r = self.request(
            "GET",
            f"/v2/{repo}/manifests/{ref}",
            headers={"Accept": ", ".join(MANIFEST_MEDIA_TYPES)},
        )
        r.raise_for_status()
        return r.json()

    def tags(self, repo: str) -> list:
        repo = self._strip_host(repo)
        r = self.request("GET", f"/v2/{repo}/tags/list")
        if r.status_code == 404:
            return []
        r.raise_for_status()
        return sorted(r.json().get("tags") or [])

    def access_log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def access_entries(self, include_probes: bool = False) -> List[AccessEntry]:
        """Requests the registry served, parsed from its access log (oldest
        first; the rig's own readiness probes are left out)."""
        out = []
        for line in self.access_log().splitlines():
            m = _ACCESS_RE.match(line)
            if not m:
                continue
            if m.group("agent") == PROBE_USER_AGENT and not include_probes:
                continue
            out.append(
                AccessEntry(m.group("method"), m.group("path"), int(m.group("status")), m.group("agent"))
            )
        return out

    def _strip_host(self, repo: str) -> str:
        prefix = self.host + "/"
        return repo[len(prefix):] if repo.startswith(prefix) else repo

    def __repr__(self) -> str:
        return f"<Registry {self.host} running={self.running}>"

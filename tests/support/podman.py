"""Isolated podman stores (and an optional API service per store).

Each :class:`PodmanStore` owns one directory holding its own
``storage.conf`` (graphroot/runroot), ``containers.conf``, HOME and
XDG_RUNTIME_DIR, so neither the CLI nor the service started from it reads
the machine's image store or the user's auth files.

The generated containers.conf makes ``podman run`` work on this kind of
host without extra flags (runtime runc, ulimits the host can grant) and
keeps temporary image copies inside the store directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, Union

from ._util import PathLike, RigError, remove_tree, stop_process, tail, wait_until

# Variables that would make our own podman calls talk to something else.
_FOREIGN_ENV = (
    "CONTAINER_HOST",
    "CONTAINER_CONNECTION",
    "CONTAINER_SSHKEY",
    "CONTAINER_PASSPHRASE",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "REGISTRY_AUTH_FILE",
)

# Same list as Debian's /usr/share/containers/containers.conf, which stops
# being read once CONTAINERS_CONF points elsewhere.
_DEFAULT_CAPS = (
    "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
)

_MAX_UNIX_PATH = 100  # sun_path is 108 bytes incl. NUL; keep a margin
_MAX_RUNROOT = 40  # see PodmanStore.__init__


class PodmanError(subprocess.CalledProcessError):
    """A podman command failed; str() includes its stderr."""

    def __str__(self) -> str:
        cmd = " ".join(str(c) for c in self.cmd)
        return (
            f"podman failed (exit {self.returncode}): {cmd}\n"
            f"--- stdout ---\n{(self.stdout or '')[-3000:]}\n"
            f"--- stderr ---\n{(self.stderr or '')[-3000:]}"
        )


def _toml_list(items: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


class PodmanStore:
    """A private podman image/container store below *root_dir*."""

    def __init__(
        self,
        root_dir: PathLike,
        *,
        ulimits: Iterable[str] = ("nofile=1024:1024", "nproc=1024:1024"),
        driver: Optional[str] = "overlay",
    ) -> None:
        self.root_dir = Path(root_dir).absolute()
        self.graphroot = self.root_dir / "root"
        # podman 4.3 + conmon 2.1: with a runroot longer than ~45 chars,
        # `podman run` sits 20 s in "Exceeded conmon timeout waiting for
        # container to exit".  pytest tmp paths are longer, so use a short
        # sibling dir under /tmp then (removed by cleanup()).
        self._short_dir: Optional[Path] = None
        if len(str(self.root_dir / "run")) <= _MAX_RUNROOT:
            self.runroot = self.root_dir / "run"
        else:
            self._short_dir = Path(tempfile.mkdtemp(prefix="rig-", dir="/tmp"))
            self.runroot = self._short_dir / "run"
        self.tmp_dir = self.root_dir / "tmp"
        self.home = self.root_dir / "home"
        self.xdg_config_home = self.home / ".config"
        self.xdg_runtime_dir = self.root_dir / "xdg-run"
        self.certs_d = self.xdg_config_home / "containers" / "certs.d"
        self.storage_conf = self.root_dir / "storage.conf"
        self.containers_conf = self.root_dir / "containers.conf"
        self.service_log = self.root_dir / "service.log"
        self.service_url: Optional[str] = None
        self._socket_path: Optional[Path] = None
        self._service: Optional[subprocess.Popen[bytes]] = None
        self._ulimits = list(ulimits)
        # None: a storage.conf without `driver`, as stock Debian/Ubuntu (which ship none): the
        # store's database then records "" (see tests/integration/test_user_stores.py)
        self._driver = driver
        self._create()

    # ------------------------------------------------------------ creation
    def _create(self) -> None:
        for d in (self.graphroot, self.runroot, self.tmp_dir, self.xdg_config_home, self.certs_d):
            d.mkdir(parents=True, exist_ok=True)
        self.xdg_runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.storage_conf.write_text(
            "[storage]\n"
            + (f"driver = {json.dumps(self._driver)}\n" if self._driver else "")
            + f"graphroot = {json.dumps(str(self.graphroot))}\n"
            f"runroot = {json.dumps(str(self.runroot))}\n"
        )
        # NB: engine tmp_dir (/run/libpod) is deliberately left at its shared
        # default: a store with its own tmp_dir would run libpod's "refresh"
        # on first use, and refresh frees the host-wide shm lock table that
        # every other podman on the machine is using too.
        self.containers_conf.write_text(
            "[containers]\n"
            f"default_capabilities = {_toml_list(_DEFAULT_CAPS)}\n"
            'default_sysctls = ["net.ipv4.ping_group_range=0 0"]\n'
            f"default_ulimits = {_toml_list(self._ulimits)}\n"
            "\n[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f"image_copy_tmp_dir = {json.dumps(str(self.tmp_dir))}\n"
        )

    # ----------------------------------------------------------------- env
    @property
    def env(self) -> Dict[str, str]:
        """Variables selecting this store; merge into os.environ for subprocesses."""
        return {
            "CONTAINERS_STORAGE_CONF": str(self.storage_conf),
            "CONTAINERS_CONF": str(self.containers_conf),
            "BUILDAH_ISOLATION": "chroot",
        }

    @property
    def isolated_env(self) -> Dict[str, str]:
        """:attr:`env` plus a private HOME / XDG dirs (no real auth files)."""
        env = dict(self.env)
        env.update(
            HOME=str(self.home),
            XDG_CONFIG_HOME=str(self.xdg_config_home),
            XDG_RUNTIME_DIR=str(self.xdg_runtime_dir),
            TMPDIR=str(self.tmp_dir),
        )
        return env

    def subprocess_env(self, extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
        """A full environment for running podman against this store locally."""
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
        env.update(self.isolated_env)
        if extra:
            env.update(extra)
        return env

    # ----------------------------------------------------------------- CLI
    def podman(
        self,
        *args: Union[str, os.PathLike[str]],
        check: bool = True,
        input: Optional[str] = None,
        timeout: float = 300,
        env: Optional[Dict[str, str]] = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run the podman CLI (local, never remote) against this store."""
        cmd: List[str] = ["podman", *(os.fspath(a) for a in args)]
        res = subprocess.run(
            cmd,
            input=input,
            capture_output=True,
            text=True,
            env=self.subprocess_env(env),
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and res.returncode != 0:
            raise PodmanError(res.returncode, cmd, res.stdout, res.stderr)
        return res

    def inspect_image(self, ref: str) -> Dict[str, Any]:
        out = self.podman("image", "inspect", ref).stdout
        return json.loads(out)[0]

    def image_exists(self, ref: str) -> bool:
        return self.podman("image", "exists", ref, check=False).returncode == 0

    @contextlib.contextmanager
    def image_files(self, ref: str) -> Iterator[Path]:
        """Mount image *ref* read-only-ish and yield its rootfs path."""
        path = self.podman("image", "mount", ref).stdout.strip()
        if not path:
            raise RigError(f"podman image mount {ref} printed nothing")
        try:
            yield Path(path)
        finally:
            self.podman("image", "unmount", "--force", ref, check=False)

    def trust_registry(self, registry: Any, extra_hosts: Iterable[str] = ()) -> None:
        """Trust *registry*'s CA in this store's HOME certs.d.

        Used by both the CLI (run via :meth:`podman`) and the service.
        *extra_hosts* e.g. a proxy's "127.0.0.1:PORT" in front of it.
        """
        registry.write_certs_d(self.certs_d, extra_hosts=extra_hosts)

    @property
    def default_authfile(self) -> Path:
        """Where podman (CLI and service of this store) looks for credentials
        when none are passed: ${XDG_RUNTIME_DIR}/containers/auth.json."""
        return self.xdg_runtime_dir / "containers" / "auth.json"

    def login(self, registry: Any, password: Optional[str] = None, extra_hosts: Iterable[str] = ()) -> Path:
        """Write :attr:`default_authfile` for *registry* (like podman login).

        Needed when a client cannot send credentials itself, e.g. podman-py's
        ``images.build()`` has no auth parameter, so a FROM of a private
        image is pulled with the service's own credentials.
        """
        return registry.write_authfile(self.default_authfile, password=password, extra_hosts=extra_hosts)

    # ------------------------------------------------------------- service
    def _choose_socket(self) -> Path:
        path = self.root_dir / "podman.sock"
        if len(str(path)) <= _MAX_UNIX_PATH:
            return path
        if self._short_dir is None:
            self._short_dir = Path(tempfile.mkdtemp(prefix="rig-", dir="/tmp"))
        return self._short_dir / "podman.sock"

    def _ping(self) -> bool:
        assert self._socket_path is not None
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect(str(self._socket_path))
                s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n")
                data = b""
                while len(data) < 4096:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return False
        status = data.split(b"\r\n", 1)[0].split()
        return len(status) >= 2 and status[1] == b"200"

    def start_service(self, timeout: float = 15.0) -> str:
        """Start ``podman system service`` on a unix socket; return its URL."""
        if self._service is not None and self._service.poll() is None:
            assert self.service_url is not None
            return self.service_url
        self._socket_path = self._choose_socket()
        if self._socket_path.exists():
            self._socket_path.unlink()
        url = f"unix://{self._socket_path}"
        with open(self.service_log, "ab") as log:
            self._service = subprocess.Popen(
                ["podman", "system", "service", "--time=0", url],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.subprocess_env(),
                cwd=str(self.root_dir),
                start_new_session=True,
            )

        def died() -> Optional[str]:
            if self._service is not None and self._service.poll() is not None:
                return f"podman service exited ({self._service.returncode}):\n{tail(self.service_log)}"
            return None

        try:
            wait_until(self._ping, timeout, f"podman service at {url}", abort=died)
        except Exception:
            self.stop_service()
            raise
        self.service_url = url
        return url

    def stop_service(self) -> None:
        proc, self._service = self._service, None
        stop_process(proc)
        if self._socket_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._socket_path.unlink()
        self.service_url = None

    # ------------------------------------------------------------- cleanup
    def _may_have_containers(self) -> bool:
        # libpod containers hold host-wide shm locks and netns/firewall
        # state: remove them properly instead of just deleting the dir.
        f = self.graphroot / "overlay-containers" / "containers.json"
        try:
            return bool(json.loads(f.read_text() or "[]"))
        except (OSError, ValueError):
            return False

    def cleanup(self) -> None:
        """Stop the service, remove containers, unmount and delete the store."""
        try:
            self.stop_service()
        finally:
            try:
                if self.root_dir.exists() and self._may_have_containers():
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.podman("rm", "--all", "--force", "--time", "0", check=False, timeout=60)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        self.podman("image", "unmount", "--all", "--force", check=False, timeout=60)
            finally:
                try:
                    remove_tree(self.root_dir)
                finally:
                    if self._short_dir is not None:
                        remove_tree(self._short_dir)

    def __enter__(self) -> PodmanStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"<PodmanStore {self.root_dir}>"


@dataclass
class PodmanService:
    """What the ``podman_service`` fixture yields."""

    url: str
    store: PodmanStore

    @property
    def env(self) -> Dict[str, str]:
        """Env for a client of this service (CONTAINER_HOST + store vars)."""
        env = dict(self.store.env)
        env["CONTAINER_HOST"] = self.url
        return env

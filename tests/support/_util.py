"""Small helpers shared by the rig modules (ports, waiting, processes, mounts)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, TypeVar, Union

PathLike = Union[str, "os.PathLike[str]"]

# Tool name -> Debian package providing it (used in skip messages).
REQUIRED_TOOLS: Dict[str, str] = {
    "podman": "podman",
    "docker-registry": "docker-registry",
    "htpasswd": "apache2-utils",
    "openssl": "openssl",
    "busybox": "busybox-static",
}


class RigError(RuntimeError):
    """Raised when a piece of the rig cannot be set up or fails."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that was free on *host* a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.01,
    abort: Optional[Callable[[], Optional[str]]] = None,
) -> None:
    """Poll *predicate* until it is true; raise RigError after *timeout* s.

    *abort* is polled too; if it returns a message the wait fails at once
    (used to notice that a child process already died).
    """
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if abort is not None:
            msg = abort()
            if msg:
                raise RigError(f"{what}: {msg}")
        if time.monotonic() >= deadline:
            raise RigError(f"timed out after {timeout:.1f}s waiting for {what}")
        time.sleep(interval)


def stop_process(proc: Optional[subprocess.Popen[bytes]], timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL a child we started; always reaps it."""
    if proc is None:
        return
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    else:
        proc.wait()


def tail(path: Path, max_chars: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-max_chars:]


def missing_tools(tools: Optional[Sequence[str]] = None) -> List[str]:
    """Names of required command line tools that are not on PATH."""
    names = list(tools) if tools is not None else list(REQUIRED_TOOLS)
    return [name for name in names if shutil.which(name) is None]


def skip_reason() -> Optional[str]:
    """Why the rig cannot run here, or None when it can."""
    missing = missing_tools()
    if missing:
        pkgs = sorted({REQUIRED_TOOLS.get(name, name) for name in missing})
        return (
            f"{', '.join(missing)} not installed: apt-get install {' '.join(pkgs)}"
        )
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "the podman rig needs root (overlay stores, podman image mount)"
    return None


def _unescape_mount_field(field: str) -> str:
    # /proc/mounts escapes space, tab, newline and backslash as \ooo.
    out = []
    i = 0
    while i < len(field):
        code = field[i + 1:i + 4]
        if field[i] == "\\" and len(code) == 3 and all(c in "01234567" for c in code):
            out.append(chr(int(code, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts_under(path: PathLike) -> List[str]:
    """Mount points at or below *path*, deepest first."""
    root = os.path.realpath(os.fspath(path))
    found = []
    try:
        with open("/proc/self/mounts", encoding="utf-8", errors="replace") as fh:
            lines = fh.readlines()
    except OSError:
        return []
    for line in lines:
        parts = line.split()
        if len(parts) < 2:
            continue
        target = _unescape_mount_field(parts[1])
        if target == root or target.startswith(root + os.sep):
            found.append(target)
    # Deepest first; keep duplicates (stacked mounts need one umount each).
    found.sort(key=lambda p: p.count(os.sep), reverse=True)
    return found


def unmount_all_under(path: PathLike, attempts: int = 5) -> None:
    """Lazily unmount everything mounted at or below *path*."""
    for _ in range(attempts):
        targets = mounts_under(path)
        if not targets:
            return
        for target in targets:
            subprocess.run(
                ["umount", "-l", target],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
    left = mounts_under(path)
    if left:
        raise RigError(f"could not unmount {left}")


def remove_tree(path: PathLike) -> None:
    """Unmount anything below *path* and delete it."""
    p = Path(path)
    if not p.exists() and not p.is_symlink():
        return
    unmount_all_under(p)
    shutil.rmtree(p, ignore_errors=False)


_Sim = TypeVar("_Sim", bound="SimulatorThread")


class SimulatorThread:
    """The life of a simulated controller's thread (the MCO's, the CVO's): started once, stopped by setting
    ``_stopping`` and waking the store's condition it waits on, its own failures collected in ``errors``
    and raised by check(). A subclass sets ``store``, ``errors``, ``_stopping``, ``_thread`` and runs ``_run``."""

    thread_name = "simulator"
    store: Any
    errors: List[str]
    _stopping: threading.Event
    _thread: Optional[threading.Thread]

    def _run(self) -> None:
        raise NotImplementedError

    def start(self: _Sim) -> _Sim:
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        with self.store.changed:
            self.store.changed.notify_all()
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"{type(self).__name__}: the thread did not stop")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self: _Sim) -> _Sim:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check(self) -> None:
        """Raise if the simulator's thread hit an error of its own (a bug of the rig, not of the code
        under test)."""
        if self.errors:
            raise AssertionError(f"{type(self).__name__} failed:\n" + "\n".join(self.errors))

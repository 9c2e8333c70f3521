"""A fault-injecting TCP proxy for 127.0.0.1 (TLS passes through untouched).

Put it in front of the rig registry to simulate flaky networks::

    with TcpProxy(registry.host) as proxy:
        registry.write_authfile(auth, extra_hosts=[proxy.host])
        proxy.fail_after_bytes(4096, times=2)  # next 2 connections get RST
        ... push to proxy.host ...
        proxy.refuse()    # "registry down": connection refused
        proxy.restore()   # back up, same port

The registry certificate has an IP SAN of 127.0.0.1 and no port, so
clients talking TLS to ``proxy.host`` verify it fine (with the CA trusted
for the proxy's "127.0.0.1:PORT", e.g. ``--cert-dir registry.cert_dir``).

Every thread is a daemon, every socket has a timeout and every loop checks
a stop flag, so a forgotten proxy cannot hang the test session.
"""

from __future__ import annotations

import select
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Optional, Set, Tuple, Union

_POLL = 0.05
_LINGER_RST = struct.pack("ii", 1, 0)


def _parse_target(target: Union[str, Tuple[str, int]]) -> Tuple[str, int]:
    if isinstance(target, tuple):
        return (target[0], int(target[1]))
    host, _, port = target.rpartition(":")
    if not host or not port:
        raise ValueError(f"target must be 'host:port', got {target!r}")
    return (host, int(port))


def _reset(sock: Optional[socket.socket]) -> None:
    """Close with SO_LINGER 0 so the peer sees a TCP RST."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


@dataclass(frozen=True)
class ProxyStats:
    connections: int  # accepted and forwarded (or attempted)
    active: int
    refused: int  # reset at once while refuse(reset=True) was on
    resets: int  # connections killed by fail_after_bytes / drop
    bytes_client_to_server: int
    bytes_server_to_client: int


class _Conn:
    __slots__ = ("client", "kill", "thread")

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.kill = False
        self.thread: Optional[threading.Thread] = None


class TcpProxy:
    """Threaded TCP forwarder listening on 127.0.0.1:<free port>."""

    def __init__(
        self,
        target: Union[str, Tuple[str, int]],
        *,
        listen_host: str = "127.0.0.1",
        port: int = 0,
        connect_timeout: float = 5.0,
        io_timeout: float = 30.0,
    ) -> None:
        self.target = _parse_target(target)
        self.listen_host = listen_host
        self.port = port
        self.connect_timeout = connect_timeout
        self.io_timeout = io_timeout

        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: Optional[socket.socket] = None
        self._accept_thread: Optional[threading.Thread] = None
        self._conns: Set[_Conn] = set()
        self._mode = "open"  # open | closed (ECONNREFUSED) | reset (accept + RST)
        self._fail_after: Optional[int] = None
        self._fail_times = 0

        self._connections = 0
        self._refused = 0
        self._resets = 0
        self._up = 0
        self._down = 0

    # -------------------------------------------------------------- lifecycle
    @property
    def host(self) -> str:
        """"127.0.0.1:PORT" to use in image references."""
        return f"{self.listen_host}:{self.port}"

    def start(self) -> TcpProxy:
        if self._accept_thread is not None:
            return self
        self._stop.clear()
        self._open_listener()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"rig-proxy-{self.port}", daemon=True
        )
        self._accept_thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._close_listener()
        with self._lock:
            conns = list(self._conns)
            for c in conns:
                c.kill = True
        t = self._accept_thread
        self._accept_thread = None
        deadline = time.monotonic() + timeout
        if t is not None:
            t.join(max(0.0, deadline - time.monotonic()))
        for c in conns:
            if c.thread is not None:
                c.thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --------------------------------------------------------------- controls
    def fail_after_bytes(self, n: int, times: int = 1) -> None:
        """The next *times* connections are reset (RST to both sides) once
        *n* bytes have been forwarded client->server on that connection."""
        if n < 0 or times < 0:
            raise ValueError("n and times must be >= 0")
        with self._lock:
            self._fail_after = n
            self._fail_times = times

    def refuse(self, *, reset: bool = False, drop_existing: bool = True) -> None:
        """Simulate the target being down.

        Default: stop listening, so new connections get ECONNREFUSED.
        ``reset=True``: keep listening but RST every new connection.
        ``drop_existing``: also reset connections already in flight.
        """
        with self._lock:
            self._mode = "reset" if reset else "closed"
            if drop_existing:
                for c in self._conns:
                    c.kill = True
        if not reset:
            self._close_listener()

    def restore(self) -> None:
        """Undo refuse() and any pending fail_after_bytes()."""
        with self._lock:
            self._mode = "open"
            self._fail_after = None
            self._fail_times = 0
        if self._listener is None and not self._stop.is_set():
            self._open_listener()

    # ---------------------------------------------------------------- counters
    def stats(self) -> ProxyStats:
        with self._lock:
            return ProxyStats(
                connections=self._connections,
                active=len(self._conns),
                refused=self._refused,
                resets=self._resets,
                bytes_client_to_server=self._up,
                bytes_server_to_client=self._down,
            )

    @property
    def connections(self) -> int:
        return self.stats().connections

    @property
    def resets(self) -> int:
        return self.stats().resets

    @property
    def refused(self) -> int:
        return self.stats().refused

    @property
    def bytes_client_to_server(self) -> int:
        return self.stats().bytes_client_to_server

    @property
    def bytes_server_to_client(self) -> int:
        return self.stats().bytes_server_to_client

    def reset_counters(self) -> None:
        with self._lock:
            self._connections = self._refused = self._resets = self._up = self._down = 0

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no connection is being forwarded; True if idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._conns:
                    return True
            time.sleep(_POLL)
        return False

    # --------------------------------------------------------------- internals
    def _open_listener(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.listen_host, self.port))
        sock.listen(64)
        sock.settimeout(_POLL * 4)
        self.port = sock.getsockname()[1]
        self._listener = sock

    def _close_listener(self) -> None:
        sock, self._listener = self._listener, None
        if sock is None:
            return
        # shutdown() makes Linux stop listening at once and wakes a blocked
        # accept() in the other thread; close() alone would not.
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            listener = self._listener
            if listener is None:
                self._stop.wait(_POLL)
                continue
            try:
                client, _addr = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                # listener closed under us (refuse/stop); loop re-reads it
                if self._listener is listener:
                    self._stop.wait(_POLL)
                continue
            with self._lock:
                mode = self._mode
                if mode != "open":
                    self._refused += 1
                    fail_at = None
                else:
                    self._connections += 1
                    fail_at = None
                    if self._fail_after is not None and self._fail_times > 0:
                        fail_at = self._fail_after
                        self._fail_times -= 1
                        if self._fail_times == 0:
                            self._fail_after = None
            if mode != "open":
                _reset(client)
                continue
            conn = _Conn(client)
            t = threading.Thread(
                target=self._serve, args=(conn, fail_at), name="rig-proxy-conn", daemon=True
            )
            conn.thread = t
            with self._lock:
                self._conns.add(conn)
            t.start()

    def _count(self, up: int = 0, down: int = 0) -> None:
        with self._lock:
            self._up += up
            self._down += down

    def _serve(self, conn: _Conn, fail_at: Optional[int]) -> None:
        client = conn.client
        upstream: Optional[socket.socket] = None
        graceful = False
        try:
            client.settimeout(self.io_timeout)
            try:
                upstream = socket.create_connection(self.target, timeout=self.connect_timeout)
            except OSError:
                return
            upstream.settimeout(self.io_timeout)
            if fail_at == 0:
                with self._lock:
                    self._resets += 1
                return
            sent_up = 0
            peers = {client: upstream, upstream: client}
            while peers and not conn.kill and not self._stop.is_set():
                readable, _, _ = select.select(list(peers), [], [], _POLL)
                for src in readable:
                    if src not in peers:
                        continue
                    dst = peers[src]
                    data = src.recv(65536)
                    if not data:
                        # half close: pass the FIN on, keep the other direction
                        del peers[src]
                        try:
                            dst.shutdown(socket.SHUT_WR)
                        except OSError:
                            pass
                        continue
                    if src is client:
                        if fail_at is not None and sent_up + len(data) >= fail_at:
                            part = data[: fail_at - sent_up]
                            if part:
                                upstream.sendall(part)
                                self._count(up=len(part))
                            with self._lock:
                                self._resets += 1
                            return
                        upstream.sendall(data)
                        sent_up += len(data)
                        self._count(up=len(data))
                    else:
                        client.sendall(data)
                        self._count(down=len(data))
            if conn.kill:
                with self._lock:
                    self._resets += 1
            else:
                graceful = not peers
        except (OSError, ValueError):
            pass
        finally:
            if graceful:
                for s in (client, upstream):
                    if s is not None:
                        try:
                            s.close()
                        except OSError:
                            pass
            else:
                _reset(client)
                _reset(upstream)
            with self._lock:
                self._conns.discard(conn)

    def __repr__(self) -> str:
        return f"<TcpProxy {self.host} -> {self.target[0]}:{self.target[1]} mode={self._mode}>"

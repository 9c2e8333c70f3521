"""HTTP/1.x over a local unix socket, with nothing but the standard library.

The Podman service's API is spoken here for local services. ``http.client`` would do it too,
but its import (email.parser, email.message and their helpers) costs more than this module,
and every no-op command pays it (docs/engine.md). The socket type is the C one that
``socket.socket`` extends: all a unix-socket client needs, without socket.py's import
(selectors, array and four enums built from the C module's constants).

Requests are HTTP/1.0, one connection each: a Go ``net/http`` server (Podman's) then streams
an answer of unknown length unchunked and closes the connection at its end. Answers are read
as RFC 9112 section 6.3 says, whatever the server picked: ``Transfer-Encoding: chunked``
(decoded chunk by chunk as it arrives), else ``Content-Length`` (exactly that many bytes),
else until the server closes. A connection that ends before the answer does (short
``Content-Length`` body, chunked body without its last chunk, no header end) raises
:class:`~rhcos_layer.errors.EngineUnavailable`, never a truncated body passed off as whole.
"""

from __future__ import annotations

import json
import os
from _socket import AF_UNIX, SOCK_STREAM
from _socket import socket as _unix_socket
from typing import IO, Any, Dict, Iterator, Mapping, Optional

from ..errors import EngineUnavailable

_RECV = 65536
# a header block or chunk-size line longer than this is not an answer from Podman
_MAX_HEAD = 256 * 1024
_MAX_LINE = 8192


class _Buffered:
    """A socket read through a buffer: lines for the head and chunk sizes, blocks for bodies."""

    def __init__(self, sock: Any, where: str) -> None:
        self._sock = sock
        self._buffer = b""
        self._where = where

    def _fill(self) -> bool:
        try:
            data = self._sock.recv(_RECV)
        except OSError as exc:
            raise _failed(self._where, f"reading the answer: {exc}") from None
        self._buffer += data
        return bool(data)

    def readline(self, limit: int, what: str) -> bytes:
        """One CRLF- (or LF-) terminated line without its end; an early close raises."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
                return line.rstrip(b"\r")
            if len(self._buffer) > limit:
                raise _failed(self._where, f"{what} longer than {limit} bytes")
            if not self._fill():
                raise _failed(self._where, f"the connection closed in the {what}")

    def read_some(self) -> bytes:
        """What is buffered, else the next block from the socket (b"": the server closed)."""
        if not self._buffer:
            self._fill()
        data, self._buffer = self._buffer, b""
        return data

    def read_up_to(self, size: int) -> bytes:
        if not self._buffer:
            self._fill()
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


class Reply:
    """An HTTP answer whose body is read whole (:meth:`read`) or as it arrives (:meth:`lines`).

    The connection closes when the body has been read, or with :meth:`close`.
    """

    def __init__(self, status: int, headers: Dict[str, str], blocks: Iterator[bytes], close: Any) -> None:
        self.status = status
        #: header names in lower case; a repeated header keeps its last value
        self.headers = headers
        self._blocks = blocks
        self._close = close

    def blocks(self) -> Iterator[bytes]:
        """The body in the pieces it arrives in."""
        try:
            yield from self._blocks
        finally:
            self.close()

    def lines(self) -> Iterator[bytes]:
        """The body line by line (without the newline), each as soon as it is complete."""
        pending = b""
        for block in self.blocks():
            pending += block
            *complete, pending = pending.split(b"\n")
            yield from complete
        if pending:
            yield pending

    def read(self) -> bytes:
        return b"".join(self.blocks())

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON comes back as text (an error message)."""
        body = self.read()
        try:
            return json.loads(body) if body.strip() else None
        except ValueError:
            return body.decode("utf-8", "replace")

    def close(self) -> None:
        self._close()


def _failed(where: str, why: str) -> EngineUnavailable:
    return EngineUnavailable(f"Podman service at unix://{where} failed: {why}",
                             hint="check that the service still runs (its own log says why)")


def request(socket_path: str, method: str, target: str, *, headers: Optional[Mapping[str, str]] = None,
            body: Optional[IO[bytes]] = None, timeout: Optional[float] = None) -> Reply:
    """Send one request on a new connection to ``socket_path``; the answer's head is read here,
    its body when the caller reads the :class:`Reply`. Failures raise EngineUnavailable."""
    sock = _unix_socket(AF_UNIX, SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(socket_path)
        except OSError as exc:
            raise _failed(socket_path, str(exc)) from None
    except BaseException:
        sock.close()
        raise
    return exchange(sock, socket_path, method, target, headers=headers, body=body)


def exchange(sock: Any, where: str, method: str, target: str, *, host: str = "d",
             headers: Optional[Mapping[str, str]] = None, body: Optional[IO[bytes]] = None) -> Reply:
    """One request and the head of its answer on a connected socket (any stream socket: also a
    TLS one), which the Reply closes. ``where`` names the peer in errors."""
    size = 0
    if body is not None:
        size = body.seek(0, os.SEEK_END)
        body.seek(0)
    lines = [f"{method} {target} HTTP/1.0", f"Host: {host}", f"Content-Length: {size}"]
    lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
    try:
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
            if body is not None:
                for block in iter(lambda: body.read(1 << 20), b""):
                    sock.sendall(block)
        except OSError as exc:
            raise _failed(where, str(exc)) from None
        reader = _Buffered(sock, where)
        status_line = reader.readline(_MAX_LINE, "status line")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
            raise _failed(where, "not an HTTP answer")
        found: Dict[str, str] = {}
        head_size = len(status_line)
        while True:
            line = reader.readline(_MAX_LINE, "header")
            head_size += len(line) + 2  # with its line end
            if head_size > _MAX_HEAD:
                raise _failed(where, f"answer headers longer than {_MAX_HEAD} bytes")
            if not line:
                break
            name, sep, value = line.partition(b":")
            if sep:
                found[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    except BaseException:
        sock.close()
        raise
    status = int(parts[1])
    return Reply(status, found, _body(reader, found, method, status, where), sock.close)


def _body(reader: _Buffered, headers: Mapping[str, str], method: str, status: int, where: str) -> Iterator[bytes]:
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return
    if "chunked" in headers.get("transfer-encoding", "").lower():
        yield from _chunked(reader, where)
        return
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise _failed(where, f"bad Content-Length {length!r}")
        left = int(length)
        while left:
            data = reader.read_up_to(min(left, _RECV))
            if not data:
                raise _failed(where, f"the connection closed {left} bytes before the end of the answer")
            left -= len(data)
            yield data
        return
    while True:  # delimited by the end of the connection
        data = reader.read_some()
        if not data:
            return
        yield data


def _chunked(reader: _Buffered, where: str) -> Iterator[bytes]:
    while True:
        size_line = reader.readline(_MAX_LINE, "chunk size line")
        text = size_line.split(b";", 1)[0].strip()
        if not text or len(text) > 16 or text.strip(b"0123456789abcdefABCDEF"):
            raise _failed(where, f"bad chunk size {text[:20]!r}")
        size = int(text, 16)
        if size == 0:
            while reader.readline(_MAX_LINE, "trailer"):  # trailers, then the empty line
                pass
            return
        while size:
            data = reader.read_up_to(size)
            if not data:
                raise _failed(where, "the connection closed inside a chunk")
            size -= len(data)
            yield data
        if reader.readline(_MAX_LINE, "chunk end"):
            raise _failed(where, "a chunk longer than its size")

"""The unix-socket HTTP client against a real unix-socket server that answers as scripted:
Content-Length, chunked encoding, headers split across writes, early closes."""

from __future__ import annotations

import io
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from rhcos_layer.adapters import unixhttp
from rhcos_layer.errors import EngineUnavailable

Script = Callable[[socket.socket, bytes], None]


class ScriptedServer:
    """Accepts connections on a unix socket; for each, reads the request head (and a body of the
    Content-Length it announces) and hands the connection to ``script``."""

    def __init__(self, script: Script) -> None:
        self._folder = tempfile.mkdtemp(prefix="uh-", dir="/tmp")
        self.path = str(Path(self._folder) / "s.sock")
        self.script = script
        self.requests: List[bytes] = []
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(self.path)
        self._listener.listen(4)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    block = conn.recv(4096)
                    if not block:
                        break
                    data += block
                head, _, body = data.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        size = int(line.split(b":", 1)[1])
                        while len(body) < size:
                            body += conn.recv(4096)
                self.requests.append(head + b"\r\n\r\n" + body)
                try:
                    self.script(conn, head)
                except BrokenPipeError:
                    pass  # the client had what it wanted and hung up

    def close(self) -> None:
        self._listener.close()
        import shutil

        shutil.rmtree(self._folder, ignore_errors=True)


@pytest.fixture
def serve() -> Iterator[Callable[[Script], ScriptedServer]]:
    servers: List[ScriptedServer] = []

    def start(script: Script) -> ScriptedServer:
        server = ScriptedServer(script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def _sends(*parts: bytes, pause: float = 0.0) -> Script:
    def script(conn: socket.socket, head: bytes) -> None:
        for part in parts:
            conn.sendall(part)
            if pause:
                time.sleep(pause)

    return script


def test_content_length_body_is_read_exactly_even_if_the_connection_stays_open(serve) -> None:
    # 5 bytes announced; the server then sends junk and keeps the connection open: only the 5 count
    def script(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        conn.sendall(b"NOT PART OF THE BODY")
        time.sleep(0.5)

    server = serve(script)
    reply = unixhttp.request(server.path, "GET", "/v4.0.0/libpod/info", timeout=5)
    assert reply.status == 200
    assert reply.headers["content-length"] == "5"
    assert reply.read() == b"hello"


def test_request_line_headers_and_body_sent(serve) -> None:
    server = serve(_sends(b"HTTP/1.0 201 Created\r\n\r\n"))
    reply = unixhttp.request(server.path, "POST", "/x?a=1", headers={"X-Registry-Auth": "abc"},
                             body=io.BytesIO(b"tar bytes"), timeout=5)
    assert reply.status == 201
    assert reply.read() == b""
    assert server.requests == [b"POST /x?a=1 HTTP/1.0\r\nHost: d\r\nContent-Length: 9\r\nX-Registry-Auth: abc\r\n\r\n"
                               b"tar bytes"]


def test_headers_split_across_writes(serve) -> None:
    server = serve(_sends(b"HTTP/1.1 2", b"00 OK\r\nContent-Ty", b"pe: application/json\r", b"\nContent-Length: 2",
                          b"\r\n", b"\r", b"\n{}", pause=0.05))
    reply = unixhttp.request(server.path, "GET", "/info", timeout=5)
    assert reply.status == 200
    assert reply.headers == {"content-type": "application/json", "content-length": "2"}
    assert reply.json() == {}


def test_chunked_answer_is_decoded(serve) -> None:
    server = serve(_sends(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                          b"5\r\nhello\r\n", b"7;ext=1\r\n, world\r\n", b"0\r\nX-Trailer: t\r\n\r\n"))
    reply = unixhttp.request(server.path, "GET", "/x", timeout=5)
    assert reply.read() == b"hello, world"


def test_chunked_lines_are_streamed_as_they_come(serve) -> None:
    release = threading.Event()

    def script(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        conn.sendall(b"d\r\n{\"stream\":1}\n\r\n")
        release.wait(10)  # the second line only once the client has the first
        conn.sendall(b"d\r\n{\"stream\":22}\r\n0\r\n\r\n")

    server = serve(script)
    lines = unixhttp.request(server.path, "POST", "/build", timeout=10).lines()
    assert next(lines) == b'{"stream":1}'
    release.set()
    assert next(lines) == b'{"stream":22}'
    assert list(lines) == []


def test_a_chunk_split_across_writes(serve) -> None:
    server = serve(_sends(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1", b"0\r\n0123456",
                          b"789abcdef\r", b"\n0\r\n\r\n", pause=0.05))
    assert unixhttp.request(server.path, "GET", "/x", timeout=5).read() == b"0123456789abcdef"


def test_body_until_close_without_length(serve) -> None:
    server = serve(_sends(b"HTTP/1.0 200 OK\r\n\r\nline 1\nline 2\n", b"line 3", pause=0.05))
    assert list(unixhttp.request(server.path, "GET", "/x", timeout=5).lines()) == [b"line 1", b"line 2", b"line 3"]


def test_no_body_for_204(serve) -> None:
    server = serve(_sends(b"HTTP/1.1 204 No Content\r\n\r\n"))
    reply = unixhttp.request(server.path, "GET", "/images/x/exists", timeout=5)
    assert reply.status == 204
    assert reply.read() == b""


@pytest.mark.parametrize("answer, why", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello", "the connection closed 5 bytes before the end"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", "the connection closed in the chunk"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nhello", "the connection closed inside a chunk"),
    (b"HTTP/1.1 200 OK\r\nContent-Le", "the connection closed in the header"),
    (b"", "the connection closed in the status line"),
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP answer"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
])
def test_early_close_or_garbage_raises_engine_unavailable(serve, answer: bytes, why: str) -> None:
    server = serve(_sends(answer))
    with pytest.raises(EngineUnavailable) as caught:
        unixhttp.request(server.path, "GET", "/x", timeout=5).read()
    assert caught.value.message.startswith(f"Podman service at unix://{server.path} failed: ")
    assert why in caught.value.message
    assert caught.value.exit_code == 9


def test_an_endless_header_is_refused_with_bounded_memory(serve) -> None:
    def script(conn: socket.socket, head: bytes) -> None:
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nX: " + b"a" * (1 << 20))
        except OSError:
            pass

    server = serve(script)
    with pytest.raises(EngineUnavailable, match="header longer than 8192 bytes"):
        unixhttp.request(server.path, "GET", "/x", timeout=5)


def test_no_server_raises_engine_unavailable(tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailable, match="failed: "):
        unixhttp.request(str(tmp_path / "absent.sock"), "GET", "/_ping", timeout=1)

"""The engine's HTTP client reads whatever a (broken or hostile) service sends: nothing but
EngineUnavailable comes out, and memory stays bounded (heads and chunk-size lines are capped)."""

from __future__ import annotations

import socket
import threading
from typing import List, Tuple

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer.adapters import unixhttp
from rhcos_layer.errors import EngineUnavailable

_PIECES = st.sampled_from([
    b"HTTP/1.1 200 OK\r\n", b"HTTP/1.0 204 No Content\r\n", b"Content-Length: 3\r\n", b"Content-Length: -1\r\n",
    b"Content-Length: 99999999999999999999\r\n", b"Transfer-Encoding: chunked\r\n", b"\r\n", b"\n", b"\r",
    b"3\r\nabc\r\n", b"0\r\n\r\n", b"ffffffffffffffff\r\n", b"1;x=y\r\nz\r\n", b"x: y\r\n", b"abc", b":",
    b"\x00\xff", b"HTTP/", b" ", b"{\"stream\": \"STEP 1/2\"}\n",
])


def _answer(data: bytes) -> Tuple[int, List[bytes]]:
    """Serve ``data`` on one end of a socket pair, then close it; read it as an answer."""
    ours, theirs = socket.socketpair()
    ours.settimeout(5)

    def send() -> None:
        try:
            request = b""
            while not request.endswith(b"\r\n\r\n"):  # read it all: closing on unread data resets
                block = theirs.recv(4096)
                if not block:
                    break
                request += block
            theirs.sendall(data)
        except OSError:
            pass  # the client stopped reading (an answer refused early)
        finally:
            theirs.close()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        reply = unixhttp.exchange(ours, "fuzz.sock", "GET", "/x")
        return reply.status, list(reply.lines())
    finally:
        ours.close()
        sender.join(5)


@given(st.lists(_PIECES, max_size=24).map(b"".join) | st.binary(max_size=2048))
def test_any_answer_is_read_or_refused_with_engine_unavailable(data: bytes) -> None:
    try:
        status, lines = _answer(data)
    except EngineUnavailable as exc:
        assert exc.message.startswith("Podman service at unix://fuzz.sock failed: ")
        return
    assert 0 <= status <= 999999999999
    assert sum(len(line) for line in lines) <= len(data)


def test_a_huge_head_is_refused_without_reading_it_all() -> None:
    try:
        _answer(b"HTTP/1.1 200 OK\r\n" + b"X-Filler: " + b"a" * 100 + b"\r\n" * 1 + (b"Y: z\r\n" * 60000))
    except EngineUnavailable as exc:
        assert "answer headers longer than" in exc.message
    else:
        raise AssertionError("a 360 kB head was accepted")

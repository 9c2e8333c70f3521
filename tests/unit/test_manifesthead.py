"""The no-op push's HEAD (adapters/manifesthead.py): what its connection is like."""

from __future__ import annotations

import socket


def test_the_head_connection_has_nagle_off() -> None:
    # with Nagle on, the request waits behind TLS 1.3's client Finished until the server's delayed
    # ACK (~40 ms, most of a no-op push's wait for the registry); curl and urllib3 turn it off too
    from rhcos_layer.adapters.manifesthead import _connect

    with socket.create_server(("127.0.0.1", 0)) as server:
        conn = _connect("127.0.0.1", server.getsockname()[1])
        try:
            assert conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
            assert conn.gettimeout() is not None  # a registry that never answers cannot hang the push
        finally:
            conn.close()

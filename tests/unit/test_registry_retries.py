"""The registry adapter's retries are urllib3's Retry, and its Basic auth is requests': what a
flaky registry sees from it."""

from __future__ import annotations

import http.server
import threading
from typing import Iterator, List, Tuple

import pytest

from rhcos_layer.adapters.registry import RegistryClient, make_session
from rhcos_layer.auth import Credentials
from rhcos_layer.errors import RegistryUnavailable
from rhcos_layer.trust import TLSSettings


def test_the_session_retries_reads_of_transient_failures_only() -> None:
    session = make_session("r.example.com:5000", TLSSettings(), attempts=3, backoff=0.5)
    retry = session.get_adapter("https://r.example.com:5000/v2/").max_retries
    assert retry.total == 2
    assert set(retry.status_forcelist) == {429, 500, 502, 503, 504}
    assert retry.is_retry("GET", 503) and retry.is_retry("HEAD", 502)
    assert not retry.is_retry("PUT", 503) and not retry.is_retry("GET", 404)
    assert retry.respect_retry_after_header is False  # a hostile Retry-After cannot hang the command


@pytest.fixture
def flaky() -> Iterator[Tuple[str, List[str], List[int]]]:
    """A plain-HTTP registry answering with the statuses queued, then 200; it logs each request's
    method, path and Authorization header."""
    seen: List[str] = []
    statuses: List[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            seen.append(f"{self.command} {self.path} {self.headers.get('Authorization')}")
            self.send_response(statuses.pop(0) if statuses else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen, statuses
    finally:
        server.shutdown()
        server.server_close()


def test_a_transient_answer_is_retried_with_utf8_basic_auth(flaky) -> None:
    host, seen, statuses = flaky
    statuses += [503, 502]
    # --tls-verify=false: this registry speaks plain HTTP, as podman allows then
    with RegistryClient(host, Credentials("rig", "pässwörd"), TLSSettings(verify=False), backoff=0.01) as client:
        client.check_access()
    basic = "Basic cmlnOnDDpHNzd8O2cmQ="  # base64 of the UTF-8 bytes of rig:pässwörd
    assert seen == [f"GET /v2/ {basic}"] * 3


def test_past_its_attempts_a_transient_answer_is_one_clear_error(flaky) -> None:
    host, seen, statuses = flaky
    statuses += [503] * 10
    with RegistryClient(host, None, TLSSettings(verify=False), attempts=2, backoff=0.01) as client:
        with pytest.raises(RegistryUnavailable) as info:
            client.check_access()
    assert info.value.message == f"registry {host} is unreachable after 2 attempts (HTTP 503)"
    assert len(seen) == 2

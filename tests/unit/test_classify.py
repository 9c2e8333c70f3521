"""Podman's error text about a registry, turned into the project's errors (real messages)."""

from __future__ import annotations

import pytest

from rhcos_layer.adapters.engine import classify_failure
from rhcos_layer.errors import (
    CredentialsRejected,
    ImageNotFound,
    RegistryUnavailable,
    RhcosLayerError,
    UntrustedCertificate,
)

R = "127.0.0.1:5000"


@pytest.mark.parametrize(
    "text, expected",
    [
        ('pinging container registry 127.0.0.1:5000: Get "https://127.0.0.1:5000/v2/": x509: certificate signed'
         " by unknown authority", UntrustedCertificate),
        ("reading manifest sha256:ab in 127.0.0.1:5000/a: unauthorized: authentication required", CredentialsRejected),
        ("requested access to the resource is denied: denied: requested access", CredentialsRejected),
        ("reading manifest sha256:00 in 127.0.0.1:5000/nope: manifest unknown: manifest unknown", ImageNotFound),
        ('writing blob: Patch "https://127.0.0.1:5000/v2/x/blobs/uploads/u": use of closed network connection',
         RegistryUnavailable),
        ("writing blob: uploading layer chunked: read tcp 127.0.0.1:1->127.0.0.1:5000: connection reset by peer",
         RegistryUnavailable),
        ('Get "https://127.0.0.1:5000/v2/": dial tcp 127.0.0.1:5000: connect: connection refused', RegistryUnavailable),
        ("received unexpected HTTP status: 503 Service Unavailable", RegistryUnavailable),
        ("invalid reference format", RhcosLayerError),
        ("image not found in the local storage: somename", RhcosLayerError),
    ],
)
def test_podman_messages_map_to_errors(text: str, expected: type) -> None:
    error = classify_failure(text, R)
    assert type(error) is expected

"""resolve through a registry that wants Bearer tokens (quay.io / registry.redhat.io style).

The token front (tests/support/tokenauth.py) sits before the rig registry: every /v2 request needs
a token from https://<front>/token, which is given for the rig registry's user and password.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import requests

from rhcos_layer.adapters.registry import RegistryClient
from rhcos_layer.auth import Credentials
from rhcos_layer.errors import CredentialsRejected
from rhcos_layer.trust import TLSSettings
from tests.support.payload import access_mark, fetched_blobs


@pytest.fixture
def certs(registry):
    return ["--cert-dir", str(registry.cert_dir)]


@pytest.fixture
def front_authfile(tmp_path, registry, token_front):
    return registry.write_authfile(tmp_path / "auth" / "front.json", extra_hosts=[token_front.host])


def fresh_cache(tmp_path: Path) -> dict:
    """An empty release cache (XDG_CACHE_HOME wins over HOME, so set it whatever the shell has)."""
    return {"XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_resolve_by_tag_fetches_a_token_and_reads_with_it(tmp_path, tool_env, registry, release_payloads, token_front,
                                                          front_authfile, certs, rhcos_layer):
    payload = release_payloads["4.16"]
    pullspec = f"{token_front.host}/{payload.repo_path}:{payload.tag}"
    mark = access_mark(registry)
    result = rhcos_layer(["resolve", "--release", pullspec, *certs, "--authfile", str(front_authfile)], tmp_path,
                         fresh_cache(tmp_path))
    assert result.code == 0, result.err
    assert result.out.strip() == payload.os_tags["rhel-coreos"]

    stats = token_front.stats()
    assert stats.unauthenticated_requests >= 1  # the first try, answered with the challenge
    assert stats.tokens_issued >= 1 and stats.token_rejections == 0
    assert stats.bearer_requests >= 2 and stats.rejected_bearer == 0  # manifest + last layer
    assert stats.forwarded >= 2
    scopes = {s for t in token_front.token_log() for s in t.scopes}
    assert f"repository:{payload.repo_path}:pull" in scopes
    assert all(t.user == registry.username for t in token_front.token_log())
    # the blob went through the front with a token, and it was the last layer only
    blob_gets = [r for r in token_front.request_log() if r.method == "GET" and "/blobs/" in r.path]
    assert [r.path.rsplit("/", 1)[1] for r in blob_gets if r.forwarded] == [payload.last_layer_digest]
    assert all(r.bearer and r.status == 200 for r in blob_gets if r.forwarded)
    assert fetched_blobs(registry, payload.repo, since=mark, min_count=1) == [payload.last_layer_digest]


def test_resolve_by_digest_through_the_front(tmp_path, tool_env, release_payloads, token_front, front_authfile, certs,
                                             rhcos_layer):
    payload = release_payloads["4.21"]
    pullspec = f"{token_front.host}/{payload.repo_path}@{payload.digest}"
    result = rhcos_layer(["resolve", "--release", pullspec, *certs, "--authfile", str(front_authfile)], tmp_path,
                         fresh_cache(tmp_path))
    assert result.code == 0, result.err
    assert result.out.strip() == payload.os_tags["rhel-coreos"]
    assert token_front.stats().token_requests >= 1
    assert token_front.stats().bearer_requests >= 2


def test_a_wrong_password_is_rejected_by_the_token_service(tmp_path, tool_env, registry, release_payloads,
                                                          token_front, certs, rhcos_layer):
    payload = release_payloads["4.16"]
    wrong = registry.write_authfile(tmp_path / "auth" / "wrong.json", password="nope",
                                    extra_hosts=[token_front.host])
    pullspec = f"{token_front.host}/{payload.repo_path}@{payload.digest}"
    result = rhcos_layer(["resolve", "--release", pullspec, *certs, "--authfile", str(wrong)], tmp_path,
                         fresh_cache(tmp_path))
    assert result.code == 4, result.err
    assert "the token service rejected the credentials (HTTP 401)" in result.err
    assert token_front.host in result.err
    assert "nope" not in result.err + result.out
    stats = token_front.stats()
    assert stats.token_rejections >= 1 and stats.tokens_issued == 0
    assert stats.forwarded == 0


def test_no_credentials_for_the_front_says_so(tmp_path, tool_env, release_payloads, token_front, certs,
                                             rhcos_layer):
    """The token service turns an anonymous token request down: that is missing, not rejected, credentials."""
    payload = release_payloads["4.16"]
    pullspec = f"{token_front.host}/{payload.repo_path}@{payload.digest}"
    # tool_env's authfile has the registry only, not the front
    result = rhcos_layer(["resolve", "--release", pullspec, *certs], tmp_path, fresh_cache(tmp_path))
    assert result.code == 4, result.err
    assert f"registry {token_front.host} requires credentials and none were found for it" in result.err
    assert token_front.token_log() and token_front.token_log()[0].user is None
    assert token_front.stats().forwarded == 0


def test_a_corrupted_blob_is_caught(tmp_path, tool_env, release_payloads, token_front, front_authfile, certs,
                                    rhcos_layer):
    payload = release_payloads["4.16"]
    token_front.corrupt_blobs(True)
    pullspec = f"{token_front.host}/{payload.repo_path}@{payload.digest}"
    cache = fresh_cache(tmp_path)
    result = rhcos_layer(["resolve", "--release", pullspec, *certs, "--authfile", str(front_authfile)], tmp_path,
                         cache)
    assert result.code == 6, result.err
    assert "arrived corrupted (sha256 mismatch)" in result.err
    assert payload.last_layer_digest in result.err
    assert token_front.stats().corrupted_blobs >= 1
    cached = Path(cache["XDG_CACHE_HOME"]) / "rhcos-layer" / "releases"
    assert not cached.exists() or not list(cached.iterdir())  # nothing wrong was remembered

    token_front.corrupt_blobs(False)
    again = rhcos_layer(["resolve", "--release", pullspec, *certs, "--authfile", str(front_authfile)], tmp_path,
                        cache)
    assert again.code == 0, again.err
    assert again.out.strip() == payload.os_tags["rhel-coreos"]


def test_the_client_fetches_a_new_token_when_the_old_one_expires(registry, release_payloads, token_front):
    """Library level (the CLI is one process per call): a stale token is answered with a fresh challenge."""
    payload = release_payloads["4.16"]
    tls = TLSSettings(cert_dir=registry.cert_dir)
    with RegistryClient(token_front.host, Credentials(registry.username, registry.password), tls) as client:
        client.check_access()  # a token without a scope: fine for /v2/, not for the repository
        _, _, digest = client.get_manifest(payload.repo_path, payload.tag)
        assert digest == payload.digest
        issued = token_front.stats().tokens_issued
        assert issued == 2
        token_front.expire_tokens()
        _, _, again = client.get_manifest(payload.repo_path, payload.digest)
        assert again == payload.digest
        assert token_front.stats().tokens_issued == issued + 1
    anonymous = RegistryClient(token_front.host, None, tls)
    with anonymous, pytest.raises(CredentialsRejected, match="requires credentials and none were found"):
        anonymous.get_manifest(payload.repo_path, payload.tag)


def test_the_front_speaks_the_token_protocol(registry, release_payloads, token_front):
    """The rig itself: challenges, token answers, scopes, expiry, as quay.io does them."""
    repo = release_payloads["4.16"].repo_path
    verify = str(registry.ca_path)
    base = token_front.url

    ping = requests.get(f"{base}/v2/", verify=verify, timeout=10)
    assert ping.status_code == 401
    assert ping.headers["WWW-Authenticate"] == f'Bearer realm="{base}/token",service="rig-front"'
    assert ping.json() == {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required",
                                       "detail": None}]}
    manifest_path = f"/v2/{repo}/manifests/{release_payloads['4.16'].tag}"
    challenge = requests.head(base + manifest_path, verify=verify, timeout=10).headers["WWW-Authenticate"]
    assert challenge.endswith(f',scope="repository:{repo}:pull"')

    query = {"service": "rig-front", "scope": f"repository:{repo}:pull"}
    assert requests.get(f"{base}/token", params=query, verify=verify, timeout=10).status_code == 401
    assert requests.get(f"{base}/token", params=query, auth=(registry.username, "nope"), verify=verify,
                        timeout=10).status_code == 401
    answer = requests.get(f"{base}/token", params=query, auth=registry.auth, verify=verify, timeout=10)
    assert answer.status_code == 200
    body = answer.json()
    assert body["token"] == body["access_token"] and body["expires_in"] == 300 and body["issued_at"]

    bearer = {"Authorization": f"Bearer {body['token']}",
              "Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"}
    got = requests.get(base + manifest_path, headers=bearer, verify=verify, timeout=10)
    assert got.status_code == 200
    assert got.headers["Docker-Content-Digest"] == release_payloads["4.16"].digest
    other = requests.get(f"{base}/v2/elsewhere/manifests/latest", headers=bearer, verify=verify, timeout=10)
    assert other.status_code == 401  # the token is for one repository only
    basic = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    assert requests.get(base + manifest_path, headers={"Authorization": f"Basic {basic}"}, verify=verify,
                        timeout=10).status_code == 401  # the registry's own Basic auth does not get through
    token_front.expire_tokens()
    assert requests.get(base + manifest_path, headers=bearer, verify=verify, timeout=10).status_code == 401
    stats = token_front.stats()
    assert stats.token_requests == 3 and stats.tokens_issued == 1 and stats.token_rejections == 2
    assert stats.forwarded == 1 and stats.rejected_bearer == 2

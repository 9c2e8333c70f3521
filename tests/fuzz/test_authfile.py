"""Property-based tests of the authfile parser: only InvalidInput comes out, and an error never
quotes a secret."""

from __future__ import annotations

import base64
import json

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer import auth
from rhcos_layer.errors import InvalidInput

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
_SECRET = st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=12, max_size=24)


def _entry(secret: str, kind: int) -> object:
    if kind == 0:
        return {"auth": base64.b64encode(f"user:{secret}".encode()).decode()}
    if kind == 1:
        return {"auth": base64.b64encode(f"user{secret}".encode()).decode()}  # no colon: unusable
    if kind == 2:
        return {"username": "user", "password": secret}
    if kind == 3:
        return {"password": secret}  # no user name: unusable
    return secret  # not an object at all


@given(_JSON)
def test_any_json_is_parsed_or_refused_cleanly(document: object) -> None:
    for strict in (True, False):
        try:
            auth.parse(json.dumps(document), "authfile.json", strict=strict)
        except InvalidInput:
            pass


@given(st.text(max_size=200))
def test_any_text_is_parsed_or_refused_cleanly(text: str) -> None:
    try:
        auth.parse(text, "authfile.json")
    except InvalidInput:
        pass


@given(st.dictionaries(st.sampled_from(["quay.io", "https://index.docker.io/v1/", "r.example.com:5000/ops"]),
                       st.tuples(_SECRET, st.integers(0, 4)), max_size=3), _JSON)
def test_errors_never_quote_a_secret(entries: dict, noise: object) -> None:
    document = {"auths": {key: _entry(secret, kind) for key, (secret, kind) in entries.items()}, "x": noise}
    try:
        parsed = auth.parse(json.dumps(document), "authfile.json")
    except InvalidInput as exc:
        text = f"{exc} {exc.hint} {exc.detail}"
        for secret, _ in entries.values():
            assert secret not in text
            assert base64.b64encode(f"user:{secret}".encode()).decode() not in text
        return
    for key, (secret, kind) in entries.items():
        assert kind in (0, 2)
        creds = parsed.entries[auth._normalise_key(key)]
        assert (creds.username, creds.password) == ("user", secret)
        assert secret not in repr(creds) and secret not in str(creds)


def test_deep_nesting_is_refused_cleanly() -> None:
    for text in ("[" * 100_000, '{"auths": ' * 50_000):
        try:
            auth.parse(text, "authfile.json")
        except InvalidInput as exc:
            assert str(exc).startswith("authfile.json: ")

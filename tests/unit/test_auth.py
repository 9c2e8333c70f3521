from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from rhcos_layer import auth
from rhcos_layer.errors import InvalidInput


def _write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_most_specific_key_wins(tmp_path: Path) -> None:
    encoded = base64.b64encode(b"org:s3cret").decode()
    path = _write(tmp_path / "auth.json", {"auths": {
        "quay.io": {"auth": base64.b64encode(b"any:pw").decode()},
        "quay.io/myorg": {"auth": encoded},
        "https://registry.example.com": {"username": "u", "password": "p"},
    }})
    loaded = auth.load(path)
    assert loaded.lookup("quay.io/myorg/layered").username == "org"
    assert loaded.lookup("quay.io/other/x").username == "any"
    assert loaded.lookup("registry.example.com/a").password == "p"
    assert loaded.lookup("ghcr.io/a") is None


def test_credentials_never_show_their_secret(tmp_path: Path) -> None:
    creds = auth.Credentials("user", "SENTINEL-PW")
    assert "SENTINEL-PW" not in repr(creds)
    assert "SENTINEL-PW" not in str(creds)
    assert "SENTINEL-PW" not in repr(auth.AuthFile(None, {"x": creds}))


def _auth(user: str) -> dict:
    return {"auth": base64.b64encode(f"{user}:pw".encode()).decode()}


def test_lookup_order_flag_env_then_merged_defaults(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    (runtime / "containers").mkdir(parents=True)
    (tmp_path / ".docker").mkdir()
    _write(runtime / "containers" / "auth.json", {"auths": {"quay.io": _auth("runtime")}})
    _write(tmp_path / ".docker" / "config.json", {"auths": {"quay.io": _auth("docker"), "ghcr.io": _auth("gh"),
                                                            "helper.example.com": {}}, "credsStore": "pass"})
    flag = _write(tmp_path / "flag.json", {"auths": {"quay.io": _auth("flag")}})
    env_file = _write(tmp_path / "env.json", {"auths": {"quay.io": _auth("env")}})
    env = {"XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path)}

    merged = auth.resolve(None, environ=env)
    assert merged.lookup("quay.io/a").username == "runtime"  # the first default wins
    assert merged.lookup("ghcr.io/a").username == "gh"  # later defaults still count
    assert merged.lookup("helper.example.com/a") is None  # credential-helper entries are skipped
    with_env = {**env, "REGISTRY_AUTH_FILE": str(env_file)}
    assert auth.resolve(None, environ=with_env).lookup("quay.io/a").username == "env"
    assert auth.resolve(str(flag), environ=with_env).lookup("quay.io/a").username == "flag"
    assert auth.find_authfile(None, env) is None
    assert auth.find_authfile(None, with_env) == env_file
    assert auth.resolve(None, environ={"HOME": str(tmp_path / "none"), "XDG_RUNTIME_DIR": "/nonexistent"}).entries == {}


def test_first_file_with_a_match_wins_even_over_a_more_specific_key_later(tmp_path: Path) -> None:
    runtime = tmp_path / "run"
    (runtime / "containers").mkdir(parents=True)
    (tmp_path / ".docker").mkdir()
    _write(runtime / "containers" / "auth.json", {"auths": {"quay.io": _auth("host-entry")}})
    _write(tmp_path / ".docker" / "config.json", {"auths": {"quay.io/org": _auth("org-entry")}})
    found = auth.resolve(None, environ={"XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path)})
    assert found.lookup("quay.io/org/image").username == "host-entry"  # like podman: first file decides
    assert set(found.registry_config()) == {"quay.io", "quay.io/org"}


def test_docker_config_with_only_a_credential_helper_is_no_error(tmp_path: Path) -> None:
    (tmp_path / ".docker").mkdir()
    _write(tmp_path / ".docker" / "config.json", {"credsStore": "desktop"})
    assert auth.resolve(None, environ={"HOME": str(tmp_path), "XDG_RUNTIME_DIR": "/nonexistent"}).lookup("q/x") is None
    with pytest.raises(InvalidInput, match='no "auths" object'):
        auth.resolve(str(tmp_path / ".docker" / "config.json"))


def test_env_authfile_errors_name_the_variable(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"^REGISTRY_AUTH_FILE=/nonexistent/a.json: no such file"):
        auth.resolve(None, environ={"REGISTRY_AUTH_FILE": "/nonexistent/a.json"})


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not valid JSON"),
        ('{"registries": {}}', 'no "auths" object'),
        ('{"auths": {"quay.io": {"auth": "bm9jb2xvbg=="}}}', "no usable auth"),
    ],
)
def test_bad_authfiles_name_the_file_but_not_the_content(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "pull-secret.json"
    path.write_text(content)
    with pytest.raises(InvalidInput) as info:
        auth.load(path)
    assert str(path) in str(info.value) and message in str(info.value)
    assert "bm9jb2xvbg" not in str(info.value)


def test_missing_authfile_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="--push-authfile .*no such file"):
        auth.resolve(str(tmp_path / "missing.json"), flag="--push-authfile")


def test_hostile_authfiles_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    cases = [(b"[" * 100_000, "not an authfile (nested too deeply)"),
             (b'{"auths": {"q.io": {"auth": "\xff"}}}', "not UTF-8 text: not an authfile"),
             (b" " * (17 << 20), "larger than 16 MiB: not an authfile")]
    for content, problem in cases:
        path.write_bytes(content)
        with pytest.raises(InvalidInput) as info:
            auth.load(path, source="--authfile auth.json")
        assert str(info.value) == f"--authfile auth.json: {problem}"

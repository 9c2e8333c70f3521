"""Kubeconfig loading (rhcos_layer.kubeconfig) follows client-go's rules: clientcmd/loader.go."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from rhcos_layer.errors import ClusterAccessError
from rhcos_layer.kubeconfig import load

CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n").decode()


def _write(path: Path, *, context: str, cluster: str, server: str, user: str = "", current: str = "",
           extra_user: dict = None) -> Path:
    config = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": CA}}],
        "contexts": [{"name": context, "context": {"cluster": cluster, **({"user": user} if user else {})}}],
        "users": [{"name": user, "user": extra_user or {"token": "sha256~secret"}}] if user else [],
    }
    if current:
        config["current-context"] = current
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_first_file_wins_for_names_and_current_context(tmp_path: Path) -> None:
    first = _write(tmp_path / "a", context="shared", cluster="c", server="https://first:6443", user="u",
                   current="shared")
    second = _write(tmp_path / "b", context="shared", cluster="c", server="https://second:6443", user="u",
                    current="other")
    login = load([first, second])
    assert (login.context, login.server, login.source) == ("shared", "https://first:6443", first)


def test_missing_files_in_a_list_are_skipped_and_empty_ones_are_empty(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n# nothing yet\n")
    good = _write(tmp_path / "good", context="admin", cluster="c", server="https://api:6443", current="admin")
    login = load([tmp_path / "missing", tmp_path / "empty", good])
    assert login.server == "https://api:6443"
    assert login.config["users"] == [{"name": "user", "user": {}}]  # no user: anonymous, as in kubectl


def test_relative_paths_are_resolved_against_the_file_that_holds_them(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "clusters": [{"name": "c", "cluster": {"server": "https://api:6443", "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u", "user": {"tokenFile": "token", "exec": {"command": "./bin/plugin"}}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }))
    config = load([path]).config
    assert config["clusters"][0]["cluster"]["certificate-authority"] == str(folder / "ca.crt")
    assert config["users"][0]["user"]["tokenFile"] == str(folder / "token")
    assert config["users"][0]["user"]["exec"]["command"] == str(folder / "bin" / "plugin")


def test_context_flag_picks_and_unknown_context_lists_the_known_ones(tmp_path: Path) -> None:
    path = _write(tmp_path / "k", context="admin", cluster="c", server="https://api:6443", current="admin")
    assert load([path], "admin").context == "admin"
    with pytest.raises(ClusterAccessError) as info:
        load([path], "nope")
    assert info.value.message == f"--context nope: no such context in kubeconfig {path}"
    assert info.value.hint == "the contexts: admin"


@pytest.mark.parametrize("content, message", [
    (b"a: [\n", "{p}:2: not valid YAML (expected the node content, but found '<stream end>')"),
    (b"- one\n- two\n", "kubeconfig {p}: expected a mapping with clusters, contexts and users, found a list"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "kubeconfig {p} is not a text file (UTF-8 YAML expected)"),
    (b"clusters: 5\n", "kubeconfig {p}: clusters: expected a list, found a number"),
    (b"clusters:\n- name: c\n  cluster: {server: 6443}\n",
     "kubeconfig {p}: clusters[0].cluster.server: expected a string, found a number"),
    (b"users:\n- name: u\n  user: {token: x}\n- name: u\n  user: {token: y}\n",
     "kubeconfig {p}: users[1]: a second user named u"),
    (b"a: &a {x: 1}\nb: {<<: *a}\n", "{p}:2: not valid YAML (YAML merge keys (<<) are not supported in a kubeconfig)"),
    (b"current-context: x\ncontexts:\n- name: x\n  context: {cluster: gone}\n",
     "kubeconfig {p}: contexts[0].context.cluster: no cluster named gone in kubeconfig {p}"),
    (b"clusters:\n- name: c\n  cluster: {server: 'https://a', certificate-authority-data: '%%%'}\n",
     "kubeconfig {p}: clusters[0].cluster.certificate-authority-data: not base64"),
])
def test_broken_files_are_named_with_what_is_wrong(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "kubeconfig"
    path.write_bytes(content)
    with pytest.raises(ClusterAccessError) as info:
        load([path])
    assert message.format(p=path) in info.value.message


def test_a_type_error_never_shows_the_value(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_text("users:\n- name: u\n  user: {token: [sha256~SENTINEL]}\n")
    with pytest.raises(ClusterAccessError) as info:
        load([path])
    assert info.value.message == f"kubeconfig {path}: users[0].user.token: expected a string, found a list"


def test_a_huge_file_is_refused_before_parsing(tmp_path: Path) -> None:
    path = tmp_path / "kubeconfig"
    path.write_bytes(b"# " + b"x" * (4 * 1024 * 1024) + b"\n")
    with pytest.raises(ClusterAccessError, match="larger than 4 MiB"):
        load([path])

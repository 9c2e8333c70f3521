"""Broken kubeconfigs end with one line and exit 10 (no usable login), in every command that reads one."""

from __future__ import annotations

from pathlib import Path

import pytest

GOOD = """apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: 'https://127.0.0.1:1'}
contexts:
- name: admin
  context: {cluster: c}
current-context: admin
"""

BROKEN = {
    "invalid-yaml": b"apiVersion: v1\nclusters: [\n",
    "a-list": b"- apiVersion: v1\n- kind: Config\n",
    "binary": bytes(range(256)) * 4,
    "wrong-types": b"clusters: {c: 1}\n",
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
@pytest.mark.parametrize("command", [["status"], ["rollback", "--pool", "worker"], ["resolve"]])
def test_broken_kubeconfig_exits_10_with_one_line(tmp_path: Path, run_cli, monkeypatch, kind, command) -> None:
    path = tmp_path / "kubeconfig"
    path.write_bytes(BROKEN[kind])
    monkeypatch.setenv("KUBECONFIG", str(path))
    result = run_cli(command, tmp_path)
    assert result.code == 10, result.err
    first, *rest = result.err.splitlines()
    assert first.startswith(f"Error: kubeconfig {path}"), result.err
    assert [line for line in rest if not line.startswith("  hint: ")] == []
    assert "internal error" not in result.err and "Traceback" not in result.err


def test_a_broken_file_in_a_merged_list_is_named(tmp_path: Path, run_cli, monkeypatch) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text(GOOD)
    bad.write_bytes(BROKEN["invalid-yaml"])
    monkeypatch.setenv("KUBECONFIG", f"{good}:{tmp_path / 'missing'}:{bad}")
    result = run_cli(["status"], tmp_path)
    assert result.code == 10, result.err
    assert result.err.startswith(f"Error: kubeconfig {bad}:3: not valid YAML ("), result.err


def test_kubeconfig_flag_names_the_file(tmp_path: Path, run_cli) -> None:
    path = tmp_path / "conf.yaml"
    path.write_bytes(BROKEN["a-list"])
    result = run_cli(["status", "--kubeconfig", str(path)], tmp_path)
    assert result.code == 10
    assert result.err.startswith(f"Error: kubeconfig {path}: expected a mapping with clusters, contexts and users")

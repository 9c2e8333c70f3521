from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from rhcos_layer.context import collect, inputs_digest, make_tar
from rhcos_layer.errors import InvalidInput

BASE = "quay.io/x/y@sha256:" + "c" * 64


def _digest(root: Path, text: str = "FROM x\n", args: dict = None) -> str:
    return inputs_digest(text, BASE, args or {}, collect(root))


def test_digest_changes_with_each_input(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("one")
    first = _digest(tmp_path)
    assert _digest(tmp_path) == first
    assert _digest(tmp_path, "FROM y\n") != first
    assert _digest(tmp_path, args={"A": "1"}) != first
    assert inputs_digest("FROM x\n", BASE.replace("c", "d"), {}, collect(tmp_path)) != first
    (tmp_path / "a.conf").write_text("two")
    assert _digest(tmp_path) != first
    (tmp_path / "a.conf").write_text("one")
    assert _digest(tmp_path) == first
    (tmp_path / "a.conf").chmod(0o600)
    assert _digest(tmp_path) != first


def test_ignore_file_and_skipped_paths(tmp_path: Path) -> None:
    (tmp_path / "keep.conf").write_text("k")
    (tmp_path / "secret.pem").write_text("s")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "x.log").write_text("l")
    (tmp_path / "logs" / "keep.log").write_text("l")
    (tmp_path / "state.json").write_text("{}")
    (tmp_path / ".containerignore").write_text("*.pem\nlogs\n!logs/keep.log\n")
    context = collect(tmp_path, skip=[tmp_path / "state.json"])
    names = [f.relpath for f in context.files]
    assert names == [".containerignore", "keep.conf", "logs/keep.log"]


def test_tar_carries_files_containerfile_and_secrets(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "x.conf").write_text("x")
    secret = tmp_path.parent / "ent.pem"
    secret.write_text("ENTITLEMENT")
    tar = make_tar(collect(tmp_path), "FROM z\n", {"ent": secret})
    data = tar.stream.read()
    tar.close()
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert "etc/x.conf" in members
        assert archive.extractfile(members[tar.containerfile_name]).read() == b"FROM z\n"
        secret_member = members[tar.secret_names["ent"]]
        assert secret_member.mode == 0o600
        assert archive.extractfile(secret_member).read() == b"ENTITLEMENT"


def test_ignore_patterns_follow_podman_path_rules(tmp_path: Path) -> None:
    for name in ("top.log", "sub/deep.log", "sub/keep.txt", "build/out.bin", "docs/a/b/c.md", "docs/x.md"):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (tmp_path / ".containerignore").write_text("*.log\nbuild/\ndocs/**/*.md\n!docs/x.md\n")
    names = [f.relpath for f in collect(tmp_path).files]
    # `*.log` stays in the top folder; `build/` takes the folder's content; `**` spans folders
    assert names == [".containerignore", "docs/x.md", "sub/deep.log", "sub/keep.txt"]


def test_secret_files_never_travel_in_the_context(tmp_path: Path) -> None:
    from rhcos_layer.build import BuildOptions, prepare
    from rhcos_layer.project import load

    (tmp_path / "Containerfile").write_text(f"FROM {BASE}\nRUN true && ostree container commit\n")
    (tmp_path / "ent.pem").write_text("project secret")
    (tmp_path / "other.pem").write_text("flag secret")
    (tmp_path / "keep.conf").write_text("x")
    (tmp_path / "rhcos-layer.yaml").write_text("secrets:\n  ent: ent.pem\n")
    project = load(tmp_path / "rhcos-layer.yaml")
    prepared = prepare(BuildOptions(project=project, secrets={"ent": tmp_path / "other.pem"}))
    names = [f.relpath for f in prepared.context.files]
    assert names == ["Containerfile", "keep.conf"]  # neither the replaced nor the replacing file
    assert prepared.secret_files == {"ent": tmp_path / "other.pem"}


@pytest.mark.parametrize(("pattern", "why"), [
    ("[]", "malformed character class"),
    ("[z-a]", "the range z-a is reversed"),
    ("x[]y", "malformed character class"),
    ("[a", "'[' is never closed"),
    ("[^]", "malformed character class"),
    ("a\\", "it ends with an escape character"),
])
def test_patterns_podman_stops_on_are_a_clear_error(tmp_path: Path, pattern: str, why: str) -> None:
    # `podman build` with COPY . stops on each with "syntax error in pattern" (checked on 4.3.1)
    (tmp_path / "a").write_text("a")
    (tmp_path / ".containerignore").write_text(f"# comment\n{pattern}\n")
    with pytest.raises(InvalidInput) as info:
        collect(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / '.containerignore'}:2: the pattern '{pattern}' is malformed: {why}")


def test_a_lone_exclamation_mark_is_refused(tmp_path: Path) -> None:
    (tmp_path / ".containerignore").write_text("a\n!\n")
    with pytest.raises(InvalidInput, match=r":2: '!' alone excludes nothing"):
        collect(tmp_path)


@pytest.mark.parametrize(("pattern", "excluded"), [
    ("[!]", ["!"]),  # Go negates with ^ only: ! is a plain character
    ("[^a]", ["!", "b"]),
    ("[a-b]", ["a", "b"]),
    ("\\!", ["!"]),
    ("**.d", ["c.d", "sub/e.d"]),  # patternmatcher's suffix match
    ("**/e.d", ["sub/e.d"]),
    ("sub/**", ["sub/e.d"]),
    ("?", ["!", "a", "b"]),
])
def test_patterns_match_as_podman_matches(tmp_path: Path, pattern: str, excluded: list) -> None:
    for name in ("!", "a", "b", "c.d", "sub/e.d"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    (tmp_path / ".containerignore").write_text(pattern + "\n")
    assert sorted(collect(tmp_path).excluded) == sorted(excluded)



def test_a_cluster_base_is_read_with_the_kube_context_given(tmp_path: Path) -> None:
    # BuildOptions.kube_context is --context (a kubeconfig context), not the build context folder
    # (context_dir): a context the kubeconfig lacks is refused before any request
    from rhcos_layer.build import BuildOptions, prepare
    from rhcos_layer.errors import ClusterAccessError
    from rhcos_layer.project import load

    (tmp_path / "Containerfile").write_text(f"FROM {BASE}\nRUN true && ostree container commit\n")
    (tmp_path / "rhcos-layer.yaml").write_text("base: cluster\n")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
                          "users:\n- name: u\n  user: {token: t}\n"
                          "contexts:\n- name: admin\n  context: {cluster: c, user: u}\ncurrent-context: admin\n")
    options = BuildOptions(project=load(tmp_path / "rhcos-layer.yaml"), kubeconfig=str(kubeconfig),
                           kube_context="nope", context_dir=tmp_path)
    with pytest.raises(ClusterAccessError) as info:
        prepare(options)
    assert info.value.message == f"--context nope: no such context in kubeconfig {kubeconfig}"

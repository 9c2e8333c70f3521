"""init writes projects that lint clean and build as they are on the test rig."""

from __future__ import annotations

import json

import pytest

from rhcos_layer.cli.init import TEMPLATES
from rhcos_layer.templates import SECRETS, names


def test_cli_template_choices_match_the_shipped_templates():
    assert TEMPLATES == names()


@pytest.mark.parametrize("template", [t for t in TEMPLATES if t != "on-cluster"])
def test_template_builds_as_written(template, tmp_path, tool_env, fake_base, registry, fresh_store, rhcos_layer):
    project = tmp_path / template
    made = rhcos_layer(["init", "--template", template, "--base", fake_base.pullspec, str(project)], tmp_path)
    assert made.code == 0, made.err
    assert str(project / "rhcos-layer.yaml") in made.out.splitlines()
    assert f"base: {fake_base.pullspec}" in (project / "rhcos-layer.yaml").read_text()
    for secret_id, src in SECRETS.get(template, {}).items():
        (project / src).write_text(f"SENTINEL-{secret_id}\n")
    linted = rhcos_layer(["lint"], project)
    assert linted.code == 0, linted.out + linted.err
    built = rhcos_layer(["build", "-o", "json"], project)
    assert built.code == 0, built.err
    image_id = json.loads(built.out)["image_id"]
    assert json.loads(built.out)["base"] == fake_base.pullspec
    if template in SECRETS:  # the secrets reached the RUN but not the image
        pushed = rhcos_layer(["push", image_id, f"{registry.host}/layered/{template}:t"], project)
        assert pushed.code == 0, pushed.err
        auth = registry.write_authfile(tmp_path / "pull.json")
        fresh_store.podman("pull", "-q", "--cert-dir", str(registry.cert_dir), "--authfile", str(auth),
                           pushed.last_line)
        with fresh_store.image_files(pushed.last_line) as root:
            assert not any(b"SENTINEL-" in p.read_bytes() for p in root.rglob("*")
                           if p.is_file() and not p.is_symlink())
            assert not (root / "etc/yum.repos.d/redhat.repo").exists()


def test_on_cluster_template_lints_clean_and_is_not_built_locally(tmp_path, tool_env, rhcos_layer):
    project = tmp_path / "oc"
    assert rhcos_layer(["init", "--template", "on-cluster", str(project)], tmp_path).code == 0
    assert rhcos_layer(["lint"], project).code == 0
    built = rhcos_layer(["build"], project)
    assert built.code == 3 and "on-cluster Containerfile" in built.err


def test_init_never_overwrites_unasked(tmp_path, tool_env, fake_base, rhcos_layer):
    first = rhcos_layer(["init", "--base", fake_base.pullspec, str(tmp_path / "p")], tmp_path)
    assert first.code == 0, first.err
    again = rhcos_layer(["init", "--base", fake_base.pullspec, str(tmp_path / "p")], tmp_path)
    assert again.code == 3
    assert "already exist(s): choose an empty folder or add --force" in again.err
    forced = rhcos_layer(["init", "--force", "--base", fake_base.pullspec, str(tmp_path / "p")], tmp_path)
    assert forced.code == 0


def test_init_with_a_tag_base_is_refused(tmp_path, tool_env, rhcos_layer):
    result = rhcos_layer(["init", "--base", "quay.io/x/rhcos:4.16", str(tmp_path / "p")], tmp_path)
    assert result.code == 3
    assert "--base: 'quay.io/x/rhcos:4.16' uses the tag '4.16'" in result.err
    assert not (tmp_path / "p").exists()


def test_init_without_a_base_writes_what_lint_and_build_refuse(tmp_path, tool_env, rhcos_layer):
    project = tmp_path / "p"
    made = rhcos_layer(["init", str(project)], tmp_path)
    assert made.code == 0, made.err
    assert "Warning: no --base or --release: set the base in rhcos-layer.yaml before building" in made.err
    assert "\nFROM RHCOS-BASE-NOT-SET\n" in (project / "Containerfile").read_text()
    assert "sha256:0000" not in (project / "Containerfile").read_text()
    linted = rhcos_layer(["lint"], project)
    assert linted.code == 3
    assert linted.out.splitlines() == [
        f"{project / 'Containerfile'}:4: error RL115 base-not-set: the base image is not set (init was given no"
        " --base or --release) (fix: set `base:` in rhcos-layer.yaml, or write the RHCOS image by digest here:"
        " `rhcos-layer resolve --release RELEASE` prints it)"]
    built = rhcos_layer(["build"], project)
    assert built.code == 3
    assert "Containerfile:4: FROM RHCOS-BASE-NOT-SET: the base image is not set" in built.err
    assert "Pulling" not in built.err and "STEP" not in built.err


def test_init_with_the_base_set_later_in_the_project_file_lints_clean(tmp_path, tool_env, fake_base, rhcos_layer):
    project = tmp_path / "p"
    assert rhcos_layer(["init", str(project)], tmp_path).code == 0
    with (project / "rhcos-layer.yaml").open("a") as handle:
        handle.write(f"base: {fake_base.pullspec}\n")
    linted = rhcos_layer(["lint"], project)
    assert linted.code == 0, linted.out + linted.err


def test_init_force_never_writes_through_a_symlink(tmp_path, rhcos_layer):
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours\n")
    project = tmp_path / "p"
    project.mkdir()
    (project / "Containerfile").symlink_to(outside)
    base = "quay.io/x/rhcos@sha256:" + "a" * 64
    forced = rhcos_layer(["init", "--force", "--base", base, str(project)], tmp_path)
    assert forced.code == 3
    assert forced.err.strip() == (f"Error: {project}: Containerfile is a symbolic link: init never writes through"
                                  " one; remove it, or choose another folder")
    assert outside.read_text() == "not yours\n"
    assert (project / "Containerfile").is_symlink()
    assert not (project / "rhcos-layer.yaml").exists()  # nothing half-written


def test_init_never_follows_a_dangling_symlink(tmp_path, rhcos_layer):
    project = tmp_path / "p"
    project.mkdir()
    (project / "rhcos-layer.yaml").symlink_to(tmp_path / "created-elsewhere.yaml")
    result = rhcos_layer(["init", "--base", "quay.io/x/rhcos@sha256:" + "a" * 64, str(project)], tmp_path)
    assert result.code == 3
    assert not (tmp_path / "created-elsewhere.yaml").exists()

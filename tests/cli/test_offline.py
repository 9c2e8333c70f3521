"""What the command line refuses before it touches Podman or a registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DIGEST = "sha256:" + "d" * 64
BASE = f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@{DIGEST}"


@pytest.mark.parametrize("args", [["--help"], ["upgrade", "--help"], ["upgrade", "plan", "--help"],
                                  ["upgrade", "apply", "--help"]])
def test_help_loads_no_heavy_module(args: list) -> None:
    code = (
        "import sys\n"
        "from rhcos_layer.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('podman', 'requests', 'urllib3', 'rich', 'yaml', 'kubernetes', 'jinja2')"
        " if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f"Usage: rhcos-layer {' '.join(args[:-1])}".rstrip() + " [OPTIONS]" in proc.stdout
    assert proc.stderr.strip() == "HEAVY="


def test_build_modules_leave_slow_imports_for_when_they_are_needed() -> None:
    """A no-op rebuild runs these modules only; the ones listed cost milliseconds to import
    (OpenSSL, socket.py's enums, tar/compression) and are imported where they are used."""
    code = (
        "import sys\n"
        "import rhcos_layer.cli, rhcos_layer.cli.build, rhcos_layer.build, rhcos_layer.adapters.engine\n"
        "import rhcos_layer.lint, rhcos_layer.context, rhcos_layer.project, rhcos_layer.terminal\n"
        "slow = ('hashlib', 'socket', 'shutil', 'traceback', 'tarfile', 'tempfile', 'subprocess',\n"
        "        'podman', 'requests', 'rich', 'yaml')\n"
        "sys.stderr.write('LOADED=' + ','.join(m for m in slow if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stderr.strip() == "LOADED="


def test_python_dash_m_runs_the_same_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "rhcos_layer", "--version"], capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.startswith("rhcos-layer, version ")


def test_tag_from_is_refused_with_line_and_exit_3(tmp_path: Path, run_cli) -> None:
    (tmp_path / "Containerfile").write_text("# layered\nFROM quay.io/openshift/rhcos:4.16\nRUN true\n")
    result = run_cli(["build"], tmp_path)
    assert result.code == 3
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: Containerfile:2: FROM 'quay.io/openshift/rhcos:4.16' uses the tag '4.16'")
    assert "Traceback" not in result.err


def test_malformed_digest_is_refused(tmp_path: Path, run_cli) -> None:
    (tmp_path / "Containerfile").write_text("FROM quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:1234\n")
    result = run_cli(["build"], tmp_path)
    assert result.code == 3
    assert "Containerfile:1: FROM" in result.err and "malformed digest 'sha256:1234'" in result.err


def test_missing_containerfile_is_refused(tmp_path: Path, run_cli) -> None:
    result = run_cli(["build", "-f", "nope/Containerfile"], tmp_path)
    assert result.code == 3
    assert result.err.startswith("Error: nope/Containerfile: no such Containerfile")


def test_base_flag_is_checked_like_from(tmp_path: Path, run_cli) -> None:
    (tmp_path / "Containerfile").write_text(f"FROM {BASE}\n")
    result = run_cli(["build", "--base", "quay.io/x/rhcos:latest"], tmp_path)
    assert result.code == 3
    assert result.err.startswith("Error: --base: 'quay.io/x/rhcos:latest' uses the tag 'latest'")


def test_project_file_errors_name_file_and_line(tmp_path: Path, run_cli) -> None:
    (tmp_path / "rhcos-layer.yaml").write_text(f"base: {BASE}\ncontainerfle: Containerfile\n")
    result = run_cli(["build"], tmp_path)
    assert result.code == 3
    assert result.err.startswith("Error: rhcos-layer.yaml:2: unknown key 'containerfle'")


def test_project_base_with_tag_names_the_key(tmp_path: Path, run_cli) -> None:
    (tmp_path / "rhcos-layer.yaml").write_text("image: quay.io/me/os\nbase: quay.io/x/rhcos:4.16\n")
    (tmp_path / "Containerfile").write_text(f"FROM {BASE}\n")
    result = run_cli(["build"], tmp_path)
    assert result.code == 3
    assert result.err.startswith("Error: rhcos-layer.yaml:2: base: 'quay.io/x/rhcos:4.16' uses the tag")


def test_on_cluster_containerfile_is_refused_for_local_builds(tmp_path: Path, run_cli) -> None:
    (tmp_path / "Containerfile").write_text("FROM configs AS final\nRUN rpm-ostree install tree\n")
    result = run_cli(["build"], tmp_path)
    assert result.code == 3
    assert "on-cluster Containerfile (MachineOSConfig)" in result.err


def test_push_without_build_or_destination_says_what_to_do(tmp_path: Path, run_cli) -> None:
    result = run_cli(["push"], tmp_path)
    assert result.code == 3
    assert result.err.startswith("Error: no IMAGE given and no build recorded for this project")
    assert "rhcos-layer build" in result.err


def test_push_to_a_digest_is_refused(tmp_path: Path, run_cli) -> None:
    result = run_cli(["push", "someimage", BASE], tmp_path)
    assert result.code == 3
    assert "has a digest: push to a repository or tag" in result.err


@pytest.mark.parametrize(
    "args, message",
    [
        (["build", "--secret", "id=ent"], "expected id=ID,src=FILE"),
        (["build", "--build-arg", "=x"], "expected NAME=VALUE"),
        (["push", "--retry-delay", "soon"], "give a duration like 500ms or 2s"),
        (["build", "--isolation", "vm"], "'vm' is not one of"),
    ],
)
def test_bad_flags_are_usage_errors(tmp_path: Path, run_cli, args, message) -> None:
    result = run_cli(args, tmp_path)
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


def test_bad_authfile_is_named_without_its_content(tmp_path: Path, run_cli) -> None:
    (tmp_path / "Containerfile").write_text(f"FROM {BASE}\n")
    secret = tmp_path / "pull-secret.json"
    secret.write_text('{"auths": {"quay.io": {"auth": "U0VOVElORUw="}}}')  # "SENTINEL", no colon
    result = run_cli(["build", "--authfile", str(secret)], tmp_path)
    assert result.code == 3
    assert f"--authfile {secret}: entry 'quay.io' has no usable auth" in result.err
    assert "U0VOVElORUw" not in result.err and "SENTINEL" not in result.err


def test_podman_spelling_of_tls_verify_is_accepted(tmp_path: Path, run_cli) -> None:
    result = run_cli(["push", "--tls-verify=false"], tmp_path)
    assert result.code == 3  # got past option parsing to the missing-build check
    assert "no IMAGE given" in result.err


def test_completion_script_is_printed(tmp_path: Path, run_cli) -> None:
    result = run_cli(["completion", "bash"], tmp_path)
    assert result.code == 0
    assert "_RHCOS_LAYER_COMPLETE=bash_complete" in result.out


def test_no_color_means_no_colour_codes(tmp_path: Path) -> None:
    # colour is drawn only on a terminal: stderr goes to a pseudo-terminal, or NO_COLOR could be
    # ignored and this would still pass. The first run shows the terminal does get colour. The live
    # display's cursor moves (hide, erase line) stay: NO_COLOR turns off colour, not the display.
    import re

    from tests.support.tty import run_with_tty_stderr

    colour = re.compile(r"\x1b\[[0-9;]*m")  # SGR: colours and text styles
    code, _, coloured = run_with_tty_stderr(["build"], tmp_path)
    assert code == 3 and "no such Containerfile" in coloured
    assert "\x1b[1;31mError:\x1b[0m" in coloured
    for env, args in (({"NO_COLOR": "1"}, ["build"]), ({}, ["--no-color", "build"])):
        code, _, plain = run_with_tty_stderr(args, tmp_path, env)
        assert code == 3 and "Error: Containerfile: no such Containerfile" in plain
        assert colour.findall(plain) == []


def test_push_image_named_for_a_registry_needs_no_destination(tmp_path: Path, run_cli, monkeypatch) -> None:
    # podman's rule: `push IMAGE` sends a registry-named image to its own name. No Podman answers at
    # CONTAINER_HOST here: an error about the engine shows the destination was settled without one
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{tmp_path}/no-podman.sock")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    named = run_cli(["push", "registry.example.com/ops/layered:1"], tmp_path)
    assert named.code == 9, named.err
    assert named.err.startswith(f"Error: no Podman service answers at CONTAINER_HOST=unix://{tmp_path}/no-podman.sock")
    # localhost is not a registry the image can go to: that one needs a DESTINATION
    local = run_cli(["push", "localhost/only-local:1"], tmp_path)
    assert local.code == 3
    assert local.err.startswith("Error: no DESTINATION given and the project file has no `image:`")


def test_push_takes_image_as_the_destination(tmp_path: Path, run_cli, monkeypatch) -> None:
    # --image names where to push, as in init and the project file's image: (not a usage error)
    monkeypatch.setenv("CONTAINER_HOST", f"unix://{tmp_path}/no-podman.sock")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    flagged = run_cli(["push", "localhost/only-local:1", "--image", "registry.example.com/ops/layered"], tmp_path)
    assert flagged.code == 9, flagged.err  # past the destination, at the (missing) engine
    assert "no DESTINATION given" not in flagged.err
    both = run_cli(["push", "img", "registry.example.com/a", "--image", "registry.example.com/b"], tmp_path)
    assert both.code == 2
    assert "give the destination once: as DESTINATION or as --image, not both" in both.err
    same = run_cli(["push", "localhost/x:1", "registry.example.com/a", "--image", "registry.example.com/a"], tmp_path)
    assert same.code == 9, same.err
    pinned = run_cli(["push", "img", "--image", BASE], tmp_path)
    assert pinned.code == 3
    assert pinned.err.startswith(f"Error: --image: '{BASE}' has a digest: give the repository (and tag) to push to")
    bad = run_cli(["push", "img", "--image", "registry.example.com/Ops/layered"], tmp_path)
    assert bad.code == 3
    assert bad.err.startswith("Error: --image: 'registry.example.com/Ops/layered': "), bad.err


def test_build_stops_on_lint_errors_before_touching_podman(tmp_path: Path, run_cli) -> None:
    (tmp_path / "Containerfile").write_text(f"FROM {BASE}\nCOPY redhat.repo /etc/yum.repos.d/\nRUN true\n")
    result = run_cli(["build"], tmp_path)
    assert result.code == 3
    assert "Error: Containerfile:2: RL108 entitlement-in-image:" in result.err
    assert "--skip-lint" in result.err


def test_lint_command_reports_and_exits(tmp_path: Path, run_cli) -> None:
    import json

    (tmp_path / "Containerfile").write_text(f"FROM {BASE}\nADD https://example.com/x /etc/x\n")
    warned = run_cli(["lint"], tmp_path)
    assert warned.code == 0
    assert warned.out.startswith("Containerfile:2: warning RL109 add-remote-url: ")
    (tmp_path / "Bad").write_text("FROM quay.io/x/y:1\nARG GITHUB_TOKEN\n")
    failed = run_cli(["lint", "Bad", "-o", "json"], tmp_path)
    assert failed.code == 3
    report = json.loads(failed.out)
    assert [(f["rule"], f["line"]) for f in report["findings"]] == [("RL101", 1), ("RL110", 2)]
    assert report["on_cluster"] is False


def test_schema_describes_every_project_key(tmp_path: Path, run_cli) -> None:
    import json

    from rhcos_layer.project import FIELDS

    result = run_cli(["schema"], tmp_path)
    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(FIELDS)
    base = schema["properties"]["base"]["oneOf"]
    assert base[1] == {"const": "cluster"}
    assert base[2]["required"] == ["release"]


def test_render_uses_the_last_push_and_prints_yaml_documents(tmp_path: Path, run_cli) -> None:
    import json

    import yaml

    image = "registry.example.com/ops/rhcos-layered@sha256:" + "e" * 64
    none = run_cli(["render", "--pool", "worker"], tmp_path)
    assert none.code == 3 and "no --image given and no push recorded" in none.err
    state = {"build": {"image_id": "f" * 64, "base": BASE, "inputs_digest": "sha256:" + "1" * 64},
             "push": {"image_id": "f" * 64, "pullspec": image}}
    (tmp_path / ".rhcos-layer.state.json").write_text(json.dumps(state))
    result = run_cli(["render", "--pool", "worker", "--pool", "infra"], tmp_path)
    assert result.code == 0, result.err
    docs = list(yaml.safe_load_all(result.out))
    assert [d["metadata"]["name"] for d in docs] == ["99-zz-rhcos-layer-0-worker", "99-zz-rhcos-layer-1-infra"]
    assert {d["spec"]["osImageURL"] for d in docs} == {image}
    assert docs[0]["metadata"]["annotations"]["rhcos-layer.io/base-image"] == BASE
    as_json = json.loads(run_cli(["render", "--pool", "worker", "-o", "json"], tmp_path).out)
    assert as_json["kind"] == "List" and as_json["items"][0]["spec"]["osImageURL"] == image
    tagged = run_cli(["render", "--pool", "worker", "--image", "quay.io/x/y:latest"], tmp_path)
    assert tagged.code == 3 and "--image: 'quay.io/x/y:latest' uses the tag 'latest'" in tagged.err


def test_render_names_the_project_not_the_workstations_path(tmp_path: Path, run_cli) -> None:
    import json

    import yaml

    image = "registry.example.com/ops/rhcos-layered@sha256:" + "e" * 64
    project = tmp_path / "home" / "alice" / "my-layer"
    project.mkdir(parents=True)
    (project / "rhcos-layer.yaml").write_text("image: registry.example.com/ops/rhcos-layered\n")
    state = {"build": {"image_id": "f" * 64, "base": BASE}, "push": {"image_id": "f" * 64, "pullspec": image}}
    (project / ".rhcos-layer.state.json").write_text(json.dumps(state))
    for cwd, args in ((project, []), (tmp_path, ["--project", str(project / "rhcos-layer.yaml")])):
        result = run_cli(["render", "--pool", "worker", *args], cwd)
        assert result.code == 0, result.err
        [doc] = yaml.safe_load_all(result.out)
        assert doc["metadata"]["annotations"]["rhcos-layer.io/project"] == "my-layer"
        assert "alice" not in result.out and str(tmp_path) not in result.out


def test_every_listed_command_exists() -> None:
    import importlib

    import click

    from rhcos_layer.cli import COMMANDS, cli

    for name, (module, attribute, _) in COMMANDS.items():
        command = getattr(importlib.import_module(f"rhcos_layer.cli.{module}"), attribute)
        assert isinstance(command, click.Command) and command.name == name
        assert cli.get_command(click.Context(cli), name) is command


def test_the_wheel_ships_the_templates(tmp_path: Path) -> None:
    import zipfile

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                           "-w", str(tmp_path), str(root)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    # the build backend warns about nothing in pyproject.toml (a first install once printed ~139 lines
    # of them); its lower-case notices about the environment (byte-compiling disabled) are not ours
    import re

    warnings = [line.strip() for line in (proc.stdout + proc.stderr).splitlines()
                if re.search(r"[A-Za-z_]*Warning: ", line)]
    assert warnings == []
    [wheel] = tmp_path.glob("rhcos_layer-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for template in ("config-files", "hotfix", "kernel", "on-cluster", "rhel-packages", "third-party"):
        assert f"rhcos_layer/containerfiles/{template}/Containerfile" in names
    assert "rhcos_layer/containerfiles/config-files/layered-motd.service" in names


def test_help_needs_no_docs_folder() -> None:
    """A pip-installed user has no docs/: help must carry its lists itself (exit codes, lint rules,
    templates) rather than point there."""
    import re

    from click.testing import CliRunner

    from rhcos_layer import errors
    from rhcos_layer.cli import COMMANDS, cli
    from rhcos_layer.templates import SUMMARIES

    runner = CliRunner()
    pages = {name: runner.invoke(cli, [*([name] if name else []), "--help"], catch_exceptions=False).output
             for name in ["", *COMMANDS]}
    for name, page in pages.items():
        assert "docs/" not in page and ".md" not in page, name
    codes = {cls.exit_code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.RhcosLayerError)}
    listed = pages[""].split("Exit codes:", 1)[1].split("Options:", 1)[0]
    for code in codes | {0, 2}:
        assert re.search(rf"(^|\s){code} \w", listed), code
    source = (Path(__file__).resolve().parents[2] / "rhcos_layer" / "lint.py").read_text()
    rules = set(re.findall(r'self\.add\("(RL\d+)", "([a-z-]+)"', source))
    assert len(rules) >= 11
    for rule, slug in rules:
        assert f"{rule} {slug}" in pages["lint"]
    for template, summary in SUMMARIES.items():
        assert re.search(rf"{template}\s+{re.escape(summary[:30])}", " ".join(pages["init"].split())), template

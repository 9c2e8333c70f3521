"""What a person sees: rich progress on a terminal, plain lines in a pipe, nothing with -q."""

from __future__ import annotations

from tests.integration.conftest import write_project
from tests.support.tty import run_with_tty_stderr


def test_terminal_gets_live_progress_and_stdout_only_the_id(tmp_path, tool_env, fake_base, rhcos_layer):
    # content of its own: the session's store must not hold an image with the same inputs
    project = write_project(tmp_path / "tty", fake_base.pullspec, "RUN rpm-ostree install tty-progress\n")
    code, out, screen = run_with_tty_stderr(["build"], project)
    assert code == 0, screen
    assert len(out.strip()) == 64  # the image ID, alone on stdout
    assert "STEP 2/3: RUN rpm-ostree install tty-progress" in screen
    assert "\x1b[" in screen  # drawn, not printed


def test_pipe_gets_plain_lines_and_quiet_gets_none(tmp_path, tool_env, fake_base, rhcos_layer):
    run = "RUN rpm-ostree install plain-progress && ostree container commit"
    project = write_project(tmp_path / "plain", fake_base.pullspec, run + "\n")
    plain = rhcos_layer(["build"], project)
    assert plain.code == 0, plain.err
    assert "\x1b[" not in plain.err
    assert [line for line in plain.err.splitlines() if line.startswith("STEP ")][:2] == [
        f"STEP 1/3: FROM {fake_base.pullspec}", f"STEP 2/3: {run}"]
    quiet = rhcos_layer(["-q", "build", "--no-cache"], project)
    assert quiet.code == 0, quiet.err
    assert quiet.err == ""
    assert len(quiet.last_line) == 64


def test_multi_stage_steps_are_shown_with_their_stage(tmp_path, tool_env, fake_base, rhcos_layer):
    body = (f"RUN echo built > /artifact\nFROM {fake_base.pullspec}\nCOPY --from=0 /artifact /usr/share/artifact\n"
            "RUN rpm-ostree install multi-stage && ostree container commit\n")
    project = write_project(tmp_path / "multi", fake_base.pullspec, body)
    result = rhcos_layer(["build"], project)
    assert result.code == 0, result.err
    steps = [line for line in result.err.splitlines() if "STEP " in line]
    assert steps[0] == f"[1/2] STEP 1/2: FROM {fake_base.pullspec}"
    assert "[2/2] STEP 3/4: RUN rpm-ostree install multi-stage && ostree container commit" in steps

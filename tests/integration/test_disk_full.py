"""A full TMPDIR, for real (a 1 MiB tmpfs): one clear line naming the folder, never a traceback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from tests.support.payload import push_release_payload

from .conftest import write_project


@pytest.fixture
def tiny_tmpdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A 1 MiB tmpfs to be TMPDIR (root can mount one; the rig runs as root)."""
    folder = tmp_path_factory.mktemp("tiny-tmp")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=1777", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_build_with_a_full_tmpdir(tmp_path, tool_env, fake_base, tiny_tmpdir, rhcos_layer):
    # a context past the 64 MiB kept in memory: the rest goes to TMPDIR, which has 1 MiB
    project = write_project(tmp_path / "big", fake_base.pullspec, "COPY blob /usr/share/blob\n")
    with (project / "blob").open("wb") as handle:
        for _ in range(66):
            handle.write(os.urandom(1 << 20))
    result = rhcos_layer(["build", "--skip-lint"], project, {"TMPDIR": str(tiny_tmpdir)})
    assert result.code == 16, result.err
    assert result.err.splitlines()[-2:] == [
        f"Error: no space left in {tiny_tmpdir} while writing a temporary or state file",
        "  hint: free some space there, or set TMPDIR to a folder on a disk with room"]
    assert "Traceback" not in result.err
    assert os.listdir(tiny_tmpdir) == []


def test_resolve_with_a_full_tmpdir(tmp_path, tool_env, registry, tiny_tmpdir, rhcos_layer):
    # 9 MiB that do not compress: the download spills from memory to TMPDIR past 8 MiB, and 1 MiB is all it has
    noise = os.urandom(9 << 20)
    payload = push_release_payload(registry, "4.16.3", repo="openshift/big", manifest_files={"0000_00_big.bin": noise})
    result = rhcos_layer(["resolve", "--release", payload.pullspec_tag, "--cert-dir", str(registry.cert_dir)],
                         tmp_path, {"TMPDIR": str(tiny_tmpdir)})
    assert result.code == 16, result.err
    assert result.err == (f"Error: no space left in {tiny_tmpdir} while writing a temporary or state file\n"
                          "  hint: free some space there, or set TMPDIR to a folder on a disk with room\n")
    assert os.listdir(tiny_tmpdir) == []

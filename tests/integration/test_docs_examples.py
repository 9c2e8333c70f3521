"""The OpenShift docs' out-of-cluster Containerfile examples build as users copy them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "docs-examples"
# The docs' hotfix example replaces haproxy, which RHCOS does not ship (it runs in a container there).
NOT_IN_BASE = {"hotfix": "haproxy"}
OUT_OF_CLUSTER = sorted(p for p in EXAMPLES.glob("*.Containerfile") if not p.stem.endswith("on-cluster"))


@pytest.mark.parametrize("example", OUT_OF_CLUSTER, ids=lambda p: p.stem)
def test_docs_example_builds_on_the_fake_base(example, tmp_path, tool_env, fake_base, rhcos_layer):
    project = tmp_path / example.stem
    project.mkdir()
    shutil.copy(example, project / "Containerfile")
    (project / "my-host-to-host.conf").write_text("conn host-to-host\n")  # the libreswan example's COPY
    result = rhcos_layer(["build", "--base", fake_base.pullspec], project)
    missing = NOT_IN_BASE.get(example.stem)
    if missing:
        # rpm-ostree replaces only packages the base has: the build stops at that step, with its message
        assert result.code == 8, result.err
        assert f'Package "{missing}" not found in base' in result.err
        assert 'building at STEP "RUN rpm-ostree override replace' in result.err
        return
    assert result.code == 0, result.err
    assert "Error" not in result.err
    assert "STEP 1/" in result.err and fake_base.pullspec in result.err


def test_on_cluster_examples_are_refused_for_local_builds_but_lint_clean(tmp_path, tool_env, rhcos_layer):
    example = EXAMPLES / "cowsay-on-cluster.Containerfile"
    linted = rhcos_layer(["lint", str(example)], tmp_path)
    assert linted.code == 0, linted.err
    built = rhcos_layer(["build", "-f", str(example)], tmp_path)
    assert built.code == 3
    assert "on-cluster Containerfile (MachineOSConfig)" in built.err

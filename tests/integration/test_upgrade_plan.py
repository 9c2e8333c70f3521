"""upgrade plan for real: podman, the TLS + password registry, fake bases per release, the emulated cluster."""

from __future__ import annotations

import json

from rhcos_layer.adapters import engine as engine_mod
from tests.integration.conftest import write_project

RPM_STUB = """#!/bin/sh
# answers as rpm does for the queries upgrade plan makes
case "$1" in
  -qf) shift; for f in "$@"; do case "$f" in
         /usr/bin/kubelet) echo openshift-kubelet-1.29.6-202406.el9.x86_64 ;;
         *) echo "file $f is not owned by any package"; rc=1 ;; esac; done; exit ${rc:-0} ;;
  -q) shift; for p in "$@"; do echo "package $p is not installed"; done; exit 1 ;;
esac
cat /proc/net/dev
"""


def test_rpm_query_runs_offline_in_a_container_that_is_removed(tmp_path, tool_env, fake_base, registry,
                                                                podman_service, rhcos_layer):
    folder = write_project(tmp_path / "rpmq", fake_base.pullspec, "RUN rm -f /usr/bin/rpm\nCOPY rpm /usr/bin/rpm\n")
    (folder / "rpm").write_text(RPM_STUB)
    (folder / "rpm").chmod(0o755)
    env = dict(podman_service.store.env, CONTAINER_HOST=podman_service.url)
    built = rhcos_layer(["build", "-o", "json"], folder, env)
    assert built.code == 0, built.err
    image = json.loads(built.out)["image_id"]
    before = podman_service.store.podman("ps", "-aq").stdout
    with engine_mod.Engine(podman_service.url) as engine:
        answers = engine.rpm_query(image, [["-qf", "/usr/bin/kubelet", "/usr/bin/crio"], ["-q", "kernel"],
                                           ["--version"]])
    assert answers[0] == (1, "openshift-kubelet-1.29.6-202406.el9.x86_64\n"
                             "file /usr/bin/crio is not owned by any package\n")
    assert answers[1] == (1, "package kernel is not installed\n")
    code, net = answers[2]
    # no network namespace of its own but loopback: --network none
    devices = [line.split(":")[0].strip() for line in net.splitlines()[2:]]
    assert (code, devices) == (0, ["lo"])
    assert podman_service.store.podman("ps", "-aq").stdout == before

"""push --image REPOSITORY[:TAG]: the destination, spelled as init and the project file spell it."""

from __future__ import annotations

import json

from tests.integration.conftest import write_project


def test_push_image_flag_sends_the_build_there(tmp_path, tool_env, fake_base, registry, rhcos_layer):
    # the project file names another repository: --image wins over it, as DESTINATION would
    project = write_project(tmp_path / "flag", fake_base.pullspec, "RUN rpm-ostree install push-image-flag\n",
                            image=f"{registry.host}/layered/from-file")
    built = rhcos_layer(["build", "-o", "json"], project)
    assert built.code == 0, built.err
    pushed = rhcos_layer(["push", "--image", f"{registry.host}/layered/from-flag:v1", "-o", "json"], project)
    assert pushed.code == 0, pushed.err
    result = json.loads(pushed.out)
    assert result["destination"] == f"{registry.host}/layered/from-flag:v1"
    assert result["pullspec"] == f"{registry.host}/layered/from-flag@{result['digest']}"
    assert registry.manifest_digest("layered/from-flag", "v1") == result["digest"]
    assert result["image_id"] == json.loads(built.out)["image_id"]

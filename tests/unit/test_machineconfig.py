"""The MachineConfig render writes: valid for the real CRD, and winning the MCO's merge."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rhcos_layer import machineconfig
from rhcos_layer.errors import InvalidInput
from rhcos_layer.pools import merge_order

IMAGE = "registry.example.com/ops/rhcos-layered@sha256:" + "b" * 64
CRD = Path(__file__).resolve().parents[1] / "data" / "crds" / "machineconfigs.crd.yaml"


def _crd_schema() -> dict:
    crd = yaml.safe_load(CRD.read_text())
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return version["schema"]["openAPIV3Schema"]


def test_rendered_config_is_valid_for_the_real_crd() -> None:
    import jsonschema  # a test dependency ('.[test]'): missing, the test must fail, not skip

    mc = machineconfig.render("worker", IMAGE, base="quay.io/x/rhcos@sha256:" + "c" * 64,
                              inputs_digest="sha256:" + "d" * 64, project="layer")
    jsonschema.validate(mc, _crd_schema())
    assert mc["spec"] == {"osImageURL": IMAGE}
    assert mc["metadata"]["labels"] == {"machineconfiguration.openshift.io/role": "worker",
                                        "app.kubernetes.io/managed-by": "rhcos-layer"}
    assert mc["metadata"]["annotations"]["rhcos-layer.io/base-image"].endswith("c" * 64)


def test_a_wrong_field_would_fail_the_same_schema() -> None:
    import jsonschema  # a test dependency ('.[test]'): missing, the test must fail, not skip

    mc = machineconfig.render("worker", IMAGE)
    mc["spec"]["osImageURL"] = ["not", "a", "string"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(mc, _crd_schema())


def test_tags_are_refused() -> None:
    with pytest.raises(InvalidInput, match="uses the tag 'latest'.*a tag can move"):
        machineconfig.render("worker", "registry.example.com/ops/rhcos-layered:latest")


def _mc(name: str) -> dict:
    return {"metadata": {"name": name}}


def test_names_sort_after_the_pools_usual_configs_and_custom_pools_after_worker() -> None:
    usual = ["00-worker", "01-worker-container-runtime", "01-worker-kubelet", "97-worker-generated-kubelet",
             "98-worker-generated-kubelet", "99-worker-generated-registries", "99-worker-ssh",
             "99-worker-fips", "99-infra-generated-registries"]
    ours = [machineconfig.name_for("worker"), machineconfig.name_for("infra")]
    ordered = [mc["metadata"]["name"] for mc in merge_order("worker", [_mc(n) for n in usual + ours])]
    # a custom pool merges worker's configs first, then its own: its image must come last
    assert ordered[-2:] == ["99-zz-rhcos-layer-0-worker", "99-zz-rhcos-layer-1-infra"]


@pytest.mark.parametrize("pool", ["Worker", "a_b", "", "x" * 41])
def test_bad_pool_names(pool: str) -> None:
    with pytest.raises(InvalidInput, match="not a machine config pool name"):
        machineconfig.name_for(pool)


@pytest.mark.parametrize("obj, ours", [
    (machineconfig.render("worker", "quay.io/a/b@sha256:" + "0" * 64), True),
    ({"kind": "MachineOSConfig", "metadata": {"labels": {"app.kubernetes.io/managed-by": "rhcos-layer"}}}, True),
    ({"metadata": {"labels": {"app.kubernetes.io/managed-by": "someone-else"}}}, False),
    # what a proxy or a hand-written object may send: not ours, never a TypeError
    ({"metadata": ["labels"]}, False), ({"metadata": {"labels": "rhcos-layer"}}, False), (None, False), ([], False),
])
def test_one_managed_by_check_for_every_object_and_shape(obj: object, ours: bool) -> None:
    assert machineconfig.is_managed(obj) is ours

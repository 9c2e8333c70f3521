"""resolve, build and lint asking an (emulated) OpenShift API, as after `oc login`."""

from __future__ import annotations

import json

import pytest

from tests.integration.conftest import write_project
from tests.support.kube import seed_openshift


@pytest.fixture
def logged_in(kubeconfig, tool_env, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    return kubeconfig


def test_resolve_asks_the_cluster_by_default(tmp_path, kube_api, logged_in, rhcos_layer):
    seed = seed_openshift(kube_api)
    result = rhcos_layer(["resolve", "-o", "json"], tmp_path)
    assert result.code == 0, result.err
    info = json.loads(result.out)
    assert info["os_image"] == seed.base_image
    assert info["source"] == "cluster"
    assert info["version"] == seed.version
    assert info["extensions_image"] == seed.extensions_image
    assert info["target_version"] is None


def test_resolve_during_an_upgrade_says_which_is_which(tmp_path, kube_api, logged_in, rhcos_layer):
    seed = seed_openshift(kube_api)
    cv = kube_api.store.get("clusterversions", "version")
    target_image = "quay.io/openshift-release-dev/ocp-release@sha256:" + "9" * 64
    cv["status"]["desired"] = {"version": "4.16.4", "image": target_image}
    cv["status"]["history"].insert(0, {"state": "Partial", "version": "4.16.4", "image": target_image})
    kube_api.store.put(cv)
    result = rhcos_layer(["resolve"], tmp_path)
    assert result.code == 0, result.err
    assert result.out.strip() == seed.base_image
    assert f"the cluster is upgrading from {seed.version} to 4.16.4" in result.err
    assert f"rhcos-layer resolve --release {target_image}" in result.err


def test_expired_login_and_missing_permission(tmp_path, kube_api, logged_in, rhcos_layer):
    seed_openshift(kube_api)
    kube_api.forbid("get", "configmaps")
    forbidden = rhcos_layer(["resolve"], tmp_path)
    assert forbidden.code == 10, forbidden.err
    assert "not allowed to get configmap openshift-machine-config-operator/machine-config-osimageurl" in forbidden.err
    kube_api.expire_token()
    expired = rhcos_layer(["resolve"], tmp_path)
    assert expired.code == 10, expired.err
    assert "rejected the login (HTTP 401)" in expired.err and "oc login" in expired.err


def test_unreachable_cluster(tmp_path, kube_api, logged_in, rhcos_layer):
    kube_api.stop()
    result = rhcos_layer(["resolve"], tmp_path)
    assert result.code == 11, result.err
    assert "did not answer" in result.err


def test_no_login_and_no_release(tmp_path, tool_env, rhcos_layer):
    result = rhcos_layer(["resolve"], tmp_path, {"KUBECONFIG": str(tmp_path / "none")})
    assert result.code == 3
    assert "give the release (--release PULLSPEC), or log in to the cluster" in result.err


def test_build_on_the_clusters_base(tmp_path, kube_api, logged_in, fake_base, rhcos_layer):
    seed_openshift(kube_api, base_image=fake_base.pullspec)
    project = write_project(tmp_path / "cluster-base", "quay.io/placeholder/rhcos@sha256:" + "0" * 64,
                            "RUN rpm-ostree install cluster-base && ostree container commit\n")
    (project / "rhcos-layer.yaml").write_text("base: cluster\n")
    result = rhcos_layer(["build", "-o", "json"], project)
    assert result.code == 0, result.err
    assert json.loads(result.out)["base"] == fake_base.pullspec


def test_lint_against_the_pool_turns_conflicts_into_errors(tmp_path, kube_api, logged_in, rhcos_layer):
    seed = seed_openshift(kube_api)
    kube_api.store.put({"apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineConfig",
                        "metadata": {"name": "50-worker-usbguard",
                                     "labels": {"machineconfiguration.openshift.io/role": "worker"}},
                        "spec": {"extensions": ["usbguard"]}})
    project = write_project(tmp_path / "lint-pool", seed.base_image,
                            "RUN rpm-ostree install usbguard && ostree container commit\n")
    offline = rhcos_layer(["lint"], project)
    assert offline.code == 0 and "warning RL105" in offline.out
    against = rhcos_layer(["lint", "--pool", "worker"], project)
    assert against.code == 3, against.out + against.err
    assert "error RL105 extension-rpm: layering usbguard: pool worker already has the MachineConfig extension" \
        " usbguard" in against.out
    master = rhcos_layer(["lint", "--pool", "master"], project)
    assert master.code == 0, master.out + master.err


def test_a_wrong_cluster_ca_is_an_untrusted_certificate(tmp_path, kube_api, rhcos_layer):
    # a kubeconfig whose CA is another one than the API server's (an old login, a re-installed cluster)
    import base64

    import yaml

    from tests.support.kube import make_cert

    seed_openshift(kube_api)
    other_ca, _ = make_cert(tmp_path / "other-ca")
    path = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    config = yaml.safe_load(path.read_text())
    config["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(other_ca.read_bytes()).decode()
    path.write_text(yaml.safe_dump(config))
    result = rhcos_layer(["status"], tmp_path, {"KUBECONFIG": str(path), "HOME": str(tmp_path)})
    assert result.code == 10, result.err
    assert f"Error: the API server {kube_api.url}: untrusted certificate (" in result.err
    assert "did not answer" not in result.err
    assert "certificate-authority" in result.err  # the hint says what to fix
    assert kube_api.token not in result.err


def test_the_right_ca_still_works_with_status(tmp_path, kube_api, rhcos_layer):
    seed_openshift(kube_api)
    path = kube_api.write_kubeconfig(tmp_path / "kubeconfig")
    result = rhcos_layer(["status"], tmp_path, {"KUBECONFIG": str(path), "HOME": str(tmp_path)})
    assert result.code == 0, result.err
    assert "worker" in result.out

"""`render --on-cluster` and `lint --on-cluster` through the real entry point; the emulated
cluster picks the API version and accepts what render prints, created with the real kubectl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.kube import KubeAPI, seed_openshift

BASE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "a" * 64
CONTAINERFILE = (f"# base: replaced by the cluster's\nFROM {BASE}\nCOPY motd /etc/motd\n"
                 "RUN rpm-ostree install htop && \\\n    ostree container commit\n")
PROJECT = "image: registry.example.com/ops/rhcos-layered\non-cluster:\n  push-secret: push-creds\n"
CONTENT = ("FROM configs AS final\nRUN mkdir -p /etc && echo aGVsbG8K | base64 -d > /etc/motd && chmod 0644 /etc/motd\n"
           "RUN rpm-ostree install htop && \\\n    ostree container commit\n")


@pytest.fixture
def layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "my-layer"
    folder.mkdir()
    (folder / "Containerfile").write_text(CONTAINERFILE)
    (folder / "rhcos-layer.yaml").write_text(PROJECT)
    (folder / "motd").write_text("hello\n")
    # no login to find unless a test gives one
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    return folder


def test_offline_render_prints_a_v1_machineosconfig_with_a_note(layer: Path, run_cli) -> None:
    result = run_cli(["render", "--on-cluster", "--pool", "worker"], layer)
    assert result.code == 0, result.err
    assert "note: no cluster login to ask which MachineOSConfig version it serves: rendering v1" in result.err
    assert "warning RL118 copy-local-file" in result.err
    [doc] = yaml.safe_load_all(result.out)
    assert doc == {
        "apiVersion": "machineconfiguration.openshift.io/v1", "kind": "MachineOSConfig",
        "metadata": {"name": "worker", "labels": {"app.kubernetes.io/managed-by": "rhcos-layer"},
                     "annotations": {"rhcos-layer.io/project": "my-layer"}},
        "spec": {"machineConfigPool": {"name": "worker"}, "imageBuilder": {"imageBuilderType": "Job"},
                 "renderedImagePushSecret": {"name": "push-creds"},
                 "renderedImagePushSpec": "registry.example.com/ops/rhcos-layered:worker",
                 "containerFile": [{"containerfileArch": "NoArch", "content": CONTENT}]},
    }
    # the content is printed as a literal block, readable as the Containerfile it is
    assert "    content: |\n      FROM configs AS final\n" in result.out


def test_flags_override_the_project_file_and_json_is_a_list(layer: Path, run_cli) -> None:
    result = run_cli(["render", "--on-cluster", "--pool", "infra", "--api-version", "v1alpha1", "--push-secret",
                      "other-push", "--pull-secret", "pull-copy", "--push-spec", "quay.example.com/a/b:c", "-o",
                      "json"], layer)
    assert result.code == 0, result.err
    listing = json.loads(result.out)
    [doc] = listing["items"]
    assert listing["kind"] == "List" and doc["apiVersion"] == "machineconfiguration.openshift.io/v1alpha1"
    inputs = doc["spec"]["buildInputs"]
    assert inputs["renderedImagePushSecret"] == {"name": "other-push"}
    assert inputs["baseImagePullSecret"] == {"name": "pull-copy"}
    assert inputs["renderedImagePushspec"] == "quay.example.com/a/b:c"
    assert inputs["containerFile"] == [{"containerfileArch": "noarch", "content": CONTENT}]


def test_refusals_name_the_flag(layer: Path, run_cli) -> None:
    image = "registry.example.com/ops/rhcos-layered@sha256:" + "e" * 64
    both = run_cli(["render", "--on-cluster", "--pool", "worker", "--image", image], layer)
    assert both.code == 3 and "Error: --image cannot be used with --on-cluster" in both.err
    stray = run_cli(["render", "--pool", "worker", "--push-secret", "x"], layer)
    assert stray.code == 3 and "Error: --push-secret is for --on-cluster" in stray.err
    (layer / "rhcos-layer.yaml").write_text("image: registry.example.com/ops/rhcos-layered\n")
    nosecret = run_cli(["render", "--on-cluster", "--pool", "worker"], layer)
    assert nosecret.code == 3
    assert "Error: on-cluster layering needs the Secret the cluster pushes the image with" in nosecret.err
    alpha = run_cli(["render", "--on-cluster", "--pool", "worker", "--push-secret", "p", "--api-version",
                     "v1alpha1"], layer)
    assert alpha.code == 3 and "v1alpha1 needs a pull secret for the base image" in alpha.err
    assert alpha.out == ""


def test_lint_errors_stop_render_with_exit_3(layer: Path, run_cli) -> None:
    (layer / "Containerfile").write_text(f"FROM {BASE}\nCOPY *.conf /etc/\nRUN ostree container commit\n")
    result = run_cli(["render", "--on-cluster", "--pool", "worker"], layer)
    assert result.code == 3
    assert result.out == ""
    assert "Error: Containerfile:2: error RL118 copy-local-file: COPY *.conf /etc/: an on-cluster build has no" \
           " build context" in result.err
    linted = run_cli(["lint", "--on-cluster"], layer)
    assert linted.code == 3
    assert linted.out.startswith("Containerfile:2: error RL118 copy-local-file:")
    assert "Error: Containerfile: 1 error(s) found by lint --on-cluster" in linted.err
    as_json = run_cli(["lint", "--on-cluster", "-o", "json"], layer)
    found = json.loads(as_json.out)["findings"]
    assert [(f["file"], f["rule"], f["line"]) for f in found] == [("Containerfile", "RL118", 2)]


def test_lint_on_cluster_passes_the_docs_on_cluster_examples(tmp_path: Path, run_cli) -> None:
    examples = Path(__file__).resolve().parents[1] / "data" / "docs-examples"
    for example in sorted(examples.glob("*-on-cluster.Containerfile")):
        result = run_cli(["lint", "--on-cluster", str(example)], tmp_path)
        assert result.code == 0, (example.name, result.out, result.err)


@pytest.mark.parametrize("version,feature_set,served", [
    ("4.19.2", "", "v1"),
    ("4.16.3", "TechPreviewNoUpgrade", "v1alpha1"),
])
def test_the_cluster_picks_the_version_and_kubectl_creates_it(layer: Path, run_cli, kube_api: KubeAPI,
                                                              kubeconfig: Path, kubectl, version: str,
                                                              feature_set: str, served: str) -> None:
    seed_openshift(kube_api, version=version, feature_set=feature_set)
    (layer / "rhcos-layer.yaml").write_text(PROJECT + "  pull-secret: pull-copy\n")
    result = run_cli(["render", "--on-cluster", "--pool", "worker", "--kubeconfig", str(kubeconfig)], layer)
    assert result.code == 0, result.err
    assert f"serves MachineOSConfig {served}" in result.err
    [doc] = yaml.safe_load_all(result.out)
    assert doc["apiVersion"] == f"machineconfiguration.openshift.io/{served}"
    created = kubectl("create", "-f", "-", "-o", "json", input=result.out)
    assert created.returncode == 0, created.stderr
    stored = json.loads(created.stdout)
    assert stored["metadata"]["name"] == "worker"
    assert stored["spec"] == doc["spec"]  # nothing pruned: every field is one the server knows


def test_a_cluster_without_machineosconfig_is_named(layer: Path, run_cli, kube_api: KubeAPI,
                                                    kubeconfig: Path) -> None:
    seed_openshift(kube_api, version="4.16.3")  # no Tech Preview: not served
    result = run_cli(["render", "--on-cluster", "--pool", "worker", "--kubeconfig", str(kubeconfig)], layer)
    assert result.code == 17
    assert "serves no MachineOSConfig: on-cluster layering needs OpenShift 4.19" in result.err
    given = run_cli(["render", "--on-cluster", "--pool", "worker", "--kubeconfig", str(kubeconfig),
                     "--api-version", "v1"], layer)
    assert given.code == 0, given.err

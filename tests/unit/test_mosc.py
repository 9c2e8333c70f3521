"""The MachineOSConfig render writes: valid for the real CRDs (v1 and v1alpha1), schema and CEL rules."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import pytest
import yaml

from rhcos_layer import mosc
from rhcos_layer import project as project_mod
from rhcos_layer.errors import ContainerfileError, InvalidInput, ProjectFileError

CRDS = Path(__file__).resolve().parents[1] / "data" / "crds"
BASE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "a" * 64
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _crd(version: str) -> Dict[str, Any]:
    name = "machineosconfigs.crd.yaml" if version == "v1" else "machineosconfigs-v1alpha1.crd.yaml"
    crd = yaml.safe_load((CRDS / name).read_text())
    [found] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return dict(found["schema"]["openAPIV3Schema"])


def _go_regex(pattern: str) -> re.Pattern[str]:
    # CEL matches() is RE2 with search semantics; these patterns are anchored and RE2-compatible
    return re.compile(pattern)


def _dns1123(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 253 and bool(DNS1123_SUBDOMAIN.match(value))


def _split_rule(sep: str, index: int, pattern: str) -> Callable[[Any], bool]:
    return lambda v: len(v.split(sep)) == 2 and bool(_go_regex(pattern).search(v.split(sep)[index]))


# Every x-kubernetes-validations rule of the two CRDs, by its exact text, checked in Python for a
# newly created object (oldSelf absent). An unknown rule fails the test: a new CRD needs a look.
V1_PUSH_A = r"^([a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+(:[0-9]{2,5})?(/[a-zA-Z0-9-_]{1,61})*/[a-zA-Z0-9-_.]+:[a-zA-Z0-9._-]+$"
SVC = r"^[^.]+\.[^.]+\.svc:\d+\/[^\/]+\/[^\/]+:[^\/]+$"
NAME_RE = r"^([a-zA-Z0-9-]+\.)+[a-zA-Z0-9-]+(:[0-9]{2,5})?/([a-zA-Z0-9-_]{0,61}/)?[a-zA-Z0-9-_.]*?$"
RULES: Dict[str, Callable[[Any], bool]] = {
    "!format.dns1123Subdomain().validate(self).hasValue()": _dns1123,
    # status fields render never writes, checked all the same
    "!format.dns1123Label().validate(self).hasValue()":
        lambda v: len(v) <= 63 and bool(re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", v)),
    "!format.dns1035Label().validate(self).hasValue()":
        lambda v: len(v) <= 63 and bool(re.match(r"^[a-z]([-a-z0-9]*[a-z0-9])?$", v)),
    "self.matches('" + V1_PUSH_A.replace("\\", "\\\\") + "') || self.matches('" + SVC.replace("\\", "\\\\") + "')":
        lambda v: bool(_go_regex(V1_PUSH_A).search(v) or _go_regex(SVC).search(v)),
    "self.metadata.name == self.spec.machineConfigPool.name || oldSelf.hasValue() && "
    "oldSelf.spec.machineConfigPool.name.value() == self.spec.machineConfigPool.name":
        lambda v: bool(v["metadata"]["name"] == v["spec"]["machineConfigPool"]["name"]),
    "self >= oldSelf": lambda v: True,  # a transition rule: not evaluated on create
    "(self.split('@').size() == 2 && self.split('@')[1].matches('^sha256:[a-f0-9]{64}$'))":
        _split_rule("@", 1, "^sha256:[a-f0-9]{64}$"),
    "(self.split('@')[0].matches('" + NAME_RE.replace("\\", "\\\\") + "'))":
        lambda v: bool(_go_regex(NAME_RE).search(v.split("@")[0])),
    "((self.split(':').size() == 2 && self.split(':')[1].matches('^([a-zA-Z0-9-./:])+$')) || self.matches('"
    + SVC.replace("\\", "\\\\") + "'))":
        lambda v: _split_rule(":", 1, "^([a-zA-Z0-9-./:])+$")(v) or bool(_go_regex(SVC).search(v)),
    "((self.split(':').size() == 2 && self.split(':')[0].matches('" + NAME_RE.replace("\\", "\\\\") + "')) || "
    "self.matches('" + SVC.replace("\\", "\\\\") + "'))":
        lambda v: _split_rule(":", 0, NAME_RE)(v) or bool(_go_regex(SVC).search(v)),
}


def _cel_failures(schema: Dict[str, Any], value: Any, path: str = "") -> List[str]:
    """The messages of the rules ``value`` breaks, walking the schema where the object has data."""
    failed = []
    for rule in schema.get("x-kubernetes-validations") or []:
        check = RULES.get(" ".join(rule["rule"].split()))
        assert check is not None, f"a CEL rule this test does not know: {rule['rule']!r}"
        if not check(value):
            failed.append(f"{path or '.'}: {rule['message']}")
    if isinstance(value, dict):
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                failed += _cel_failures(sub, value[key], f"{path}.{key}")
    elif isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            failed += _cel_failures(schema["items"], item, f"{path}[{i}]")
    return failed


def _valid(obj: Dict[str, Any], version: str) -> None:
    import jsonschema  # a test dependency ('.[test]'): missing, the test must fail, not skip

    schema = _crd(version)
    jsonschema.validate(obj, schema)
    assert _cel_failures(schema, obj) == []


def _project(tmp_path: Path, containerfile: str, project_file: str, files: Optional[Dict[str, str]] = None
             ) -> project_mod.Project:
    (tmp_path / "Containerfile").write_text(containerfile)
    (tmp_path / "rhcos-layer.yaml").write_text(project_file)
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    return project_mod.load(tmp_path / "rhcos-layer.yaml")


PLAIN = f"FROM {BASE}\nRUN rpm-ostree install htop && \\\n    ostree container commit\n"
PROJECT = "image: registry.example.com/ops/rhcos-layered\n"


def test_the_rule_table_knows_every_rule_of_both_crds() -> None:
    texts = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            texts.extend(r["rule"] for r in node.get("x-kubernetes-validations") or [])
            for sub in node.values():
                walk(sub)
        elif isinstance(node, list):
            for sub in node:
                walk(sub)

    walk(_crd("v1"))
    walk(_crd("v1alpha1"))
    assert len(texts) >= 10
    for text in texts:
        assert " ".join(text.split()) in RULES, text


@pytest.mark.parametrize("version", ["v1", "v1alpha1"])
def test_rendered_object_is_valid_for_the_real_crd(tmp_path: Path, version: str) -> None:
    project = _project(tmp_path, PLAIN, PROJECT + "base:\n  release: quay.io/x/ocp-release:4.19.3-x86_64\n"
                                                 "  arch: arm64\n")
    obj = mosc.render(project, "worker", api_version=version, push_secret="push-creds", pull_secret="pull-copy")
    _valid(obj, version)
    assert obj["apiVersion"] == f"machineconfiguration.openshift.io/{version}"
    assert obj["metadata"]["name"] == "worker"
    assert obj["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "rhcos-layer"}
    content = "FROM configs AS final\nRUN rpm-ostree install htop && \\\n    ostree container commit\n"
    if version == "v1":
        assert obj["spec"] == {
            "machineConfigPool": {"name": "worker"},
            "imageBuilder": {"imageBuilderType": "Job"},
            "renderedImagePushSecret": {"name": "push-creds"},
            "renderedImagePushSpec": "registry.example.com/ops/rhcos-layered:worker",
            "containerFile": [{"containerfileArch": "ARM64", "content": content}],
            "baseImagePullSecret": {"name": "pull-copy"},
        }
    else:
        assert obj["spec"] == {
            "machineConfigPool": {"name": "worker"},
            "buildInputs": {
                "imageBuilder": {"imageBuilderType": "PodImageBuilder"},
                "baseImagePullSecret": {"name": "pull-copy"},
                "renderedImagePushSecret": {"name": "push-creds"},
                "renderedImagePushspec": "registry.example.com/ops/rhcos-layered:worker",
                "containerFile": [{"containerfileArch": "arm64", "content": content}],
            },
            "buildOutputs": {"currentImagePullSecret": {"name": "pull-copy"}},
        }


def test_the_checks_catch_what_the_crd_refuses(tmp_path: Path) -> None:
    """The validator is not a yes-man: a wrong name, a digest push spec and a long content fail it."""
    import jsonschema

    project = _project(tmp_path, PLAIN, PROJECT)
    obj = mosc.render(project, "worker", api_version="v1", push_secret="push-creds")
    bad = dict(obj, metadata={"name": "other"})
    assert _cel_failures(_crd("v1"), bad) == [".: MachineOSConfig name must match the referenced MachineConfigPool"
                                              " name; can only have one MachineOSConfig per MachineConfigPool"]
    digest = dict(obj, spec=dict(obj["spec"], renderedImagePushSpec="registry.example.com/a@sha256:" + "b" * 64))
    assert len(_cel_failures(_crd("v1"), digest)) == 1
    long = dict(obj, spec=dict(obj["spec"], containerFile=[{"containerfileArch": "NoArch", "content": "x" * 4097}]))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(long, _crd("v1"))


def test_secrets_default_to_the_project_files(tmp_path: Path) -> None:
    project = _project(tmp_path, PLAIN, PROJECT + "on-cluster:\n  push-secret: push-a\n  pull-secret: pull-a\n")
    obj = mosc.render(project, "worker", api_version="v1alpha1", push_secret=None)
    assert obj["spec"]["buildInputs"]["renderedImagePushSecret"] == {"name": "push-a"}
    assert obj["spec"]["buildInputs"]["baseImagePullSecret"] == {"name": "pull-a"}
    flags = mosc.render(project, "worker", api_version="v1", push_secret="push-b", pull_secret="pull-b")
    assert flags["spec"]["renderedImagePushSecret"] == {"name": "push-b"}
    assert flags["spec"]["baseImagePullSecret"] == {"name": "pull-b"}
    project.on_cluster = {}
    with pytest.raises(InvalidInput, match="needs the Secret the cluster pushes the image with"):
        mosc.render(project, "worker", api_version="v1", push_secret=None)


def test_v1alpha1_needs_a_pull_secret(tmp_path: Path) -> None:
    project = _project(tmp_path, PLAIN, PROJECT)
    with pytest.raises(InvalidInput, match="v1alpha1 needs a pull secret"):
        mosc.render(project, "worker", api_version="v1alpha1", push_secret="push-creds")


@pytest.mark.parametrize("version,spec,ok", [
    ("v1", "registry.example.com/ops/layer:tag", True),
    ("v1", "registry.example.com:5000/ops/layer:tag", True),
    ("v1", "localhost/ops/layer:tag", False),  # the rule wants a dotted host
    ("v1", "image-registry.openshift-image-registry.svc:5000/openshift/os-image:latest", True),
    ("v1alpha1", "registry.example.com/ops/layer:tag", True),
    ("v1alpha1", "registry.example.com:5000/ops/layer:tag", False),  # one ':' only, in 4.16/4.17
    ("v1alpha1", "image-registry.openshift-image-registry.svc:5000/openshift/os-image:latest", True),
])
def test_push_spec_follows_each_versions_rule(version: str, spec: str, ok: bool) -> None:
    if ok:
        mosc.check_push_spec(spec, version)
    else:
        with pytest.raises(InvalidInput, match=f"MachineOSConfig {version} refuses it"):
            mosc.check_push_spec(spec, version)
    # and the CRD's own rules agree
    schema = _crd(version)["properties"]["spec"]["properties"]
    node = schema["renderedImagePushSpec"] if version == "v1" else \
        schema["buildInputs"]["properties"]["renderedImagePushspec"]
    assert (_cel_failures(node, spec) == []) is ok


def test_a_tagged_image_keeps_its_tag_and_a_digest_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path, PLAIN, "image: registry.example.com/ops/layer:v3\n")
    assert mosc.target(project, "infra") == "registry.example.com/ops/layer:v3"
    project.image = None
    with pytest.raises(InvalidInput, match="no image to push to"):
        mosc.target(project, "infra")
    with pytest.raises(InvalidInput, match="has a digest"):
        mosc.target(project, "infra", "registry.example.com/ops/layer@sha256:" + "c" * 64)


def test_bad_secret_names_are_refused(tmp_path: Path) -> None:
    project = _project(tmp_path, PLAIN, PROJECT)
    with pytest.raises(InvalidInput, match="--push-secret 'Push_Creds': not a Secret name"):
        mosc.render(project, "worker", api_version="v1", push_secret="Push_Creds")
    with pytest.raises(InvalidInput, match="--api-version v2"):
        mosc.render(project, "worker", api_version="v2", push_secret="p")


def test_project_file_on_cluster_keys_are_checked_when_read(tmp_path: Path) -> None:
    good = _project(tmp_path, PLAIN, PROJECT + "on-cluster:\n  push-secret: push-creds\n  pull-secret: pull\n")
    assert good.on_cluster == {"push-secret": "push-creds", "pull-secret": "pull"}
    with pytest.raises(ProjectFileError, match=r"rhcos-layer.yaml:2: on-cluster.push-secret 'Bad_Name' is not a"):
        _project(tmp_path, PLAIN, PROJECT + "on-cluster:\n  push-secret: Bad_Name\n")
    with pytest.raises(ProjectFileError, match=r"rhcos-layer.yaml:2: on-cluster.pushsecret: unknown key"):
        _project(tmp_path, PLAIN, PROJECT + "on-cluster:\n  pushsecret: x\n")
    # the YAML reader (quotes send the file there) checks the same
    with pytest.raises(ProjectFileError, match=r"rhcos-layer.yaml:2: on-cluster.push-secret 'A' is not a"):
        _project(tmp_path, PLAIN, PROJECT + "on-cluster:\n  push-secret: 'A'\n")


def test_content_inlines_small_files_drops_cluster_mounts_and_sets_arg_defaults(tmp_path: Path) -> None:
    containerfile = (f"# a comment render drops\nFROM {BASE} AS final\nARG VERSION\n"
                     "COPY --chmod=0600 extra.conf /etc/chrony.d/\n"
                     "RUN --mount=type=secret,id=cert,target=/etc/pki/entitlement/cert.pem \\\n"
                     "    --mount=type=secret,id=repo,target=/etc/yum.repos.d/redhat.repo \\\n"
                     "    rpm-ostree install iotop-$VERSION && \\\n    ostree container commit\n")
    project = _project(tmp_path, containerfile, PROJECT + "build-args:\n  VERSION: 1.2\n",
                       {"extra.conf": "server 10.0.0.1 iburst\n"})
    [entry] = mosc.containerfiles(project)
    assert entry == {"containerfileArch": "NoArch", "content": (
        "FROM configs AS final\nARG VERSION=1.2\n"
        "RUN mkdir -p /etc/chrony.d && echo c2VydmVyIDEwLjAuMC4xIGlidXJzdAo= | base64 -d > /etc/chrony.d/extra.conf"
        " && chmod 0600 /etc/chrony.d/extra.conf\n"
        "RUN \\\n    rpm-ostree install iotop-$VERSION && \\\n    ostree container commit\n")}


def test_multi_stage_keeps_other_stages_and_replaces_the_base_chain(tmp_path: Path) -> None:
    builder = "registry.access.redhat.com/ubi9/ubi@sha256:" + "d" * 64
    containerfile = (f"FROM {builder} AS build\nRUN echo hi > /out\n"
                     f"FROM {BASE} AS rhcos\nRUN true\nFROM rhcos\nCOPY --from=build /out /usr/share/out\n"
                     "RUN ostree container commit\n")
    project = _project(tmp_path, containerfile, PROJECT)
    [entry] = mosc.containerfiles(project)
    assert entry["content"] == (f"FROM {builder} AS build\nRUN echo hi > /out\nFROM configs AS rhcos\nRUN true\n"
                                "FROM rhcos\nCOPY --from=build /out /usr/share/out\nRUN ostree container commit\n")


def test_an_on_cluster_file_is_kept_as_written(tmp_path: Path) -> None:
    text = "FROM configs AS final\nRUN rpm-ostree install htop && \\\n    ostree container commit\n"
    project = _project(tmp_path, text, PROJECT)
    assert mosc.containerfiles(project) == [{"containerfileArch": "NoArch", "content": text}]


def test_lint_errors_refuse_the_render_naming_file_and_line(tmp_path: Path) -> None:
    containerfile = f"FROM {BASE}\nCOPY repo/ /etc/yum.repos.d/\nRUN ostree container commit\n"
    project = _project(tmp_path, containerfile, PROJECT, {})
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "a.repo").write_text("[a]\n")
    with pytest.raises(ContainerfileError, match=r"^Containerfile:2: error RL118 copy-local-file: .*not a file in"
                                                 r" the build context"):
        mosc.containerfiles(project)


def test_content_over_4096_characters_is_refused(tmp_path: Path) -> None:
    runs = "".join(f"RUN echo {'x' * 90} > /etc/motd.{i}\n" for i in range(50))
    project = _project(tmp_path, f"FROM {BASE}\n{runs}RUN ostree container commit\n", PROJECT)
    with pytest.raises(ContainerfileError, match=r"^Containerfile: error RL119 content-too-long: the rendered content"
                                                 r" is \d+ characters; a MachineOSConfig's containerFile holds at"
                                                 " most 4096"):
        mosc.containerfiles(project)


def test_per_arch_files_make_one_entry_each(tmp_path: Path) -> None:
    project = _project(tmp_path, PLAIN, PROJECT + "on-cluster:\n  containerfile-amd64: Containerfile\n"
                                                  "  containerfile-arm64: Containerfile.arm64\n",
                       {"Containerfile.arm64": f"FROM {BASE}\nRUN rpm-ostree install tree\n"})
    entries = mosc.containerfiles(project)
    assert [e["containerfileArch"] for e in entries] == ["AMD64", "ARM64"]
    assert entries[1]["content"] == "FROM configs AS final\nRUN rpm-ostree install tree\n"


def test_a_mount_option_order_does_not_matter_and_other_mounts_stay(tmp_path: Path) -> None:
    containerfile = (f"FROM {BASE}\nARG KEEP\n"
                     "RUN --mount=id=cert,type=secret,dst=/etc/pki/entitlement/cert.pem"
                     " --mount=type=cache,target=/var/cache/dnf rpm-ostree install iotop\n")
    project = _project(tmp_path, containerfile, PROJECT + "build-args:\n  OTHER: x\n")
    [entry] = mosc.containerfiles(project)
    assert entry["content"] == ("FROM configs AS final\nARG KEEP\n"
                                "RUN --mount=type=cache,target=/var/cache/dnf rpm-ostree install iotop\n")


def test_a_missing_per_arch_file_names_the_project_key(tmp_path: Path) -> None:
    project = _project(tmp_path, PLAIN, PROJECT + "on-cluster:\n  containerfile-s390x: Containerfile.s390x\n")
    with pytest.raises(ProjectFileError, match=r"^rhcos-layer.yaml:2: on-cluster.containerfile-s390x:"
                                               r" Containerfile.s390x: no such file"):
        mosc.containerfiles(project)

"""render --on-cluster on hostile Containerfiles and project files: only the project's errors come
out, and what it renders fits the CRD (4096 characters, FROM configs)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer import mosc, project
from rhcos_layer.errors import RhcosLayerError

BASE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "a" * 64
LINES = [f"FROM {BASE}", f"FROM {BASE} AS rhcos", "FROM rhcos", "FROM configs AS final", "FROM configs",
         "FROM x AS configs", "FROM --platform=linux/amd64 " + BASE, "FROM", "FROM a b c d",
         "COPY motd /etc/motd", "COPY motd /etc/", "COPY --chmod=0600 motd /etc/m", "COPY --chmod=u+x motd /etc/m",
         "COPY *.conf /etc/", "COPY missing /x", "COPY motd", "COPY", "COPY [\"motd\", \"/etc/m\"]",
         "COPY --from=rhcos /a /b", "ADD https://example.com/x /x", "ADD motd /etc/",
         "RUN --mount=type=secret,id=a,target=/etc/pki/entitlement/a.pem rpm-ostree install x",
         "RUN --mount=type=secret,id=b echo", "RUN --mount=type=secret", "RUN --mount=",
         "RUN rpm-ostree install x86_64",
         "RUN ostree container commit", "ARG A", "ARG B=1", "ARG", "ARG =x", "ARG A B", "# escape=`", "# c",
         "RUN echo \\", "    && true", "RUN <<EOF", "EOF", "RUN echo ${A:-${B}}", "LABEL a=b", "RUN echo é",
         "\t", "", "RUN " + "x" * 300]
PROJECTS = ["image: registry.example.com/ops/layer\n", "image: registry.example.com/ops/layer:t\nbuild-args:\n  A: 1\n",
            "image: registry.example.com/ops/layer\non-cluster:\n  containerfile-arm64: Containerfile\n",
            "image: registry.example.com/ops/layer\non-cluster:\n  containerfile-amd64: missing\n",
            "image: reg.example.com:5000/a/b\nbase:\n  release: quay.io/r/ocp-release:4.19.0-multi\n", ""]
text = st.lists(st.sampled_from(LINES), max_size=14).map("\n".join)


@given(text, st.sampled_from(PROJECTS), st.sampled_from(["v1", "v1alpha1"]),
       st.sampled_from(["hi\n", "\x00\xff", "x" * 2000]))
def test_render_raises_only_project_errors_and_fits_the_crd(containerfile: str, project_text: str, version: str,
                                                            motd: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "Containerfile").write_text(containerfile)
        (root / "motd").write_text(motd)
        (root / "rhcos-layer.yaml").write_text(project_text)
        try:
            loaded = project.load(root / "rhcos-layer.yaml")
            mosc.findings(loaded)
            obj = mosc.render(loaded, "worker", api_version=version, push_secret="push", pull_secret="pull")
        except RhcosLayerError:
            return
        files = obj["spec"]["containerFile"] if version == "v1" else obj["spec"]["buildInputs"]["containerFile"]
        for entry in files:
            assert len(entry["content"]) <= mosc.MAX_CONTENT
            assert "\nFROM configs" in "\n" + entry["content"]

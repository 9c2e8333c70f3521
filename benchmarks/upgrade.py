"""`rhcos-layer upgrade plan` with unchanged project inputs, against plain cached `podman build`s.

For three target releases (synthetic payloads naming three fake RHCOS bases, tests/support), a
pipeline runs `rhcos-layer upgrade plan --release R --project P` once per release. The second
time round nothing has changed: the payload is cached by digest, the build is a no-op (same inputs
digest), the push is a no-op (one HEAD), and the RPM answers are cached by image ID. That is
compared with what the same pipeline would pay without rhcos-layer for the builds alone: one
`podman build` per release of the same Containerfile, fully cached.

Target: <= 1.0x. The plan does more than the builds (it resolves the payload, checks the registry
still serves the pushed digest and reports skew), but all of it from caches, while a cached
`podman build` still walks every instruction against its layer cache and commits the image
again; a plan that costs more than the builds it saves is not worth running ahead of time.
The pairs run interleaved ROUNDS times after one unmeasured warm-up round; medians are compared.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench import pair, report, teardown, timed  # noqa: E402
from tests.support.fakebase import build_fake_base  # noqa: E402
from tests.support.payload import push_release_payload  # noqa: E402
from tests.support.podman import PodmanStore  # noqa: E402
from tests.support.registry import Registry  # noqa: E402

BIN = Path(sys.executable).parent
TOOL = str(BIN / "rhcos-layer") if (BIN / "rhcos-layer").exists() else None
RELEASES = {"4.16.3": "416.94.202406251923-0", "4.16.8": "416.94.202408131506-0", "4.17.2": "417.94.202410211206-0"}
LAYER = ("COPY extra.conf /etc/chrony.d/extra.conf\n"
         "RUN rpm-ostree install usbguard && ostree container commit\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args, _ = parser.parse_known_args()
    tool = [TOOL] if TOOL else [sys.executable, "-m", "rhcos_layer"]
    base_env = {k: v for k, v in os.environ.items()
                if k not in ("CONTAINER_HOST", "CONTAINER_CONNECTION", "KUBECONFIG")}
    base_env["NO_COLOR"] = "1"
    base_env.pop("PYTHONDONTWRITEBYTECODE", None)

    work = Path(tempfile.mkdtemp(prefix="rhcos-layer-bench-upgrade-"))
    registry = Registry(work / "registry")
    stores = [PodmanStore(work / name) for name in ("base", "raw", "tool")]
    base_store, raw_store, tool_store = stores
    try:
        registry.start()
        auth = registry.write_authfile(work / "auth.json")
        payloads: Dict[str, str] = {}
        bases: Dict[str, str] = {}
        for version, rhcos in RELEASES.items():
            base = build_fake_base(base_store, registry, tag=version, version=rhcos)
            bases[version] = base.pullspec
            payloads[version] = push_release_payload(registry, version,
                                                     os_pullspecs={"rhel-coreos": base.pullspec}).pullspec_digest
        raw_env = dict(base_env, **raw_store.isolated_env)
        for pullspec in bases.values():
            raw_store.podman("pull", "--quiet", "--cert-dir", str(registry.cert_dir), "--authfile", str(auth),
                             pullspec)
        tool_store.trust_registry(registry)
        url = tool_store.start_service()
        tool_env = dict(base_env, **tool_store.isolated_env, REGISTRY_AUTH_FILE=str(auth), CONTAINER_HOST=url,
                        XDG_CACHE_HOME=str(work / "cache"))

        project = work / "project"
        project.mkdir()
        (project / "extra.conf").write_text("server time.example.com iburst\n")
        first = next(iter(bases.values()))
        (project / "Containerfile").write_text(f"FROM {first}\n{LAYER}")
        (project / "rhcos-layer.yaml").write_text(f"image: {registry.host}/bench/upgrade\n")
        raw_files: List[Path] = []
        for index, pullspec in enumerate(bases.values()):
            path = project / f"Containerfile.{index}"
            path.write_text(f"FROM {pullspec}\n{LAYER}")
            raw_files.append(path)

        def ours(i: int) -> float:
            return sum(timed([*tool, "upgrade", "plan", "--release", payload, "--project", str(project), "-o",
                              "json"], tool_env, project) for payload in payloads.values())

        def raw(i: int) -> float:
            return sum(timed(["podman", "build", "--isolation", "chroot", "-f", str(path), "-t",
                              f"localhost/bench:raw{path.suffix}", "."], raw_env, project) for path in raw_files)

        ours(-1)  # the first plan of each release builds and pushes: not what is measured
        raw(-1)
        plan_ours, builds_raw = pair(args.rounds, ours, raw)
        report("upgrade plan x3 (unchanged) vs 3 cached builds", plan_ours, builds_raw, "<= 1.0x",
               plan_ours / builds_raw <= 1.0)
    finally:
        teardown(stores, registry, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())

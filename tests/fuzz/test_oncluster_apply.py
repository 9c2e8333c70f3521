"""What apply --on-cluster reads from the cluster while it follows a build (the pool, the MachineOSBuilds,
the builder's pods and its log) and from a push secret, whatever their shape: only the project's own
errors come out, and a failed build's message stays one line of plain text."""

from __future__ import annotations

from typing import Any, Dict, List

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer import oncluster_apply as core
from rhcos_layer.errors import OnClusterBuildFailed

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                   max_size=4),
                    max_leaves=20)
CONDITION = st.fixed_dictionaries({"type": st.sampled_from(core.BUILD_STATES + ("Other",)),
                                   "status": st.sampled_from(["True", "False", "Unknown", ""])},
                                  optional={"message": st.one_of(st.just("line\nbreak\x07"), JSON)})
BUILD = st.one_of(JSON, st.fixed_dictionaries({
    "metadata": st.one_of(JSON, st.fixed_dictionaries({
        "name": st.one_of(st.just("worker-1"), st.just("a\nb\x1b[2J"), JSON), "uid": JSON,
        "labels": st.one_of(JSON, st.fixed_dictionaries({
            core.BUILD_RENDERED_LABEL: st.one_of(st.just("rendered-worker-1"), JSON)}))})),
    "status": st.one_of(JSON, st.fixed_dictionaries({}, optional={
        "conditions": st.one_of(JSON, st.lists(st.one_of(CONDITION, JSON), max_size=5)),
        "digestedImagePushSpec": JSON, "builder": JSON}))}))
POD = st.one_of(JSON, st.fixed_dictionaries({"metadata": JSON, "spec": st.one_of(JSON, st.fixed_dictionaries(
    {"containers": JSON}))}))
LOG = st.text(max_size=400) | st.lists(st.sampled_from(
    ["STEP 1/2: FROM configs AS final", "STEP 2/2: RUN false", "error: building at STEP", "\x1b[31mError: x\x1b[0m",
     "\r", "", "Error: exit status 1", "fatal: no"]), max_size=12).map("\n".join)


class HostileCluster:
    """The outside system only: what the API server (or a proxy) might send."""

    def __init__(self, pool: Any, builds: Any, pods: Any, log: str) -> None:
        self.pool, self.builds, self.pods, self.log = pool, builds, pods, log

    def watched_pool(self, name: str) -> Dict[str, Any]:
        return self.pool if isinstance(self.pool, dict) else {}

    def watched_machineosbuilds(self, version: str, label_selector: str) -> List[Dict[str, Any]]:
        return [b for b in self.builds if isinstance(b, dict)]

    def watched_pods(self, namespace: str, label_selector: str) -> List[Dict[str, Any]]:
        return [p for p in self.pods if isinstance(p, dict)]

    def pod_log_tail(self, namespace: str, name: str, lines: int, container: Any = None) -> str:
        return self.log


# well-shaped builds for the pool's rendered config, with anything in their fields: they reach the failure path
TARGETED = st.fixed_dictionaries({
    "metadata": st.fixed_dictionaries({
        "name": st.one_of(st.just("worker-1"), st.just("a\nb\x1b[2J"), JSON), "uid": JSON,
        "labels": st.just({core.BUILD_RENDERED_LABEL: "rendered-worker-1"})}),
    "status": st.fixed_dictionaries({"conditions": st.lists(st.one_of(CONDITION, CONDITION, JSON), max_size=5),
                                     "digestedImagePushSpec": JSON, "builder": JSON})})
POOL = st.one_of(JSON, st.just({"spec": {"configuration": {"name": "rendered-worker-1", "source": [{"name": "x"}]}}}))


@given(POOL, st.lists(st.one_of(TARGETED, BUILD), max_size=4), st.lists(POD, max_size=3), LOG)
def test_following_any_build_reads_without_error(pool: Any, builds: Any, pods: Any, log: str) -> None:
    item = core.OnClusterPlan("worker", "v1", {"metadata": {"name": "worker"}})
    said: List[str] = []
    watcher = core.BuildWatcher(HostileCluster(pool, builds, pods, log), item, said.append)  # type: ignore[arg-type]
    try:
        done = watcher.step()
    except OnClusterBuildFailed as exc:
        assert "\n" not in exc.message and "\x1b" not in exc.message
        assert "\x1b" not in exc.detail and "\r" not in exc.detail
        assert exc.exit_code == 22
    else:
        assert isinstance(done, bool)
        assert not done or isinstance(watcher.image, str)
    assert isinstance(watcher.diagnosis(), str)
    assert all("\n" not in line for line in said)


@given(st.dictionaries(st.sampled_from([".dockerconfigjson", ".dockercfg", "other"]), st.binary(max_size=60)
                       | JSON.map(lambda v: __import__("json").dumps(v).encode()), max_size=3))
def test_any_secret_data_reads_as_credentials_or_a_reason(data: Dict[str, bytes]) -> None:
    creds, why = core._docker_config(data, "Secret x/y")  # the reason is returned, never raised
    assert (creds is None) == bool(why)

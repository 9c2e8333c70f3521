"""Fixtures for the offline rig (registry, podman stores/service, fake base).

Session fixtures:  rig_dir, registry, rig_store, fake_base, podman_service, upgrade_releases
Function fixtures: fresh_store, fresh_service, authfile, tool_env, proxy

Function fixtures keep their files out of ``tmp_path`` (own tmp dirs), so
a test can use tmp_path as a build context without shipping a store or an
auth.json into it.

Tests using any rig fixture are marked ``rig`` automatically (deselect with
``-m "not rig"``) and are skipped with an install hint when podman,
docker-registry, htpasswd, openssl or busybox are missing or not root.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Dict, Iterator, Optional

import pytest
from hypothesis import HealthCheck, settings

from tests.support import (
    FakeBase,
    PodmanService,
    PodmanStore,
    Registry,
    TcpProxy,
    build_fake_base,
    skip_reason,
)

# Property-based tests of the parsers (tests/fuzz/): a bounded budget, the same examples on every
# run (derandomize) so CI is repeatable, no per-example deadline on a loaded 2-core machine.
settings.register_profile("rhcos-layer", max_examples=300, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], database=None)
settings.load_profile("rhcos-layer")

RIG_FIXTURES = frozenset(
    {
        "registry",
        "rig_store",
        "fake_base",
        "podman_service",
        "fresh_service",
        "fresh_store",
        "authfile",
        "tool_env",
        "proxy",
        "upgrade_releases",
    }
)

# Environment that must not leak from the developer's shell into the tool.
_CLEARED_FOR_TOOL = (
    "CONTAINER_CONNECTION",
    "CONTAINER_SSHKEY",
    "CONTAINER_PASSPHRASE",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
)


@functools.cache
def _rig_skip_reason() -> Optional[str]:
    return skip_reason()


def _require_rig() -> None:
    reason = _rig_skip_reason()
    if reason:
        pytest.skip(reason)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "rig: uses the offline podman + registry rig (root, podman, docker-registry, "
        "htpasswd, openssl, busybox-static)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    for item in items:
        if RIG_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.rig)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("rig") is not None:
        _require_rig()


# --------------------------------------------------------------- skip policy
# scripts/test (so CI) sets RHCOS_LAYER_CI=1: the rig is installed just before, so a test that skips
# there (a tool missing, not root, a module that cannot be imported) is a failure, never a pass.
CI_FLAG = "RHCOS_LAYER_CI"


def _strict_skips() -> bool:
    import os

    return os.environ.get(CI_FLAG, "") not in ("", "0")


def _skip_reason(report: pytest.BaseReport) -> str:
    longrepr = report.longrepr
    reason = str(longrepr[2]) if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and _strict_skips():
        report.outcome = "failed"
        report.longrepr = f"skipped under {CI_FLAG}=1, where every test must run: {_skip_reason(report)}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and _strict_skips():
        report.outcome = "failed"
        report.longrepr = f"skipped under {CI_FLAG}=1, where every test must run: {_skip_reason(report)}"


# --------------------------------------------------------------- session scope
@pytest.fixture(scope="session")
def rig_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rig")


@pytest.fixture(scope="session")
def registry(rig_dir: Path) -> Iterator[Registry]:
    _require_rig()
    reg = Registry(rig_dir / "registry")
    reg.start()
    try:
        yield reg
    finally:
        reg.stop()


@pytest.fixture(autouse=True)
def _registry_back_up(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test may stop() the session registry; bring it back afterwards."""
    if "registry" not in request.fixturenames:
        yield
        return
    reg = request.getfixturevalue("registry")
    yield
    if not reg.running:
        reg.start()


@pytest.fixture(scope="session")
def rig_store(rig_dir: Path) -> Iterator[PodmanStore]:
    """The store that creates the fake base. Never give it to the tool."""
    _require_rig()
    store = PodmanStore(rig_dir / "base-store")
    try:
        yield store
    finally:
        store.cleanup()


@pytest.fixture(scope="session")
def fake_base(rig_store: PodmanStore, registry: Registry) -> FakeBase:
    return build_fake_base(rig_store, registry)


@pytest.fixture(scope="session")
def podman_service(rig_dir: Path, registry: Registry) -> Iterator[PodmanService]:
    """A store with ``podman system service`` running; trusts the registry CA
    through its own $HOME/.config/containers/certs.d."""
    yield from _trusting_service(rig_dir / "svc", registry)


def _trusting_service(folder: Path, registry: Registry) -> Iterator[PodmanService]:
    _require_rig()
    store = PodmanStore(folder)
    try:
        store.trust_registry(registry)
        url = store.start_service()
        yield PodmanService(url=url, store=store)
    finally:
        store.cleanup()


# -------------------------------------------------------------- function scope
@pytest.fixture
def fresh_service(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Iterator[PodmanService]:
    """Like podman_service but with an empty store per test (~0.1 s)."""
    yield from _trusting_service(tmp_path_factory.mktemp("svc"), registry)


@pytest.fixture
def fresh_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanStore]:
    """An empty store (CA not trusted: pass --cert-dir or trust_registry())."""
    _require_rig()
    store = PodmanStore(tmp_path_factory.mktemp("store"))
    try:
        yield store
    finally:
        store.cleanup()


@pytest.fixture
def authfile(tmp_path_factory: pytest.TempPathFactory, registry: Registry) -> Path:
    """A 0600 auth.json with the right credentials for the registry."""
    return registry.write_authfile(tmp_path_factory.mktemp("auth") / "auth.json")


@pytest.fixture
def tool_env(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
    podman_service: PodmanService,
    authfile: Path,
    registry: Registry,
) -> Dict[str, str]:
    """os.environ as the tool under test should see it; returns what was set.

    HOME / XDG dirs are fresh tmp dirs, so the user's real auth.json files
    are never read; the registry CA is trusted via HOME's certs.d (for CLI
    use) and the service store's certs.d (for API use).
    """
    base = tmp_path_factory.mktemp("toolenv")
    home = base / "home"
    xdg_config = home / ".config"
    xdg_run = base / "xdg-run"
    xdg_config.mkdir(parents=True, exist_ok=True)
    xdg_run.mkdir(mode=0o700, parents=True, exist_ok=True)
    registry.write_certs_d(xdg_config / "containers" / "certs.d")

    for var in _CLEARED_FOR_TOOL:
        monkeypatch.delenv(var, raising=False)
    env = dict(podman_service.store.env)
    env.update(
        CONTAINER_HOST=podman_service.url,
        REGISTRY_AUTH_FILE=str(authfile),
        NO_COLOR="1",
        HOME=str(home),
        XDG_CONFIG_HOME=str(xdg_config),
        XDG_RUNTIME_DIR=str(xdg_run),
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def proxy(registry: Registry) -> Iterator[TcpProxy]:
    """A TcpProxy in front of the registry (clients need its host trusted:
    ``registry.write_authfile(p, extra_hosts=[proxy.host])``, --cert-dir or
    ``store.trust_registry(registry, extra_hosts=[proxy.host])``)."""
    p = TcpProxy(registry.host)
    p.start()
    try:
        yield p
    finally:
        p.stop()


# ------------------------------------------------------------ release payloads
from tests.support.payload import ReleasePayload, standard_payloads  # noqa: E402


@pytest.fixture(scope="session")
def release_payloads(registry: Registry, fake_base: FakeBase) -> Dict[str, ReleasePayload]:
    """Synthetic release payloads in ``<registry>/openshift/release``:
    "4.11", "4.12", "4.16", "4.21" (x86_64) and "4.16-multi" (OCI index,
    amd64 + arm64).  "4.16"'s rhel-coreos (and 4.16-multi's on amd64) is
    the fake base.  See tests/support/payload.py."""
    return standard_payloads(registry, fake_base.pullspec)


# ------------------------------------------------------------ Kubernetes API emulator
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
from typing import Callable  # noqa: E402

from tests.support.kube import KubeAPI, OpenShiftSeed, seed_openshift  # noqa: E402
from tests.support.kube import skip_reason as _kube_skip_reason  # noqa: E402

KubectlRunner = Callable[..., "subprocess.CompletedProcess[str]"]


@pytest.fixture
def kube_api() -> Iterator[KubeAPI]:
    """A fresh emulated OpenShift API server per test (https://127.0.0.1:<port>, bearer token, see
    tests/support/kube.py) holding only the default namespaces; ``seed_openshift(kube_api)`` (or the
    ``openshift`` fixture) adds a cluster.  Stopped after the test, which then fails if the emulator
    itself hit an internal error."""
    reason = _kube_skip_reason()
    if reason:
        pytest.skip(reason)
    api = KubeAPI().start()
    try:
        yield api
    finally:
        api.stop()
    api.check()


@pytest.fixture
def kubeconfig(kube_api: KubeAPI, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 0600 kubeconfig for kube_api as `oc login` writes one (CA embedded, token, context "admin")."""
    return kube_api.write_kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig")


@pytest.fixture
def openshift(kube_api: KubeAPI) -> OpenShiftSeed:
    """kube_api seeded with seed_openshift(): 4.16.3, pools master and worker, 3 + 3 nodes."""
    return seed_openshift(kube_api)


@pytest.fixture
def kubectl(kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory) -> KubectlRunner:
    """``kubectl(*args, input=None)`` against kube_api: a CompletedProcess (text; never raises on exit
    codes).  HOME (so the discovery cache) is a fresh directory.  Skips when kubectl is missing."""
    exe = shutil.which("kubectl")
    if exe is None:
        pytest.skip("kubectl not installed: see https://kubernetes.io/docs/tasks/tools/")
    home = tmp_path_factory.mktemp("kubectl-home")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "KUBECONFIG": str(kubeconfig)}

    def run(*args: str, input: Optional[str] = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], env=env, input=input, capture_output=True, text=True,
                              timeout=timeout, check=False)

    return run


# ------------------------------------------------------------ simulated Machine Config Operator
from tests.support.mco import SimulatedMCO  # noqa: E402


@pytest.fixture
def mco(openshift: OpenShiftSeed) -> Iterator[SimulatedMCO]:
    """A SimulatedMCO (tests/support/mco.py) running on the seeded cluster: renders pools, rolls nodes
    out (step_delay 0.02 s), keeps pool status current.  Stopped after the test, which then fails if
    the simulator itself hit an error."""
    sim = SimulatedMCO(openshift.api).start()
    try:
        yield sim
    finally:
        sim.stop()
    sim.check()


@pytest.fixture
def building_mco(kube_api: KubeAPI, registry: Registry, fake_base: FakeBase, fresh_store: PodmanStore,
                 request: pytest.FixtureRequest) -> Iterator[SimulatedMCO]:
    """A SimulatedMCO whose on-cluster builds really build (tests/support/build_sim.py) in an empty podman
    store and push to the rig registry, on kube_api seeded as 4.19.2 (1 master, 2 workers) with the fake base
    as the release's base image and the registry's credentials in the global pull secret. An indirect
    parameter ``(version, feature_set)`` picks another release, e.g. ``("4.16.3", "TechPreviewNoUpgrade")``
    for v1alpha1. Push secrets are the test's: ``push_secret(kube_api, name, registry.host, user, password)``."""
    from tests.support.build_sim import rig_pull_secret

    version, feature_set = getattr(request, "param", ("4.19.2", ""))
    seed_openshift(kube_api, version=version, feature_set=feature_set, base_image=fake_base.pullspec,
                   pull_secret=rig_pull_secret(registry), workers=2, masters=1)
    sim = SimulatedMCO(kube_api, step_delay=0.01, builder=fresh_store, cert_dir=registry.cert_dir).start()
    try:
        yield sim
    finally:
        sim.stop()
    sim.check()


# ------------------------------------------------------------ Bearer-token front (quay.io-style auth)
from tests.support.tokenauth import TokenAuthFront  # noqa: E402


@pytest.fixture
def token_front(registry: Registry) -> Iterator[TokenAuthFront]:
    """A TokenAuthFront (tests/support/tokenauth.py) in front of the registry: HTTPS with the registry's
    certificate on its own port, Bearer tokens from https://<host>/token for the registry's credentials
    (``registry.write_authfile(p, extra_hosts=[token_front.host])``).  Stopped after the test, which
    then fails if the front itself hit an error."""
    front = TokenAuthFront(registry).start()
    try:
        yield front
    finally:
        front.stop()
    front.check()


@pytest.fixture
def k8s(kubeconfig: Path) -> Iterator[object]:
    """An ApiClient of the official kubernetes client logged in to kube_api."""
    import kubernetes  # a dependency of rhcos-layer: missing, the test must fail, not skip

    client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    try:
        yield client
    finally:
        client.close()


# ------------------------------------------------------------ releases to upgrade to (issue 10)
from tests.support.payload import UpgradeRelease, build_upgrade_releases  # noqa: E402


@pytest.fixture(scope="session")
def upgrade_releases(rig_store: PodmanStore, registry: Registry, fake_base: FakeBase) -> Dict[str, UpgradeRelease]:
    """"4.16.3" (its base is fake_base), "4.16.8", "4.17.2" and "4.21.0" (also rhel-coreos-10): each with its
    own fake base (os-release, rpm database, digest), extensions image and payload, pushed to the registry
    once per session. See build_upgrade_releases() in tests/support/payload.py; seed a cluster on one with
    tests.support.cvo.seed_release() and offer the others with seed_updates()."""
    return build_upgrade_releases(rig_store, registry, fake_base)

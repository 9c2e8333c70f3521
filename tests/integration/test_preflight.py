# ruff: noqa: F811 - the fixture `pushed`, imported from test_apply, is then every test's parameter
"""apply's and rollback's checks and writes under the cluster's real rules (issue 8, items 2, 5, 6, 7).

End to end through the CLI against the emulated API server (tests/support/kube.py), with the image
built and pushed by the real tool to the real registry (the ``pushed`` fixture of test_apply).
"""

from __future__ import annotations

import json
from typing import List

import pytest

from rhcos_layer import machineconfig
from tests.integration.test_apply import LOOPBACK_OK, pushed  # noqa: F401 - the module-scoped image fixture
from tests.support.kube import KubeAPI, seed_openshift, trust_registry_ca
from tests.support.registry import write_authfile

MCO = "machineconfiguration.openshift.io"
ROLE = f"{MCO}/role"
MCS = f"/apis/{MCO}/v1/machineconfigs"


@pytest.fixture
def bare(kube_api: KubeAPI, registry, fake_base, kubeconfig, tool_env, monkeypatch):
    """A settled 4.16 cluster whose pull secret holds the registry's credentials, but whose nodes are
    not told to trust the registry's CA (no additionalTrustedCA)."""
    seed = seed_openshift(kube_api, base_image=fake_base.pullspec, pull_secret=registry.auth_config())
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.setenv("RHCOS_LAYER_WATCH_INTERVAL", "0.05")
    return seed


@pytest.fixture
def trusted(bare, kube_api: KubeAPI, registry):
    trust_registry_ca(kube_api, registry.host, registry.ca_path.read_bytes())
    return bare


def _writes(api: KubeAPI) -> List[tuple]:
    return [r for r in api.requests if r[0] in ("POST", "PUT", "PATCH", "DELETE")
            and not r[1].startswith("/apis/authorization.k8s.io/")]


def _pool(api: KubeAPI, name: str, selector: dict) -> None:
    """A custom pool ``name`` with ``selector`` as its machineConfigSelector (no nodes needed)."""
    api.store.put({"apiVersion": f"{MCO}/v1", "kind": "MachineConfigPool", "metadata": {"name": name},
                   "spec": {"machineConfigSelector": selector,
                            "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{name}": ""}}}})


# ------------------------------------------------------------------ item 2: a MachineConfig no pool picks


def test_a_pool_whose_selector_does_not_pick_our_machineconfig_is_refused_even_with_all_ignored(
        tmp_path, pushed, trusted, kube_api, rhcos_layer):
    _pool(kube_api, "gpu", {"matchLabels": {"tier": "gpu"}})
    result = rhcos_layer(["apply", "--pool", "gpu", "--image", pushed["image"], "--no-wait",
                          "--ignore-preflight-errors", "all"], tmp_path)
    assert result.code == 12, result.err
    assert ("pool gpu's machineConfigSelector (tier=gpu) does not select 99-zz-rhcos-layer-1-gpu"
            f" (labels {ROLE}=gpu): the pool would never merge it") in result.err
    assert _writes(kube_api) == []
    never = rhcos_layer(["apply", "--pool", "gpu", "--image", pushed["image"], "--ignore-preflight-errors",
                         "PoolSelects"], tmp_path)
    assert never.code == 3 and "PoolSelects: never ignorable check" in never.err


def test_a_set_based_selector_that_picks_our_machineconfig_passes(tmp_path, pushed, trusted, kube_api, rhcos_layer):
    _pool(kube_api, "gpu-workers", {"matchExpressions": [
        {"key": ROLE, "operator": "In", "values": ["worker", "gpu-workers"]}]})
    result = rhcos_layer(["apply", "--pool", "gpu-workers", "--image", pushed["image"], "--dry-run", "-o", "json",
                          *LOOPBACK_OK], tmp_path)
    assert result.code == 0, result.err
    checks = {c["name"]: c for c in json.loads(result.out)[0]["checks"]}
    assert checks["PoolSelects"]["ok"] is True


def test_a_malformed_selector_is_refused_with_what_is_wrong(tmp_path, pushed, trusted, kube_api, rhcos_layer):
    _pool(kube_api, "gpu", {"matchExpressions": [{"key": ROLE, "operator": "In", "values": []}]})
    result = rhcos_layer(["apply", "--pool", "gpu", "--image", pushed["image"], *LOOPBACK_OK], tmp_path)
    assert result.code == 12, result.err
    assert "machineConfigSelector of pool gpu.matchExpressions[0]: for 'In', 'NotIn' operators, values set can't" \
           " be empty" in result.err
    assert "Traceback" not in result.err and _writes(kube_api) == []


# ------------------------------------------------------------------ merge order, version by version


@pytest.mark.parametrize(("version", "shadowed"), [("4.14.20", True), ("4.16.3", False)])
def test_a_later_worker_config_shadows_a_custom_pool_only_where_the_mco_sorts_by_name_alone(
        tmp_path, pushed, registry, fake_base, kube_api, kubeconfig, tool_env, monkeypatch, rhcos_layer,
        version, shadowed):
    seed_openshift(kube_api, base_image=fake_base.pullspec, pull_secret=registry.auth_config(), version=version)
    trust_registry_ca(kube_api, registry.host, registry.ca_path.read_bytes())
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    _pool(kube_api, "infra", {"matchExpressions": [{"key": ROLE, "operator": "In", "values": ["worker", "infra"]}]})
    late = machineconfig.render("worker", "quay.io/other/image@sha256:" + "8" * 64)
    late["metadata"] = {"name": "99-zzzz-worker-late", "labels": {ROLE: "worker"}}
    kube_api.store.put(late)
    result = rhcos_layer(["apply", "--pool", "infra", "--image", pushed["image"], "--dry-run", *LOOPBACK_OK],
                         tmp_path)
    if shadowed:  # 4.14: by name alone, 99-zzzz-worker-late merges after 99-zz-rhcos-layer-1-infra and wins
        assert result.code == 12, result.err
        assert "MachineConfig 99-zzzz-worker-late of pool infra also sets osImageURL and merges after" in result.err
    else:  # 4.15+: the worker configs merge first, the pool's own after them
        assert result.code == 0, result.err


# ------------------------------------------------------------------ item 5: permissions


def test_a_forbidden_pull_secret_makes_nodescanpull_unknown_and_ignorable(
        tmp_path, pushed, trusted, kube_api, rhcos_layer):
    kube_api.forbid("get", "secrets", namespace="openshift-config")
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--no-wait", *LOOPBACK_OK],
                         tmp_path)
    assert result.code == 12, result.err
    assert "this login may not read the cluster's global pull secret (openshift-config/pull-secret): whether the" \
           " nodes can pull is unknown" in result.err
    assert "--ignore-preflight-errors=NodesCanPull" in result.err
    assert _writes(kube_api) == []
    ignored = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--no-wait",
                           "--ignore-preflight-errors", "NodesCanPull,LoopbackRegistry"], tmp_path)
    assert ignored.code == 0, ignored.err
    assert "Warning: ignoring the failed check NodesCanPull: this login may not read" in ignored.err
    assert kube_api.store.get("machineconfigs", "99-zz-rhcos-layer-0-worker") is not None


@pytest.mark.parametrize(("verb", "resource", "shown"), [
    ("list", "nodes", "list nodes"),
    ("get", "machineconfigpools", f"get machineconfigpools.{MCO}"),
])
def test_what_the_watch_needs_is_checked_before_anything_is_written(
        tmp_path, pushed, trusted, kube_api, rhcos_layer, verb, resource, shown):
    kube_api.forbid(verb, resource)
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--wait", *LOOPBACK_OK],
                         tmp_path)
    assert result.code == 10, result.err
    assert f"not allowed to {shown}" in result.err and "nothing was changed" in result.err
    assert _writes(kube_api) == []
    kube_api.store.put(machineconfig.render("worker", pushed["image"]))  # as an earlier apply left it
    back = rhcos_layer(["rollback", "--pool", "worker", "--wait"], tmp_path)
    assert back.code == 10 and f"not allowed to {shown}" in back.err
    assert kube_api.store.get("machineconfigs", "99-zz-rhcos-layer-0-worker") is not None


def test_a_cluster_404_is_not_image_not_found(tmp_path, pushed, trusted, kube_api, rhcos_layer):
    kube_api.store.delete("configmaps", "machine-config-osimageurl", "openshift-machine-config-operator")
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], *LOOPBACK_OK], tmp_path)
    assert result.code == 17, result.err
    assert "get configmap openshift-machine-config-operator/machine-config-osimageurl: not found on" in result.err
    assert _writes(kube_api) == []


# ------------------------------------------------------------------ item 6: pulling as the nodes do


def test_the_nodes_trust_the_clusters_cas_not_the_workstations(tmp_path, pushed, bare, kube_api, registry,
                                                                rhcos_layer):
    # this machine trusts the registry (certs.d, --cert-dir); the cluster adds no CA for it
    for extra in (["--cert-dir", str(registry.cert_dir)], ["--tls-verify=false"]):
        result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], *extra, *LOOPBACK_OK],
                             tmp_path)
        assert result.code == 12, result.err
        assert "every node would fail to pull the image and go Degraded" in result.err
        assert "not this machine's --cert-dir" in result.err
        assert "additionalTrustedCA" in result.err
    assert _writes(kube_api) == []
    trust_registry_ca(kube_api, registry.host, registry.ca_path.read_bytes())
    ok = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--dry-run", "-o", "json",
                      *LOOPBACK_OK], tmp_path)
    assert ok.code == 0, ok.err
    pull = {c["name"]: c for c in json.loads(ok.out)[0]["checks"]}["NodesCanPull"]
    assert pull["ok"] and "not the nodes' network, proxy or system CA bundle" in pull["message"]


def _mirror_set(api: KubeAPI, name: str, entries: list) -> None:
    api.store.put({"apiVersion": "config.openshift.io/v1", "kind": "ImageDigestMirrorSet", "metadata": {"name": name},
                   "spec": {"imageDigestMirrors": entries}})


def test_digest_mirrors_are_honoured_and_a_malformed_entry_elsewhere_does_not_fail(
        tmp_path, pushed, trusted, kube_api, registry, rhcos_layer):
    # the image as the user names it: localhost:PORT (the same registry under another name, which the
    # pull secret has no entry for); the cluster mirrors that name to 127.0.0.1:PORT, which it has
    port = registry.host.rsplit(":", 1)[1]
    source = f"localhost:{port}/ops"
    image = pushed["image"].replace(registry.host, f"localhost:{port}")
    auth = write_authfile(tmp_path / "auth.json", {f"localhost:{port}": registry.auth})
    args = ["apply", "--pool", "worker", "--image", image, "--authfile", str(auth), "--cert-dir",
            str(registry.cert_dir), "--dry-run", "-o", "json", *LOOPBACK_OK]
    unmirrored = rhcos_layer(args, tmp_path)
    assert unmirrored.code == 12, unmirrored.err
    # the nodes have neither credentials nor a CA for that name
    assert f"every node would fail to pull the image and go Degraded: localhost:{port}:" in unmirrored.err
    _mirror_set(kube_api, "broken-elsewhere", [{"source": "quay.io/other", "mirrors": "not-a-list"}, {"mirrors": []}])
    _mirror_set(kube_api, "ours", [{"source": source, "mirrors": [f"{registry.host}/ops"]}])
    mirrored = rhcos_layer(args, tmp_path)
    assert mirrored.code == 0, mirrored.err
    pull = {c["name"]: c for c in json.loads(mirrored.out)[0]["checks"]}["NodesCanPull"]
    assert pull["ok"] and f"can pull {registry.host}/ops/layered (mirror of localhost:{port}/ops/layered)" \
        in pull["message"]
    # a mirror on the same registry that lacks the image: the nodes fall back to the source
    _mirror_set(kube_api, "same-registry", [{"source": f"{registry.host}/ops",
                                             "mirrors": [f"{registry.host}/nowhere"]}])
    fallback = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--dry-run", "-o", "json",
                            *LOOPBACK_OK], tmp_path)
    assert fallback.code == 0, fallback.err
    pull = {c["name"]: c for c in json.loads(fallback.out)[0]["checks"]}["NodesCanPull"]
    assert pull["ok"] and f"can pull {registry.host}/ops/layered;" in pull["message"]
    # a malformed entry for the image's own source: what the nodes do cannot be told
    _mirror_set(kube_api, "broken-ours", [{"source": source, "mirrors": [7]}])
    broken = rhcos_layer(args, tmp_path)
    assert broken.code == 12 and f"the cluster's mirror configuration for localhost:{port}/ops/layered is" \
        " malformed" in broken.err


# ------------------------------------------------------------------ item 7: several pools in one command


def _managed_master(api: KubeAPI, image: str) -> None:
    """An earlier apply to master: its MachineConfig exists, managed by rhcos-layer."""
    api.store.put(machineconfig.render("master", image))


def test_a_failed_later_write_puts_the_earlier_ones_back(tmp_path, pushed, trusted, kube_api, rhcos_layer):
    old = "quay.io/other/image@sha256:" + "7" * 64
    _managed_master(kube_api, old)
    kube_api.fail(500, method="PUT", path=f"{MCS}/99-zz-rhcos-layer-0-master", times=10)
    result = rhcos_layer(["apply", "--pool", "worker", "--pool", "master", "--image", pushed["image"],
                          "--no-wait", *LOOPBACK_OK], tmp_path)
    assert result.code == 1, result.err
    assert "pool master: update machineconfig 99-zz-rhcos-layer-0-master failed with HTTP 500" in result.err
    assert "the MachineConfigs written before it were put back (99-zz-rhcos-layer-0-worker (pool worker)):" \
           " nothing was changed" in result.err
    assert kube_api.store.get("machineconfigs", "99-zz-rhcos-layer-0-worker") is None
    assert kube_api.store.get("machineconfigs", "99-zz-rhcos-layer-0-master")["spec"]["osImageURL"] == old


def test_when_the_earlier_writes_cannot_be_put_back_the_error_says_what_is_on_the_cluster(
        tmp_path, pushed, trusted, kube_api, rhcos_layer):
    _managed_master(kube_api, "quay.io/other/image@sha256:" + "7" * 64)
    kube_api.fail(500, method="PUT", path=f"{MCS}/99-zz-rhcos-layer-0-master", times=10)
    kube_api.fail(503, method="DELETE", path=f"{MCS}/99-zz-rhcos-layer-0-worker", times=10)
    result = rhcos_layer(["apply", "--pool", "worker", "--pool", "master", "--image", pushed["image"],
                          "--no-wait", *LOOPBACK_OK], tmp_path)
    assert result.code == 19, result.err
    assert (f"written before it and still on the cluster: MachineConfig 99-zz-rhcos-layer-0-worker of pool worker"
            f" created to {pushed['image']}") in result.err
    assert "undo with: oc delete machineconfig 99-zz-rhcos-layer-0-worker" in result.err
    assert "nothing was changed" not in result.err
    assert kube_api.store.get("machineconfigs", "99-zz-rhcos-layer-0-worker") is not None


def test_a_rollback_that_fails_on_a_later_pool_says_what_it_deleted(tmp_path, pushed, trusted, kube_api,
                                                                     rhcos_layer):
    applied = rhcos_layer(["apply", "--pool", "worker", "--pool", "master", "--image", pushed["image"],
                           "--no-wait", *LOOPBACK_OK], tmp_path)
    assert applied.code == 0, applied.err
    kube_api.fail(500, method="DELETE", path=f"{MCS}/99-zz-rhcos-layer-0-master", times=10)
    result = rhcos_layer(["rollback", "--pool", "worker", "--pool", "master", "--no-wait"], tmp_path)
    assert result.code == 19, result.err
    assert (f"already deleted before it: 99-zz-rhcos-layer-0-worker (pool worker, osImageURL {pushed['image']})"
            in result.err)
    assert f"put them back with: rhcos-layer apply --pool worker --image {pushed['image']}" in result.err
    assert kube_api.store.get("machineconfigs", "99-zz-rhcos-layer-0-master") is not None
    first = rhcos_layer(["rollback", "--pool", "master", "--pool", "worker", "--no-wait"], tmp_path)
    assert first.code == 1 and "nothing was changed" in first.err  # the failing pool first: nothing deleted


# ------------------------------------------------------------------ bytes read by the preflight


def test_the_preflight_reads_at_most_2_mb_beside_100_big_rendered_configs(
        tmp_path, pushed, registry, fake_base, kube_api, kubeconfig, tool_env, monkeypatch, rhcos_layer):
    # as real clusters weigh: 100 rendered configs of ~500 KB that the MCO never deletes, and 00-<pool>
    # carrying the templates' bulk (the tool before this read 49 MB here, listing every MachineConfig)
    seed_openshift(kube_api, base_image=fake_base.pullspec, pull_secret=registry.auth_config(),
                   rendered_configs=100, rendered_bytes=500_000)
    trust_registry_ca(kube_api, registry.host, registry.ca_path.read_bytes())
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    kube_api.reset_requests()
    result = rhcos_layer(["apply", "--pool", "worker", "--image", pushed["image"], "--dry-run", *LOOPBACK_OK],
                         tmp_path)
    assert result.code == 0, result.err
    read = sum(c.sent for c in kube_api.calls)
    assert read <= 2_000_000, [(c.method, c.path, c.sent) for c in kube_api.calls if c.sent > 50_000]
    assert not [c for c in kube_api.calls if c.path.startswith(f"{MCS}/rendered-")]

"""One merge order for the whole tool (pools.merge_order), as the MCO's render controller merges."""

from __future__ import annotations

from typing import Optional, Tuple

import pytest

from rhcos_layer import pools

ROLE = "machineconfiguration.openshift.io/role"


def _mc(name: str, role: str, **spec: object) -> dict:
    return {"metadata": {"name": name, "labels": {ROLE: role}}, "spec": dict(spec)}


CONFIGS = [_mc("00-worker", "worker"), _mc("50-infra-extra", "infra"), _mc("99-worker-ssh", "worker"),
           _mc("99-zz-rhcos-layer-1-infra", "infra"), _mc("99-zzzz-worker-late", "worker")]


@pytest.mark.parametrize(("pool", "version", "order"), [
    # built-in pools: by name, whatever the version
    ("worker", (4, 16), ["00-worker", "50-infra-extra", "99-worker-ssh", "99-zz-rhcos-layer-1-infra",
                         "99-zzzz-worker-late"]),
    # 4.14: a custom pool's configs by name alone
    ("infra", (4, 14), ["00-worker", "50-infra-extra", "99-worker-ssh", "99-zz-rhcos-layer-1-infra",
                        "99-zzzz-worker-late"]),
    # 4.15 and later: the worker-role configs first, then the pool's own
    ("infra", (4, 15), ["00-worker", "99-worker-ssh", "99-zzzz-worker-late", "50-infra-extra",
                        "99-zz-rhcos-layer-1-infra"]),
    ("infra", None, ["00-worker", "99-worker-ssh", "99-zzzz-worker-late", "50-infra-extra",
                     "99-zz-rhcos-layer-1-infra"]),
])
def test_merge_order_by_version(pool: str, version: Optional[Tuple[int, int]], order: list) -> None:
    assert [mc["metadata"]["name"] for mc in pools.merge_order(pool, CONFIGS, version)] == order


def test_a_custom_pool_gets_the_same_kernel_type_whatever_the_order() -> None:
    # realtime in any merged config beats default, even when a later config says default
    configs = [_mc("99-worker-rt", "worker", kernelType="realtime"), _mc("99-zz-infra", "infra", kernelType="default")]
    assert pools.facts_from("infra", configs, (4, 16)).kernel_type == "realtime"
    assert pools.facts_from("infra", configs, (4, 14)).kernel_type == "realtime"
    assert pools.facts_from("worker", [_mc("a", "worker", kernelType="64k-pages"), _mc("b", "worker")]
                            ).kernel_type == "64k-pages"
    assert pools.facts_from("worker", [_mc("a", "worker")]).kernel_type == "default"


@pytest.mark.parametrize(("text", "version"), [
    ("4.16.3", (4, 16)), ("4.15.0-rc.1", (4, 15)), ("4.14", (4, 14)), ("", None), (None, None), ("v4.x", None),
])
def test_versions(text: Optional[str], version: Optional[Tuple[int, int]]) -> None:
    assert pools.parse_version(text) == version

"""oncluster.ImageWatcher, the one follower of an on-cluster pool's nodes to a built image (apply --on-cluster)
or back to the base (rollback): offline, on plain objects."""

from __future__ import annotations

from typing import Optional

from rhcos_layer import oncluster
from tests.unit.test_rollout_rules import TARGET, _Cluster, _node, _pool

BUILT = "registry.example/os/worker@sha256:" + "1" * 64
OTHER = "registry.example/os/worker@sha256:" + "2" * 64


def _layered(name: str, current: Optional[str], desired: Optional[str]) -> dict:
    node = dict(_node("Done", current=TARGET, desired=TARGET), name=name)
    if current:
        node["annotations"][oncluster.CURRENT_IMAGE] = current
    if desired:
        node["annotations"][oncluster.DESIRED_IMAGE] = desired
    return node


def _watcher(nodes: list, image: Optional[str], **kwargs: object) -> oncluster.ImageWatcher:
    pool = _pool(machineCount=len(nodes), updatedMachineCount=len(nodes))
    pool["spec"]["configuration"]["source"] = [{"name": "00-worker"}]
    return oncluster.ImageWatcher(_Cluster(pool, nodes), "worker", image, without="99-zz-rhcos-layer-0-worker",
                                  on_refresh=lambda *a: None, every=1, **kwargs)


def test_every_node_booting_the_build_ends_the_wait() -> None:
    watcher = _watcher([_layered("worker-0", BUILT, BUILT), _layered("worker-1", BUILT, BUILT)], BUILT)
    assert watcher.step() is True


def test_a_node_booting_the_build_but_sent_to_another_image_is_still_waiting() -> None:
    # the node controller already sends it on (a newer build): it reboots again, so the pool is not done
    watcher = _watcher([_layered("worker-0", BUILT, OTHER), _layered("worker-1", BUILT, BUILT)], BUILT)
    assert watcher.step() is False
    assert watcher.behind == 1
    assert "1 node(s) not yet on " + BUILT in watcher.diagnosis()


def test_the_build_named_through_a_mirror_is_the_same_image() -> None:
    mirrored = "mirror.example/os/worker@sha256:" + "1" * 64
    watcher = _watcher([_layered("worker-0", mirrored, mirrored)], BUILT)
    assert watcher.step() is True


def test_back_to_the_base_waits_for_the_image_annotations_to_go() -> None:
    assert _watcher([_layered("worker-0", BUILT, None)], None).step() is False
    assert _watcher([_layered("worker-0", None, None)], None).step() is True


def test_a_pool_followed_by_its_counters_reads_the_nodes_images_once_settled() -> None:
    # over the detail limit the pool's counters decide, and one node list checks the images: a pool that
    # settled before the watch began is done without having been seen updating
    behind = _watcher([_layered("worker-0", BUILT, BUILT), _layered("worker-1", OTHER, OTHER)], BUILT,
                      detail_limit=0)
    assert behind.step() is False
    assert behind.behind == 1
    assert _watcher([_layered("worker-0", BUILT, BUILT)], BUILT, detail_limit=0).step() is True

"""A cluster's weight as real ones carry it, for byte budgets (tests/integration/test_watch.py,
benchmarks/watch.py): rendered MachineConfigs that pile up (the MCO never garbage-collects them, and
real ones run to hundreds of KB of Ignition) and nodes with ~8 KB of metadata (managedFields from the
kubelet, the MCO daemon and the node controller; openshift/machine-config-operator issue #2010 for the
rendered configs, kubernetes' fieldmanager for managedFields)."""

from __future__ import annotations

import hashlib
from typing import List

from .kube import MCO_GROUP, KubeAPI


def pile_up_rendered(api: KubeAPI, pool: str, count: int, size: int) -> List[str]:
    """``count`` old rendered configs of ``pool``, each ~``size`` bytes; returns their names."""
    names = []
    current = api.store.get("machineconfigpools", pool)["spec"]["configuration"]["name"]  # type: ignore[index]
    template = api.store.get("machineconfigs", current)
    assert template is not None
    payload = "data:," + "x" * max(0, size - 600)
    for i in range(count):
        name = f"rendered-{pool}-" + hashlib.sha256(f"{pool}-{i}".encode()).hexdigest()[:32]
        spec = dict(template["spec"], config={"ignition": {"version": "3.4.0"}, "storage": {"files": [
            {"path": f"/etc/old-config-{i}", "mode": 420, "contents": {"source": payload}}]}})
        api.store.put({"apiVersion": f"{MCO_GROUP}/v1", "kind": "MachineConfig",
                       "metadata": {"name": name, "ownerReferences": template["metadata"].get("ownerReferences")},
                       "spec": spec})
        names.append(name)
    return names


def fatten_rendered(api: KubeAPI, name: str, size: int) -> None:
    """Make the rendered config ``name`` ~``size`` bytes, as a real one is."""
    payload = "data:," + "x" * max(0, size - 600)
    api.store.patch("machineconfigs", name, {"spec": {"config": {"storage": {"files": [
        {"path": "/etc/emulator/bulk", "mode": 420, "contents": {"source": payload}}]}}}})


def fatten_nodes(api: KubeAPI, size: int = 8000) -> None:
    """Give every node ~``size`` bytes of metadata: managedFields, and the long annotations that
    operators leave (one string each: cheap for the emulator to copy)."""
    filler = "x" * max(0, size - 1700)
    owned = {"f:metadata": {"f:annotations": {"f:k8s.ovn.org/node-chassis-bulk": {}}}}
    for node in api.store.list("nodes"):
        meta = dict(node["metadata"])
        meta["annotations"] = dict(meta.get("annotations") or {}, **{"k8s.ovn.org/node-chassis-bulk": filler})
        meta["managedFields"] = [{"apiVersion": "v1", "fieldsType": "FieldsV1", "manager": manager,
                                  "operation": "Update", "time": "2026-11-24T10:00:00Z",
                                  "fieldsV1": owned}
                                 for manager in ("kubelet", "machine-config-daemon", "machine-config-controller")]
        api.store.put(dict(node, metadata=meta))


def node_metadata_size(api: KubeAPI, name: str) -> int:
    import json

    node = api.store.get("nodes", name)
    assert node is not None
    return len(json.dumps(node["metadata"], separators=(",", ":")))

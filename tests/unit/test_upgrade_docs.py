"""docs/upgrade.md promises `upgrade plan -o json`'s keys are stable: its example must have exactly the keys
the command prints, at every level (a key renamed or added in one place only fails here)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, List

from rhcos_layer.upgrade import READY, PoolUpgrade, Risk, Skew, Target, Update, UpgradePlan

DOC = Path(__file__).resolve().parents[2] / "docs" / "upgrade.md"


def _documented() -> Any:
    text = DOC.read_text()
    found = re.search(r"### `-o json`\s+```json\n(.*?)\n```", text, re.S)
    assert found, "docs/upgrade.md has no `-o json` example"
    return json.loads(found.group(1))


def _shape(value: Any, where: str = "") -> List[str]:
    """Every key path in ``value`` (a list: its first item stands for all)."""
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out.append(f"{where}.{key}")
            out.extend(_shape(item, f"{where}.{key}"))
        return out
    if isinstance(value, list) and value:
        return _shape(value[0], where + "[]")
    return []


def test_the_documented_plan_json_has_the_keys_the_command_prints() -> None:
    risk = Risk("RHEL10Kernel", "Nodes may not boot", "https://example.com")
    pool = PoolUpgrade("worker", READY, "rhel-coreos", "r/l@sha256:" + "1" * 64, "b@sha256:" + "2" * 64,
                       "r/l@sha256:" + "3" * 64, "sha256:" + "4" * 64,
                       (Skew("kernel", "5.14.0-1", "5.14.0-2", True, "kernel"),), (), "", project="my-layer",
                       new_extensions="e@sha256:" + "5" * 64, built=True, current_kubelet="1.29.6",
                       kubelet_minors_behind=0, kubelet_skew_allowed=3, notes=("kernel: replaced",))
    plan = UpgradePlan("4.16.3", Target("4.16.8", "p@sha256:" + "6" * 64), (pool,),
                       (Update("4.16.8", "p@sha256:" + "6" * 64),),
                       (Update("4.17.2", "p@sha256:" + "7" * 64, True, (risk,), "False", "risky"),),
                       chosen="newest recommended")
    printed = json.loads(json.dumps(plan.as_dict()))
    assert sorted(_shape(_documented())) == sorted(_shape(printed))

"""Property-based tests of upgrade apply's reader of ClusterVersion (input from the API server): any
shape gives a state and what to plan for, never an exception."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rhcos_layer import upgrade_apply as core

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)
_VERSIONS = st.sampled_from(["4.16.3", "4.16.8", "4.17.2", ""])
_CONDITION = st.fixed_dictionaries({"type": st.sampled_from(["Progressing", "Failing", "Available"]) | _JSON,
                                    "status": st.sampled_from(["True", "False", "Unknown"]) | _JSON,
                                    "message": _JSON})
_ENTRY = st.fixed_dictionaries({"version": _VERSIONS | _JSON, "state": st.sampled_from(["Completed", "Partial"])
                                | _JSON, "image": _JSON})
# shaped like a ClusterVersion, each level possibly replaced by anything
_CV = st.fixed_dictionaries({
    "spec": st.fixed_dictionaries({"desiredUpdate": st.fixed_dictionaries({"version": _VERSIONS | _JSON,
                                                                           "image": _JSON}) | _JSON}) | _JSON,
    "status": st.fixed_dictionaries({
        "desired": st.fixed_dictionaries({"version": _VERSIONS | _JSON}) | _JSON,
        "history": st.lists(_ENTRY | _JSON, max_size=4) | _JSON,
        "conditions": st.lists(_CONDITION | _JSON, max_size=4) | _JSON,
    }) | _JSON,
}) | _JSON


@given(_CV, _VERSIONS)
def test_any_cluster_version_reads_as_a_state_and_a_plan_request(cv: object, target: str) -> None:
    upgrade = core.read_upgrade(cv, target)
    assert upgrade.state in (core.NOT_STARTED, core.UPGRADING, core.COMPLETED, core.FAILED, core.OTHER)
    assert all(isinstance(v, str) for v in (upgrade.current, upgrade.desired, upgrade.message))
    if upgrade.state == core.COMPLETED:
        assert target and upgrade.desired == target
    to, release = core.plan_request(cv, target)
    assert (to, release) == (target, None) or to is None and isinstance(release, str) and release



_GATE = st.fixed_dictionaries({"type": st.sampled_from(["Failing", "Invalid", "Upgradeable"]) | _JSON,
                               "status": st.sampled_from(["True", "False"]) | _JSON,
                               "reason": _JSON, "message": _JSON})


@given(st.fixed_dictionaries({"status": st.fixed_dictionaries({"conditions": st.lists(_GATE | _JSON, max_size=4)
                                                                              | _JSON}) | _JSON}) | _JSON,
       _VERSIONS, _VERSIONS)
def test_the_checks_before_starting_read_any_cluster_version(cv: object, target: str, current: str) -> None:
    """upgrade apply's Failing / Invalid / Upgradeable checks: a refusal (PreflightFailed) or nothing."""
    from rhcos_layer.errors import PreflightFailed

    found = core.Survey(target, "", core.ClusterUpgrade(target, core.NOT_STARTED, current, current),
                        cluster_version=cv if isinstance(cv, dict) else {})
    for check in (core._require_healthy, core._require_upgradeable):
        try:
            check(found)
        except PreflightFailed as exc:
            assert exc.message.endswith("; nothing was changed")

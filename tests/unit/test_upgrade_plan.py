"""upgrade plan's rules without a cluster or Podman: updates, target, stream, rpm answers, skew."""

from __future__ import annotations

import pytest

from rhcos_layer.adapters.engine import demux_logs, split_framed
from rhcos_layer.errors import InvalidInput, UpgradeNotReady
from rhcos_layer.upgrade import (
    Package,
    PoolUpgrade,
    Risk,
    Target,
    Update,
    UpgradePlan,
    choose_target,
    compare,
    kubelet_skew_allowed,
    parse_nvra,
    parse_rpm_answers,
    pool_stream,
    read_updates,
)

IMG = "quay.io/openshift-release-dev/ocp-release@sha256:"


def _cv(available, conditional=(), history=({"state": "Completed", "version": "4.16.3"},)):
    return {"status": {"history": list(history), "availableUpdates": list(available),
                       "conditionalUpdates": list(conditional)}}


def test_updates_newest_first_and_conditional_with_risks():
    cv = _cv([{"version": "4.16.8", "image": IMG + "8" * 64}, {"version": "4.16.10", "image": IMG + "a" * 64}],
             [{"release": {"version": "4.17.2", "image": IMG + "2" * 64},
               "risks": [{"name": "AROBrokenDNSMasq", "message": "DNS breaks on ARO", "url": "https://x/1",
                          "matchingRules": [{"type": "Always"}]}],
               "conditions": [{"type": "Recommended", "status": "False", "reason": "ExposedToRisks",
                               "message": "exposed to AROBrokenDNSMasq"}]}])
    current, available, conditional = read_updates(cv)
    assert current == "4.16.3"
    assert [u.version for u in available] == ["4.16.10", "4.16.8"]  # by version, not by text
    assert conditional == [Update("4.17.2", IMG + "2" * 64, True,
                                  (Risk("AROBrokenDNSMasq", "DNS breaks on ARO", "https://x/1"),),
                                  "False", "exposed to AROBrokenDNSMasq")]


def test_a_conditional_update_also_recommended_is_listed_once():
    entry = {"version": "4.16.8", "image": IMG + "8" * 64}
    _, available, conditional = read_updates(_cv([entry], [{"release": entry, "risks": []}]))
    assert [u.version for u in available] == ["4.16.8"] and conditional == []


def test_malformed_entries_are_left_out():
    cv = _cv([{"version": "latest", "image": "x"}, {"image": "x"}, "4.16.8", {"version": "4.16.9", "image": 5}],
             [{"release": "4.17.0"}, {"risks": [1]}, None])
    assert read_updates(cv) == ("4.16.3", [], [])
    assert read_updates({"status": "nope"}) == (None, [], [])


def test_choose_target_defaults_to_the_newest_recommended_never_a_conditional():
    rec = [Update("4.16.8", "a"), Update("4.16.3", "b")]
    cond = [Update("4.17.2", "c", conditional=True)]
    assert choose_target(rec, cond, None) == (rec[0], "newest recommended")
    assert choose_target([], cond, None) == (None, "up to date")
    assert choose_target(rec, cond, "4.17.2") == (cond[0], "--to")
    with pytest.raises(InvalidInput) as exc:
        choose_target(rec, cond, "4.18.0")
    assert exc.value.message == ("--to 4.18.0: not an update this cluster offers (recommended: 4.16.8, 4.16.3;"
                                 " conditional: 4.17.2)")


@pytest.mark.parametrize("spec,expected", [
    ({}, ("rhel-coreos", None)),
    ({"osImageStream": {"name": "rhel-9"}}, ("rhel-coreos", None)),
    ({"osImageStream": {"name": "rhel-10"}}, ("rhel-coreos-10", None)),
    ({"osImageStream": {"name": "rhel-coreos-10"}}, ("rhel-coreos-10", None)),
    ({"osImageStream": "rhel-10"}, ("rhel-coreos", None)),
])
def test_pool_stream(spec, expected):
    assert pool_stream({"spec": spec}) == expected


def test_an_unknown_stream_is_a_problem_not_a_guess():
    stream, problem = pool_stream({"spec": {"osImageStream": {"name": "centos-stream-10"}}})
    assert problem == "spec.osImageStream.name 'centos-stream-10' is not a stream rhcos-layer knows (rhel-9, rhel-10)"


def test_parse_nvra():
    assert parse_nvra("openshift-kubelet-1.29.6-202406251923.p0.g1c1a4b3.assembly.stream.el9.x86_64\n") == \
        Package("openshift-kubelet", "1.29.6-202406251923.p0.g1c1a4b3.assembly.stream.el9")
    assert parse_nvra("kernel-rt-core-5.14.0-427.22.1.el9_4.x86_64") == Package("kernel-rt-core",
                                                                              "5.14.0-427.22.1.el9_4")
    assert parse_nvra("cri-o-1.29.5-5.rhaos4.16.git7032128.el9") == Package("cri-o",
                                                                             "1.29.5-5.rhaos4.16.git7032128.el9")
    for noise in ("package kernel is not installed", "file /usr/bin/crio is not owned by any package", "", "x-1",
                  "-1-2"):
        assert parse_nvra(noise) is None, noise
    assert Package("openshift-kubelet", "1.29.6-1.el9").minor == (1, 29)
    assert Package("x", "garbage-1").minor is None
    # RHCOS's openshift-kubelet carries the OpenShift version: 4.16 ships Kubernetes 1.29
    assert Package("openshift-kubelet", "4.16.0-202407111006.p0.el9").kubernetes == (1, 29)
    assert Package("kubernetes-node", "1.30.2-1.el9").kubernetes == (1, 30)
    assert Package("openshift-kubelet", "3.11.0-1").kubernetes is None


def _answers(kubelet_file, crio_file, kubelet_name, crio_name, kernel, rt):
    return [kubelet_file, crio_file, kubelet_name, crio_name, kernel, rt]


NOT = (1, "package x is not installed\n")


def test_rpm_answers_by_component_kernel_or_rt():
    kubelet = (0, "openshift-kubelet-4.16.0-1.el9.x86_64\n")
    crio = (0, "cri-o-1.29.5-5.el9.x86_64\n")
    plain = parse_rpm_answers(_answers(kubelet, crio, NOT, NOT, (0, "kernel-5.14.0-427.el9.x86_64\n"), NOT))
    assert plain == {"kubelet": Package("openshift-kubelet", "4.16.0-1.el9"), "cri-o": Package("cri-o", "1.29.5-5.el9"),
                     "kernel": Package("kernel", "5.14.0-427.el9")}
    rt = parse_rpm_answers(_answers(kubelet, crio, NOT, NOT, NOT, (0, "kernel-rt-core-5.14.0-427.rt.el9.x86_64\n")))
    assert rt["kernel"] == Package("kernel-rt-core", "5.14.0-427.rt.el9")
    # no such file: the package by its name
    missing = (1, "error: file /usr/bin/crio: No such file or directory\n")
    by_name = parse_rpm_answers(_answers(kubelet, missing, NOT, crio, NOT, NOT))
    assert by_name["cri-o"] == Package("cri-o", "1.29.5-5.el9") and "kernel" not in by_name
    # a file owned by two packages: which one is unknown, so neither is read
    two = (0, "a-1-1\nb-1-1\n")
    assert "kubelet" not in parse_rpm_answers(_answers(two, crio, NOT, NOT, NOT, NOT))
    # a package in the wrong place is not taken for what was asked
    wrong = parse_rpm_answers(_answers(missing, missing, crio, kubelet, (0, "kernel-rt-core-1-1.x86_64\n"),
                                       (0, "evil-1-1.x86_64\n")))
    assert wrong == {}
    assert parse_rpm_answers([kubelet]) == {}


def test_skew_flags_what_the_layer_replaces():
    base = {"kubelet": Package("openshift-kubelet", "1.29.6-1.el9"), "kernel": Package("kernel", "5.14.0-427.el9"),
            "cri-o": Package("cri-o", "1.29.5-5.el9")}
    image = dict(base, kernel=Package("kernel", "5.14.0-500.el9"))
    skew, notes = compare(image, base)
    assert [(s.component, s.image_version, s.base_version, s.replaced) for s in skew] == [
        ("kubelet", "1.29.6-1.el9", "1.29.6-1.el9", False),
        ("cri-o", "1.29.5-5.el9", "1.29.5-5.el9", False),
        ("kernel", "5.14.0-500.el9", "5.14.0-427.el9", True),
    ]
    assert notes == ("kernel: the layer replaces the base's 5.14.0-427.el9 with 5.14.0-500.el9: rebuild with the"
                     " kernel RPMs matching the new release, or drop the override",)
    rt, _ = compare(dict(base, kernel=Package("kernel-rt-core", "5.14.0-427.rt.el9")), base)
    assert (rt[2].image_version, rt[2].replaced, rt[2].package) == ("kernel-rt-core 5.14.0-427.rt.el9", True,
                                                                    "kernel-rt-core")
    assert compare(base, base)[1] == ()


def test_kubelet_skew_policy():
    assert kubelet_skew_allowed((1, 28)) == 3 and kubelet_skew_allowed((1, 31)) == 3
    assert kubelet_skew_allowed((1, 27)) == 2


def _pool(state, pool="worker"):
    return PoolUpgrade(pool, state, "rhel-coreos", "", "", None, None, (), (), "" if state == "ready" else "why")


def test_plan_ready_only_when_every_layered_pool_is():
    target = Target("4.16.8", IMG + "8" * 64)
    assert UpgradePlan("4.16.3", target, (_pool("ready"), _pool("on-cluster", "infra"))).ready is True
    plan = UpgradePlan("4.16.3", target, (_pool("ready"), _pool("build-failed", "gpu")))
    assert plan.ready is False
    with pytest.raises(UpgradeNotReady) as exc:
        plan.check()
    assert exc.value.exit_code == 20
    assert exc.value.message == "upgrade to 4.16.8 is not ready: pool gpu: build-failed (why)"


def test_framed_rpm_output_and_log_frames():
    text = "@@t@@0\nkernel-1-1\n@@t@@rc=0\n@@t@@1\npackage x is not installed\n@@t@@rc=1\n"
    assert split_framed(text, "t", 3) == [(0, "kernel-1-1\n"), (1, "package x is not installed\n"), (127, "")]
    # a forged marker without the token frames nothing
    assert split_framed("@@x@@0\nfoo\n@@x@@rc=0\n", "t", 1) == [(127, "")]
    framed = b"\x01\x00\x00\x00\x00\x00\x00\x03abc" + b"\x02\x00\x00\x00\x00\x00\x00\x02de"
    assert demux_logs(framed) == b"abcde"
    assert demux_logs(b"plain text\n") == b"plain text\n"


def test_cached_rpm_answers_are_read_only_when_whole(tmp_path):
    import json

    from rhcos_layer.upgrade import _cached_answers, rpm_queries

    path = tmp_path / "a.json"
    answers = [[i % 2, f"p{i}-1-1\n"] for i in range(len(rpm_queries()))]
    good = {"format": 1, "queries": rpm_queries(), "answers": answers}
    path.write_text(json.dumps(good))
    assert _cached_answers(path, rpm_queries()) == [(a, b) for a, b in answers]
    for broken in ({**good, "format": 2}, {**good, "queries": [["-qa"]]}, {**good, "answers": [[0, "x"]]},
                   {**good, "answers": [[0, 5], [1, ""]]}, [good]):
        path.write_text(json.dumps(broken))
        assert _cached_answers(path, rpm_queries()) is None, broken
    path.write_text("{not json")
    assert _cached_answers(path, rpm_queries()) is None
    assert _cached_answers(tmp_path / "missing.json", rpm_queries()) is None

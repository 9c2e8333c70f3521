"""Where a node pulls a digest from, by the cluster's mirror sets (apply.NodeTrust): offline."""

from __future__ import annotations

from rhcos_layer.apply import NodeTrust


def _trust(*entries: object) -> NodeTrust:
    trust = NodeTrust()
    for entry in entries:
        trust._add_mirror(entry, "ImageDigestMirrorSet test")
    return trust


def test_no_mirror_means_the_source_only() -> None:
    assert _trust().sources_for("quay.io/ops/layered") == (["quay.io/ops/layered"], [])


def test_mirrors_of_the_most_specific_source_first_then_the_source() -> None:
    trust = _trust({"source": "quay.io/ops", "mirrors": ["mirror.example.com/ops", "backup.example.com/ops"]},
                   {"source": "quay.io", "mirrors": ["everything.example.com"]})
    assert trust.sources_for("quay.io/ops/layered") == (
        ["mirror.example.com/ops/layered", "backup.example.com/ops/layered", "quay.io/ops/layered"], [])
    # a source matches whole path components only
    assert trust.sources_for("quay.io/opsother/x") == (["everything.example.com/opsother/x", "quay.io/opsother/x"],
                                                       [])


def test_never_contact_source() -> None:
    trust = _trust({"source": "quay.io/ops", "mirrors": ["mirror.example.com/ops"],
                    "mirrorSourcePolicy": "NeverContactSource"})
    assert trust.sources_for("quay.io/ops/layered") == (["mirror.example.com/ops/layered"], [])


def test_a_malformed_entry_counts_only_for_its_own_source() -> None:
    trust = _trust({"source": "registry.example.com", "mirrors": "not-a-list"}, {"mirrors": ["x"]}, "junk",
                   {"source": "quay.io/ops", "mirrors": [None]})
    assert trust.sources_for("other.example.com/a/b") == (["other.example.com/a/b"], [])
    tried, problems = trust.sources_for("quay.io/ops/layered")
    assert tried == ["quay.io/ops/layered"]
    assert problems == ["ImageDigestMirrorSet test: the mirrors of quay.io/ops are not a list of names"]

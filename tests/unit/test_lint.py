"""lint's rules, each shown failing and passing, and the OpenShift docs' examples passing."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from rhcos_layer import containerfile
from rhcos_layer.lint import ERROR, WARNING, PoolFacts, conflicts, errors, lint

BASE = "quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256:" + "a" * 64
EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "docs-examples"


def _rules(text: str, **kwargs) -> List[tuple]:
    return [(f.rule, f.severity, f.line) for f in lint(containerfile.parse(text), **kwargs)]


def _fill(text: str) -> str:
    return text.replace("@sha256...", "@sha256:" + "a" * 64)


@pytest.mark.parametrize("path", sorted(p for p in EXAMPLES.glob("*.Containerfile") if p.stem != "kernel"),
                         ids=lambda p: p.stem)
def test_every_docs_example_passes_without_errors(path: Path) -> None:
    findings = lint(containerfile.parse(_fill(path.read_text()), path.name))
    assert errors(findings) == []


def test_the_docs_kernel_example_builds_on_the_release_payload_and_is_refused() -> None:
    # The OpenShift docs' kernel example writes FROM quay.io/openshift-release/ocp-release@sha256...:
    # the release payload, which is not an OS image at all.
    findings = lint(containerfile.parse(_fill((EXAMPLES / "kernel.Containerfile").read_text()), "kernel"))
    assert [(f.rule, f.name, f.severity, f.line) for f in errors(findings)] == [
        ("RL114", "from-release-payload", ERROR, 2)]
    assert "rhcos-layer resolve --release RELEASE" in findings[0].fix


def test_clean_layer_has_no_findings() -> None:
    text = f"FROM {BASE}\nCOPY a.conf /etc/a.conf\nRUN rpm-ostree install tree && ostree container commit\n"
    assert _rules(text) == []


def test_unpinned_from_is_an_error_but_on_cluster_is_fine() -> None:
    assert _rules("FROM quay.io/x/rhcos:4.16\nRUN true && ostree container commit\n") == [("RL101", ERROR, 1)]
    assert _rules("FROM configs AS final\nRUN rpm-ostree install tree && ostree container commit\n") == []


def test_last_run_must_finish_the_image() -> None:
    text = f"FROM {BASE}\nRUN rpm-ostree install tree && ostree container commit\nRUN rpm-ostree install vim\n"
    assert _rules(text) == [("RL102", WARNING, 3)]
    assert _rules(f"FROM {BASE}\nRUN rpm-ostree install tree && bootc container lint\n") == []


def test_partial_kernel_replacement() -> None:
    partial = f"FROM {BASE}\nRUN rpm-ostree override replace /tmp/kernel-5.14.0-1.el9.x86_64.rpm " \
              "/tmp/kernel-core-5.14.0-1.el9.x86_64.rpm && ostree container commit\n"
    [finding] = lint(containerfile.parse(partial))
    assert (finding.rule, finding.severity, finding.line) == ("RL103", ERROR, 2)
    assert "missing: kernel-modules, kernel-modules-extra, kernel-modules-core" in finding.message
    full = f"FROM {BASE}\nRUN rpm-ostree override replace /r/kernel-{{,core-,modules-,modules-extra-}}6.0-1.fc.rpm" \
           " && ostree container commit\n"
    assert _rules(full) == []


def test_realtime_kernel_and_extensions_warn_offline_and_fail_against_the_pool() -> None:
    text = f"FROM {BASE}\nRUN rpm-ostree install kernel-rt-core usbguard && ostree container commit\n"
    assert _rules(text) == [("RL104", WARNING, 2), ("RL105", WARNING, 2)]
    pool = PoolFacts("worker", extensions={"usbguard"}, kernel_type="realtime")
    assert _rules(text, pool=pool) == [("RL104", ERROR, 2), ("RL105", ERROR, 2)]
    assert _rules(text, pool=PoolFacts("worker", extensions={"ipsec"})) == [("RL104", WARNING, 2),
                                                                           ("RL105", WARNING, 2)]


def test_the_64k_pages_kernel_is_a_kernel_type_conflict_too() -> None:
    # kernelType 64k-pages installs kernel-64k-* (MCO pkg/daemon/update.go; tests/support/mco.py KERNEL_PACKAGES)
    text = f"FROM {BASE}\nRUN rpm-ostree install kernel-64k-core kernel-64k-modules && ostree container commit\n"
    [offline] = lint(containerfile.parse(text))
    assert (offline.rule, offline.severity) == ("RL104", WARNING)
    assert "layering the 64k-pages kernel (kernel-64k-core, kernel-64k-modules) conflicts with a MachineConfig" \
           " kernelType: 64k-pages" in offline.message
    assert _rules(text, pool=PoolFacts("worker", kernel_type="64k-pages")) == [("RL104", ERROR, 2)]
    # either special kernel clashes with a pool that swaps its kernel for the other one
    assert _rules(text, pool=PoolFacts("worker", kernel_type="realtime")) == [("RL104", ERROR, 2)]
    assert _rules(text, pool=PoolFacts("worker")) == [("RL104", WARNING, 2)]
    assert conflicts({"kernel-64k-core", "htop"}, PoolFacts("worker", kernel_type="64k-pages")) == [
        "the layered kernel-64k-core conflicts with the pool's kernelType: 64k-pages"]
    assert conflicts({"kernel-rt", "kernel-64k-core"}, PoolFacts("worker")) == []


def test_cliwrap_install_to_root_is_an_error() -> None:
    text = f"FROM {BASE}\nRUN rpm-ostree cliwrap install-to-root / && rpm-ostree install x && ostree container commit\n"
    assert _rules(text) == [("RL106", ERROR, 2)]


@pytest.mark.parametrize("line", [
    "COPY data /var/lib/myapp/",
    "RUN mkdir -p /var/lib/myapp && ostree container commit",
    "RUN echo x > /var/log/app.conf && ostree container commit",
])
def test_writes_under_var_warn(line: str) -> None:
    assert ("RL107", WARNING, 2) in _rules(f"FROM {BASE}\n{line}\n")


def test_var_tmp_and_usr_are_fine() -> None:
    assert _rules(f"FROM {BASE}\nRUN mkdir -p /var/tmp/x /usr/lib/app && ostree container commit\n") == []


@pytest.mark.parametrize("line", [
    "COPY redhat.repo /etc/yum.repos.d/redhat.repo",
    "COPY entitlement/ /etc/pki/entitlement/",
    "COPY 1234567890-key.pem /etc/pki/x/",
])
def test_entitlements_copied_into_the_image_are_errors(line: str) -> None:
    assert ("RL108", ERROR, 2) in _rules(f"FROM {BASE}\n{line}\n")


def test_secret_mount_of_entitlements_is_fine() -> None:
    text = (f"FROM {BASE}\nRUN --mount=type=secret,id=entitlement,target=/etc/pki/entitlement/ent.pem "
            "rpm-ostree install libreswan && ostree container commit\n")
    assert [r for r in _rules(text) if r[1] == ERROR] == []


def test_add_of_a_remote_url_warns() -> None:
    assert _rules(f"FROM {BASE}\nADD https://example.com/x.conf /etc/x.conf\n") == [("RL109", WARNING, 2)]


def test_secret_build_args_are_errors() -> None:
    assert _rules(f"FROM {BASE}\nARG REGISTRY_PASSWORD\nARG VERSION=1\n") == [("RL110", ERROR, 2)]
    assert _rules(f"FROM {BASE}\n", build_args={"API_TOKEN": "x"}) == [("RL110", ERROR, 0)]


def test_findings_format_names_file_line_rule_and_fix() -> None:
    [finding] = lint(containerfile.parse(f"FROM {BASE}\nADD http://x/y /etc/y\n"))
    assert finding.format("ctx/Containerfile").startswith("ctx/Containerfile:2: warning RL109 add-remote-url: ")
    assert "(fix: " in finding.format("x")


@pytest.mark.parametrize("name, secret", [("REGISTRY_PASSWORD", True), ("GITHUB_TOKEN", True), ("API_KEY", True),
                                          ("SSH_PRIVATE_KEY", True), ("REGISTRY_AUTH", True), ("AUTHOR", False),
                                          ("CACHE_KEY", False), ("KEYBOARD", False), ("VERSION", False)])
def test_secret_looking_names(name: str, secret: bool) -> None:
    from rhcos_layer.lint import looks_secret

    assert looks_secret(name) is secret


def test_add_with_checksum_is_the_fix_not_a_finding() -> None:
    assert _rules(f"FROM {BASE}\nADD --checksum=sha256:{'a' * 64} https://example.com/x /etc/x\n") == []


def test_a_placeholder_from_is_not_judged_when_the_base_is_replaced() -> None:
    text = "FROM quay.io/placeholder/rhcos:latest\nRUN rpm-ostree install x && ostree container commit\n"
    assert _rules(text) == [("RL101", ERROR, 1)]
    assert _rules(text, base_overridden=True) == []


def test_an_unknown_instruction_is_an_error_with_its_line_and_the_likely_one() -> None:
    [finding] = [f for f in lint(containerfile.parse(f"FROM {BASE}\nRUNN rpm-ostree install x\n"))
                 if f.rule == "RL111"]
    assert (finding.severity, finding.line, finding.message, finding.fix) == (
        ERROR, 2, "RUNN is not a Containerfile instruction", "write RUN")


def test_every_heredoc_is_an_error_podman_4_3_cannot_build() -> None:
    text = f"FROM {BASE}\nCOPY <<EOF /etc/motd\nhello\nEOF\nRUN true && ostree container commit\n"
    assert _rules(text) == [("RL112", ERROR, 2)]
    # its body, which Podman 4.3 would read as an instruction, is not reported on its own
    assert "RL111" not in {f.rule for f in lint(containerfile.parse(text))}


def test_a_from_hidden_in_a_heredoc_is_an_error_not_a_crash() -> None:
    text = f"FROM {BASE}\nRUN <<EOF\nFROM quay.io/x/y:1\nEOF\n"
    assert [r for r in _rules(text) if r[1] == ERROR] == [("RL112", ERROR, 2)]


def test_a_trailing_continuation_is_an_error() -> None:
    assert ("RL116", ERROR, 2) in _rules(f"FROM {BASE}\nRUN true && ostree container commit \\\n")


def test_the_base_init_leaves_unset_is_named() -> None:
    text = f"FROM {containerfile.BASE_NOT_SET}\nRUN true && ostree container commit\n"
    [finding] = lint(containerfile.parse(text))
    assert (finding.rule, finding.name, finding.line) == ("RL115", "base-not-set", 1)
    assert "rhcos-layer resolve --release RELEASE" in finding.fix
    assert _rules(text, base_overridden=True) == []


def test_a_release_payload_as_from_is_an_error_even_by_tag() -> None:
    text = "FROM quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64\nRUN true && ostree container commit\n"
    assert _rules(text) == [("RL114", ERROR, 1)]


def test_a_bad_substitution_in_from_is_a_finding() -> None:
    [finding] = lint(containerfile.parse("FROM ${BASE:?unset}\n"))
    assert (finding.rule, finding.line) == ("RL101", 1)
    assert "unsupported modifier (?)" in finding.message


def _context(root: Path, files: dict, ignore: str = ""):
    from rhcos_layer.context import collect

    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    if ignore:
        (root / ".containerignore").write_text(ignore)
    (root / "empty-dir").mkdir()
    return collect(root)


@pytest.mark.parametrize(("copy", "found"), [
    ("COPY a.conf /etc/", True),
    ("COPY ./sub/../a.conf /etc/", True),
    ("COPY /a.conf /etc/", True),
    ("COPY sub/ /etc/", True),
    ("COPY sub/deeper /etc/", True),
    ("COPY empty-dir /etc/x", False),  # build sends no empty folder
    ("COPY . /etc/x", True),
    ("COPY *.conf /etc/", True),
    ("COPY s?b/b.conf /etc/", True),
    ('COPY ["a.conf", "/etc/"]', True),
    ("COPY --chown=0:0 --from=builder /nope /etc/", True),  # another stage's file
    ("COPY --from=quay.io/x/y:1 /nope /etc/", True),
    ("ADD https://example.com/x.conf /etc/", True),
    ("COPY ${DIR}/x /etc/", True),  # a variable: lint cannot know
    ("COPY missing.conf /etc/", False),
    ("COPY a.conf missing.conf /etc/", False),
    ("COPY *.rpm /tmp/", False),
    ("COPY secret.pem /etc/", False),  # excluded by .containerignore
    ("COPY logs /var/tmp/", False),  # a folder excluded whole
    ("COPY [z-a] /etc/", False),
    ("COPY https://example.com/x.conf /etc/", False),
])
def test_copy_sources_must_be_in_the_build_context(tmp_path: Path, copy: str, found: bool) -> None:
    context = _context(tmp_path, {"a.conf": "a", "sub/b.conf": "b", "sub/deeper/c.conf": "c", "secret.pem": "s",
                                  "logs/x.log": "l"},
                       ignore="*.pem\nlogs\n")
    text = f"FROM {BASE}\n{copy}\nRUN true && ostree container commit\n"
    findings = [f for f in lint(containerfile.parse(text), context=context) if f.rule == "RL113"]
    assert [(f.severity, f.line) for f in findings] == ([] if found else [(ERROR, 2)])


def test_without_a_context_copy_sources_are_not_looked_for() -> None:
    assert _rules(f"FROM {BASE}\nCOPY missing.conf /etc/\n") == []


def test_a_missing_copy_source_says_why(tmp_path: Path) -> None:
    context = _context(tmp_path, {"secret.pem": "s"}, ignore="*.pem\n")
    text = f"FROM {BASE}\nCOPY secret.pem missing.conf /etc/\n"
    messages = [f.message for f in lint(containerfile.parse(text), context=context) if f.rule == "RL113"]
    assert messages == ["COPY secret.pem: it is excluded by .containerignore",
                        f"COPY missing.conf: no such file or non-empty folder in the build context ({tmp_path})"]


def test_copy_flags_in_any_order_are_read() -> None:
    # the old check looked at `--from` only as the first flag, and then took flags for sources
    text = f"FROM {BASE}\nCOPY --chown=0:0 --from=builder /etc/pki/entitlement-ish /usr/share/x\n"
    assert _rules(text) == []


def test_brace_expansion_is_capped() -> None:
    from rhcos_layer.lint import MAX_BRACE_WORDS, _brace_expand

    words, cut = _brace_expand("{a,b}" * 12)  # 4096 words uncapped
    assert cut and len(words) <= MAX_BRACE_WORDS + 1
    words, cut = _brace_expand("x{a,b}y{c,d}")
    assert (words, cut) == (["xayc", "xayd", "xbyc", "xbyd"], False)


def test_crafted_braces_give_a_warning_and_stay_bounded() -> None:
    # 277 bytes: 2**55 words uncapped (the issue measured 37 s and 1.2 GB at this size)
    run = "RUN rpm-ostree install " + "{a,b}" * 50 + " && ostree container commit"
    text = f"FROM {BASE}\n{run}\n"
    assert len(run) <= 300
    assert _rules(text) == [("RL117", WARNING, 2)]


def test_rpm_names_from_long_words_stay_linear() -> None:
    from rhcos_layer.lint import _rpm_names

    word = "/r/" + "a-1" * 20000 + ".rpm"  # a lazy-group regex backtracks quadratically here
    assert _rpm_names([word]) == ({"a"}, False)
    assert _rpm_names(["/r/kernel-core-5.14.0-1.el9.x86_64.rpm", "usbguard", "x/y%-1.rpm"]) == (
        {"kernel-core", "usbguard", "y%-1.rpm"}, False)

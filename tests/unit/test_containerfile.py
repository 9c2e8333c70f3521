from __future__ import annotations

from pathlib import Path

import pytest

from rhcos_layer import containerfile
from rhcos_layer.errors import ContainerfileError

DIGEST = "sha256:" + "b" * 64
BASE = f"quay.io/openshift-release-dev/ocp-v4.0-art-dev@{DIGEST}"


def test_base_is_found_with_its_line_number() -> None:
    text = f"# comment\n\nFROM {BASE}\nRUN rpm-ostree install usbguard && \\\n    ostree container commit\n"
    cf = containerfile.parse(text)
    base = cf.base()
    assert base.line == 3
    assert base.checked("Containerfile").digest == DIGEST
    assert [i.keyword for i in cf.instructions] == ["FROM", "RUN"]
    # joined as Buildah joins: the escape removed, the next line's indentation kept
    assert cf.instructions[1].args == "rpm-ostree install usbguard &&     ostree container commit"


def test_tag_from_is_refused_naming_file_and_line() -> None:
    cf = containerfile.parse("ARG X=1\n\nFROM quay.io/openshift/rhcos:4.16\nRUN true\n", "ctx/Containerfile")
    with pytest.raises(ContainerfileError) as info:
        cf.base().checked("ctx/Containerfile")
    assert str(info.value).startswith("ctx/Containerfile:3: FROM 'quay.io/openshift/rhcos:4.16' uses the tag '4.16'")


def test_malformed_digest_is_refused_naming_line() -> None:
    cf = containerfile.parse("FROM quay.io/openshift-release-dev/ocp-v4.0-art-dev@sha256...\n")
    with pytest.raises(ContainerfileError, match=r"^Containerfile:1: FROM .*malformed digest"):
        cf.base().checked("Containerfile")


def test_multi_stage_final_base_follows_aliases() -> None:
    text = (
        f"FROM registry.example.com/ubi9/ubi:latest AS builder\nRUN make\n"
        f"FROM {BASE} AS os\nFROM os\nCOPY --from=builder /out /usr/bin/\n"
    )
    base = containerfile.parse(text).base()
    assert base.line == 3
    assert base.expanded == BASE


def test_arg_before_from_is_expanded_with_build_args_winning() -> None:
    text = "ARG BASE=quay.io/x/y:latest\nFROM ${BASE}\n"
    cf = containerfile.parse(text)
    assert cf.base().expanded == "quay.io/x/y:latest"
    assert cf.base({"BASE": BASE}).expanded == BASE


def test_with_base_replaces_only_the_image_and_keeps_lines() -> None:
    text = "# header\nFROM --platform=linux/amd64 quay.io/x/y:4.16 AS final\nRUN true\n"
    cf = containerfile.parse(text)
    new = cf.with_base(cf.base(), BASE)
    assert new == f"# header\nFROM --platform=linux/amd64 {BASE} AS final\nRUN true\n"


def test_on_cluster_containerfile_is_recognised() -> None:
    cf = containerfile.parse("FROM configs AS final\nRUN rpm-ostree install tree && ostree container commit\n")
    assert cf.is_on_cluster()
    with pytest.raises(ContainerfileError, match="on-cluster"):
        cf.base()


def test_heredoc_body_is_not_read_as_instructions_but_a_from_in_it_is_refused() -> None:
    # BuildKit reads the body as text; Podman 4.3 reads it as instructions and would build on
    # evil:latest (checked by hand: `podman build` shows "[2/2] STEP 1/3: FROM ..." for it).
    text = f"FROM {BASE}\nRUN <<EOF\nFROM evil:latest\nEOF\nRUN true\n"
    cf = containerfile.parse(text)
    assert [i.keyword for i in cf.instructions] == ["FROM", "RUN", "RUN"]
    assert [(d.name, d.line, d.body_start, d.end) for d in cf.heredocs] == [("EOF", 2, 3, 4)]
    with pytest.raises(ContainerfileError, match=r"^Containerfile:3: the heredoc of line 2 changes which FROM"):
        cf.base()


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ContainerfileError, match="no such Containerfile: give one with -f"):
        containerfile.load(tmp_path / "Containerfile", "Containerfile")


def test_no_from_is_an_error() -> None:
    with pytest.raises(ContainerfileError, match="no FROM instruction"):
        containerfile.parse("RUN true\n").base()


TAGGED = "quay.io/openshift/rhcos:4.16"


@pytest.mark.parametrize("run", [
    'RUN echo "<<EOF" && ostree container commit',  # inside quotes
    "RUN echo $((1<<X)) && ostree container commit",  # a shift in arithmetic
    "RUN cat <<<word && ostree container commit",  # a here-string
    "RUN cat<<EOF",  # not a word of its own
    "RUN cat << EOF",  # '<<' alone: BuildKit needs the word right after it
    "LABEL x=<<EOF",  # not an instruction that takes heredocs
    'RUN ["sh", "-c", "<<EOF"]',  # the JSON form takes none
])
def test_a_stray_heredoc_marker_does_not_hide_the_lines_after_it(run: str) -> None:
    cf = containerfile.parse(f"FROM {BASE}\n{run}\nFROM {TAGGED}\nRUN true\nEOF\n")
    assert [i.keyword for i in cf.instructions] == ["FROM", "RUN" if run.startswith("RUN") else "LABEL",
                                                    "FROM", "RUN", "EOF"]
    assert cf.heredocs == []
    with pytest.raises(ContainerfileError, match=r"^Containerfile:3: FROM 'quay.io/openshift/rhcos:4.16' uses the tag"):
        cf.base().checked("Containerfile")


@pytest.mark.parametrize(("opening", "terminator", "name"), [
    ("RUN <<EOF", "EOF", "EOF"),
    ("RUN <<-EOT", "\t\tEOT", "EOT"),  # <<-: the terminator may be tab-indented
    ("RUN 3<<'END'", "END", "END"),
    ('COPY <<"FILE" /etc/motd', "FILE", "FILE"),
    ("ADD --chmod=644 <<EOF /etc/x", "EOF", "EOF"),
    ("onbuild run <<EOF", "EOF", "EOF"),
])
def test_heredocs_are_recognised_as_buildkit_does(opening: str, terminator: str, name: str) -> None:
    cf = containerfile.parse(f"FROM {BASE}\n{opening}\nbody line\n  EOF and more\n{terminator}\nRUN true\n")
    assert [(d.name, d.line, d.body_start, d.end) for d in cf.heredocs] == [(name, 2, 3, 5)]
    assert [(i.keyword, i.line) for i in cf.instructions][-1] == ("RUN", 6)


def test_two_heredocs_on_one_line_are_read_in_order() -> None:
    cf = containerfile.parse(f"FROM {BASE}\nCOPY <<A <<B /etc/\na\nA\nb\nB\nRUN true\n")
    assert [(d.name, d.body_start, d.end) for d in cf.heredocs] == [("A", 3, 4), ("B", 5, 6)]


def test_an_unterminated_heredoc_is_refused_with_its_line() -> None:
    with pytest.raises(ContainerfileError, match=r"^Containerfile:2: unterminated heredoc <<EOF"):
        containerfile.parse(f"FROM {BASE}\nRUN <<EOF\necho hi\n")


@pytest.mark.parametrize(("word", "values", "expected"), [
    ("${A:-default}", {}, "default"),
    ("${A:-default}", {"A": "set"}, "set"),
    ("${A:+alt}", {"A": "set"}, "alt"),
    ("${A:+alt}", {}, ""),
    ("x${A}y$A", {"A": "1"}, "x1y1"),
    ("${A:-${B:-deep}}", {}, "deep"),
    ("${A:-a-b}/c", {}, "a-b/c"),
    (r"\$A", {"A": "1"}, "$A"),
    ("'$A'", {"A": "1"}, "$A"),
    ('"$A"', {"A": "1"}, "1"),
    ("$", {}, "$"),
    ("$1x", {}, "x"),
])
def test_variables_expand_as_buildah_expands_them(word: str, values: dict, expected: str) -> None:
    assert containerfile.expand(word, values) == expected


@pytest.mark.parametrize(("word", "message"), [
    ("${A:?x}", r"unsupported modifier \(\?\)"),
    ("${A", "missing ':'"),
    ("${A:-x", "looking for matching }"),
    ("'x", "matching single-quote"),
    ("${A:-" * 40 + "}" * 40, "nested more than 32 deep"),
])
def test_bad_substitutions_are_project_errors(word: str, message: str) -> None:
    with pytest.raises(ContainerfileError, match=message):
        containerfile.expand(word, {})


def test_from_with_a_default_expands_to_the_default() -> None:
    cf = containerfile.parse("ARG BASE\nFROM ${BASE:-" + BASE + "}\n")
    assert cf.base().expanded == BASE
    assert cf.base({"BASE": TAGGED}).expanded == TAGGED


def test_a_byte_order_mark_is_not_part_of_the_first_instruction() -> None:
    cf = containerfile.parse(f"\ufeffFROM {BASE}\nRUN true\n")
    assert cf.base().line == 1
    assert cf.base().expanded == BASE


def test_continuations_join_as_buildah_joins_them() -> None:
    text = f"FROM {BASE}\nRUN a \\\n# a comment\n\n   b\\  \n c\nRUN d\n"
    cf = containerfile.parse(text)
    assert [(i.keyword, i.args, i.line) for i in cf.instructions[1:]] == [("RUN", "a    b c", 2), ("RUN", "d", 7)]
    assert cf.open_continuation == 0


def test_a_last_line_that_continues_is_recorded() -> None:
    cf = containerfile.parse(f"FROM {BASE}\nRUN true \\\n\n")
    assert cf.open_continuation == 2


def test_the_escape_directive_changes_the_continuation_character() -> None:
    cf = containerfile.parse(f"# escape=`\nFROM {BASE}\nRUN a `\n  b\nRUN c \\\n")
    assert cf.escape == "`"
    assert [i.args for i in cf.instructions[1:]] == ["a   b", "c \\"]
    assert cf.open_continuation == 0


def test_an_escape_directive_after_a_syntax_directive_is_refused() -> None:
    # BuildKit applies it, Podman 4.3 (which knows only `escape`) takes it for a comment
    with pytest.raises(ContainerfileError, match=r"^Containerfile:2: put '# escape=' on the first line"):
        containerfile.parse(f"# syntax=docker/dockerfile:1\n# escape=`\nFROM {BASE}\n")
    assert containerfile.parse(f"# escape=`\n# syntax=docker/dockerfile:1\nFROM {BASE}\n").escape == "`"


def test_a_doubled_escape_at_the_end_of_a_line_is_refused() -> None:
    # Podman 4.3 continues the line there, BuildKit does not: two readings, so no guess.
    with pytest.raises(ContainerfileError, match=r"^Containerfile:2: the line ends with two escape characters"):
        containerfile.parse(f"FROM {BASE}\nRUN echo \\\\\nFROM {TAGGED}\n")


def test_lines_are_split_at_newlines_only() -> None:
    # str.splitlines would also split at \x0b, \x1c, \u2028 and shift every line number after it
    cf = containerfile.parse(f"FROM {BASE}\nRUN a\x0bb\u2028c\r\nFROM {TAGGED}\n")
    assert [(i.keyword, i.line) for i in cf.instructions] == [("FROM", 1), ("RUN", 2), ("FROM", 3)]
    assert cf.with_base(cf.base(), BASE).split("\n")[2] == f"FROM {BASE}"


@pytest.mark.parametrize("image", [
    "quay.io/openshift-release-dev/ocp-release@" + DIGEST,
    "quay.io/openshift-release-dev/ocp-release:4.16.3-x86_64",
    "quay.io/openshift/origin-release:4.16",
    "quay.io/okd/scos-release:4.16.0-okd-scos.0",
    "registry.ci.openshift.org/ocp/release-nightly@" + DIGEST,
    "mirror.example.com:5000/ocp4/openshift/release-images@" + DIGEST,
    "mirror.example.com/ocp4/openshift4:4.16.3-multi",
])
def test_a_release_payload_is_recognised(image: str) -> None:
    assert containerfile.release_payload(image)
    with pytest.raises(ContainerfileError, match="OpenShift release payload") as info:
        containerfile.parse(f"FROM {image}\n").base().checked("Containerfile")
    assert "rhcos-layer resolve --release" in info.value.hint


@pytest.mark.parametrize("image", [
    BASE,  # the RHCOS image lives under openshift-release-dev: only the repository name counts
    "mirror.example.com/ocp4/openshift/release@" + DIGEST,  # oc-mirror's component images, RHCOS too
    "quay.io/x/released-tools@" + DIGEST,
])
def test_os_images_are_not_taken_for_payloads(image: str) -> None:
    assert containerfile.release_payload(image) == ""


def test_the_unset_base_is_refused_before_any_pull() -> None:
    cf = containerfile.parse(f"FROM {containerfile.BASE_NOT_SET}\nRUN true\n")
    with pytest.raises(ContainerfileError, match=r"^Containerfile:1: FROM RHCOS-BASE-NOT-SET: the base image is not"):
        cf.base().checked("Containerfile")


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "Containerfile"
    path.write_text(f"FROM {BASE}\n" + "RUN true\n" * (containerfile.MAX_BYTES // 9 + 1))
    with pytest.raises(ContainerfileError, match=r"larger than 1024 KiB"):
        containerfile.load(path, "Containerfile")


def test_a_file_that_is_not_utf8_says_so(tmp_path: Path) -> None:
    path = tmp_path / "Containerfile"
    path.write_bytes(b"FROM \xff\n")
    with pytest.raises(ContainerfileError, match=r"^Containerfile: not UTF-8 text \(byte 5\)"):
        containerfile.load(path, "Containerfile")


def test_labels_are_appended_with_the_files_escape_character() -> None:
    from rhcos_layer.build import with_labels

    text = f"# escape=`\nFROM {BASE}\nRUN a `\n  b\n"
    out = with_labels(text, {"k": 'say "hi" $HOME `x` \\ y\nz'})
    label = containerfile.parse(out).instructions[-1]
    assert (label.keyword, label.line) == ("LABEL", 7)
    key, _, value = label.args.partition("=")
    assert key == "k"
    assert containerfile.expand(value, {}, "`") == 'say "hi" $HOME `x` \\ y z'


def test_labels_are_never_appended_to_an_open_continuation() -> None:
    from rhcos_layer.build import with_labels
    from rhcos_layer.errors import InvalidInput

    with pytest.raises(InvalidInput, match=r"^ctx/Containerfile:2: the last instruction ends with a line continuation"):
        with_labels(f"FROM {BASE}\nRUN true \\\n", {"k": "v"}, "ctx/Containerfile")


def test_shell_words_keep_or_remove_quotes() -> None:
    line = """echo 'a b' "c \\"d\\" \\e" f\\ g <<"EOF" """
    assert containerfile.shell_words(line) == ["echo", "a b", 'c "d" \\e', "f g", "<<EOF"]
    assert containerfile.shell_words(line, keep_quotes=True) == [
        "echo", "'a b'", '"c \\"d\\" \\e"', "f\\ g", '<<"EOF"']
    assert containerfile.shell_words("echo 'open") is None
    assert containerfile.shell_words('echo "open \\"', keep_quotes=True) is None

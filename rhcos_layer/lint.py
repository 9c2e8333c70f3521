"""RHCOS-aware checks of a Containerfile: what hadolint cannot know about layering OS images.

Each finding has a rule id, a severity, the line, what is wrong and how to fix it. Errors are
what breaks nodes or leaks secrets; warnings are what often goes wrong. Without a cluster,
MachineConfig extension RPMs and the realtime kernel can only be warned about; ``pool`` (the
pool's extensions and kernel type, read by the caller) turns a real conflict into an error.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple

from . import reference
from .containerfile import (
    BASE_NOT_SET,
    BASE_NOT_SET_FIX,
    BASE_NOT_SET_MESSAGE,
    KEYWORDS,
    PAYLOAD_FIX,
    Containerfile,
    Instruction,
    flags_and_rest,
    release_payload,
    shell_words,
)
from .errors import ContainerfileError

if TYPE_CHECKING:
    from .context import BuildContext, ContextFile

ERROR = "error"
WARNING = "warning"

FINISHERS = (("ostree", "container", "commit"), ("bootc", "container", "lint"))
# The kernel set an override must replace together (RHEL 9.2+ adds kernel-modules-core).
KERNEL_SET = ("kernel", "kernel-core", "kernel-modules", "kernel-modules-extra")
KERNEL_SET_EL9 = KERNEL_SET + ("kernel-modules-core",)
# MachineConfig extensions (MCO `extensions`) and the RPMs each installs.
EXTENSIONS: Dict[str, Sequence[str]] = {
    "usbguard": ("usbguard",),
    "kerberos": ("krb5-workstation", "libkadm5"),
    "kernel-devel": ("kernel-devel", "kernel-headers"),
    "sandboxed-containers": ("kata-containers",),
    "ipsec": ("NetworkManager-libreswan", "libreswan"),
    "sysstat": ("sysstat",),
    "wasm": ("crun-wasm",),
    # from 4.20 (MCO pkg/controller/common/helpers.go, GetSupportedExtensions)
    "two-node-ha": ("pacemaker", "pcs", "fence-agents-all"),
}
# MachineConfig kernelType values that swap the kernel, and the prefix of their packages (MCO
# pkg/daemon/update.go: kernel-rt-* for realtime, kernel-64k-* for 64k-pages, arm64 only): a layered one
# clashes with a pool that sets either (the daemon replaces the kernel the image carries)
KERNEL_TYPES: Dict[str, str] = {"realtime": "kernel-rt", "64k-pages": "kernel-64k"}
_RPM_NAME_CHARS_RE = re.compile(r"[A-Za-z0-9_.+-]+")
_VERSION_START_RE = re.compile(r"-\d")
# bash brace expansion multiplies words: a few hundred bytes can ask for billions. Past these
# limits lint stops expanding and says so (RL117) rather than run for minutes.
MAX_BRACE_WORDS = 1024
MAX_BRACE_CHARS = 1 << 20
_SECRET_WORDS = {"PASSWORD", "PASSWD", "PASSPHRASE", "TOKEN", "SECRET", "CREDENTIAL", "CREDENTIALS", "APIKEY",
                 "AUTH", "PAT"}
_KEY_QUALIFIERS = {"API", "PRIVATE", "SSH", "ACCESS", "SECRET", "SIGNING"}
_ENTITLEMENT_RE = re.compile(r"(^|/)(redhat\.repo|etc-pki-entitlement|entitlement(/|$)|[0-9]+(-key)?\.pem$)")
_SHELL_SPLIT_RE = re.compile(r"&&|\|\||;|\|")
_VAR_OK = ("/var/tmp", "/var/cache")


@dataclass(frozen=True)
class Finding:
    rule: str
    name: str
    severity: str
    line: int
    message: str
    fix: str

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)

    def format(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line else path  # line 0: not from the file (--build-arg)
        return f"{where}: {self.severity} {self.rule} {self.name}: {self.message} (fix: {self.fix})"


@dataclass
class PoolFacts:
    """What the target pool's MachineConfigs already install: a layered copy conflicts."""

    name: str
    extensions: Set[str] = field(default_factory=set)
    kernel_type: str = "default"


@dataclass
class _Stage:
    index: int
    instructions: List[Instruction]


def _stages(cf: Containerfile) -> List[_Stage]:
    stages: List[_Stage] = []
    for ins in cf.instructions:
        if ins.keyword == "FROM":
            stages.append(_Stage(len(stages), []))
        if stages:
            stages[-1].instructions.append(ins)
    return stages


def _run_script(ins: Instruction) -> str:
    """The shell text of a RUN, without its --mount/--network flags."""
    text = ins.args
    while text.startswith("--"):
        _, _, text = text.partition(" ")
        text = text.lstrip()
    return text


def _commands(script: str) -> Iterator[List[str]]:
    for part in _SHELL_SPLIT_RE.split(script):
        words = shell_words(part)
        if words is None:
            words = part.split()
        if words:
            yield words


def _brace_expand(word: str) -> Tuple[List[str], bool]:
    """bash's ``a{b,c}d`` expansion (RUN's shell on RHCOS is bash), innermost groups first;
    (words, True) when it stopped at MAX_BRACE_WORDS words or MAX_BRACE_CHARS characters."""
    done: List[str] = []
    pending = [word]
    chars = 0
    while pending:
        current = pending.pop()
        match = re.search(r"\{([^{}]*,[^{}]*)\}", current)
        if match is None:
            done.append(current)
            continue
        head, tail = current[: match.start()], current[match.end():]
        parts = match.group(1).split(",")
        if len(done) + len(pending) + len(parts) > MAX_BRACE_WORDS:
            return done + pending + [current], True
        grown = [head + part + tail for part in parts]
        chars += sum(len(g) for g in grown)
        if chars > MAX_BRACE_CHARS:
            return done + pending + [current], True
        pending.extend(reversed(grown))
    return done, False


def _rpm_name(base: str) -> Optional[str]:
    """``kernel-core`` from ``kernel-core-5.14.0-1.el9.x86_64.rpm``: the name ends before the
    first ``-<digit>`` (a linear scan: a regex with lazy groups backtracks quadratically)."""
    match = _VERSION_START_RE.search(base, 1)
    if match is None or not _RPM_NAME_CHARS_RE.fullmatch(base, 0, match.start()):
        return None
    return base[: match.start()]


def _rpm_names(args: Sequence[str]) -> Tuple[Set[str], bool]:
    """(package names, True when brace expansion was cut short)."""
    names = set()
    truncated = False
    for word in args:
        expanded, cut = _brace_expand(word)
        truncated = truncated or cut
        for arg in expanded:
            if arg.startswith("-") or any(c in arg for c in "*?[$"):
                continue
            base = arg.rstrip("/").rsplit("/", 1)[-1]
            name = _rpm_name(base)
            names.add(name if name and (base.endswith(".rpm") or "/" in arg) else base)
    return names, truncated


def _rpm_ostree_packages(words: List[str]) -> Optional[Tuple[str, List[str]]]:
    """``rpm-ostree install|override replace|override remove ...`` as (verb, package args)."""
    if not words or words[0].rsplit("/", 1)[-1] not in ("rpm-ostree", "dnf", "yum"):
        return None
    tool = words[0].rsplit("/", 1)[-1]
    rest = list(words[1:])
    if tool in ("dnf", "yum"):
        return ("install", rest[1:]) if rest and rest[0] == "install" else None
    if rest[:1] == ["install"]:
        return ("install", rest[1:])
    if rest[:2] == ["override", "replace"]:
        return ("replace", rest[2:])
    return None


# -- on-cluster builds (MachineOSConfig) ----------------------------------------------------
# The MCO appends the MachineOSConfig's content to its own Containerfile, after its stages
# `extract` and `configs` (and `extensions` in 4.16), and builds it with Buildah in a Job whose
# build context holds only the MCO's files (machine-config-operator pkg/controller/build/
# buildrequest/assets/Containerfile.on-cluster-build-template and buildah-build.sh; 4.16-4.17:
# pkg/controller/build/assets/).
MCO_STAGES = ("extract", "configs", "extensions")
# the only --build-arg the Job passes (4.19 buildah-build.sh; 4.16 passes none)
CLUSTER_BUILD_ARGS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
# what the Job mounts into every RUN when the optional inputs exist in openshift-machine-config-operator:
# Secret etc-pki-entitlement, ConfigMap etc-yum-repos-d, Secret etc-pki-rpm-gpg (buildah-build.sh --volume)
CLUSTER_MOUNTS = {"/etc/pki/entitlement": "Secret etc-pki-entitlement",
                  "/etc/yum.repos.d": "ConfigMap etc-yum-repos-d",
                  "/etc/pki/rpm-gpg": "Secret etc-pki-rpm-gpg"}
# a local file render writes into the content itself (base64 in a RUN): small, so that several
# fit the CRD's 4096 characters
INLINE_MAX = 1536
# what ADD unpacks instead of copying (Buildah's archive detection, by content; by name here)
_ARCHIVE_RE = re.compile(r"\.(tar|tgz|tbz2?|txz|tar\.(gz|bz2|xz|zst)|gz|bz2|xz|zst)$", re.IGNORECASE)
# words that tie a Containerfile to one architecture (RPM file names, download URLs)
_ARCH_WORD_RE = re.compile(r"(?<![A-Za-z0-9])(x86_64|aarch64|ppc64le|s390x|amd64|arm64)(?![A-Za-z0-9])")


@dataclass(frozen=True)
class OnCluster:
    """What the on-cluster rules (RL118-RL125) know of the project: the containerFile's
    architecture (``NoArch``, ``AMD64``...) and whether the cluster builds for several."""

    arch: str = "NoArch"
    multi_arch: bool = False


@dataclass(frozen=True)
class CopyPlan:
    """How an on-cluster build can get a COPY/ADD's local source: ``file`` set when render
    writes it inline; else ``problem`` says why not."""

    file: Optional[ContextFile]
    dest: str
    chmod: Optional[str]
    problem: str
    rpm: bool = False


def copy_plan(ins: Instruction, context: Optional[BuildContext]) -> Optional[CopyPlan]:
    """None for a COPY/ADD that needs no build context (``--from``, a URL); else what render can do."""
    flags, rest = flags_and_rest(ins.args)
    if "from" in flags:
        return None
    words = _copy_words(rest)
    sources, dest = (words[:-1], words[-1]) if len(words) > 1 else ([], "")
    local = [s for s in sources if "://" not in s and not s.startswith("git@")]
    if not local:
        return None
    rpm = any(s.endswith(".rpm") for s in local)
    unknown = sorted(set(flags) - {"chmod"})
    problem = ""
    found: Optional[ContextFile] = None
    if len(sources) != 1:
        problem = "several sources"
    elif unknown:
        problem = f"--{unknown[0]}"
    elif not dest.startswith("/"):
        problem = "a relative destination"
    elif any(c in local[0] for c in "*?[$"):
        problem = "a pattern or variable"
    elif ins.keyword == "ADD" and _ARCHIVE_RE.search(local[0]):
        problem = "ADD unpacks an archive"
    else:
        rel = posixpath.normpath("/" + local[0]).lstrip("/")
        files = {f.relpath: f for f in context.files} if context else {}
        found = files.get(rel)
        if found is None:
            problem = "not a file in the build context"
        elif found.link_target is not None:
            problem, found = "a symbolic link", None
        else:
            try:
                size = found.path.stat().st_size
            except OSError:
                size = INLINE_MAX + 1
            if size > INLINE_MAX:
                problem, found = f"{size} bytes (render inlines files up to {INLINE_MAX} bytes)", None
    if rpm:
        found = None
    if found is not None and dest.endswith("/"):
        dest = dest + local[0].rstrip("/").rsplit("/", 1)[-1]
    chmod = flags.get("chmod") or None
    if chmod is not None and not re.fullmatch(r"[0-7]{3,4}", chmod):
        problem, found = f"--chmod={chmod[:20]} (render writes octal modes only)", None
    return CopyPlan(found, dest, chmod, problem, rpm)


class _Linter:
    def __init__(self, cf: Containerfile, pool: Optional[PoolFacts], build_args: Dict[str, str],
                 base_overridden: bool, context: Optional[BuildContext],
                 on_cluster: Optional[OnCluster] = None) -> None:
        self.on_cluster = on_cluster
        self.cf = cf
        self.context = context
        self._paths: Optional[Tuple[Set[str], Set[str]]] = None
        self.base_overridden = base_overridden
        self.pool = pool
        self.build_args = build_args
        self.findings: List[Finding] = []

    def add(self, rule: str, name: str, severity: str, line: int, message: str, fix: str) -> None:
        self.findings.append(Finding(rule, name, severity, line, message, fix))

    def run(self) -> List[Finding]:
        self.check_structure()
        stages = _stages(self.cf)
        if not stages:
            self.add("RL100", "no-from", ERROR, 1, "no FROM instruction", "start with FROM <base>@sha256:...")
            return sorted(self.findings, key=lambda f: (f.line, f.rule))
        if self.on_cluster is None:
            self.check_base()
        else:
            self.check_on_cluster(stages)
        final = stages[-1]
        self.check_finished(final)
        for ins in self.cf.instructions:
            if ins.keyword == "RUN":
                self.check_run(ins)
            elif ins.keyword in ("COPY", "ADD"):
                self.check_copy(ins)
            elif ins.keyword == "ARG":
                self.check_arg(ins)
        for name in self.build_args:
            if looks_secret(name):
                self.add("RL110", "secret-build-arg", ERROR, 0, f"build argument {name} looks like a secret:"
                         " build arguments are kept in the image's history",
                         f"pass it with --secret id={name.lower()},src=FILE and read /run/secrets/{name.lower()}")
        return sorted(self.findings, key=lambda f: (f.line, f.rule))

    # -- rules ------------------------------------------------------------------------------

    def check_structure(self) -> None:
        """What Podman 4.3 would stop on, or read otherwise than the file seems to say."""
        import difflib

        for ins in self.cf.instructions:
            if ins.keyword not in KEYWORDS:
                close = difflib.get_close_matches(ins.keyword, sorted(KEYWORDS), n=1)
                self.add("RL111", "unknown-instruction", ERROR, ins.line,
                         f"{ins.keyword[:40]} is not a Containerfile instruction",
                         f"write {close[0]}" if close else "use one of " + ", ".join(sorted(KEYWORDS)))
            for doc in ins.heredocs:
                self.add("RL112", "heredoc", ERROR, doc.line,
                         f"heredoc <<{doc.name[:40]} (lines {doc.body_start}-{doc.end}) is not supported by Podman 4.3"
                         " (Buildah 1.28): it reads the body as instructions",
                         "put the content in a file in the build context and COPY it, or write it with printf in RUN")
        if self.cf.open_continuation:
            self.add("RL116", "trailing-continuation", ERROR, self.cf.open_continuation,
                     "the last instruction ends with a line continuation: anything after it (build's LABEL"
                     " line) would join it", "remove the escape character at the end of the file's last line")

    def check_base(self) -> None:
        if self.cf.is_on_cluster() or self.base_overridden or self.cf.hidden_from() is not None:
            return  # a FROM hidden by a heredoc: RL112 says so, and build refuses it
        try:
            base = self.cf.base(self.build_args)
        except ContainerfileError as exc:
            line = [ins.line for ins in self.cf.instructions if ins.keyword == "FROM"][-1]
            self.add("RL101", "from-not-pinned", ERROR, line, str(exc).split(": ", 1)[-1],
                     "write the FROM image as REPO@sha256:<64 hex>")
            return
        if base.expanded == BASE_NOT_SET:
            self.add("RL115", "base-not-set", ERROR, base.line, BASE_NOT_SET_MESSAGE, BASE_NOT_SET_FIX)
            return
        payload = release_payload(base.expanded)
        if payload:
            self.add("RL114", "from-release-payload", ERROR, base.line, f"FROM {base.expanded}: {payload}",
                     PAYLOAD_FIX)
            return
        try:
            reference.parse_pinned(base.expanded)
        except reference.InvalidReference as exc:
            self.add("RL101", "from-not-pinned", ERROR, base.line, f"FROM {exc}",
                     "use the release's RHCOS image by digest: rhcos-layer resolve --release ..."
                     " or oc adm release info --image-for rhel-coreos")

    def check_finished(self, final: _Stage) -> None:
        runs = [ins for ins in final.instructions if ins.keyword == "RUN"]
        if not runs:
            return
        last = runs[-1]
        commands = [tuple(words[:3]) for words in _commands(_run_script(last))]
        if not any(finisher in commands for finisher in FINISHERS):
            self.add("RL102", "not-committed", WARNING, last.line,
                     "the last RUN does not finish with `ostree container commit` or `bootc container lint`",
                     "end the last RUN with `&& ostree container commit` (or `bootc container lint` on newer images)")

    def check_run(self, ins: Instruction) -> None:
        script = _run_script(ins)
        kernel_names: Set[str] = set()
        el9 = False
        for words in _commands(script):
            if words[:3] == ["rpm-ostree", "cliwrap", "install-to-root"]:
                self.add("RL106", "cliwrap-install-to-root", ERROR, ins.line,
                         "`rpm-ostree cliwrap install-to-root` leaks into the image and breaks later updates"
                         " (OCPBUGS-30149)", "remove it: layered images need no cliwrap")
            parsed = _rpm_ostree_packages(words)
            if parsed is None:
                self.check_var_writes(ins, words)
                continue
            verb, args = parsed
            names, truncated = _rpm_names(args)
            if truncated:
                self.add("RL117", "brace-limit", WARNING, ins.line,
                         f"brace expansion past {MAX_BRACE_WORDS} words: lint checked only the first ones",
                         "list the packages without nested braces")
            el9 = el9 or any(".el9" in a for a in args)
            if verb == "replace":
                kernel_names |= {n for n in names if n in KERNEL_SET_EL9}
            self.check_packages(ins, names)
        if kernel_names:
            required = KERNEL_SET_EL9 if el9 else KERNEL_SET
            missing = [k for k in required if k not in kernel_names]
            if missing:
                self.add("RL103", "partial-kernel", ERROR, ins.line,
                         f"a kernel override must replace the whole set; missing: {', '.join(missing)}",
                         f"replace {', '.join(required)} together in one `rpm-ostree override replace`")

    def check_packages(self, ins: Instruction, names: Set[str]) -> None:
        for kernel_type, layered in _special_kernels(names):
            pool_type = self.pool.kernel_type if self.pool is not None else "default"
            conflict = pool_type in KERNEL_TYPES
            self.add("RL104", "realtime-kernel", ERROR if conflict else WARNING, ins.line,
                     f"layering the {kernel_type} kernel ({', '.join(layered)})"
                     + (f" conflicts with pool {self.pool.name}'s kernelType: {pool_type}" if conflict and self.pool
                        else f" conflicts with a MachineConfig kernelType: {kernel_type}"),
                     f"set kernelType: {kernel_type} in a MachineConfig instead of layering"
                     f" {KERNEL_TYPES[kernel_type]}*")
        for extension, rpms in EXTENSIONS.items():
            layered = sorted(set(rpms) & names)
            if not layered:
                continue
            conflict = self.pool is not None and extension in self.pool.extensions
            where = (f"pool {self.pool.name} already has the MachineConfig extension {extension}" if conflict
                     and self.pool else f"they belong to the MachineConfig extension {extension}")
            self.add("RL105", "extension-rpm", ERROR if conflict else WARNING, ins.line,
                     f"layering {', '.join(layered)}: {where}; both installing them degrades the pool",
                     f"use either the layered RPM or `extensions: [{extension}]`, not both")

    def check_var_writes(self, ins: Instruction, words: List[str]) -> None:
        targets: List[str] = []
        tool = words[0].rsplit("/", 1)[-1]
        if tool in ("mkdir", "touch", "cp", "mv", "install", "ln", "tee"):
            targets = [w for w in words[1:] if not w.startswith("-")]
            if tool in ("cp", "mv", "install", "ln"):
                targets = targets[-1:]
        for word in words:
            if word.startswith(">") and len(word) > 1:
                targets.append(word.lstrip(">"))
        for i, word in enumerate(words[:-1]):
            if word in (">", ">>"):
                targets.append(words[i + 1])
        for target in targets:
            if _under_var(target):
                self.var_finding(ins, target)
                return

    def var_finding(self, ins: Instruction, path: str) -> None:
        self.add("RL107", "writes-var", WARNING, ins.line,
                 f"{path} is under /var, which image updates never change on the node",
                 "ship files under /usr (or /etc) and create /var content at boot with systemd-tmpfiles")

    def check_copy(self, ins: Instruction) -> None:
        flags, rest = flags_and_rest(ins.args)
        words = _copy_words(rest)
        sources, dest = (words[:-1], words[-1]) if len(words) > 1 else ([], "")
        checksummed = "checksum" in flags
        if ins.keyword == "ADD" and not checksummed and any(s.startswith(("http://", "https://")) for s in sources):
            self.add("RL109", "add-remote-url", WARNING, ins.line,
                     "ADD of a remote URL fetches unverified content that can change between builds",
                     "download it in the build context and COPY it, or use `ADD --checksum=sha256:...`")
        local = [] if "from" in flags else sources
        leaking = [s for s in local if _ENTITLEMENT_RE.search(s)]
        if leaking or _ENTITLEMENT_RE.search(dest) or dest.startswith("/etc/pki/entitlement"):
            shown = ", ".join(leaking) or dest
            self.add("RL108", "entitlement-in-image", ERROR, ins.line,
                     f"{shown}: entitlement certificates or redhat.repo copied into the image leak them to every"
                     " node and registry reader",
                     "mount them for the build only: `RUN --mount=type=secret,id=entitlement,"
                     "target=/etc/pki/entitlement/...` and `rhcos-layer build --secret id=...,src=...`")
        if dest and _under_var(dest):
            self.var_finding(ins, dest)
        if self.on_cluster is not None:
            self.check_copy_on_cluster(ins)
            return
        for source in local:
            if ins.heredocs and re.match(r"\d*<<", source):
                continue  # a heredoc's content, not a file (RL112 reports the heredoc)
            problem = self.missing_source(ins.keyword, source)
            if problem:
                self.add("RL113", "copy-source-missing", ERROR, ins.line, f"{ins.keyword} {source[:200]}: {problem}",
                         "add it to the build context (or fix the name), or remove it from .containerignore")

    def context_paths(self) -> Tuple[Set[str], Set[str]]:
        """(files, folders) the build sends, computed once."""
        if self._paths is None:
            files = {f.relpath for f in self.context.files} if self.context else set()
            # folders travel only as the parents of files sent: an empty one is not in the context
            dirs = {rel.rsplit("/", i)[0] for rel in files for i in range(1, rel.count("/") + 1)}
            self._paths = (files, dirs)
        return self._paths

    def missing_source(self, keyword: str, source: str) -> str:
        """Why ``source`` is not in the build context ('' when it is, or cannot be known)."""
        if "://" in source or source.startswith("git@"):
            return "" if keyword == "ADD" else "COPY cannot fetch a URL: use ADD --checksum=... or download it first"
        if self.context is None or "$" in source:
            return ""  # no context given, or a variable: lint cannot know
        from .context import PatternError, compile_glob

        rel = posixpath.normpath("/" + source).lstrip("/") or "."
        if rel == ".":
            return ""
        files, dirs = self.context_paths()
        if any(c in rel for c in "*?[\\"):
            try:
                glob = compile_glob(rel)
            except PatternError as exc:
                return f"malformed pattern: {exc}"
            if any(glob.match(p) for p in files | dirs):
                return ""
            excluded = any(glob.match(p) for p in self.context.excluded)
            return ("every file it matches is excluded by .containerignore" if excluded
                    else "no file in the build context matches it")
        if rel in files or rel in dirs:
            return ""
        if rel in self.context.excluded or any(e.startswith(rel + "/") for e in self.context.excluded):
            return "it is excluded by .containerignore"
        return f"no such file or non-empty folder in the build context ({self.context.root})"

    def check_copy_on_cluster(self, ins: Instruction) -> None:
        plan = copy_plan(ins, self.context)
        if plan is None:
            return
        if plan.file is not None:
            self.add("RL118", "copy-local-file", WARNING, ins.line,
                     f"{ins.keyword} {plan.file.relpath[:200]}: an on-cluster build has no build context;"
                     " render --on-cluster writes this file into the content (base64 in a RUN)",
                     "nothing to do; for configuration a MachineConfig (storage.files) is the usual place")
        elif plan.rpm:
            self.add("RL118", "copy-local-file", ERROR, ins.line,
                     f"{ins.keyword} of a local RPM: an on-cluster build has no build context",
                     "serve the RPM from a repository the cluster can reach (a .repo file in ConfigMap"
                     " etc-yum-repos-d in openshift-machine-config-operator) and `rpm-ostree install NAME`,"
                     " or `rpm-ostree install https://...rpm`")
        else:
            self.add("RL118", "copy-local-file", ERROR, ins.line,
                     f"{ins.keyword} {ins.args[:200]}: an on-cluster build has no build context, and render"
                     f" cannot write this into the content ({plan.problem})",
                     "ship configuration files in a MachineConfig (storage.files); copy larger content from an"
                     " image: `COPY --from=REGISTRY/IMAGE@sha256:... SRC DEST`; or one small file per COPY with"
                     " an absolute destination, which render inlines")

    def check_on_cluster(self, stages: List[_Stage]) -> None:
        """RL120-RL125: what the MCO's build Job does not give the Containerfile."""
        assert self.on_cluster is not None
        if self.cf.escape != "\\":
            self.add("RL125", "escape-directive", ERROR, 1,
                     "the `# escape=` directive does not work on the cluster: the MCO appends this content after"
                     " its own stages, where the directive is a comment",
                     "remove the directive and use the default escape character \\")
        aliases = {}
        for stage in stages:
            head = stage.instructions[0]
            words = from_words(head)
            alias = words[2] if len(words) == 3 and words[1].lower() == "as" else ""
            if alias.lower() in MCO_STAGES:
                self.add("RL123", "stage-name-clash", ERROR, head.line,
                         f"stage name {alias}: the MCO's own Containerfile has a stage of that name before this"
                         " content", f"rename the stage (FROM ... AS my-{alias.lower()}) and its COPY --from")
            image = words[0] if words else ""
            if alias:
                aliases[alias.lower()] = image
        root = base_stage(self.cf)
        for stage in stages:
            head = stage.instructions[0]
            image = from_words(head)[0] if from_words(head) else ""
            if head.line == root or image.lower() in aliases or image == "configs":
                continue
            self.add("RL122", "other-stage-image", WARNING, head.line,
                     f"stage {stage.index + 1} builds FROM {image[:200]}: the build Job pulls it with"
                     " the MachineOSConfig's base image pull secret (the cluster's pull secret by default)",
                     "make sure that secret can pull it, and pin it by digest (IMAGE@sha256:...); render"
                     " replaces only the final stage's base with the cluster's (`FROM configs`)")
        for ins in self.cf.instructions:
            if ins.keyword == "RUN":
                self.check_secret_mounts(ins)
            elif ins.keyword == "ARG":
                self.check_arg_on_cluster(ins)
        arch_line = next((ins.line for ins in self.cf.instructions if ins.keyword != "FROM"
                          and _ARCH_WORD_RE.search(ins.args)), 0)
        if arch_line and self.on_cluster.arch == "NoArch":
            word = _ARCH_WORD_RE.search(next(i.args for i in self.cf.instructions if i.line == arch_line))
            self.add("RL121", "arch-specific-content", ERROR if self.on_cluster.multi_arch else WARNING, arch_line,
                     f"{word.group(1) if word else 'an architecture'} in a containerFile for every architecture"
                     " (NoArch)" + (": the release is multi-arch, so the cluster builds it for each of its"
                                    " architectures" if self.on_cluster.multi_arch else ""),
                     "set base.arch in rhcos-layer.yaml, or give one Containerfile per architecture under"
                     " on-cluster: (containerfile-amd64, containerfile-arm64, ...)")

    def check_secret_mounts(self, ins: Instruction) -> None:
        for mount in secret_mounts(ins):
            target = mount.get("target") or mount.get("dst") or mount.get("destination") or \
                f"/run/secrets/{mount.get('id', '')}"
            provided = next((m for m in CLUSTER_MOUNTS if target == m or target.startswith(m + "/")), None)
            if provided:
                self.add("RL120", "build-secret", WARNING, ins.line,
                         f"--mount=type=secret target {target[:200]}: the cluster passes no build secrets; it mounts"
                         f" {CLUSTER_MOUNTS[provided]} at {provided} into every RUN itself, and render drops this"
                         " mount", f"create {CLUSTER_MOUNTS[provided]} in openshift-machine-config-operator"
                         " holding these files" + (" (with Simple Content Access the cluster keeps one in"
                                                   " openshift-config-managed: copy it over)"
                                                   if provided == "/etc/pki/entitlement" else ""))
            else:
                self.add("RL120", "build-secret", ERROR, ins.line,
                         f"--mount=type=secret target {target[:200]}: the cluster passes no build secrets",
                         "read entitlement certificates from /etc/pki/entitlement and repositories from"
                         " /etc/yum.repos.d, which the cluster mounts from Secret etc-pki-entitlement and"
                         " ConfigMap etc-yum-repos-d in openshift-machine-config-operator")

    def check_arg_on_cluster(self, ins: Instruction) -> None:
        for word in shell_words(ins.args, keep_quotes=True) or ins.args.split():
            name, sep, _ = word.partition("=")
            if sep or name in CLUSTER_BUILD_ARGS:
                continue
            if name in self.build_args:
                self.add("RL124", "arg-not-passed", WARNING, ins.line,
                         f"ARG {name[:60]}: the cluster passes no build arguments; render writes the project's"
                         f" build-args value as its default", f"write ARG {name[:60]}=VALUE to make it explicit")
            else:
                self.add("RL124", "arg-not-passed", WARNING, ins.line,
                         f"ARG {name[:60]} has no default and the cluster passes no build arguments: it is empty"
                         " there", f"give it a default (ARG {name[:60]}=VALUE) or a value under build-args:")

    def check_arg(self, ins: Instruction) -> None:
        name = ins.args.split("=", 1)[0].strip()
        if looks_secret(name):
            self.add("RL110", "secret-build-arg", ERROR, ins.line,
                     f"ARG {name} looks like a secret: build arguments are kept in the image's history",
                     f"use a build secret: `RUN --mount=type=secret,id={name.lower()}` and --secret")


def from_words(ins: Instruction) -> List[str]:
    words = ins.args.split()
    while words and words[0].startswith("--"):
        words.pop(0)
    return words


def base_stage(cf: Containerfile) -> int:
    """The line of the FROM whose image is the final stage's base (stage aliases followed): the
    line render --on-cluster turns into ``FROM configs``; 0 without a FROM."""
    heads = [ins for ins in cf.instructions if ins.keyword == "FROM"]
    if not heads:
        return 0
    by_alias = {}
    for head in heads:
        words = from_words(head)
        if len(words) == 3 and words[1].lower() == "as":
            by_alias[words[2].lower()] = head
    current, seen = heads[-1], set()
    while True:
        words = from_words(current)
        image = words[0].lower() if words else ""
        if image not in by_alias or image in seen or by_alias[image].line >= current.line:
            return current.line
        seen.add(image)
        current = by_alias[image]


def secret_mounts(ins: Instruction) -> List[Dict[str, str]]:
    """The options of each ``--mount=type=secret,...`` flag of a RUN."""
    mounts = []
    flags = ins.args
    while flags.lstrip().startswith("--"):
        word, _, flags = flags.lstrip().partition(" ")
        if word.startswith("--mount="):
            options = dict(part.partition("=")[::2] for part in word[len("--mount="):].split(","))
            if options.get("type") == "secret":
                mounts.append(options)
    return mounts


def _copy_words(rest: str) -> List[str]:
    """COPY/ADD arguments: the JSON form, else shell words (quotes removed as Buildah does)."""
    text = rest.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
    words = shell_words(text)
    return text.split() if words is None else words


def _under_var(path: str) -> bool:
    path = path.strip("\"'")
    if not path.startswith("/var"):
        return False
    if path.rstrip("/") == "/var":
        return True
    return path.startswith("/var/") and not path.startswith(_VAR_OK)


def looks_secret(name: str) -> bool:
    """An ARG / build-arg name that says it holds a secret (REGISTRY_PASSWORD, API_KEY; not AUTHOR)."""
    words = set(re.split(r"[^A-Z0-9]+", name.upper()))
    return bool(words & _SECRET_WORDS) or ("KEY" in words and bool(words & _KEY_QUALIFIERS))


def lint(cf: Containerfile, *, pool: Optional[PoolFacts] = None, build_args: Optional[Dict[str, str]] = None,
         base_overridden: bool = False, context: Optional[BuildContext] = None,
         on_cluster: Optional[OnCluster] = None) -> List[Finding]:
    """All findings for ``cf``, sorted by line. ``base_overridden``: the project file or --base
    replaces the FROM image at build time, so its FROM line is not judged (build checks the
    replacement). ``context``: the build context as collected; without it COPY and ADD sources
    are not looked for (RL113). ``on_cluster``: judge it as a MachineOSConfig's content instead
    (RL118-RL125; the cluster picks the base, so the FROM line is not judged either)."""
    return _Linter(cf, pool, dict(build_args or {}), base_overridden, context, on_cluster).run()


def layered_packages(cf: Containerfile) -> Set[str]:
    """The RPM names the Containerfile installs or overrides with rpm-ostree / dnf, for the
    image's ``io.rhcos-layer.rpms`` label: ``apply`` checks them against the pool's extensions
    and kernel type without pulling the image."""
    names: Set[str] = set()
    for ins in cf.instructions:
        if ins.keyword == "RUN":
            for words in _commands(_run_script(ins)):
                parsed = _rpm_ostree_packages(words)
                if parsed is not None:
                    names |= _rpm_names(parsed[1])[0]
    return names


def _special_kernels(names: Set[str]) -> List[Tuple[str, List[str]]]:
    """(kernelType, the layered packages of its kernel) for each special kernel found in ``names``."""
    found = []
    for kernel_type, prefix in KERNEL_TYPES.items():
        layered = sorted(n for n in names if n == prefix or n.startswith(prefix + "-"))
        if layered:
            found.append((kernel_type, layered))
    return found


def conflicts(packages: Set[str], pool: PoolFacts) -> List[str]:
    """What in ``packages`` the pool's MachineConfigs install already (extensions, a realtime or 64k-pages
    kernel)."""
    found = []
    if pool.kernel_type in KERNEL_TYPES:
        for _kernel_type, layered in _special_kernels(packages):
            found.append(f"the layered {', '.join(layered)} conflicts with the pool's kernelType: {pool.kernel_type}")
    for extension in sorted(pool.extensions):
        layered = sorted(set(EXTENSIONS.get(extension, ())) & packages)
        if layered:
            found.append(f"the layered {', '.join(layered)} conflicts with the pool's extension {extension}")
    return found


def errors(findings: Sequence[Finding]) -> List[Finding]:
    return [f for f in findings if f.severity == ERROR]


"""Passwords never show: not in output, not in process arguments, not in files left behind."""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path
from typing import List, Set

from tests.integration.conftest import write_project


class ArgvWatcher:
    """Samples every process's command line while a command runs."""

    def __init__(self) -> None:
        self.seen: Set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        self.seen.add(Path(f"/proc/{pid}/cmdline").read_bytes())
                    except OSError:
                        pass
            self._stop.wait(0.005)

    def __enter__(self) -> ArgvWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def _files_containing(root: Path, needles: List[bytes], skip: Set[Path]) -> List[str]:
    found = []
    for path in root.rglob("*"):
        if path in skip or not path.is_file() or path.is_symlink():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if any(n in data for n in needles):
            found.append(str(path))
    return found


def test_sentinel_passwords_never_appear(tmp_path, tool_env, podman_service, fake_base, registry, rhcos_layer):
    right, wrong = registry.password, "SENTINEL-wrong-Pa55word"
    needles = [s.encode() for s in (right, wrong)]
    needles += [base64.b64encode(f"{registry.username}:{s}".encode()) for s in (right, wrong)]
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    project = write_project(tmp_path / "proj", fake_base.pullspec,
                            "RUN rpm-ostree install tree && ostree container commit\n",
                            image=f"{registry.host}/layered/sentinel")
    wrong_auth = registry.write_authfile(tmp_path / "auth" / "wrong.json", password=wrong)
    env = {"TMPDIR": str(tmpdir)}

    outputs = []
    with ArgvWatcher() as watcher:
        for args in (["-v", "build"], ["-v", "push", "-o", "json"],
                     ["-v", "push", "--push-authfile", str(wrong_auth)],
                     ["-v", "build", "--no-cache", "--authfile", str(wrong_auth)],
                     ["-v", "--debug", "push", "--cert-dir", str(registry.cert_dir),
                      "--push-authfile", str(wrong_auth)]):
            outcome = rhcos_layer(args, project, env)
            outputs.append((args, outcome))
    codes = [o.code for _, o in outputs]
    assert codes[:3] == [0, 0, 4], outputs
    assert codes[3] in (0, 4)  # the base is local now, so the wrong pull password may go unused
    assert codes[4] != 0

    for args, outcome in outputs:
        for needle in needles:
            assert needle.decode() not in outcome.out + outcome.err, args
    for cmdline in watcher.seen:
        assert not any(n in cmdline for n in needles), cmdline
    authfiles = {Path(tool_env["REGISTRY_AUTH_FILE"]), wrong_auth}
    assert _files_containing(tmp_path, needles, skip=authfiles) == []
    # nor in the Podman service's store and temporary folders (podman writes the credentials we
    # send in headers to a temporary authfile of its own and must have removed it)
    assert _files_containing(podman_service.store.root_dir, needles, skip=set()) == []
    assert list(tmpdir.iterdir()) == []  # nothing left in TMPDIR either

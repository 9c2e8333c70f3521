"""Property-based: whatever lies in the KUBECONFIG files (bytes, YAML of any shape, a merged list of
several), loading them ends in a login or a ClusterAccessError - nothing else, and never a value
from the file in the message. The budget is the profile's in tests/conftest.py."""

from __future__ import annotations

import base64
import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator, List

import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from rhcos_layer.adapters.cluster import Cluster
from rhcos_layer.errors import ClusterAccessError
from rhcos_layer.kubeconfig import load

SENTINEL = "sha256~FUZZSENTINEL"
# keys a kubeconfig has, plus a few it does not; never exec or auth-provider: a loaded kubeconfig
# runs those plugins (as oc does), and the fuzzer must not run commands it made up
KEYS = ["apiVersion", "kind", "clusters", "contexts", "users", "current-context", "preferences", "name",
        "cluster", "context", "user", "server", "certificate-authority", "certificate-authority-data",
        "insecure-skip-tls-verify", "tls-server-name", "proxy-url", "namespace", "token", "tokenFile",
        "client-certificate", "client-certificate-data", "client-key", "client-key-data", "username",
        "password", "extensions", "x"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
                    st.sampled_from(["https://127.0.0.1:1", "admin", "c", "u", SENTINEL, "%%%", "ca.crt", "",
                                     base64.b64encode(b"not a pem").decode(), "http://[::1", "ftp://x"]))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)), max_leaves=30)


def _entry(kind: str, body: Any) -> Any:
    return st.fixed_dictionaries({"name": st.sampled_from(["admin", "c", "u", ""]), kind: body})


# kubeconfig-shaped documents with fields of any type: they get past the first checks
shaped = st.fixed_dictionaries({
    "clusters": st.lists(_entry("cluster", st.dictionaries(st.sampled_from(KEYS), scalars, max_size=6)), max_size=3),
    "contexts": st.lists(_entry("context", st.dictionaries(st.sampled_from(["cluster", "user", "namespace"]),
                                                           scalars, max_size=3)), max_size=3),
    "users": st.lists(_entry("user", st.dictionaries(st.sampled_from(KEYS), scalars, max_size=6)), max_size=3),
    "current-context": scalars,
})
# consistent kubeconfigs (context -> cluster c, user u) whose fields have mostly the right types:
# they reach the Kubernetes client's own loader
typed = st.one_of(st.text(max_size=30), st.booleans(),
                  st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode()),
                  st.sampled_from(["https://127.0.0.1:1", "http://127.0.0.1:2/", "https://[::1]:6443", SENTINEL,
                                   "ca.crt", "/nonexistent/ca.crt", "http://[::1", "https://", ""]), scalars)
wired = st.fixed_dictionaries({
    "clusters": st.fixed_dictionaries({"name": st.just("c"), "cluster": st.fixed_dictionaries(
        {"server": st.sampled_from(["https://127.0.0.1:1", "http://localhost:2", "https://a:b", "https://"])},
        optional={k: typed for k in ("certificate-authority", "certificate-authority-data",
                                     "insecure-skip-tls-verify", "tls-server-name", "proxy-url",
                                     "disable-compression")})}).map(lambda e: [e]),
    "users": st.fixed_dictionaries({"name": st.just("u"), "user": st.fixed_dictionaries({}, optional={
        k: typed for k in ("token", "tokenFile", "client-certificate", "client-certificate-data", "client-key",
                           "client-key-data", "username", "password")})}).map(lambda e: [e]),
    "contexts": st.just([{"name": "admin", "context": {"cluster": "c", "user": "u"}}]),
    "current-context": st.just("admin"),
})
documents = st.one_of(
    wired.map(lambda v: yaml.safe_dump(v).encode()),
    st.binary(max_size=300),
    values.map(lambda v: yaml.safe_dump(v).encode()),
    shaped.map(lambda v: yaml.safe_dump(v).encode()),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)


@contextlib.contextmanager
def _written(contents: List[bytes]) -> Iterator[List[Path]]:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-kubeconfig-"))
    try:
        paths = []
        for index, content in enumerate(contents):
            path = folder / f"config-{index}"
            path.write_bytes(content)
            paths.append(path)
        yield paths
    finally:
        shutil.rmtree(folder)


def _check_error(exc: ClusterAccessError) -> None:
    assert exc.message and "\n" not in exc.message
    assert SENTINEL not in exc.message and SENTINEL not in exc.hint


@given(st.lists(documents, min_size=1, max_size=3))
def test_loading_any_files_ends_in_a_login_or_a_cluster_access_error(contents: List[bytes]) -> None:
    with _written(contents) as paths:
        try:
            login = load(paths)
        except ClusterAccessError as exc:
            _check_error(exc)
            event("refused")
            return
    event("loaded")
    scheme, _, rest = login.server.partition("://")
    assert scheme in ("https", "http") and rest
    assert [c["name"] for c in login.config["contexts"]] == ["context"]


@given(st.one_of(wired, shaped))
def test_the_client_is_built_or_refused_with_a_cluster_access_error(document: Any) -> None:
    with _written([yaml.safe_dump(document).encode()]) as [path]:
        try:
            cluster = Cluster(str(path))
        except ClusterAccessError as exc:
            _check_error(exc)
            event("refused")
            return
    event("built")
    cluster.close()
    scheme, _, rest = cluster.server.partition("://")
    assert scheme in ("https", "http") and rest


def test_crafted_inputs_stay_bounded(tmp_path: Path) -> None:
    """Alias and merge-key bombs, deep nesting, a huge file: refused or read, quickly and in little memory."""
    laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9))
    merges = "m0: &m0 {k: v}\n" + "".join(
        f"m{i}: &m{i} {{<<: [" + ", ".join([f"*m{i - 1}"] * 10) + "]}\n" for i in range(1, 9))
    crafted = {
        "laughs": laughs + "clusters: *a8\n",
        "merges": merges,
        "deep": "[" * 50_000 + "]" * 50_000,
        "huge": "#" * (5 * 1024 * 1024),
    }
    for name, text in crafted.items():
        path = tmp_path / name
        path.write_text(text)
        try:
            load([path])
        except ClusterAccessError as exc:
            _check_error(exc)
        else:
            raise AssertionError(f"{name}: loaded")

"""Kubeconfig files, read the way ``oc`` and ``kubectl`` read them, but strictly and within bounds.

The rules follow client-go (k8s.io/client-go/tools/clientcmd/loader.go, ``ClientConfigLoadingRules.Load``
and ``ResolveLocalPaths``): files of a KUBECONFIG list that do not exist are skipped and an empty
file is an empty config; merging keeps the first file's entry for each name and the first
``current-context`` set; relative paths are resolved against the folder of the file that holds
them. The field types are those of clientcmd/api/v1/types.go, checked in every entry (client-go
refuses a file whose any field has the wrong type, and a name used twice in one list).

The Kubernetes client's own loader is not given the files: it formats whole entries into
strings, deep-copies them, and rewrites the file after a token refresh. It gets the one context
this module chose, with its cluster and user, each field checked. Every way a file can be wrong
(not text, not YAML, not a mapping, a wrong type, a context naming a missing cluster) is a
ClusterAccessError that names the file and the key, never the value (tokens live here).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, NoReturn, Optional, Sequence, Tuple

from .errors import ClusterAccessError

# A kubeconfig with a few hundred embedded certificates is well under 1 MiB; past this it is not one,
# and PyYAML's pure-Python parser would take seconds on it.
MAX_BYTES = 4 * 1024 * 1024
LOGIN_HINT = "fix or remove that file and log in with `oc login`, or give another with --kubeconfig FILE"

# name of the list -> (key of the body in each entry, what an entry is called in messages)
_LISTS = {"clusters": ("cluster", "cluster"), "contexts": ("context", "context"), "users": ("user", "user")}
# clientcmd/api/v1/types.go: the fields rhcos-layer hands on, by type
_STRINGS = {
    "cluster": ("server", "tls-server-name", "certificate-authority", "proxy-url"),
    "context": ("cluster", "user", "namespace"),
    "user": ("client-certificate", "client-key", "token", "tokenFile", "username", "password"),
}
_BOOLS = {"cluster": ("insecure-skip-tls-verify", "disable-compression"), "context": (), "user": ()}
_BASE64 = {"cluster": ("certificate-authority-data",), "context": (),
           "user": ("client-certificate-data", "client-key-data")}
# fields holding a path, resolved against the file's folder (ResolveLocalPaths)
_PATHS = {"cluster": ("certificate-authority",), "user": ("client-certificate", "client-key", "tokenFile")}
_EXEC_STRINGS = ("command", "apiVersion", "installHint", "interactiveMode")


@dataclass
class Login:
    """The context to use: ``config`` is a kubeconfig holding only it, its cluster and its user."""

    config: Dict[str, Any]
    context: str
    source: Path
    server: str


@dataclass
class _Entry:
    body: Dict[str, Any]
    source: Path
    where: str  # e.g. "users[2].user", for messages


def load(paths: Sequence[Path], context: Optional[str] = None) -> Login:
    """Read and merge ``paths`` (missing ones skipped) and pick ``context`` (default: current-context)."""
    files = [p for p in paths if p.is_file()]
    if not files:
        shown = ", ".join(str(p) for p in paths)
        raise ClusterAccessError(f"no kubeconfig at {shown}",
                                 hint="log in with `oc login`, or give --kubeconfig FILE / KUBECONFIG")
    merged: Dict[str, Dict[str, _Entry]] = {name: {} for name in _LISTS}
    current: Optional[Tuple[str, Path]] = None
    for path in files:
        doc = _read(path)
        if doc is None:
            continue
        for list_name in _LISTS:
            for name, entry in _entries(doc, list_name, path).items():
                merged[list_name].setdefault(name, entry)  # the first file to name it wins
        value = doc.get("current-context")
        if value is not None and not isinstance(value, str):
            raise ClusterAccessError(f"kubeconfig {path}: current-context: expected a string", hint=LOGIN_HINT)
        if value and current is None:
            current = (value, path)
    return _choose(merged, context, current, files)


def _read(path: Path) -> Optional[Dict[str, Any]]:
    """One file as a mapping; None when it is empty."""
    import yaml

    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ClusterAccessError(f"kubeconfig {path}: cannot read it ({exc.strerror or type(exc).__name__})",
                                 hint=LOGIN_HINT) from None
    if len(raw) > MAX_BYTES:
        raise ClusterAccessError(f"kubeconfig {path} is larger than {MAX_BYTES // (1024 * 1024)} MiB: not a kubeconfig",
                                 hint=LOGIN_HINT)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ClusterAccessError(f"kubeconfig {path} is not a text file (UTF-8 YAML expected)", hint=LOGIN_HINT) \
            from None
    if not text.strip():
        return None
    try:
        doc = yaml.load(text, Loader=_loader())  # a SafeLoader, see _loader
    except yaml.MarkedYAMLError as exc:
        line = f":{exc.problem_mark.line + 1}" if exc.problem_mark is not None else ""
        raise ClusterAccessError(f"kubeconfig {path}{line}: not valid YAML ({exc.problem or exc.context})",
                                 hint=LOGIN_HINT) from None
    except yaml.YAMLError as exc:  # a character YAML does not allow (binary data)
        raise ClusterAccessError(f"kubeconfig {path}: not valid YAML ({type(exc).__name__})", hint=LOGIN_HINT) \
            from None
    except RecursionError:
        raise ClusterAccessError(f"kubeconfig {path}: not valid YAML (nested too deeply)", hint=LOGIN_HINT) from None
    except (ValueError, OverflowError) as exc:  # PyYAML's constructors: a date like 2024-02-30
        raise ClusterAccessError(f"kubeconfig {path}: not valid YAML ({exc})", hint=LOGIN_HINT) from None
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise ClusterAccessError(f"kubeconfig {path}: expected a mapping with clusters, contexts and users,"
                                 f" found {_kind(doc)}", hint=LOGIN_HINT)
    return doc


@functools.cache
def _loader() -> Any:
    """yaml.SafeLoader without merge keys (``<<: *x``): nested merges of aliases grow exponentially
    (a few hundred bytes can take minutes), and no tool writes them into a kubeconfig."""
    import yaml

    class Loader(yaml.SafeLoader):
        def flatten_mapping(self, node: Any) -> None:
            for key, _ in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    raise yaml.constructor.ConstructorError(
                        None, None, "YAML merge keys (<<) are not supported in a kubeconfig", key.start_mark)
            super().flatten_mapping(node)

    return Loader


def _entries(doc: Dict[str, Any], list_name: str, path: Path) -> Dict[str, _Entry]:
    inner, what = _LISTS[list_name]
    value = doc.get(list_name)
    if value is None:
        return {}
    if not isinstance(value, list):
        raise ClusterAccessError(f"kubeconfig {path}: {list_name}: expected a list, found {_kind(value)}",
                                 hint=LOGIN_HINT)
    found: Dict[str, _Entry] = {}
    for index, item in enumerate(value):
        where = f"{list_name}[{index}]"
        if not isinstance(item, dict):
            raise ClusterAccessError(f"kubeconfig {path}: {where}: expected a mapping with name and {inner},"
                                     f" found {_kind(item)}", hint=LOGIN_HINT)
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ClusterAccessError(f"kubeconfig {path}: {where}.name: expected a non-empty string", hint=LOGIN_HINT)
        if name in found:
            raise ClusterAccessError(f"kubeconfig {path}: {where}: a second {what} named {_shown(name)}",
                                     hint=LOGIN_HINT)
        body = item.get(inner)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ClusterAccessError(f"kubeconfig {path}: {where}.{inner}: expected a mapping, found {_kind(body)}",
                                     hint=LOGIN_HINT)
        entry = _Entry(body, path, f"{where}.{inner}")
        found[name] = _checked(entry, inner)
    return found


def _checked(entry: _Entry, kind: str) -> _Entry:
    """The entry with only the fields rhcos-layer hands on, each of the right type, paths made absolute."""
    import base64
    import binascii

    body = entry.body
    out: Dict[str, Any] = {}
    for key in _STRINGS[kind]:
        if key in body and body[key] is not None:
            out[key] = _string(entry, key, body[key])
    for key in _BOOLS[kind]:
        if key in body and body[key] is not None:
            if not isinstance(body[key], bool):
                _fail(entry, key, "expected true or false")
            out[key] = body[key]
    for key in _BASE64[kind]:
        if key in body and body[key] is not None:
            text = "".join(_string(entry, key, body[key]).split())
            try:
                base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                _fail(entry, key, "not base64")
            out[key] = text
    for key in _PATHS.get(kind, ()):
        if out.get(key) and not os.path.isabs(out[key]):
            out[key] = str(entry.source.parent / out[key])
    if kind == "user":
        if body.get("exec") is not None:
            out["exec"] = _exec(entry, body["exec"])
        if body.get("auth-provider") is not None:
            out["auth-provider"] = _auth_provider(entry, body["auth-provider"])
    return _Entry(out, entry.source, entry.where)


def _exec(entry: _Entry, value: Any) -> Dict[str, Any]:
    """users[].user.exec (ExecConfig): a credential plugin that `oc` and `kubectl` run too."""
    if not isinstance(value, dict):
        _fail(entry, "exec", "expected a mapping")
    out: Dict[str, Any] = {}
    for key in _EXEC_STRINGS:
        if value.get(key) is not None:
            out[key] = _string(entry, f"exec.{key}", value[key])
    if not out.get("command"):
        _fail(entry, "exec.command", "expected the plugin's command")
    command = out["command"]
    if os.sep in command and not os.path.isabs(command):  # only a path, not a name looked up in PATH
        out["command"] = str(entry.source.parent / command)
    args = value.get("args")
    if args is not None:
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            _fail(entry, "exec.args", "expected a list of strings")
        out["args"] = list(args)
    env = value.get("env")
    if env is not None:
        if not isinstance(env, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str)
                                                and isinstance(e.get("value"), str) for e in env):
            _fail(entry, "exec.env", "expected a list of {name, value} strings")
        out["env"] = [{"name": e["name"], "value": e["value"]} for e in env]
    if value.get("provideClusterInfo") is not None:
        if not isinstance(value["provideClusterInfo"], bool):
            _fail(entry, "exec.provideClusterInfo", "expected true or false")
        out["provideClusterInfo"] = value["provideClusterInfo"]
    return out


def _auth_provider(entry: _Entry, value: Any) -> Dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        _fail(entry, "auth-provider", "expected a mapping with a name")
    config = value.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in config.items()):
        _fail(entry, "auth-provider.config", "expected a mapping of strings")
    return {"name": value["name"], "config": dict(config)}


def _choose(merged: Dict[str, Dict[str, _Entry]], context: Optional[str], current: Optional[Tuple[str, Path]],
            files: List[Path]) -> Login:
    shown_files = ", ".join(str(p) for p in files)
    contexts = merged["contexts"]
    if context is None:
        if not contexts:
            raise ClusterAccessError(f"kubeconfig {shown_files} has no contexts",
                                     hint="log in with `oc login`, or give --kubeconfig FILE / KUBECONFIG")
        if current is None:
            raise ClusterAccessError(f"kubeconfig {shown_files} sets no current-context",
                                     hint=f"give --context NAME (the contexts: {_names(contexts)})")
        context = current[0]
        if context not in contexts:
            raise ClusterAccessError(f"kubeconfig {current[1]}: current-context {_shown(context)} is not among the"
                                     f" contexts ({_names(contexts)})", hint="give --context NAME, or log in again")
    elif context not in contexts:
        raise ClusterAccessError(f"--context {_shown(context)}: no such context in kubeconfig {shown_files}",
                                 hint=f"the contexts: {_names(contexts)}" if contexts else LOGIN_HINT)
    ctx = contexts[context]
    cluster_name = ctx.body.get("cluster")
    if not cluster_name:
        _fail(ctx, "cluster", "the context names no cluster")
    cluster = merged["clusters"].get(cluster_name)
    if cluster is None:
        _fail(ctx, "cluster", f"no cluster named {_shown(cluster_name)} in kubeconfig {shown_files}")
    server = cluster.body.get("server")
    if not server:
        _fail(cluster, "server", "the cluster has no server")
    if not _is_url(server):
        _fail(cluster, "server", "expected https://HOST:PORT")
    user_name = ctx.body.get("user")
    user: Dict[str, Any] = {}
    if user_name:
        found = merged["users"].get(user_name)
        if found is None:  # client-go's validation: 'user %q was not found for context %q'
            _fail(ctx, "user", f"no user named {_shown(user_name)} in kubeconfig {shown_files}")
        user = found.body
    context_body = {"cluster": "cluster", "user": "user"}
    if ctx.body.get("namespace"):
        context_body["namespace"] = ctx.body["namespace"]
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "context",
        "clusters": [{"name": "cluster", "cluster": dict(cluster.body)}],
        "contexts": [{"name": "context", "context": context_body}],
        "users": [{"name": "user", "user": dict(user)}],
    }
    return Login(config=config, context=context, source=ctx.source, server=server)


def _is_url(server: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(server)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("https", "http") and bool(parts.hostname)


def _string(entry: _Entry, key: str, value: Any) -> str:
    if not isinstance(value, str):
        _fail(entry, key, f"expected a string, found {_kind(value)}")
    return str(value)


def _fail(entry: _Entry, key: str, problem: str) -> NoReturn:
    raise ClusterAccessError(f"kubeconfig {entry.source}: {entry.where}.{key}: {problem}", hint=LOGIN_HINT)


def _kind(value: Any) -> str:
    """What a YAML value is, in words (never the value: it may be a token)."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "something else" if value is not None else "nothing"


def _shown(name: str) -> str:
    """A name as it can be printed on one line."""
    return name if name.isprintable() and len(name) <= 100 else repr(name[:100])


def _names(entries: Dict[str, _Entry]) -> str:
    names = sorted(entries)
    listed = ", ".join(_shown(n) for n in names[:8])
    return listed + (f" and {len(names) - 8} more" if len(names) > 8 else "")

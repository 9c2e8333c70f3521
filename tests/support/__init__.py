"""Offline test rig for rhcos-layer: a TLS registry with auth, isolated
podman stores (+ API service), a fake RHCOS base image and a
fault-injecting TCP proxy.  See tests/conftest.py for the fixtures."""

from __future__ import annotations

from ._util import REQUIRED_TOOLS, RigError, free_port, mounts_under, skip_reason
from .fakebase import STUB_LOG, FakeBase, build_fake_base
from .podman import PodmanError, PodmanService, PodmanStore
from .proxy import ProxyStats, TcpProxy
from .registry import AccessEntry, Registry, write_authfile

__all__ = [
    "AccessEntry",
    "REQUIRED_TOOLS",
    "STUB_LOG",
    "FakeBase",
    "PodmanError",
    "PodmanService",
    "PodmanStore",
    "ProxyStats",
    "Registry",
    "RigError",
    "TcpProxy",
    "build_fake_base",
    "free_port",
    "mounts_under",
    "skip_reason",
    "write_authfile",
]

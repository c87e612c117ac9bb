"""Serve simulated stores over HTTP (uvicorn), one port each, until interrupted."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from sandbox.registry import create_store
from sandbox.settings import SandboxFile


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


async def serve(file: SandboxFile, announce: Callable[[str], None],
                log_config: dict[str, Any] | None = LOGGING_CONFIG) -> None:
    """Start every store of `file` and run until cancelled. `announce` gets one line per store naming its
    platform and the `base_url` a connection should use. `log_config`: uvicorn's logging set-up (None: its loggers
    are left to the caller's, e.g. one JSON handler on the root logger). Raises OSError when a port is taken."""
    servers = []
    for settings in file.stores:
        port = settings.port or free_port(file.host)
        app, base_path = create_store(settings)
        config = uvicorn.Config(app, host=file.host, port=port, log_level="warning", lifespan="off",
                                log_config=log_config)
        servers.append(uvicorn.Server(config))
        announce(f"{settings.platform:12} {settings.name:16} base_url: http://{file.host}:{port}{base_path}")
    await asyncio.gather(*(server.serve() for server in servers))

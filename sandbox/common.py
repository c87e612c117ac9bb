"""What every simulated store shares: a settable clock, injected faults, and the admin routes for both.

A store is a Starlette app (`sandbox/<platform>/app.py: create_app(settings) -> SandboxApp`). Tests reach it
in-process through `httpx.ASGITransport(app=...)`; `fulfillsync sandbox` serves it with uvicorn. The admin
surface of every store lives under `/_sandbox/` and needs no platform credentials (it is how a test or the demo
acts as the merchant):

- `POST /_sandbox/faults` `{"status": 500, "times": 2, "path": "regex", "method": "GET", "headers": {...},
  "body": "..."}` makes the next `times` matching API requests answer that instead; `{"truncate": true}` answers
  the real response cut in half, `{"body": "<html>..."}` with status 200 a body that is not JSON;
- `DELETE /_sandbox/faults` clears them; `GET /_sandbox/requests` counts the API requests served so far
  (by `METHOD path`, and the answers by status), `DELETE /_sandbox/requests` resets the counts;
- `POST /_sandbox/clock` `{"advance_s": 60}` or `{"now": "2026-05-01T00:00:00Z"}` moves the store's clock.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ADMIN_PREFIX = "/_sandbox"


class Clock:
    """The store's idea of now: real time plus an offset tests can move, or a fixed moment."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._fixed: datetime | None = None

    def now(self) -> datetime:
        return self._fixed if self._fixed is not None else datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        if self._fixed is not None:
            self._fixed += timedelta(seconds=seconds)
        else:
            self._offset += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        self._fixed = moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class Fault:
    """A scripted answer for the next `times` matching API requests."""

    status: int = 500
    times: int = 1
    path: str = ".*"
    method: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    truncate: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and re.search(self.path, path) is not None


@dataclass
class SandboxState:
    """Shared by a store's routes and its admin routes."""

    clock: Clock = field(default_factory=Clock)
    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None


class SandboxApp(Starlette):
    """A store's ASGI app with its `SandboxState` (as `.sandbox`) and its store object (as `.store`)."""

    sandbox: SandboxState
    store: Any


def create_sandbox_app(routes: list[BaseRoute], store: Any, state: SandboxState) -> SandboxApp:
    """Wrap a store's API routes with the admin routes and the fault/counting middleware."""
    app = SandboxApp(routes=[*admin_routes(state), *routes])
    app.sandbox = state
    app.store = store
    app.add_middleware(_FaultMiddleware, state=state)
    return app


def admin_routes(state: SandboxState) -> list[BaseRoute]:
    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            state.faults.clear()
            return JSONResponse({"faults": 0})
        body = await request.json()
        state.faults.append(Fault(**body))
        return JSONResponse({"faults": len(state.faults)}, status_code=201)

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            state.requests.clear()
            state.statuses.clear()
        return JSONResponse({"total": sum(state.requests.values()), "by_route": dict(state.requests),
                             "by_status": {str(code): count for code, count in sorted(state.statuses.items())}})

    async def clock(request: Request) -> Response:
        body = await request.json()
        if "now" in body:
            state.clock.set(datetime.fromisoformat(body["now"]))
        if "advance_s" in body:
            state.clock.advance(float(body["advance_s"]))
        return JSONResponse({"now": state.clock.now().isoformat()})

    return [
        Route(f"{ADMIN_PREFIX}/faults", faults, methods=["POST", "DELETE"]),
        Route(f"{ADMIN_PREFIX}/requests", requests, methods=["GET", "DELETE"]),
        Route(f"{ADMIN_PREFIX}/clock", clock, methods=["POST"]),
    ]


class _FaultMiddleware:
    """Counts API requests and answers scripted faults instead of the store when one matches."""

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        self.state.requests[f"{method} {path}"] += 1
        send = self._counting(send)
        fault = self.state.take_fault(method, path)
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.truncate:
            await self.app(scope, receive, _truncating(send))
        else:
            body = fault.body if fault.body is not None else '{"error": "simulated failure"}'
            response = Response(body, status_code=fault.status, headers=fault.headers,
                                media_type="application/json")
            await response(scope, receive, send)

    def _counting(self, send: Send) -> Send:
        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.state.statuses[int(message["status"])] += 1
            await send(message)

        return counting_send


def _truncating(send: Send) -> Send:
    """Pass the response through with its body cut in half (and Content-Length to match)."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def truncating_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = b"".join(chunks)
        body = body[: len(body) // 2]
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return truncating_send

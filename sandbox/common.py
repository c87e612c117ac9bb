"""What every simulated store shares: a settable clock, injected faults, and the admin routes for both.

A store is a Starlette app (`sandbox/<platform>/app.py: create_app(settings) -> SandboxApp`). Tests reach it
in-process through `httpx.ASGITransport(app=...)`; `fulfillsync sandbox` serves it with uvicorn. The admin
surface of every store lives under `/_sandbox/` and needs no platform credentials (it is how a test or the demo
acts as the merchant):

- `POST /_sandbox/faults` `{"status": 500, "times": 2, "path": "regex", "method": "GET", "headers": {...},
  "body": "..."}` makes the next `times` matching API requests answer that instead; `{"truncate": true}` answers
  the real response cut in half, `{"body": "<html>..."}` with status 200 a body that is not JSON,
  `{"delay_s": 5, "status": 0}` the real response after a pause (a slow store; with a status, that answer after it);
- `DELETE /_sandbox/faults` clears them; `GET /_sandbox/requests` counts the API requests served so far
  (by `METHOD path`, and the answers by status), `DELETE /_sandbox/requests` resets the counts;
- `POST /_sandbox/clock` `{"advance_s": 60}` or `{"now": "2026-05-01T00:00:00Z"}` moves the store's clock;
- `POST /_sandbox/raw-orders` `{"path": "regex", "at": "items", "raw": "...", "times": 1}` (or `"raw_base64"` for
  bytes that are not UTF-8; `"operation": "..."`: only requests whose body contains it, a GraphQL operation name)
  appends the raw text, as it is, to the JSON array at `at` (dot-separated keys; "" the body itself) of the next
  `times` matching successful API answers (`times` 0: every one): a bad order (invalid UTF-8, deep nesting, a
  decimal quantity, a field missing) served among the store's real ones. `DELETE` clears them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections import Counter
from collections.abc import Callable, Mapping
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


class Ids:
    """A store's ids, handed out in order with one sequence per kind, as its tables number their rows:
    `ids("order")` is the next order id. `first` names every kind and its first id; any other kind is a KeyError."""

    def __init__(self, first: Mapping[str, int]) -> None:
        self._next = dict(first)

    def __call__(self, kind: str) -> int:
        value = self._next[kind]
        self._next[kind] += 1
        return value


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
    delay_s: float = 0.0
    """Pause this long before answering; with `status` 0, then answer as the store would (a slow store)."""

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and re.search(self.path, path) is not None


@dataclass
class RawOrder:
    """Raw bytes to splice into the array at `at` of the next `times` matching answers (0: every answer)."""

    raw: bytes
    path: str = ".*"
    at: str = ""
    times: int = 1
    operation: str | None = None

    def matches(self, path: str, body: bytes) -> bool:
        return re.search(self.path, path) is not None and (
            self.operation is None or self.operation.encode() in body)


@dataclass
class SandboxState:
    """Shared by a store's routes and its admin routes."""

    clock: Clock = field(default_factory=Clock)
    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    """GraphQL operations executed, by operation name (stores with a GraphQL API; faulted requests never reach
    one): tells a test which caller asked, where every request goes to the same path."""
    raw_orders: list[RawOrder] = field(default_factory=list)

    def take_raw_orders(self, path: str, body: bytes) -> list[RawOrder]:
        taken = [raw for raw in self.raw_orders if raw.matches(path, body)]
        for raw in taken:
            if raw.times > 0:
                raw.times -= 1
                if raw.times == 0:
                    self.raw_orders.remove(raw)
        return taken

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
            state.operations.clear()
        return JSONResponse({"total": sum(state.requests.values()), "by_route": dict(state.requests),
                             "by_status": {str(code): count for code, count in sorted(state.statuses.items())},
                             "by_operation": dict(state.operations)})

    async def clock(request: Request) -> Response:
        body = await request.json()
        if "now" in body:
            state.clock.set(datetime.fromisoformat(body["now"]))
        if "advance_s" in body:
            state.clock.advance(float(body["advance_s"]))
        return JSONResponse({"now": state.clock.now().isoformat()})

    async def raw_orders(request: Request) -> Response:
        if request.method == "DELETE":
            state.raw_orders.clear()
            return JSONResponse({"raw_orders": 0})
        body = await request.json()
        raw = base64.b64decode(body.pop("raw_base64")) if "raw_base64" in body else body.pop("raw").encode()
        state.raw_orders.append(RawOrder(raw=raw, **body))
        return JSONResponse({"raw_orders": len(state.raw_orders)}, status_code=201)

    return [
        Route(f"{ADMIN_PREFIX}/raw-orders", raw_orders, methods=["POST", "DELETE"]),
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
        if fault is not None and fault.delay_s > 0:
            await asyncio.sleep(fault.delay_s)
            if fault.status == 0:
                fault = None
        if fault is None and self.state.raw_orders:
            request_body = await _read_body(receive)
            raws = self.state.take_raw_orders(path, request_body)
            replay = _replaying(request_body)
            await self.app(scope, replay, _splicing(send, raws) if raws else send)
        elif fault is None:
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
    return _rewriting(send, lambda status, body: body[: len(body) // 2])


def _rewriting(send: Send, rewrite: Callable[[int, bytes], bytes]) -> Send:
    """Pass the response through with its whole body replaced by `rewrite(status, body)` (and Content-Length to
    match)."""
    start: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def rewriting_send(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.update(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = rewrite(int(start.get("status", 500)), b"".join(chunks))
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return rewriting_send


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replaying(body: bytes) -> Receive:
    """A `receive` that gives `body` once, then waits for the client to go (what ASGI servers do)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}  # pragma: no cover

    return receive


def _splicing(send: Send, raws: list[RawOrder]) -> Send:
    """Pass a successful JSON response through with each raw order appended to its array (bytes as they are)."""
    return _rewriting(send, lambda status, body: _spliced(body, raws) if 200 <= status < 300 and body else body)


def _spliced(body: bytes, raws: list[RawOrder]) -> bytes:
    """`body` with each raw order at the end of its array; `body` unchanged when it has no such array."""
    try:
        document = json.loads(body)
    except ValueError:
        return body
    markers: dict[str, bytes] = {}
    for index, raw in enumerate(raws):
        target: Any = document
        for key in filter(None, raw.at.split(".")):
            target = target.get(key) if isinstance(target, dict) else None
        if isinstance(target, list):
            marker = f"@@sandbox-raw-order-{index}@@"
            target.append(marker)
            markers[json.dumps(marker)] = raw.raw
    spliced = json.dumps(document).encode()
    for marker, raw_bytes in markers.items():
        spliced = spliced.replace(marker.encode(), raw_bytes)
    return spliced

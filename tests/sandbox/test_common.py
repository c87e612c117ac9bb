"""What every simulated store shares: scripted faults, request counts and the clock, on a toy store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
import pytest_asyncio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.common import SandboxApp, SandboxState, create_sandbox_app


def toy_store() -> SandboxApp:
    state = SandboxState()

    async def orders(request: Request) -> Response:
        return JSONResponse({"orders": [{"id": n, "name": f"#{1000 + n}"} for n in range(20)],
                            "now": state.clock.now().isoformat()})

    return create_sandbox_app([Route("/api/orders", orders, methods=["GET", "POST"])], store=None, state=state)


@pytest_asyncio.fixture
async def store() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=toy_store()), base_url="http://store") as http:
        yield http


@pytest.mark.asyncio
async def test_a_fault_answers_the_matching_requests_the_given_number_of_times(store: httpx.AsyncClient) -> None:
    created = await store.post("/_sandbox/faults", json={"status": 503, "times": 2, "method": "GET",
                                                         "path": "^/api/orders$", "headers": {"Retry-After": "1"}})
    assert created.status_code == 201
    assert (await store.post("/api/orders")).status_code == 200  # another method: not matched
    first, second, third = [await store.get("/api/orders") for _ in range(3)]
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.headers["retry-after"] == "1"
    assert (await store.get("/_sandbox/requests")).json()["by_status"] == {"200": 2, "503": 2}


@pytest.mark.asyncio
async def test_a_truncating_fault_cuts_the_real_body_in_half(store: httpx.AsyncClient) -> None:
    whole = await store.get("/api/orders")
    await store.post("/_sandbox/faults", json={"truncate": True})
    cut = await store.get("/api/orders")
    assert cut.status_code == 200
    assert 0 < len(cut.content) < len(whole.content)
    with pytest.raises(ValueError):
        cut.json()


@pytest.mark.asyncio
async def test_api_requests_are_counted_and_admin_requests_are_not(store: httpx.AsyncClient) -> None:
    await store.get("/api/orders")
    await store.get("/api/orders")
    await store.post("/_sandbox/clock", json={"advance_s": 1})
    counted = (await store.get("/_sandbox/requests")).json()
    assert counted == {"total": 2, "by_route": {"GET /api/orders": 2}, "by_status": {"200": 2},
                       "by_operation": {}}  # GraphQL stores only
    await store.delete("/_sandbox/requests")
    assert (await store.get("/_sandbox/requests")).json()["total"] == 0


@pytest.mark.asyncio
async def test_the_clock_can_be_set_and_advanced(store: httpx.AsyncClient) -> None:
    await store.post("/_sandbox/clock", json={"now": "2026-05-01T00:00:00+00:00"})
    moved = (await store.post("/_sandbox/clock", json={"advance_s": 90})).json()
    assert datetime.fromisoformat(moved["now"]) == datetime(2026, 5, 1, 0, 1, 30, tzinfo=UTC)
    assert (await store.get("/api/orders")).json()["now"] == moved["now"]


@pytest.mark.asyncio
async def test_clearing_faults_restores_normal_answers(store: httpx.AsyncClient) -> None:
    await store.post("/_sandbox/faults", json={"status": 500, "times": 5})
    await store.delete("/_sandbox/faults")
    assert (await store.get("/api/orders")).status_code == 200

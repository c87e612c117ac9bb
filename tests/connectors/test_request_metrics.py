"""`connectors.request_metrics`: every attempt of `PlatformHttp` is observed once in
`fulfillsync_platform_request_seconds{connection,platform,operation,outcome}`, with bounded labels (no ids in
`operation`), and the rate limiter's wait left out."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client import REGISTRY

from connectors.base import PermanentError, RetryableError
from connectors.http import PlatformHttp, RetryPolicy
from connectors.request_metrics import OUTCOMES, operation_of, outcome_of

CONNECTION = "metrics-shop"


def count(operation: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("fulfillsync_platform_request_seconds_count", {
        "connection": CONNECTION, "platform": "woocommerce", "operation": operation, "outcome": outcome}) or 0.0


def platform(handler: httpx.MockTransport, attempts: int = 3) -> PlatformHttp:
    async def no_sleep(_: float) -> None:
        return None

    return PlatformHttp(connection=CONNECTION, platform="woocommerce", base_url="https://shop.example/wp-json/wc/v3",
                        transport=handler, requests_per_s=1000.0, sleep=no_sleep,
                        retry=RetryPolicy(attempts=attempts, initial_delay_s=0.001, max_delay_s=0.001))


def test_operations_name_the_call_without_its_ids() -> None:
    assert operation_of("get", "/V1/orders/000123", None) == "GET /V1/orders/{id}"
    assert operation_of("POST", "/orders/77/shipments", {}) == "POST /orders/{id}/shipments"
    assert operation_of("DELETE", "/wp-json/wc/v3/orders/12/shipment-trackings/ab12cd", None) == \
        "DELETE /wp-json/wc/v3/orders/{id}/shipment-trackings/{id}"
    assert operation_of("GET", "/stores/abc123/v2/orders?min_id=4", None) == "GET /stores/{id}/v2/orders"
    assert operation_of("PUT", "/orders/ACME-MUG", None) == "PUT /orders/{id}"  # an uppercase SKU is an id
    graphql = {"query": "query OrdersPage { x }", "operationName": "OrdersPage", "variables": {}}
    assert operation_of("POST", "/admin/api/2025-01/graphql.json", graphql) == "OrdersPage"
    assert operation_of("POST", "/admin/api/2025-01/graphql.json", {"operationName": "a b"}) == \
        "POST /admin/api/{id}/graphql.json"


def test_outcomes() -> None:
    def retryable(status: int | None) -> RetryableError:
        return RetryableError("x", connection=CONNECTION, status=status)

    assert outcome_of(retryable(429)) == "rate_limited"
    assert outcome_of(retryable(503)) == "server_error"
    assert outcome_of(retryable(None)) == "network_error"
    assert outcome_of(PermanentError("x", connection=CONNECTION, status=404)) == "client_error"
    assert outcome_of(PermanentError("x", connection=CONNECTION, status=None)) == "too_large"
    assert set(OUTCOMES) >= {"ok", "rate_limited", "server_error", "network_error", "client_error", "too_large"}


def test_each_attempt_is_observed_with_its_outcome() -> None:
    answers = iter([httpx.Response(503), httpx.Response(200, json={"id": 1})])
    before = (count("GET /orders/{id}", "server_error"), count("GET /orders/{id}", "ok"))

    async def run() -> None:
        http = platform(httpx.MockTransport(lambda request: next(answers)))
        await http.request("GET", "/orders/41")  # a 503, retried, then a 200
        await http.aclose()

    asyncio.run(run())
    assert (count("GET /orders/{id}", "server_error"), count("GET /orders/{id}", "ok")) == (before[0] + 1,
                                                                                          before[1] + 1)


def test_refusals_and_network_failures_are_observed() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(401, json={"message": "no"})

    before = (count("POST /orders", "client_error"), count("PUT /orders/{id}", "network_error"))

    async def run() -> None:
        http = platform(httpx.MockTransport(refuse), attempts=2)
        with pytest.raises(PermanentError):
            await http.request("POST", "/orders", json_body={"a": 1})
        with pytest.raises(RetryableError):
            await http.request("PUT", "/orders/9", json_body={"a": 1})
        await http.aclose()

    asyncio.run(run())
    assert count("POST /orders", "client_error") == before[0] + 1
    assert count("PUT /orders/{id}", "network_error") == before[1] + 2  # each attempt

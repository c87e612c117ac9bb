"""What `connectors.http.PlatformHttp` leaves in the log: every line logged during a platform call names the
connection (`schemas.log_context`), only during it, and a failed call logged in JSON still shows no secret."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import httpx
import pytest

from connectors.base import PermanentError
from connectors.http import PlatformHttp, RetryPolicy
from schemas import log_context
from streams.kit.logs import use_json_logs
from tests.support.logs import logging_restored

SECRET = "fake-access-token-9876543210"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    with logging_restored():
        stream = io.StringIO()
        use_json_logs("info", stream)
        yield stream


def platform(handler: httpx.MockTransport, on_response: object = None) -> PlatformHttp:
    return PlatformHttp(connection="acme-shop", platform="shopify", base_url="https://acme.example",
                        headers={"X-Token": SECRET}, secrets=[SECRET], transport=handler, requests_per_s=1000.0,
                        retry=RetryPolicy(attempts=1), on_response=on_response)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_lines_logged_during_a_call_name_the_connection_and_only_then(json_log: io.StringIO) -> None:
    def on_response(response: httpx.Response) -> None:
        logging.getLogger("connectors.test").info("%s requests left", response.headers["X-Left"])

    http = platform(httpx.MockTransport(lambda request: httpx.Response(200, headers={"X-Left": "39"}, json={})),
                    on_response)
    with log_context.bound(order_id="O1"):
        await http.request("GET", "/orders.json")
        assert log_context.current() == {"order_id": "O1"}
    logging.getLogger("connectors.test").info("after the call")
    during, after = (json.loads(line) for line in json_log.getvalue().splitlines())
    assert (during["message"], during["connection"], during["order_id"]) == ("39 requests left", "acme-shop", "O1")
    assert "connection" not in after
    await http.aclose()


@pytest.mark.asyncio
async def test_a_refused_call_logged_with_its_traceback_shows_no_secret(json_log: io.StringIO) -> None:
    echo = httpx.MockTransport(lambda request: httpx.Response(
        401, json={"errors": f"Invalid API key or access token (unrecognized login or wrong password): "
                             f"{request.headers['X-Token']}"}))
    http = platform(echo)
    try:
        await http.request("GET", f"/orders/{SECRET}.json")
    except PermanentError:
        logging.getLogger("streams.test").exception("reading the order failed")
    [line] = [json.loads(text) for text in json_log.getvalue().splitlines()]
    assert "401" in line["exception"] and "[redacted]" in line["exception"]
    assert SECRET not in json_log.getvalue()
    await http.aclose()

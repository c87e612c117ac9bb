"""streams.kit.logs without a broker: the JSON line's fields and their order, secrets masked as in text, one line
whatever the message holds; `use_json_logs` sending uvicorn, warnings and uncaught exceptions through one handler;
a record's context bound by `bind_record` and `LoggedStream`; librdkafka's lines routed through Python logging in
JSON only."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import sys
import threading
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
import uvicorn
from pydantic import SecretStr
from uvicorn.config import LOGGING_CONFIG

from schemas import log_context
from schemas.config import Config
from streams.kit.kafka_clients import client_settings
from streams.kit.logs import (
    LIBRDKAFKA_LOGGER,
    JsonLines,
    LoggedStream,
    Sometimes,
    bind_record,
    json_logs_active,
    use_json_logs,
)
from streams.kit.records import RebuiltMessage
from tests.support.logs import logging_restored

SECRET = "shpat-Lq81-never-in-a-log"
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    with logging_restored():
        yield


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    return [json.loads(line) for line in text.splitlines()]


def json_stream() -> io.StringIO:
    stream = io.StringIO()
    use_json_logs("info", stream)
    return stream


# -- the line ---------------------------------------------------------------------------------------------------------


def test_a_line_has_time_level_logger_message_context_extra_and_exception_in_that_order() -> None:
    stream = json_stream()
    with log_context.bound(order_id="O1", topic="t.fulfillment-events", partition=1, offset=42, event_id="E1"):
        try:
            raise RuntimeError("the platform went away")
        except RuntimeError:
            logging.getLogger("streams.test").exception("order %s failed", "O1", extra={"attempt": 3})
    [line] = lines(stream)
    assert list(line) == ["time", "level", "logger", "message", "order_id", "event_id", "topic", "partition",
                          "offset", "attempt", "exception"]
    assert line["level"] == "ERROR" and line["logger"] == "streams.test" and line["message"] == "order O1 failed"
    assert (line["partition"], line["offset"], line["attempt"]) == (1, 42, 3)
    assert "RuntimeError: the platform went away" in line["exception"] and "Traceback" in line["exception"]
    assert TIME.match(line["time"]), line["time"]
    logged = datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - logged).total_seconds()) < 5


def test_fields_nobody_bound_are_absent_not_null() -> None:
    stream = json_stream()
    logging.getLogger("x").warning("plain")
    [line] = lines(stream)
    assert set(line) == {"time", "level", "logger", "message"}


def test_secrets_stay_masked_in_the_message_and_in_extra_fields() -> None:
    config = Config.model_validate({"connections": [{
        "id": "acme", "partner": "acme", "role": "seller", "platform": "shopify",
        "base_url": "https://acme.example", "credentials": {"access_token": SECRET}, "webhook_secret": SECRET}]})
    stream = json_stream()
    log = logging.getLogger("secrets")
    log.info("loaded %s", config)
    log.info("connection %r", config.connections[0])
    log.warning("token", extra={"token": SecretStr(SECRET), "credentials": config.connections[0].credentials,
                                "connection_settings": config.connections[0]})
    assert SECRET not in stream.getvalue()
    assert len(lines(stream)) == 3 and "**********" in stream.getvalue()


def test_a_message_is_one_line_whatever_characters_it_holds() -> None:
    stream = json_stream()
    hostile = "line one\nline two\r\u2028\u2029\x00 \u00e9\u4e2d \"quoted\" {not: json}"
    logging.getLogger("x").error("sku %s", hostile)
    [line] = lines(stream)
    assert line["message"] == f"sku {hostile}"


def test_a_value_json_cannot_hold_is_written_as_its_text() -> None:
    formatter = JsonLines()
    made = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    made.when = datetime(2026, 1, 2, tzinfo=UTC)
    made.odd = {1, 2}
    line = json.loads(formatter.format(made))
    assert line["when"] == "2026-01-02 00:00:00+00:00" and line["odd"] == "{1, 2}"


# -- the process ------------------------------------------------------------------------------------------------------


def test_uvicorn_lines_go_through_the_root_handler_even_after_uvicorn_configured_its_own() -> None:
    logging.config.dictConfig(LOGGING_CONFIG)  # what uvicorn.run does by default: handlers that do not propagate
    stream = json_stream()
    uvicorn.Config(app=lambda *args: None, log_config=None, log_level="info")  # what `fulfillsync web` does in JSON
    logging.getLogger("uvicorn.error").info("Started server process [%d]", 1)
    logging.getLogger("uvicorn.access").info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", "/healthz", "1.1", 200)
    assert [(line["logger"], line["message"]) for line in lines(stream)] == [
        ("uvicorn.error", "Started server process [1]"),
        ("uvicorn.access", '127.0.0.1:5 - "GET /healthz HTTP/1.1" 200')]


def test_warnings_and_uncaught_exceptions_become_json_lines() -> None:
    stream = json_stream()
    warnings.warn_explicit("an old setting", UserWarning, "somewhere.py", 3)
    try:
        raise ValueError("nobody caught me")
    except ValueError as error:
        sys.excepthook(type(error), error, error.__traceback__)
        threading.excepthook(threading.ExceptHookArgs([type(error), error, error.__traceback__, None]))
    warned, uncaught, in_thread = lines(stream)
    assert warned["logger"] == "py.warnings" and "an old setting" in warned["message"]
    assert uncaught["level"] == "CRITICAL" and "ValueError: nobody caught me" in uncaught["exception"]
    assert in_thread["message"] == "uncaught exception in thread ?"


def test_calling_it_again_replaces_the_handler_and_the_level_applies() -> None:
    first = json_stream()
    second = io.StringIO()
    use_json_logs("warning", second)
    logging.getLogger("x").info("not at warning")
    logging.getLogger("x").warning("at warning")
    assert first.getvalue() == "" and [line["message"] for line in lines(second)] == ["at warning"]


def test_librdkafka_logs_through_python_logging_only_in_json() -> None:
    assert not json_logs_active() and "logger" not in client_settings("127.0.0.1:9092")
    json_stream()
    assert json_logs_active()
    assert client_settings("127.0.0.1:9092")["logger"] is logging.getLogger(LIBRDKAFKA_LOGGER)
    own = logging.getLogger("own")
    assert client_settings("127.0.0.1:9092", {"logger": own})["logger"] is own


# -- a record's context -----------------------------------------------------------------------------------------------


def message(topic: str = "p.fulfillment-events", key: bytes | None = b"O1", **headers: str) -> RebuiltMessage:
    return RebuiltMessage(topic=topic, partition=3, offset=17, key=key, value=b"{}",
                          headers=[(name, value.encode()) for name, value in headers.items()])


def test_a_record_binds_its_position_event_id_and_order_id() -> None:
    bind_record(message(ce_id="E1", ce_subject="O-subject"))
    assert log_context.current() == {"topic": "p.fulfillment-events", "partition": 3, "offset": 17,
                                     "event_id": "E1", "order_id": "O-subject"}
    bind_record(message(key=b"O2"))  # no CloudEvents headers (an internal record): the key is the order id
    assert log_context.current() == {"topic": "p.fulfillment-events", "partition": 3, "offset": 17, "order_id": "O2"}
    bind_record(message("p.poll-ticks", key=b"acme-shopify"), connection_keyed={"p.poll-ticks"})
    assert log_context.current() == {"topic": "p.poll-ticks", "partition": 3, "offset": 17,
                                     "connection": "acme-shopify"}
    bind_record(message(key=None))
    assert "order_id" not in log_context.current() and "connection" not in log_context.current()


@dataclass
class FakeEvent:
    message: RebuiltMessage


class FakeStream:
    """What agents use of a Faust stream: `noack()` and `events()`."""

    def __init__(self, events: list[FakeEvent]) -> None:
        self._events = events
        self.acks = "auto"

    def noack(self) -> FakeStream:
        self.acks = "manual"
        return self

    async def events(self) -> AsyncIterator[FakeEvent]:
        for event in self._events:
            await asyncio.sleep(0)
            yield event


def test_an_agent_reading_a_logged_stream_logs_each_records_fields_also_from_the_tasks_it_starts() -> None:
    stream = json_stream()
    log = logging.getLogger("streams.agent")
    inner = FakeStream([FakeEvent(message(key=b"O1", ce_id="E1")), FakeEvent(message(key=b"O2", ce_id="E2"))])

    async def agent(records: Any) -> None:
        async for event in records.events():
            log.info("handling %s", event.message.key.decode())
        log.info("stopped")

    async def in_task(key: bytes) -> None:
        await asyncio.sleep(0.01)
        log.info("worked on %s", key.decode())

    async def agent_with_tasks(records: Any) -> None:
        tasks = [asyncio.create_task(in_task(event.message.key)) async for event in records.noack().events()]
        await asyncio.gather(*tasks)

    asyncio.run(agent_with_tasks(LoggedStream(inner)))
    assert inner.acks == "manual"
    assert [(line["message"], line.get("order_id"), line.get("event_id")) for line in lines(stream)] == [
        ("worked on O1", "O1", "E1"), ("worked on O2", "O2", "E2")]

    stream.truncate(0)
    stream.seek(0)
    asyncio.run(agent(LoggedStream(FakeStream([FakeEvent(message(key=b"O3"))]))))
    handled, stopped = lines(stream)
    assert handled["order_id"] == "O3" and handled["offset"] == 17
    assert "order_id" not in stopped, "fields stay bound after the stream ended"


def test_a_logged_stream_passes_everything_else_to_the_stream() -> None:
    inner = FakeStream([])
    assert LoggedStream(inner).acks == "auto"


def test_sometimes_says_the_first_time_then_once_per_period_per_key() -> None:
    now = [100.0]
    sometimes = Sometimes(60.0, clock=lambda: now[0])
    assert sometimes.due("a") and not sometimes.due("a") and sometimes.due("b")
    now[0] += 59
    assert not sometimes.due("a")
    now[0] += 1
    assert sometimes.due("a") and not sometimes.due("a")


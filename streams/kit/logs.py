"""How fulfillsync's processes write their log, and what a worker's log line knows of the record it is about.

Two formats (`worker.log_format`, the `--log-format` option; README.md, "Command line"):
- text: each command's own set-up, for a person at a terminal (Faust's and uvicorn's handlers), unchanged;
- json: `use_json_logs` puts one handler on the root logger that writes one JSON object per line (`JsonLines`) to
  standard error, and sends uvicorn's loggers, Python's warnings and uncaught exceptions through it too (and
  librdkafka's lines, through `LIBRDKAFKA_LOGGER`, for the confluent-kafka clients made after it). A line
  holds `time` (ISO 8601, UTC, milliseconds), `level`, `logger`, `message`, the bound context fields
  (`schemas.log_context.FIELDS`: order_id, connection, event_id, topic, partition, offset) where known, any
  `extra=` fields of the call, and `exception` (the traceback) when there is one. Non-JSON values are written as
  their `str()`, so a `SecretStr` (or a configuration holding one) shows masked exactly as in a text line;
  connectors redact secrets from their messages before anything logs them (`connectors.http.redact`).

Record context: `LoggedStream` wraps the stream an agent reads (`streams.kit.context.WiringContext.agent` wraps
every agent's), binding each record's topic, partition, offset, event id (`ce_id`) and order id (`ce_subject`, or
the key) as the agent takes it; a poll tick's key is its connection. The fields stay bound while the agent handles
the record, including in the tasks it starts for it (`streams.kit.lanes`). The same wrapper makes the record's trace
current the same way (`streams.kit.tracing.handle_record`), and ends its span, when spans are recorded, as soon as
the agent asks for the next record.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any, Final

from pythonjsonlogger.json import JsonFormatter

from schemas import log_context, trace_scope
from schemas.cloudevents import header_map
from schemas.log_context import FIELDS, ContextFilter
from streams.kit.records import KafkaMessage
from streams.kit.tracing import handle_record

UVICORN_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
"""uvicorn's loggers: its default set-up gives them handlers of their own that do not propagate."""
_FIRST: Final = ("time", "level", "logger", "message", *FIELDS)


def _as_text(value: object) -> str:
    """A value JSON has no type for, as its `str()` (masked for secrets, as in a text line)."""
    return str(value)


class JsonLines(JsonFormatter):
    """One JSON object per record, on one line (non-ASCII escaped, so no character splits the line): `time`,
    `level`, `logger`, `message`, the context fields present on the record (`ContextFilter` adds them), the
    call's `extra=` fields, then `exception` and `stack` when present. Never raises for an odd value: it is
    written as its `str()`."""

    def __init__(self) -> None:
        super().__init__(["levelname", "name", "message"], timestamp="time", json_default=_as_text,
                         rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception",
                                        "stack_info": "stack"})

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        """The fields in their documented order, `time` as ISO 8601 text in UTC with a `Z`."""
        created = log_data.get("time")
        if isinstance(created, datetime):
            log_data["time"] = created.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        ordered: dict[str, Any] = {name: log_data.pop(name) for name in _FIRST if name in log_data}
        tail: dict[str, Any] = {name: log_data.pop(name) for name in ("exception", "stack") if name in log_data}
        return {**ordered, **log_data, **tail}


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A handler writing `JsonLines` with the bound context fields to `stream` (standard error by default)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonLines())
    return handler


def use_json_logs(level: int | str, stream: IO[str] | None = None) -> logging.Handler:
    """Make every log line of this process a JSON line: the root logger's handlers are replaced by one
    `json_handler` at `level` (a number or a name such as "info"); uvicorn's loggers lose their own handlers and
    propagate to it; Python warnings and uncaught exceptions (main thread and others) are logged through it;
    httpx's request lines stay below the level shown (WARNING at least). Returns the handler. Calling it again
    replaces the handler (with the new stream and level)."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = json_handler(stream)
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # httpx logs every request's URL at INFO, and a URL may carry a credential (a query-string key): as in text,
    # where no command shows them (the worker sets the same floor), they stay out.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, root.level))
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
        logger.propagate = True
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    return handler


def json_logs_active() -> bool:
    """Whether this process writes JSON lines (`use_json_logs` was called): a handler of the root logger formats
    with `JsonLines`."""
    return any(isinstance(handler.formatter, JsonLines) for handler in logging.getLogger().handlers)


LIBRDKAFKA_LOGGER: Final = "librdkafka"
"""The logger confluent-kafka's clients log through in JSON (`streams.kit.kafka_clients.client_settings`): librdkafka
otherwise writes its own lines straight to standard error. They reach it when the client is polled."""


def _log_uncaught(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
    logging.getLogger("fulfillsync").critical("uncaught exception", exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        name = args.thread.name if args.thread is not None else "?"
        logging.getLogger("fulfillsync").critical("uncaught exception in thread %s", name,
                                                  exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


def bind_record(message: KafkaMessage, *, connection_keyed: Collection[str] = ()) -> None:
    """Bind `message`'s log fields in the current context until the next `bind_record` (or
    `schemas.log_context.bind`): topic, partition, offset, `event_id` from its `ce_id` header, and `order_id`
    from its `ce_subject` header or else its key; on a topic in `connection_keyed` the key is the `connection`
    instead. A field the record does not have is unbound. Never raises."""
    _bind(message, header_map(message.headers), connection_keyed)


def _bind(message: KafkaMessage, headers: Mapping[str, str], connection_keyed: Collection[str]) -> None:
    key = message.key.decode("utf-8", "replace") if message.key else None
    by_connection = message.topic in connection_keyed
    log_context.bind(topic=message.topic, partition=message.partition, offset=message.offset,
                     event_id=headers.get("ce_id") or None,
                     order_id=None if by_connection else headers.get("ce_subject") or key,
                     connection=key if by_connection else None)


class LoggedStream:
    """A Faust stream whose `events()` bind each record's log fields (`bind_record`) and make its trace current
    (`streams.kit.tracing.handle_record`, for agent `agent`) as the agent takes it; a recorded span of the record's
    handling ends when the agent asks for the next record (or stops); the fields and the trace are unbound when the
    iteration ends. `noack()` keeps the wrapping; anything else is the stream's own."""

    def __init__(self, stream: Any, *, connection_keyed: Collection[str] = (), agent: str = "agent") -> None:
        self._stream = stream
        self._connection_keyed = frozenset(connection_keyed)
        self._agent = agent

    def noack(self) -> LoggedStream:
        return LoggedStream(self._stream.noack(), connection_keyed=self._connection_keyed, agent=self._agent)

    async def events(self) -> AsyncIterator[Any]:
        try:
            async for event in self._stream.events():
                message = event.message
                headers = header_map(message.headers)
                _bind(message, headers, self._connection_keyed)
                span = handle_record(message, headers, agent=self._agent)
                try:
                    yield event
                finally:
                    if span is not None:
                        span.end()
        finally:
            log_context.clear()
            trace_scope.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class Sometimes:
    """Whether to log a repeating condition about `key` now: the first time, then at most once per `every_s`
    seconds per key (the condition's metric counts every occurrence). Keeps at most `keys` keys."""

    def __init__(self, every_s: float, *, keys: int = 1024, clock: Callable[[], float] = time.monotonic) -> None:
        self._every_s = every_s
        self._keys = keys
        self._clock = clock
        self._last: dict[str, float] = {}

    def due(self, key: str) -> bool:
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._every_s:
            return False
        if len(self._last) >= self._keys:
            self._last.clear()
        self._last[key] = now
        return True


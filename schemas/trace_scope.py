"""The trace context of the code running now, and the optional span recorder (docs/architecture.md, "Tracing").

Like `schemas.log_context`, the current context lives in a `contextvars` variable, so it follows the code that set
it into the tasks it starts and never leaks into another task. It lives in `schemas/` because the connectors (which
may import only `schemas/`) record their requests as spans of it.

- `handle(traceparent, tracestate, ...)`: an agent takes a record: the record's context (or, when it has none or an
  invalid one, a new trace) becomes current until the next `handle` or `clear`;
- `outgoing(...)`: the context a record published now carries: a new span of the current trace (a new span id, its
  parent the current span), or the first span of a new trace when none is current;
- `using(context)`: makes a context current for a block;
- `recording()`, `start_span(...)`: a span of the current trace around some work (a platform request), recorded
  only when a `SpanRecorder` is installed (`install`; `streams.kit.tracing` installs the OpenTelemetry one when
  exporting is configured). Without one, nothing is recorded and no span object is made: `handle` parses one
  header and `outgoing` makes one id.

Nothing here raises for what a record carries: an invalid header is ignored and a new trace started.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Literal, Protocol

from schemas.trace_context import TraceContext, new_trace, parse_traceparent, span_of

SpanKind = Literal["internal", "server", "client", "producer", "consumer"]
AttributeValue = str | int | float | bool


class OpenSpan(Protocol):
    """A span started by a `SpanRecorder`, not yet ended."""

    @property
    def context(self) -> TraceContext:
        """The span's own context (its trace id and span id)."""
        ...

    def set_attribute(self, name: str, value: AttributeValue) -> None: ...

    def end(self, error: BaseException | None = None) -> None:
        """End the span (marked failed with `error` when given). Ending it twice is harmless; never raises."""
        ...


class SpanRecorder(Protocol):
    """Records spans (the OpenTelemetry SDK in `streams.kit.tracing`; an in-memory one in tests)."""

    def start(self, name: str, *, kind: SpanKind, parent: TraceContext | None,
              attributes: Mapping[str, AttributeValue]) -> OpenSpan:
        """Start a span named `name` whose parent is `parent` (None: the first span of a new trace). Never raises."""
        ...


_current: ContextVar[TraceContext | None] = ContextVar("fulfillsync_trace_context", default=None)
_recorder: SpanRecorder | None = None


def install(recorder: SpanRecorder | None) -> None:
    """Record spans with `recorder` from now on, in this whole process (None: record none)."""
    global _recorder  # one recorder per process, like a logging handler
    _recorder = recorder


def recording() -> bool:
    """Whether spans are recorded (a recorder is installed)."""
    return _recorder is not None


def current() -> TraceContext | None:
    """The context of the span the code running here works for; None outside any."""
    return _current.get()


def clear() -> None:
    """No context is current any more (in this context)."""
    _current.set(None)


@contextmanager
def using(context: TraceContext | None) -> Iterator[None]:
    """Make `context` current for the block (restored on the way out)."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def handle(traceparent: str | bytes | None, tracestate: str | bytes | None = None, *, name: str = "process",
           attributes: Mapping[str, AttributeValue] | None = None) -> OpenSpan | None:
    """An agent takes a record carrying `traceparent` / `tracestate` (absent: None). Its context, or when it has
    no valid one a new trace, becomes current until the next `handle` or `clear`. With a recorder, a span `name`
    (a consumer span, child of the record's context) is started, made current and returned, for the caller to
    end when the record is handled; without one, None. Never raises for a bad header."""
    incoming = parse_traceparent(traceparent, tracestate)
    recorder = _recorder
    if recorder is None:
        _current.set(incoming if incoming is not None else new_trace())
        return None
    span = recorder.start(name, kind="consumer", parent=incoming, attributes=attributes or {})
    _current.set(span.context)
    return span


def outgoing(what: str, *, event_id: str | None = None, subject: str | None = None) -> TraceContext:
    """The context of a record about to be published: a new span of the current trace (a new trace when none is
    current). With a recorder, that span is recorded as a producer span `create <what>` (with the event id and
    subject as attributes), ended at once: the record itself carries the trace on."""
    parent = _current.get()
    recorder = _recorder
    if recorder is None:
        return span_of(parent)
    attributes: dict[str, AttributeValue] = {"messaging.system": "kafka", "fulfillsync.record_type": what}
    if event_id is not None:
        attributes["messaging.message.id"] = event_id
    if subject is not None:
        attributes["messaging.kafka.message.key"] = subject
    span = recorder.start(f"create {what}", kind="producer", parent=parent, attributes=attributes)
    span.end()
    return span.context


def start_span(name: str, *, kind: SpanKind = "internal",
               attributes: Mapping[str, AttributeValue] | None = None) -> OpenSpan | None:
    """A span `name`, child of the current context, for the caller to end; None when nothing is recorded (check
    `recording()` first to skip building `attributes`). Never raises."""
    recorder = _recorder
    if recorder is None:
        return None
    return recorder.start(name, kind=kind, parent=_current.get(), attributes=attributes or {})

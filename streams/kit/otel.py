"""The OpenTelemetry span recorder (`schemas.trace_scope.SpanRecorder` on the OpenTelemetry SDK). Imported only when
exporting is configured (`streams.kit.tracing.install_from_environment`) or by tests: it needs the `otel` extra.

Our `TraceContext` is the parent of every span started here: the SDK's own current-span context is not used, so a
span's parent is exactly the record's (or the record handling's) span, whatever task runs it. A record's sampled
flag is respected (the SDK's default parent-based sampler).

Failure: `OtelRecorder.start` never raises; should the SDK fail, the span is a no-op one whose context is a new span
of the parent's trace, so records still carry the trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
    TraceState,
    set_span_in_context,
)

from schemas.trace_context import SAMPLED, TraceContext, span_of
from schemas.trace_scope import AttributeValue
from schemas.trace_scope import SpanKind as OurSpanKind

log = logging.getLogger(__name__)

_KINDS: Mapping[OurSpanKind, SpanKind] = {
    "internal": SpanKind.INTERNAL, "server": SpanKind.SERVER, "client": SpanKind.CLIENT,
    "producer": SpanKind.PRODUCER, "consumer": SpanKind.CONSUMER}


def exporting_provider(environ: Mapping[str, str], *, default_service_name: str) -> TracerProvider:
    """A tracer provider exporting in batches over OTLP/HTTP (the exporter reads its endpoint, headers and timeouts
    from the `OTEL_EXPORTER_OTLP_*` variables), its `service.name` `default_service_name` unless the environment
    names one."""
    named = environ.get("OTEL_SERVICE_NAME") or "service.name=" in environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    provider = TracerProvider(resource=Resource.create({} if named else {"service.name": default_service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


class OtelSpan:
    """An OpenTelemetry span as a `schemas.trace_scope.OpenSpan`."""

    __slots__ = ("_ended", "_span", "context")

    def __init__(self, span: Span | None, context: TraceContext) -> None:
        self._span = span
        self._ended = span is None
        self.context = context

    def set_attribute(self, name: str, value: AttributeValue) -> None:
        if self._span is not None and not self._ended:
            self._span.set_attribute(name, value)

    def end(self, error: BaseException | None = None) -> None:
        if self._ended or self._span is None:
            return
        self._ended = True
        try:
            if error is not None:
                self._span.record_exception(error)
                self._span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            self._span.end()
        except Exception:  # tracing must never fail the work it watches
            log.debug("ending a span failed", exc_info=True)


class OtelRecorder:
    """Starts OpenTelemetry spans with `tracer`, parented by our `TraceContext`s."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def start(self, name: str, *, kind: OurSpanKind, parent: TraceContext | None,
              attributes: Mapping[str, AttributeValue]) -> OtelSpan:
        try:
            span = self._tracer.start_span(name, context=_context(parent), kind=_KINDS[kind],
                                           attributes=dict(attributes))
            found = span.get_span_context()
        except Exception:  # tracing must never fail the work it watches
            log.debug("starting span %s failed", name, exc_info=True)
            return OtelSpan(None, span_of(parent))
        if not found.is_valid:  # no SDK behind the tracer: keep the trace going ourselves
            return OtelSpan(span, span_of(parent))
        state = parent.state if parent is not None else None
        return OtelSpan(span, TraceContext(f"{found.trace_id:032x}", f"{found.span_id:016x}",
                                           int(found.trace_flags) & SAMPLED, state))


def _context(parent: TraceContext | None) -> Context:
    """The OpenTelemetry context whose span is `parent` (an empty one for a new trace)."""
    if parent is None:
        return Context()
    state = TraceState.from_header([parent.state]) if parent.state else None
    remote = SpanContext(int(parent.trace_id, 16), int(parent.span_id, 16), is_remote=True,
                         trace_flags=TraceFlags(parent.flags), trace_state=state)
    return set_span_in_context(NonRecordingSpan(remote), Context())

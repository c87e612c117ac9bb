"""Tracing in the worker: each record an agent handles makes its trace current, and, when OpenTelemetry is installed
and configured, spans are exported (docs/architecture.md, "Tracing"; README.md, "Tracing").

- `handle_record`: called by the agent stream wrapper (`streams.kit.logs.LoggedStream`) for every record an agent
  takes: the record's `ce_traceparent` / `ce_tracestate` (or a new trace) becomes current
  (`schemas.trace_scope.handle`), and with a recorder a `process <topic>` span is started for the wrapper to end;
- `install_from_environment`: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set and
  the `otel` extra installed (`pip install 'fulfillsync[otel]'`), installs the OpenTelemetry recorder
  (`streams.kit.otel`) exporting over OTLP/HTTP, and returns the stop hook that flushes it. Otherwise it does
  nothing and imports nothing of OpenTelemetry: without the variable, OpenTelemetry is not even looked for.

Failure: nothing here raises. Without the extra, a set endpoint is logged as a warning once and ignored; an
exporter that cannot reach its collector loses spans (the SDK logs it), never records.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping

from schemas import trace_scope
from schemas.cloudevents import TRACEPARENT, TRACESTATE
from schemas.trace_scope import AttributeValue, OpenSpan
from streams.kit.records import KafkaMessage

log = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
"""Setting either turns exporting on (the OTLP exporter reads them itself)."""
SERVICE_NAME = "fulfillsync"
"""The `service.name` of the spans unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` name another."""

_installed = False


def handle_record(message: KafkaMessage, headers: Mapping[str, str], *, agent: str) -> OpenSpan | None:
    """Make the trace of `message` (its decoded `headers`) current for the agent `agent` handling it; the span to
    end once it is handled when spans are recorded, else None. Never raises."""
    if not trace_scope.recording():
        return trace_scope.handle(headers.get(TRACEPARENT), headers.get(TRACESTATE))
    attributes: dict[str, AttributeValue] = {
        "messaging.system": "kafka", "messaging.operation.type": "process",
        "messaging.destination.name": message.topic, "messaging.destination.partition.id": str(message.partition),
        "messaging.kafka.offset": message.offset, "fulfillsync.agent": agent}
    event_id = headers.get("ce_id")
    if event_id:
        attributes["messaging.message.id"] = event_id
    return trace_scope.handle(headers.get(TRACEPARENT), headers.get(TRACESTATE), name=f"process {message.topic}",
                              attributes=attributes)


def exporting_configured(environ: Mapping[str, str]) -> bool:
    """Whether `environ` asks for spans to be exported (an OTLP endpoint is set, the SDK is not disabled)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def install_from_environment(environ: Mapping[str, str] | None = None) -> Callable[[], Awaitable[None]] | None:
    """Install the OpenTelemetry span recorder when `environ` (the process's by default) configures exporting
    (`exporting_configured`) and the `otel` extra is installed; returns the hook that flushes and stops it (for the
    worker's stop hooks), or None when nothing was installed (not configured, the extra missing: a warning, or
    already installed in this process). Never raises."""
    global _installed  # one recorder per process
    env = os.environ if environ is None else environ
    if _installed or not exporting_configured(env):
        return None
    try:
        import streams.kit.otel as otel  # optional: imported only when exporting is configured
    except ImportError as error:
        log.warning("%s is set but OpenTelemetry is not installed (%s): no spans are exported; install "
                    "fulfillsync[otel] to export them", ENDPOINT_VARIABLES[0], error)
        return None
    try:
        provider = otel.exporting_provider(env, default_service_name=SERVICE_NAME)
    except Exception:  # tracing must never stop the worker
        log.warning("could not set up the OpenTelemetry exporter: no spans are exported", exc_info=True)
        return None
    trace_scope.install(otel.OtelRecorder(provider.get_tracer("fulfillsync")))
    _installed = True
    log.info("exporting spans over OTLP/HTTP to %s", env.get(ENDPOINT_VARIABLES[1]) or env.get(ENDPOINT_VARIABLES[0]))

    async def stop() -> None:
        global _installed
        trace_scope.install(None)
        _installed = False
        await asyncio.to_thread(provider.shutdown)

    return stop

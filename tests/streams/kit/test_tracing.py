"""Trace context through an agent without a broker: the record an agent handles makes its `ce_traceparent` current
(or starts a new trace when it has none, or an invalid one), what is published meanwhile continues it with new
spans (outputs, internal records, retry records); with OpenTelemetry the handling, each publish and each platform
request are spans of that trace (checked with the SDK's in-memory exporter); without the OTLP variable nothing of
OpenTelemetry is imported."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import CollectorRegistry

from connectors.base import PermanentError
from connectors.http import PlatformHttp, RetryPolicy
from schemas import trace_scope
from schemas.cloudevents import header_map
from schemas.trace_context import TraceContext, parse_traceparent
from streams.kit import tracing
from streams.kit.dead_letters import DeadLetterMetrics
from streams.kit.logs import LoggedStream
from streams.kit.otel import OtelRecorder
from streams.kit.records import EncodedRecord, RebuiltMessage, encode_event, encode_internal, traced
from streams.kit.retries import Failure, RetryOutbox, RetryState
from tests.streams.kit.test_logs import FakeEvent, FakeStream

TRACE = "0af7651916cd43dd8448eb211c80319c"
INPUT_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE}-{INPUT_SPAN}-01"
NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


class Retry(RetryState):
    order_id: str


def record(key: bytes = b"O1", **headers: str) -> RebuiltMessage:
    return RebuiltMessage(topic="p.order-events", partition=2, offset=40, key=key, value=b"{}",
                          headers=[(name.replace("_", "-") if name == "content_type" else name, value.encode())
                                   for name, value in headers.items()])


def published_trace(encoded: EncodedRecord) -> TraceContext:
    headers = header_map(encoded.headers)
    found = parse_traceparent(headers.get("ce_traceparent"), headers.get("ce_tracestate"))
    assert found is not None, f"no valid ce_traceparent in {encoded.headers}"
    return found


def handled(messages: list[RebuiltMessage], work: Any) -> list[Any]:
    """Run an agent over `messages` (through the agent stream wrapper) calling `work(message)` for each; what
    each call returned."""
    results: list[Any] = []

    async def agent() -> None:
        async for event in LoggedStream(FakeStream([FakeEvent(m) for m in messages]), agent="ledger").events():
            results.append(await work(event.message))

    asyncio.run(agent())
    return results


def shipped(order_id: str) -> EncodedRecord:
    return encode_event(Retry(order_id=order_id, attempt=1, not_before=NOW, last_error=""), order_id=order_id,
                        record_id=f"E-{order_id}", record_type="order.shipped", time=NOW)


# -- without a span recorder -----------------------------------------------------------------------------------


def test_what_an_agent_publishes_continues_the_trace_of_the_record_it_handles() -> None:
    sent: list[tuple[str, EncodedRecord, int | None]] = []

    async def send(topic: str, encoded: EncodedRecord, partition: int | None) -> None:
        sent.append((topic, encoded, partition))

    outbox = RetryOutbox(send=send, retries="p.retries", dead_letters="p.dead-letters", stage="a_sink",
                         source="/fulfillsync/a-sink", clock=lambda: NOW,
                         metrics=DeadLetterMetrics(CollectorRegistry()))

    async def work(message: RebuiltMessage) -> list[TraceContext]:
        order_id = (message.key or b"").decode()
        await outbox.schedule(lambda attempt, due, error: Retry(order_id=order_id, attempt=attempt, not_before=due,
                                                                last_error=error),
                              key=order_id, partition=message.partition, attempt=1,
                              failure=Failure(True, "busy"))
        push = encode_internal(Retry(order_id=order_id, attempt=1, not_before=NOW, last_error=""), key=order_id,
                               what="p.buyer-pushes")
        return [published_trace(shipped(order_id)), published_trace(shipped(order_id)), published_trace(push),
                published_trace(sent[-1][1])]

    with_trace, invalid, without = handled([
        record(b"O1", ce_traceparent=TRACEPARENT, ce_tracestate="rojo=00f067aa0ba902b7"),
        record(b"O2", ce_traceparent=TRACEPARENT.upper()),  # invalid: ignored, a new trace started
        record(b"O3")], work)

    assert {context.trace_id for context in with_trace} == {TRACE}
    assert {context.state for context in with_trace} == {"rojo=00f067aa0ba902b7"}
    spans = [context.span_id for context in with_trace]
    assert INPUT_SPAN not in spans and len(set(spans)) == 4, "each record published is a new span"
    for started in (invalid, without):
        assert len({context.trace_id for context in started}) == 1, "one trace per record handled"
        assert started[0].trace_id != TRACE and started[0].sampled and started[0].state is None
    assert invalid[0].trace_id != without[0].trace_id
    assert trace_scope.current() is None


def test_outside_an_agent_each_record_starts_a_trace_and_a_record_carrying_one_keeps_it() -> None:
    first, second = published_trace(shipped("O1")), published_trace(shipped("O1"))
    assert first.trace_id != second.trace_id
    bare = EncodedRecord(key=b"O1", value=b"{}", headers=[])
    given = traced(bare, "p.buyer-pushes")
    assert published_trace(given) and given.key == b"O1" and given.value == b"{}"
    assert traced(given, "p.buyer-pushes") is given
    with trace_scope.using(TraceContext(TRACE, INPUT_SPAN)):
        assert published_trace(traced(bare, "p.buyer-pushes")).trace_id == TRACE


# -- with OpenTelemetry ----------------------------------------------------------------------------------------


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_scope.install(OtelRecorder(provider.get_tracer("tests")))
    try:
        yield exporter
    finally:
        trace_scope.install(None)
        provider.shutdown()


def platform(status: int, seen: list[httpx.Request]) -> PlatformHttp:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json={"ok": status < 400})

    return PlatformHttp(connection="acme-shopify", platform="shopify", base_url="https://acme.example",
                        transport=httpx.MockTransport(answer), retry=RetryPolicy(attempts=1),
                        secrets=("sekret",))


def by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name == name]


def test_one_records_path_is_spans_of_its_trace(exported: InMemorySpanExporter) -> None:
    seen: list[httpx.Request] = []

    async def work(message: RebuiltMessage) -> EncodedRecord:
        http = platform(200, seen)
        await http.request("GET", "/admin/orders/1234/sekret?token=sekret")
        refused = platform(404, seen)
        with pytest.raises(PermanentError):
            await refused.request("POST", "/V1/orders/55/ship", json_body={"items": []})
        await http.aclose()
        await refused.aclose()
        return shipped("O1")

    [output] = handled([record(b"O1", ce_traceparent=TRACEPARENT, ce_id="E-in")], work)
    spans = exported.get_finished_spans()
    assert {span.context.trace_id for span in spans} == {int(TRACE, 16)}, "every span is of the record's trace"

    [process] = by_name(spans, "process p.order-events")
    assert process.kind is SpanKind.CONSUMER and process.parent is not None
    assert process.parent.span_id == int(INPUT_SPAN, 16) and process.parent.is_remote
    assert process.attributes is not None and process.attributes["messaging.message.id"] == "E-in"
    assert process.attributes["fulfillsync.agent"] == "ledger"

    [get] = by_name(spans, "GET /admin/orders/{id}/[redacted]")
    [post] = by_name(spans, "POST /V1/orders/{id}/ship")
    for request in (get, post):
        assert request.kind is SpanKind.CLIENT
        assert request.parent is not None and request.parent.span_id == process.context.span_id
    assert get.attributes is not None and get.attributes["http.response.status_code"] == 200
    assert get.attributes["url.path"] == "/admin/orders/1234/[redacted]", "no query string, no secret"
    assert get.status.status_code is StatusCode.UNSET
    assert post.status.status_code is StatusCode.ERROR and post.attributes is not None
    assert post.attributes["http.response.status_code"] == 404
    assert all("traceparent" not in request.headers for request in seen), "platforms are sent no trace header"

    [create] = by_name(spans, "create order.shipped")
    assert create.kind is SpanKind.PRODUCER and create.parent is not None
    assert create.parent.span_id == process.context.span_id
    assert published_trace(output) == TraceContext(TRACE, f"{create.context.span_id:016x}", 1)


def test_a_record_without_a_trace_is_handled_in_a_new_one(exported: InMemorySpanExporter) -> None:
    async def work(message: RebuiltMessage) -> EncodedRecord:
        return shipped("O1")

    [output] = handled([record(b"O1", ce_traceparent="00-bogus")], work)
    [process] = by_name(exported.get_finished_spans(), "process p.order-events")
    assert process.parent is None
    assert published_trace(output).trace_id == f"{process.context.trace_id:032x}"


def test_an_unsampled_record_records_nothing_and_passes_its_flag_on(exported: InMemorySpanExporter) -> None:
    async def work(message: RebuiltMessage) -> EncodedRecord:
        return shipped("O1")

    [output] = handled([record(b"O1", ce_traceparent=f"00-{TRACE}-{INPUT_SPAN}-00")], work)
    assert exported.get_finished_spans() == ()
    context = published_trace(output)
    assert (context.trace_id, context.sampled) == (TRACE, False)


# -- turning exporting on --------------------------------------------------------------------------------------


def test_without_the_otlp_variable_nothing_of_opentelemetry_is_imported() -> None:
    script = ("import sys, os\n"
              "os.environ.pop('OTEL_EXPORTER_OTLP_ENDPOINT', None)\n"
              "os.environ.pop('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', None)\n"
              "import streams.app\n"
              "from streams.kit.tracing import install_from_environment\n"
              "from streams.kit.records import encode_internal\n"
              "from schemas.trace_scope import recording\n"
              "assert install_from_environment() is None and not recording()\n"
              "loaded = sorted(name for name in sys.modules if name.startswith('opentelemetry'))\n"
              "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr


def test_an_endpoint_without_the_extra_is_a_warning(monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "streams.kit.otel", None)  # what a missing `otel` extra looks like
    assert tracing.install_from_environment({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}) is None
    assert not trace_scope.recording()
    assert "fulfillsync[otel]" in caplog.text
    assert not tracing.exporting_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"})


class Collector(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        Collector.received.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_with_the_otlp_variable_spans_are_exported_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    Collector.received.clear()
    stop = tracing.install_from_environment()
    try:
        assert stop is not None and trace_scope.recording()
        assert tracing.install_from_environment() is None, "installed once per process"
        handled([record(b"O1", ce_traceparent=TRACEPARENT)], lambda message: asyncio.sleep(0))
    finally:
        if stop is not None:
            stopping = stop

            async def flush() -> None:
                await stopping()

            asyncio.run(flush())
        server.shutdown()
    assert not trace_scope.recording()
    [(path, body)] = Collector.received
    assert path == "/v1/traces"
    request = ExportTraceServiceRequest.FromString(body)
    [resource] = request.resource_spans
    assert {attribute.key: attribute.value.string_value for attribute in resource.resource.attributes}[
        "service.name"] == "fulfillsync"
    [span] = [span for scoped in resource.scope_spans for span in scoped.spans]
    assert span.trace_id.hex() == TRACE and span.parent_span_id.hex() == INPUT_SPAN

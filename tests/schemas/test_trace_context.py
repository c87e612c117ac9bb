"""schemas.trace_context: W3C `traceparent` / `tracestate` parsed and formatted strictly, invalid values ignored
(never an error), new traces and spans random and well-formed."""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.cloudevents import binary_headers, header_map, trace_headers
from schemas.trace_context import (
    TraceContext,
    new_span_id,
    new_trace,
    parse_traceparent,
    parse_tracestate,
    span_of,
)

W3C = re.compile(r"00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]")
EXAMPLE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"  # the W3C specification's example

hex_ids = st.integers(min_value=1, max_value=2**128 - 1).map(lambda n: f"{n:032x}")
span_ids = st.integers(min_value=1, max_value=2**64 - 1).map(lambda n: f"{n:016x}")
contexts = st.builds(TraceContext, hex_ids, span_ids, st.sampled_from([0, 1]))


def test_the_specifications_example_is_read() -> None:
    found = parse_traceparent(EXAMPLE)
    assert found == TraceContext("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 1, None)
    assert found is not None and found.sampled and found.traceparent() == EXAMPLE
    assert parse_traceparent(EXAMPLE.encode()) == found
    assert parse_traceparent(f" \t{EXAMPLE} ") == found, "optional white space around the value is allowed"


@pytest.mark.parametrize("value", [
    None, "", "garbage",
    EXAMPLE.upper(),                                                  # uppercase hex
    EXAMPLE.replace("0af7651916cd43dd8448eb211c80319c", "0" * 32),     # all-zero trace id
    EXAMPLE.replace("b7ad6b7169203331", "0" * 16),                     # all-zero parent id
    "ff" + EXAMPLE[2:],                                               # version ff is forbidden
    EXAMPLE + "-extra",                                               # version 00 has no more fields
    EXAMPLE[:-1],                                                     # short flags
    EXAMPLE.replace("-", "_"),
    "00-0af7651916cd43dd8448eb211c80319-b7ad6b7169203331-01",          # 31-digit trace id
    "00-0af7651916cd43dd8448eb211c80319cc-b7ad6b716920333-01",         # misplaced separator
    "0g-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01extra",    # a later version needs `-` after 55 chars
    b"\xff\xfe",
])
def test_an_invalid_traceparent_is_ignored(value: str | bytes | None) -> None:
    assert parse_traceparent(value) is None


def test_a_later_version_is_read_by_its_first_fields_keeping_only_the_sampled_flag() -> None:
    found = parse_traceparent("cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03-what-comes-next")
    assert found == TraceContext("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 1)
    assert found.traceparent() == EXAMPLE, "what we send is version 00"


def test_tracestate_is_normalised_or_dropped_whole() -> None:
    assert parse_tracestate("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE,,") == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
    assert parse_tracestate("tenant@vendor=value") == "tenant@vendor=value"
    for bad in ("Rojo=1", "rojo", "rojo=1,rojo=2", "rojo=a,b", "=1", "rojo=1 =2", "rojo=t\tb", ",",
                ",".join(f"k{n}=v" for n in range(33))):
        assert parse_tracestate(bad) is None, bad
    assert parse_tracestate(",".join(f"k{n}=v" for n in range(32))) is not None
    found = parse_traceparent(EXAMPLE, "rojo=1,bad key=2")
    assert found is not None and found.state is None, "a bad tracestate is dropped, the traceparent kept"
    assert parse_traceparent(EXAMPLE, b"rojo=1").state == "rojo=1"  # type: ignore[union-attr]


@given(contexts)
def test_formatting_then_parsing_gives_the_same_context(context: TraceContext) -> None:
    text = context.traceparent()
    assert W3C.fullmatch(text)
    assert parse_traceparent(text) == context


@given(st.text(max_size=80) | st.binary(max_size=80))
def test_parsing_any_value_never_raises_and_what_it_accepts_formats_as_w3c(value: str | bytes) -> None:
    found = parse_traceparent(value, value)
    if found is not None:
        assert W3C.fullmatch(found.traceparent())


@given(contexts, st.randoms(use_true_random=False))
def test_a_child_keeps_the_trace_with_a_new_span(context: TraceContext, rand: random.Random) -> None:
    child = context.child(rand)
    assert (child.trace_id, child.flags, child.state) == (context.trace_id, context.flags, context.state)
    assert W3C.fullmatch(child.traceparent()) and child.span_id != "0" * 16


def test_new_traces_are_random_sampled_and_valid() -> None:
    traces = {new_trace().trace_id for _ in range(100)}
    assert len(traces) == 100
    first = new_trace(random.Random(7))
    assert first == new_trace(random.Random(7)), "the randomness is the caller's to hand"
    assert first.sampled and W3C.fullmatch(first.traceparent())

    class Zeros(random.Random):
        def getrandbits(self, k: int) -> int:
            return 0

    assert new_span_id(Zeros()) == "0000000000000001", "an id is never all zeros"
    assert span_of(first).trace_id == first.trace_id and span_of(None).trace_id != first.trace_id


def test_headers_carry_the_distributed_tracing_extension() -> None:
    context = TraceContext("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", 1, "rojo=1")
    assert trace_headers(context) == [("ce_traceparent", EXAMPLE.encode()), ("ce_tracestate", b"rojo=1")]
    assert trace_headers(TraceContext("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")) == [
        ("ce_traceparent", EXAMPLE.encode())]
    headers = header_map(binary_headers(event_id="e-1", event_type="order.shipped", source="/fulfillsync/ledger",
                                        time=datetime(2026, 5, 1, tzinfo=UTC), subject="o-1", trace=context))
    assert headers["ce_traceparent"] == EXAMPLE and headers["ce_tracestate"] == "rojo=1"

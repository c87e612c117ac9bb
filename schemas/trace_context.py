"""W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` and `tracestate` values that every
record of an order carries as the CloudEvents Distributed Tracing extension (`ce_traceparent`, `ce_tracestate`;
docs/architecture.md, "Tracing").

Pure functions, no I/O, no clock: randomness comes from the `Random` the caller hands (or a module-level one
seeded from the operating system).

- `parse_traceparent`: a header value into a `TraceContext`, or None when it is not a valid one (never raises);
  version `00` exactly as specified (55 characters, lowercase hex, trace id and parent id not all zeros, no
  trailing data), a higher version (`01`..`fe`) read as the specification asks (its first four fields); `ff`,
  uppercase hex, wrong lengths and all-zero ids are invalid. Only the `sampled` flag is kept (the specification
  has senders set the flags they do not know to zero);
- `parse_tracestate`: a header value into its normalised form (list members joined by `,`, empty ones dropped), or
  None when it is not valid (bad keys or values, duplicate keys, more than 32 members): a bad `tracestate` is
  dropped, the `traceparent` kept;
- `TraceContext.traceparent()`: the version `00` header value; `new_trace`, `TraceContext.child`, `span_of`: a new
  trace, a new span of the same trace, either as there is a parent or not.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass
from typing import Final

VERSION: Final = "00"
SAMPLED: Final = 0x01
"""The `sampled` bit of the trace flags: the only flag version 00 defines."""
MAX_TRACESTATE_MEMBERS: Final = 32
ZERO_TRACE_ID: Final = "0" * 32
ZERO_SPAN_ID: Final = "0" * 16

_V00: Final = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_LATER: Final = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.DOTALL)
_KEY_CHARS: Final = r"[a-z0-9_\-*/]"
_KEY: Final = re.compile(rf"[a-z]{_KEY_CHARS}{{0,255}}|[a-z0-9]{_KEY_CHARS}{{0,240}}@[a-z]{_KEY_CHARS}{{0,13}}")
_VALUE: Final = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_OWS: Final = " \t"

_random: Final = random.Random(os.urandom(16))  # noqa: S311 - ids, not secrets: W3C asks for randomness, not secrecy


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One span's place in a trace: `trace_id` (32 lowercase hex digits, not all zeros), `span_id` (16, not all
    zeros: the `parent-id` of a `traceparent` naming this span), `flags` (the trace flags byte) and `state` (the
    normalised `tracestate`, or None)."""

    trace_id: str
    span_id: str
    flags: int = SAMPLED
    state: str | None = None

    @property
    def sampled(self) -> bool:
        return bool(self.flags & SAMPLED)

    def traceparent(self) -> str:
        """The version 00 `traceparent` value naming this span."""
        return f"{VERSION}-{self.trace_id}-{self.span_id}-{self.flags:02x}"

    def child(self, rand: random.Random | None = None) -> TraceContext:
        """A new span of the same trace (a new random span id), same flags and state."""
        return TraceContext(self.trace_id, new_span_id(rand), self.flags, self.state)


def new_span_id(rand: random.Random | None = None) -> str:
    """A random span id: 16 lowercase hex digits, never all zeros."""
    source = rand or _random
    return f"{source.getrandbits(64) or 1:016x}"


def new_trace_id(rand: random.Random | None = None) -> str:
    """A random trace id: 32 lowercase hex digits, never all zeros."""
    source = rand or _random
    return f"{source.getrandbits(128) or 1:032x}"


def new_trace(rand: random.Random | None = None) -> TraceContext:
    """The first span of a new, sampled trace (random ids, no state)."""
    return TraceContext(new_trace_id(rand), new_span_id(rand))


def span_of(parent: TraceContext | None, rand: random.Random | None = None) -> TraceContext:
    """A new span of `parent`'s trace (`TraceContext.child`), or the first span of a new trace when `parent` is
    None."""
    return parent.child(rand) if parent is not None else new_trace(rand)


def parse_traceparent(value: str | bytes | None, state: str | bytes | None = None) -> TraceContext | None:
    """`value` as a `traceparent` (surrounding spaces and tabs ignored), with `state` as its `tracestate`
    (`parse_tracestate`; an invalid one is dropped), or None when `value` is absent or invalid. Never raises."""
    text = _text(value)
    if text is None:
        return None
    found = _V00.fullmatch(text)
    if found is not None:
        trace_id, span_id, flags = found.group(1), found.group(2), int(found.group(3), 16) & SAMPLED
    else:
        later = _LATER.fullmatch(text)
        if later is None or later.group(1) in (VERSION, "ff"):
            return None
        trace_id, span_id, flags = later.group(2), later.group(3), int(later.group(4), 16) & SAMPLED
    if trace_id == ZERO_TRACE_ID or span_id == ZERO_SPAN_ID:
        return None
    return TraceContext(trace_id, span_id, flags, parse_tracestate(state))


def parse_tracestate(value: str | bytes | None) -> str | None:
    """`value` as a `tracestate`: its list members (each `key=value`) joined by `,` without the optional spaces,
    empty members dropped; None when absent, empty, or invalid (a bad key or value, a key twice, more than 32
    members). Never raises."""
    text = _text(value)
    if not text:
        return None
    members: list[str] = []
    keys: set[str] = set()
    for raw in text.split(","):
        member = raw.strip(_OWS)
        if not member:
            continue
        key, equals, item = member.partition("=")
        if not equals or key in keys or not _KEY.fullmatch(key) or not _VALUE.fullmatch(item):
            return None
        keys.add(key)
        members.append(member)
    if not members or len(members) > MAX_TRACESTATE_MEMBERS:
        return None
    return ",".join(members)


def _text(value: str | bytes | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    return value.strip(_OWS)

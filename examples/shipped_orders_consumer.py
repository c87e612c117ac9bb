"""An example consumer of fulfillsync's `<prefix>.shipped-orders` topic (docs/consumers.md).

    python examples/shipped_orders_consumer.py --bootstrap-servers 127.0.0.1:9092 --group-id my-service

It prints one line per event it handles, on standard output:

    order.shipped <order id> event=<event id> buyer=<connection>/<order ref> tracking=<numbers>
    order.reopened <order id> event=<event id> reopens=<event id of the order.shipped> cause=<cause>
    order.tracking_updated <order id> event=<event id> fulfillment=<id> carrier=<carrier> tracking=<numbers>

and drops a record whose `event_id` it has already handled (fulfillsync publishes at least once: after a restart or
a replay the same event comes again, always with the same id), saying so on standard error.

What it shows, and what a real service does the same way:
- records are keyed by order id, so one order's events arrive in order on one partition; handle them in that order;
- duplicates are recognised by `event_id` (here in memory, bounded; a real service stores the ids it handled in its
  own database, in the same transaction as the effect, so a restart does not forget them);
- an offset is stored only after its record was handled (`enable.auto.offset.store=false`), so a crash re-reads it
  (at-least-once, made harmless by the `event_id` check) instead of skipping it;
- a record type it does not know is skipped (new types may be added without notice); a `schema_version` above the
  one it was written for stops it with exit code 3 before that record's offset is stored, since such a record may
  mean something else (docs/consumers.md, "Compatibility"); a value that is not JSON is reported and skipped.

Standalone on purpose: a consuming service does not install fulfillsync, so this uses only confluent-kafka and the
standard library. Security settings are librdkafka properties given with `-X`, e.g.
`-X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=reader -X sasl.password=...`.

Exit codes: 0 on SIGINT/SIGTERM or after `--exit-when-idle` seconds without a record; 1 on a fatal Kafka error;
2 on bad usage (a librdkafka property refused included); 3 on a record of a newer `schema_version`.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message

SUPPORTED_SCHEMA_VERSION = 1
"""The `schema_version` of the shipped-orders records this consumer was written for."""
REMEMBERED_IDS = 100_000


class NewerSchemaVersion(Exception):
    """A record of a `schema_version` this consumer does not know: stop and upgrade, rather than misread it."""


@dataclass(frozen=True)
class Outcome:
    """What handling one record gave: a line for standard output, or a note for standard error."""

    line: str | None = None
    note: str | None = None


class SeenIds:
    """The `event_id`s handled last, at most `limit` of them (the oldest forgotten first)."""

    def __init__(self, limit: int = REMEMBERED_IDS) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._limit = limit

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)


HeaderValue = str | bytes | None


def header_text(headers: Sequence[tuple[str, HeaderValue]] | Mapping[str, HeaderValue] | None) -> dict[str, str]:
    """Kafka headers as text (the CloudEvents `ce_*` attributes and `content-type`), the last value of a name
    winning; undecodable bytes are replaced."""
    pairs = headers.items() if isinstance(headers, Mapping) else (headers or [])
    return {name: value if isinstance(value, str) else (value or b"").decode("utf-8", "replace")
            for name, value in pairs}


def _tracking(fulfillment: Mapping[str, Any]) -> str:
    return ",".join(fulfillment.get("tracking_numbers") or []) or "-"


class ShippedOrders:
    """Turns shipped-orders records into output lines, each event once. Never raises, except NewerSchemaVersion."""

    def __init__(self, seen: SeenIds | None = None) -> None:
        self.seen = seen if seen is not None else SeenIds()

    def handle(self, key: bytes | None, headers: Mapping[str, str], value: bytes | None) -> Outcome:
        try:
            event = json.loads(value or b"")
        except ValueError:
            return Outcome(note=f"skipped a record that is not JSON (key {key!r})")
        if not isinstance(event, dict):
            return Outcome(note=f"skipped a record that is not a JSON object (key {key!r})")
        event_type = headers.get("ce_type", "").removeprefix("io.fulfillsync.") or str(event.get("type"))
        event_id = str(event.get("event_id") or headers.get("ce_id") or "")
        if event_type not in ("order.shipped", "order.reopened", "order.tracking_updated"):
            return Outcome(note=f"skipped {event_type} {event_id}: not a type this consumer knows")
        version = event.get("schema_version", 1)
        if not isinstance(version, int) or version > SUPPORTED_SCHEMA_VERSION:
            raise NewerSchemaVersion(f"{event_type} {event_id} has schema_version {version}; this consumer knows "
                                     f"{SUPPORTED_SCHEMA_VERSION}: upgrade it (docs/consumers.md)")
        if not event_id:
            return Outcome(note=f"skipped {event_type} without an event_id (key {key!r})")
        if event_id in self.seen:
            return Outcome(note=f"duplicate {event_type} {event_id} dropped")
        self.seen.add(event_id)
        order = event.get("order_id")
        if key is not None and key.decode("utf-8", "replace") != order:
            note = f"key {key!r} is not order_id {order!r}"
        else:
            note = None
        if event_type == "order.shipped":
            buyer = event.get("buyer") or {}
            tracking = ";".join(_tracking(f) for f in event.get("fulfillments") or []) or "-"
            line = (f"order.shipped {order} event={event_id} buyer={buyer.get('connection')}/{buyer.get('order_ref')} "
                    f"tracking={tracking}")
        elif event_type == "order.reopened":
            line = (f"order.reopened {order} event={event_id} reopens={event.get('reopens_event_id')} "
                    f"cause={event.get('cause')}")
        else:
            fulfillment = event.get("fulfillment") or {}
            line = (f"order.tracking_updated {order} event={event_id} fulfillment={fulfillment.get('fulfillment_id')} "
                    f"carrier={fulfillment.get('carrier')} tracking={_tracking(fulfillment)}")
        return Outcome(line=line, note=note)


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Print each event of fulfillsync's shipped-orders topic once.")
    parser.add_argument("--bootstrap-servers", required=True, help="host:port[,host:port...]")
    parser.add_argument("--topic-prefix", default="fulfillsync", help="fulfillsync's kafka.topic_prefix")
    parser.add_argument("--group-id", default="shipped-orders-example",
                        help="this service's own consumer group (never fulfillsync's)")
    parser.add_argument("--start", choices=("earliest", "latest"), default="earliest",
                        help="where a new group starts (a group that committed offsets goes on from them)")
    parser.add_argument("--exit-when-idle", type=float, default=None, metavar="SECONDS",
                        help="exit 0 after this long without a record")
    parser.add_argument("-X", dest="properties", action="append", default=[], metavar="KEY=VALUE",
                        help="a librdkafka property, e.g. security.protocol=SASL_SSL (repeatable)")
    arguments = parser.parse_args(argv)
    for item in arguments.properties:
        if "=" not in item:
            parser.error(f"-X {item}: expected KEY=VALUE")
    return arguments


def consumer_settings(arguments: argparse.Namespace) -> dict[str, Any]:
    """The librdkafka settings: offsets stored by hand after each record, committed in the background."""
    settings: dict[str, Any] = {
        "bootstrap.servers": arguments.bootstrap_servers,
        "group.id": arguments.group_id,
        "auto.offset.reset": arguments.start,
        "enable.auto.commit": True,
        "enable.auto.offset.store": False,
    }
    settings.update(item.split("=", 1) for item in arguments.properties)
    return settings


def run(arguments: argparse.Namespace) -> int:
    topic = f"{arguments.topic_prefix}.shipped-orders"
    try:
        consumer = Consumer(consumer_settings(arguments))
    except KafkaException as refused:  # a -X property librdkafka does not know or accept
        print(f"kafka settings refused: {refused}", file=sys.stderr)
        return 2
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    handler = ShippedOrders()
    last_activity = time.monotonic()

    def assigned(_consumer: Consumer, _partitions: list[Any]) -> None:
        nonlocal last_activity
        last_activity = time.monotonic()

    consumer.subscribe([topic], on_assign=assigned)
    print(f"reading {topic} as group {arguments.group_id}", file=sys.stderr, flush=True)
    try:
        while not stopping:
            message: Message | None = consumer.poll(0.5)
            if message is None:
                idle = arguments.exit_when_idle
                if idle is not None and time.monotonic() - last_activity >= idle:
                    return 0
                continue
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                print(f"kafka: {error.str()}", file=sys.stderr, flush=True)
                if error.fatal():
                    return 1
                continue
            last_activity = time.monotonic()
            outcome = handler.handle(message.key(), header_text(message.headers()), message.value())
            if outcome.line is not None:
                print(outcome.line, flush=True)
            if outcome.note is not None:
                print(outcome.note, file=sys.stderr, flush=True)
            consumer.store_offsets(message=message)
        return 0
    except NewerSchemaVersion as newer:
        print(str(newer), file=sys.stderr, flush=True)
        return 3
    finally:
        consumer.close()  # commits the offsets stored so far


def main(argv: Sequence[str] | None = None) -> int:
    return run(parse_arguments(argv))


if __name__ == "__main__":
    sys.exit(main())

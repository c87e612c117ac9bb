"""The current code reads what release 0.1.0 wrote, and resumes from it without doing anything twice.

The fixture `tests/fixtures/upgrade/v0.1.0/` holds every record a 0.1.0 worker left on its topics after the scenario
of `tests/upgrade/capture.py` (its README says how it was made): the six tables' changelogs (`orders`,
`seller-orders` with a pending buyer cancellation, `poll-cursors`, `buyer-orders`, `seller-fulfillments`,
`buyer-fulfillments`), the public topics and every internal one (poll ticks, seller-order retries, seller checks,
buyer pushes and their retries).

- `test_every_fixture_record_decodes`: no broker. Every table value and every record of every topic decodes with
  today's decoders and models; a failure names each record (`topic:partition:offset`) and why.
- `test_a_worker_replays_v0_1_0_topics_without_redoing_anything`: the records are restored byte for byte into
  topics of the same names, partitions and offsets on the real broker, and today's `fulfillsync worker` starts on
  them with simulated stores for the same connections (fresh and empty) and NO committed offsets: it rebuilds its
  tables from the restored changelogs and replays every input from the start, the strongest resume there is. Once
  its consumer group has caught up with every restored record, no store may have received a single write (an order
  created on a seller, a fulfillment created, updated or cancelled on a buyer: on fresh stores any write is one of
  those, made again), no `order.shipped` may appear beyond those of the fixture, and the worker's log may carry no
  "unreadable" entry.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from graphql import FieldNode, OperationDefinitionNode, OperationType, parse

from ledger import OrderState
from sandbox.common import SandboxApp
from sandbox.registry import create_store
from sandbox.server import free_port
from sandbox.settings import StoreSettings
from schemas.events import SHIPPED_ORDERS_ADAPTER, DeadLetter
from schemas.topics import TopicNames
from streams.admin import TABLES
from streams.buyers.records import decode_push
from streams.buyers.records import decode_retry as decode_buyer_retry
from streams.fulfillments.records import decode_check
from streams.kit.records import InvalidInput, RebuiltMessage, decode_input
from streams.kit.tables import TableSpec
from streams.orders.tables import ORDERS
from streams.polling.ticks import decode_tick
from streams.sellers.records import decode_retry as decode_seller_retry
from streams.sellers.tables import NOTICE_SUFFIX, NOTICES, PENDING_CANCELLATIONS, PENDING_SUFFIX, SELLER_ORDERS
from tests.support.kafka_harness import WorkerProcess
from tests.support.stores import served
from tests.upgrade.fixture import PLACEHOLDER_HOST, Fixture, FixtureRecord, load

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "upgrade" / "v0.1.0"
CATCH_UP_TIMEOUT_S = 150.0
SETTLE_S = 4.0
"""After the catch-up, how long writes a replayed record may have started are given to reach a store."""
INPUT_TYPES = {"order-events": frozenset({"order.placed", "order.buyer_cancelled"}),
               "fulfillment-events": frozenset({"fulfillment.recorded", "fulfillment.cancelled"})}
"""The event types each input topic carries (as the ledger agent accepts them, streams/orders/processor.py)."""
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EMPTY_READS = {"magento2": r"/V1/shipments$"}
"""Seller platforms whose fulfillment read of an order the store does not have answers an empty list rather than an
error, and the request that reads them: Magento's shipment search, whose empty answer the connector reads as every
known shipment cancelled (connectors/magento/connector.py, `fulfillments`). The fresh test stores answer it 404, so
that the replay learns nothing from stores that know none of the fixture's orders (the other platforms answer
their own reads of such an order with an error already)."""


@pytest.fixture(scope="module")
def fixture() -> Fixture:
    return load(FIXTURE)


# -- decoding, no broker ---------------------------------------------------------------------------------------------


def _table(spec: TableSpec[Any]) -> Callable[[FixtureRecord], object]:
    """Decodes a changelog record with today's declaration of its table (`streams.kit.tables.TableSpec`)."""
    def decode(record: FixtureRecord) -> object:
        if record.value is None:
            return None  # a tombstone: the entry was removed
        return spec.decode(record.value)
    return decode


def _internal(decoder: Callable[[bytes | None], object]) -> Callable[[FixtureRecord], object]:
    def decode(record: FixtureRecord) -> object:
        decoded = decoder(record.value)
        if isinstance(decoded, str):
            raise ValueError(decoded)
        return decoded
    return decode


def _order_state(record: FixtureRecord) -> object:
    if record.value is None:
        return None
    state: OrderState = ORDERS.decode(record.value)
    if record.key != state.order_id.encode():
        raise ValueError(f"the state of order {state.order_id} is stored under key {record.key!r}")
    return state


def _seller_order(record: FixtureRecord) -> object:
    """The `seller-orders` table keeps three kinds of entry, told apart by the key's suffix."""
    key = (record.key or b"").decode()
    spec: TableSpec[Any] = (PENDING_CANCELLATIONS if key.endswith(PENDING_SUFFIX)
                            else NOTICES if key.endswith(NOTICE_SUFFIX) else SELLER_ORDERS)
    return _table(spec)(record)


def _input_event(kind: str) -> Callable[[FixtureRecord], object]:
    def decode(record: FixtureRecord) -> object:
        message = RebuiltMessage(topic=record.topic, partition=record.partition, offset=record.offset,
                                 key=record.key, value=record.value, headers=list(record.headers))
        event = decode_input(message, INPUT_TYPES[kind])
        if isinstance(event, InvalidInput):
            raise ValueError(f"{event.reason}: {event.message}")
        _same_id(record, event.event_id)
        return event
    return decode


def _shipped_output(record: FixtureRecord) -> object:
    event = SHIPPED_ORDERS_ADAPTER.validate_json(record.value or b"")
    _same_id(record, event.event_id)
    return event


def _dead_letter(record: FixtureRecord) -> object:
    letter = DeadLetter.model_validate_json(record.value or b"")
    _same_id(record, letter.event_id)
    return letter


def _same_id(record: FixtureRecord, event_id: str) -> None:
    """A public record's CloudEvents `ce_id` header is its value's `event_id` (schemas/cloudevents.py)."""
    headers = dict(record.headers)
    if headers.get("ce_id") != event_id.encode():
        raise ValueError(f"ce_id header {headers.get('ce_id')!r} differs from event_id {event_id!r}")


def decoders(names: TopicNames) -> dict[str, Callable[[FixtureRecord], object]]:
    """Topic -> today's decoder of its records (raises for a record it cannot read)."""
    special = {ORDERS.name: _order_state, SELLER_ORDERS.name: _seller_order}
    return {
        **{spec.changelog(names.app_id): special.get(spec.name, _table(spec)) for spec in TABLES},
        names.order_events: _input_event("order-events"),
        names.fulfillment_events: _input_event("fulfillment-events"),
        names.shipped_orders: _shipped_output,
        names.dead_letters: _dead_letter,
        names.poll_ticks: _internal(decode_tick),
        names.seller_order_retries: _internal(decode_seller_retry),
        names.seller_checks: _internal(decode_check),
        names.buyer_pushes: _internal(decode_push),
        names.buyer_push_retries: _internal(decode_buyer_retry),
    }


def test_every_fixture_record_decodes(fixture: Fixture) -> None:
    names = TopicNames(fixture.prefix)
    known = decoders(names)
    failures = []
    for record in fixture.records:
        decode = known.get(record.topic)
        if decode is None:
            failures.append(f"{record.where}: no decoder for topic {record.topic} (new in the fixture?)")
            continue
        try:
            decode(record)
        except Exception as error:  # pydantic's ValidationError, zlib.error, ValueError: each named
            failures.append(f"{record.where} key={record.key!r}: {type(error).__name__}: {error}")
    assert not failures, f"{len(failures)} record(s) of release 0.1.0 do not decode:\n" + "\n".join(failures)
    for topic in known:  # the fixture still covers every table and internal topic
        assert fixture.of(topic), f"the fixture has no record on {topic}"


# -- the replay on a real broker -------------------------------------------------------------------------------------


def _delete_everything_of(admin: AdminClient, fixture: Fixture) -> None:
    """Delete the fixture's topics (any of its prefix) and its consumer group where they exist, and wait until the
    broker no longer lists the topics."""
    names = TopicNames(fixture.prefix)
    existing = [name for name in admin.list_topics(timeout=10).topics
                if name.startswith((f"{names.prefix}.", f"{names.app_id}-"))]
    for future in (admin.delete_topics(existing, operation_timeout=30).values() if existing else ()):
        future.result()
    try:
        for future in admin.delete_consumer_groups([names.app_id], request_timeout=30).values():
            future.result()
    except KafkaException as error:
        if error.args[0].code() not in (KafkaError.GROUP_ID_NOT_FOUND, KafkaError._UNKNOWN_GROUP):
            raise
    deadline = time.monotonic() + 30
    while set(existing) & set(admin.list_topics(timeout=10).topics):
        assert time.monotonic() < deadline, f"topics {existing} still listed 30 s after their deletion"
        time.sleep(0.2)


def restore(bootstrap: str, fixture: Fixture) -> None:
    """Create the fixture's topics afresh (same names, partition counts and cleanup policies; retention unlimited:
    the records keep their original timestamps, older than a topic's retention some day) and produce every record
    into its partition with its timestamp, key, value and headers. Asserts that each
    record lands on its original offset, so offsets and committed positions mean what they meant."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    _delete_everything_of(admin, fixture)
    deadline = time.monotonic() + 30
    for name, info in fixture.topics.items():
        while True:
            new = NewTopic(name, num_partitions=int(info["partitions"]), replication_factor=1,
                           config={"cleanup.policy": info["config"]["cleanup.policy"], "retention.ms": "-1"})
            try:
                admin.create_topics([new], operation_timeout=30)[name].result()
                break
            except KafkaException as error:  # the deletion may still be under way
                assert time.monotonic() < deadline, f"could not create {name}: {error}"
                time.sleep(0.3)
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5})
    misplaced: list[str] = []

    def landed(record: FixtureRecord) -> Callable[[Any, Any], None]:
        def report(error: Any, message: Any) -> None:
            if error is not None:
                misplaced.append(f"{record.where}: {error}")
            elif message.offset() != record.offset:
                misplaced.append(f"{record.where}: landed at offset {message.offset()}")
        return report

    for record in fixture.records:
        producer.produce(record.topic, value=record.value, key=record.key, partition=record.partition,
                         timestamp=record.timestamp, headers=list(record.headers), on_delivery=landed(record))
        producer.poll(0)
    assert producer.flush(30) == 0, "the restore's records were not all delivered within 30 s"
    assert not misplaced, "records not restored in place:\n" + "\n".join(misplaced)


class Writes:
    """The writes the stores received: REST requests other than GET (`/_sandbox/requests`, the stores' own count)
    and Shopify GraphQL mutations (every Shopify request is a POST: the operations are recorded as they run)."""

    def __init__(self) -> None:
        self.shopify: list[str] = []
        self.roots: dict[str, str] = {}

    def watch_shopify(self, connection: str, app: SandboxApp) -> None:
        shop = app.store
        execute = shop.execute

        def recording(query: str, variables: dict[str, Any] | None, operation_name: str | None) -> dict[str, Any]:
            try:
                document = parse(query)
            except Exception:
                document = None
            for node in document.definitions if document is not None else ():
                if isinstance(node, OperationDefinitionNode) and node.operation == OperationType.MUTATION:
                    fields = [field.name.value for field in node.selection_set.selections
                              if isinstance(field, FieldNode)]
                    self.shopify.append(f"{connection}: mutation {', '.join(fields)}")
            result: dict[str, Any] = execute(query, variables, operation_name)
            return result

        shop.execute = recording

    def all(self) -> list[str]:
        found = list(self.shopify)
        for connection, root in self.roots.items():
            counts = httpx.get(f"{root}/_sandbox/requests", timeout=5).json()["by_route"]
            found += [f"{connection}: {route} x{count}" for route, count in sorted(counts.items())
                      if route.split(" ", 1)[0] in WRITE_METHODS and not route.endswith("/graphql.json")]
        return found


def _credential(name: str) -> str:
    return {"consumer_key": "ck_upgrade", "consumer_secret": "cs_upgrade"}.get(name, "upgrade-test-credential")


def _env_name(reference: str) -> str:
    match = re.fullmatch(r"\$\{([A-Z0-9_]+)\}", reference)
    assert match, f"the fixture's config.yaml holds {reference!r} where an ${{ENV}} reference belongs"
    return match.group(1)


def serve_stores(fixture: Fixture, stack: ExitStack, monkeypatch: pytest.MonkeyPatch, writes: Writes
                 ) -> dict[str, Any]:
    """Serve a fresh store for each connection of the fixture's config.yaml; returns the document with their URLs
    (credentials stay `${ENV}` references, set here in the environment the worker inherits)."""
    document: dict[str, Any] = yaml.safe_load((fixture.folder / "config.yaml").read_text(encoding="utf-8"))
    for connection in document["connections"]:
        placeholder = urlsplit(connection["base_url"])
        assert placeholder.hostname == f"{connection['id']}.{PLACEHOLDER_HOST}", connection["base_url"]
        credentials = {}
        for name, reference in connection.get("credentials", {}).items():
            monkeypatch.setenv(_env_name(reference), _credential(name))
            credentials[name] = _credential(name)
        if "webhook_secret" in connection:
            monkeypatch.setenv(_env_name(connection["webhook_secret"]), "upgrade-webhook-secret")
        app, base_path = create_store(StoreSettings(platform=connection["platform"], name=connection["id"],
                                                    credentials=credentials))
        assert base_path == placeholder.path, (connection["id"], base_path, placeholder.path)
        root = stack.enter_context(served(app, connection["id"]))
        connection["base_url"] = root + base_path
        writes.roots[connection["id"]] = root
        if connection["platform"] == "shopify":
            writes.watch_shopify(connection["id"], app)
        if connection["role"] == "seller" and connection["platform"] in EMPTY_READS:
            httpx.post(f"{root}/_sandbox/faults", timeout=5, json={
                "status": 404, "times": 1_000_000, "method": "GET", "path": EMPTY_READS[connection["platform"]],
                "body": '{"message": "this test store knows none of the fixture\'s orders"}'}).raise_for_status()
    return document


def input_topics(fixture: Fixture) -> list[str]:
    """The topics the worker consumes: every one of the fixture but the changelogs and the outputs."""
    names = TopicNames(fixture.prefix)
    return [topic for topic in fixture.topics if topic.startswith(f"{names.prefix}.")
            and topic not in (names.shipped_orders, names.dead_letters)]


def lag(bootstrap: str, fixture: Fixture) -> dict[str, int]:
    """`topic:partition` -> restored records the worker's group has not committed yet (only where some remain)."""
    ends = fixture.end_offsets()
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": TopicNames(fixture.prefix).app_id,
                         "enable.auto.commit": False})
    try:
        committed = consumer.committed([TopicPartition(topic, partition) for topic in input_topics(fixture)
                                        for partition in range(fixture.topics[topic]["partitions"])], timeout=10)
    finally:
        consumer.close()
    behind = {f"{item.topic}:{item.partition}": ends[item.topic, item.partition] - max(item.offset, 0)
              for item in committed}
    return {where: count for where, count in behind.items() if count > 0}


def records_now(bootstrap: str, topic: str, partitions: int) -> list[bytes | None]:
    """The values of every record on `topic` now (each partition read up to its end)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"upgrade-reader-{time.time_ns()}",
                         "enable.auto.commit": False, "enable.partition.eof": True})
    values: list[bytes | None] = []
    try:
        for partition in range(partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, partition, low)])
            while True:
                message = consumer.poll(5.0)
                assert message is not None, f"{topic}:{partition} not read to its end within 5 s"
                if message.error() is not None:
                    break
                values.append(message.value())
                offset = message.offset()
                if offset is not None and offset >= high - 1:
                    break
    finally:
        consumer.close()
    return values


def event_ids(values: Iterable[bytes | None]) -> dict[str, str]:
    """Event id -> type, of records whose value is a JSON event."""
    ids: dict[str, str] = {}
    for value in values:
        document = json.loads(value or b"null")
        if isinstance(document, dict) and "event_id" in document:
            ids[str(document["event_id"])] = str(document.get("type"))
    return ids


@pytest.fixture
def restored(kafka_bootstrap: str, fixture: Fixture) -> Iterator[None]:
    restore(kafka_bootstrap, fixture)
    yield
    _delete_everything_of(AdminClient({"bootstrap.servers": kafka_bootstrap}), fixture)


@pytest.mark.kafka
def test_a_worker_replays_v0_1_0_topics_without_redoing_anything(
        kafka_bootstrap: str, fixture: Fixture, restored: None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    names = TopicNames(fixture.prefix)
    events = (names.order_events, names.fulfillment_events, names.shipped_orders, names.dead_letters)
    before = {topic: event_ids(record.value for record in fixture.of(topic)) for topic in events}
    assert "order.shipped" in before[names.shipped_orders].values(), "the fixture holds no order.shipped"
    writes = Writes()
    with ExitStack() as stack:
        document = serve_stores(fixture, stack, monkeypatch, writes)
        document["kafka"]["bootstrap_servers"] = kafka_bootstrap
        document["worker"] = {"web_host": "127.0.0.1", "web_port": free_port(), "state_dir": str(tmp_path / "state"),
                              "broker_session_timeout": "6s"}
        config_path = tmp_path / "fulfillsync.yaml"
        config_path.write_text(yaml.safe_dump(document), encoding="utf-8")
        worker = WorkerProcess(config_path, tmp_path / "worker.log").start()
        try:
            deadline = time.monotonic() + CATCH_UP_TIMEOUT_S
            while behind := lag(kafka_bootstrap, fixture):
                assert worker.process is not None and worker.process.poll() is None, (
                    f"the worker exited with {worker.process and worker.process.returncode}:\n{worker.log_tail()}")
                assert time.monotonic() < deadline, (
                    f"the worker did not catch up with the restored records within {CATCH_UP_TIMEOUT_S:.0f}s; "
                    f"records behind: {behind}\n{worker.log_tail(80)}")
                time.sleep(0.5)
            time.sleep(SETTLE_S)
            made = writes.all()
            assert not made, ("replaying release 0.1.0's records wrote to the stores again (an order created on a "
                              "seller, a fulfillment written to a buyer):\n" + "\n".join(made)
                              + f"\n{worker.log_tail(80)}")
            new = {topic: sorted(f"{kind} {event_id}" for event_id, kind in event_ids(records_now(
                kafka_bootstrap, topic, fixture.topics[topic]["partitions"])).items() if event_id not in before[topic])
                for topic in events}
            assert not any(new.values()), f"events published again under new ids: {new}\n{worker.log_tail(80)}"
            retried = {topic: len(records_now(kafka_bootstrap, topic, fixture.topics[topic]["partitions"]))
                       - len(fixture.of(topic)) for topic in (names.seller_order_retries, names.buyer_push_retries)}
            assert not any(retried.values()), f"new retry records (a write tried again): {retried}"
        finally:
            worker.stop()
    log = (tmp_path / "worker.log").read_text(errors="replace")
    unreadable = [line for line in log.splitlines() if "unreadable" in line.lower()]
    assert not unreadable, "the worker could not read entries of release 0.1.0:\n" + "\n".join(unreadable)

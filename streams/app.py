"""The one Faust app of a fulfillsync worker, built from the configuration.

- the order table (`orders`): order id -> the ledger's state as JSON, on RocksDB (rocksdict) with a capped
  block cache, backed by a compacted changelog topic;
- the ledger agent: reads order-events and fulfillment-events (co-partitioned by order id) at concurrency 1
  and publishes to shipped-orders and dead-letters;
- polling (streams.polling): the leader's timer publishes poll ticks, the poller agent polls each connection at
  most once per interval, with its cursor in the `poll-cursors` table; buyers' new orders become order.placed;
- seller orders (streams.sellers): each order.placed is created on its seller's platform once, recorded in the
  `seller-orders` table, its seller reference published as a second order.placed; retries via a retry topic;
- seller fulfilments (streams.fulfillments): a seller's poll turns its changed orders of ours into check records;
  the check agent reads their fulfilments and publishes fulfillment.* events; a sweep re-reads watched orders on
  platforms whose tracking edits keep the order's modified time, and failed reads;
- buyer tracking (streams.buyers): the ledger agent pushes each order whose fulfilments it touched; the sink
  writes the difference onto the buyer's order (one buyer fulfilment per seller fulfilment), retries via a topic;
- web views: /healthz, /readyz, /metrics, and POST /webhooks/{connection_id} (streams.webhooks).

Processing is at-least-once with an idempotent ledger, never Faust's exactly-once mode (DESIGN.md §5).
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust

from schemas.config import Config
from schemas.topics import TopicNames
from streams.buyers.entries import PushRecord
from streams.buyers.wiring import register_buyer_tracking
from streams.fulfillments.wiring import register_seller_fulfillments
from streams.metrics import Metrics
from streams.orders.ledger_agent import LedgerProcessor
from streams.polling.wiring import register_polling
from streams.records import RAW_TOPIC, EncodedRecord
from streams.sellers.wiring import register_seller_orders
from streams.web import register_views
from streams.webhooks import register_webhooks

ORDER_TABLE = "orders"
_MIB = 1024 * 1024


@dataclass
class Service:
    """The app and what tests and views need to reach inside it."""

    app: faust.App
    names: TopicNames
    metrics: Metrics


def create_app(config: Config) -> Service:
    """Build the Faust app for `config`. Nothing connects to Kafka until the app is started."""
    names = TopicNames(config.kafka.topic_prefix)
    metrics = Metrics()
    state_dir = Path(config.worker.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        names.app_id,
        broker=[f"kafka://{server.strip()}" for server in config.kafka.bootstrap_servers.split(",")],
        store="rocksdb://",
        datadir=str(state_dir),
        autodiscover=False,
        processing_guarantee="at_least_once",
        topic_partitions=config.kafka.partitions,
        topic_replication_factor=config.kafka.replication_factor,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # Batch the changelog and output records of consecutive events into few produce requests: without a
        # linger, aiokafka sends nearly one request per record.
        producer_linger_ms=5,
        producer_max_batch_size=1 << 20,  # the default 16 KiB holds only 2-4 order states
        broker_session_timeout=config.worker.broker_session_timeout.total_seconds(),
        broker_heartbeat_interval=min(3.0, config.worker.broker_session_timeout.total_seconds() / 3),
        web_enabled=True,
        web_host=config.worker.web_host,
        web_port=config.worker.web_port,
        table_standby_replicas=0,
        # Every record is bytes in and bytes out: we decode ourselves, so a malformed record is dead-lettered
        # by our code rather than dropped by Faust's decoder with only a log line.
        key_serializer="raw",
        value_serializer="raw",
    )
    table = app.Table(
        ORDER_TABLE,
        default=None,
        partitions=config.kafka.partitions,
        key_type=bytes,  # bytes in, bytes out: Faust picks its raw codec for the changelog
        value_type=bytes,
        options=_rocksdb_options(config),
    )
    inputs = app.topic(names.order_events, names.fulfillment_events, **RAW_TOPIC)
    outputs = {name: app.topic(name, **RAW_TOPIC) for name in (names.shipped_orders, names.dead_letters)}

    async def send(topic: str, record: EncodedRecord) -> None:
        await outputs[topic].send(key=record.key, value=record.value, headers=record.headers)

    pushes = app.topic(names.buyer_pushes, partitions=config.kafka.partitions, **RAW_TOPIC)

    async def push(order_id: str, buyer_connection: str | None, partition: int) -> None:
        record = PushRecord(order_id=order_id, buyer_connection=buyer_connection)
        await pushes.send(key=order_id.encode(), value=record.model_dump_json().encode(), partition=partition)

    processor = LedgerProcessor(table=table, send=send, names=names, metrics=metrics, push=push)

    async def ledger(stream: Any) -> None:
        async for event in stream.events():
            await processor.process(event.message)

    app.agent(inputs, name="ledger", concurrency=1)(ledger)
    register_views(app, metrics)
    polling = register_polling(app, config, names, metrics.registry, table_options=_rocksdb_options(config))
    register_webhooks(app, config, metrics, on_delivery=polling.request_poll)  # a verified delivery polls at once
    register_seller_orders(app, config, names, metrics.registry, table_options=_rocksdb_options(config))
    register_seller_fulfillments(app, config, names, metrics.registry, tables=app.tables,
                                 table_options=_rocksdb_options(config))
    register_buyer_tracking(app, config, names, metrics.registry, tables=app.tables,
                            table_options=_rocksdb_options(config))
    return Service(app=app, names=names, metrics=metrics)


def run_worker(service: Service, loglevel: str) -> None:
    """Run the app in a Faust worker until SIGTERM or SIGINT."""
    # The ledger allocates many small objects per event; CPython's default thresholds made garbage collection
    # a quarter to a third of the worker's time under load. Collect the young generation less often and keep
    # the objects of start-up out of every collection.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    _Worker(service.app, loglevel=loglevel, redirect_stdouts=False).execute_from_commandline()


class _Worker(faust.Worker):
    """Mode leaves the root logger at DEBUG and filters in the handler: every debug call in aiokafka and Faust
    then builds a log record (about 6% of the worker's time under load). Set the level on the logger instead."""

    def _setup_logging(self) -> None:
        super()._setup_logging()
        logging.getLogger().setLevel(str(self.loglevel).upper())
        # httpx logs every request at INFO: thousands of lines per poll interval, and URLs are for debugging.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


def _rocksdb_options(config: Config) -> dict[str, Any]:
    cache = config.worker.rocksdb_block_cache_mb * _MIB
    return {
        "driver": "rocksdict",
        "block_cache_size": cache,
        "block_cache_compressed_size": max(cache // 4, _MIB),
        "write_buffer_size": 8 * _MIB,
        "max_write_buffer_number": 2,
        "target_file_size_base": 16 * _MIB,
    }

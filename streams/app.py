"""The one Faust app of a fulfillsync worker, built from the configuration.

Each domain registers its topics, tables and agents through one `streams.kit.context.WiringContext`:
- orders (`streams.orders`): the `orders` table and the ledger agent on order-events and fulfillment-events,
  publishing to shipped-orders and dead-letters and asking the buyer tracking sink to write what changed;
- polling (`streams.polling`): the leader's timer publishes poll ticks, the poller agent polls each connection at
  most once per interval from its cursor; buyers' new orders become order.placed, sellers' changed orders of ours
  become seller checks;
- seller orders (`streams.sellers`): each order.placed is created on its seller's platform once; buyer
  cancellations are sent there; manual sellers get a new-order email; retries via a retry topic;
- seller fulfillments (`streams.fulfillments`): the check agent reads a changed order's fulfillments and publishes
  fulfillment.* events; a sweep re-reads watched orders on platforms whose tracking edits keep the order's
  modified time, and failed reads;
- buyer tracking (`streams.buyers`): the sink writes the difference onto the buyer's order (one buyer fulfillment
  per seller fulfillment), retries via a topic;
- web views (`streams.web`): /healthz, /readyz, /metrics, and POST /webhooks/{connection_id}.

Processing is at-least-once with an idempotent ledger and idempotent sinks, never Faust's exactly-once mode
(docs/architecture.md, "Known traps").
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from schemas.config import Config, LogFormat
from schemas.topics import TopicNames
from streams.buyers.wiring import register_buyer_tracking
from streams.fulfillments.wiring import register_seller_fulfillments
from streams.kit.bulk_restore import BulkRestore, BulkTableManager
from streams.kit.context import WiringContext
from streams.kit.gc_tuning import collect_less_often
from streams.kit.kafka_clients import new_faust_app
from streams.kit.log_throttle import throttle_repeats
from streams.kit.logs import use_json_logs
from streams.kit.worker_app import WorkerApp
from streams.orders.wiring import register_ledger
from streams.polling.wiring import register_polling
from streams.sellers.wiring import register_seller_orders
from streams.web.health import register_views
from streams.web.webhooks import WebhookMetrics, register_webhooks

_MIB = 1024 * 1024


@dataclass
class Service:
    """The app and what tests and views need to reach inside it."""

    app: faust.App
    names: TopicNames
    registry: CollectorRegistry


def create_app(config: Config) -> Service:
    """Build the Faust app for `config`. Nothing connects to Kafka until the app is started; the broker and its
    security settings come from `streams.kit.kafka_clients` (KafkaSetupError when the TLS files cannot be used)."""
    names = TopicNames(config.kafka.topic_prefix)
    state_dir = Path(config.worker.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    app = new_faust_app(
        WorkerApp,
        names.app_id,
        config.kafka,
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
        # A batch not delivered within this fails (aiokafka's batch expiry); the delivery watch then stops the
        # worker before its commit. Faust's default is 20 minutes.
        producer_request_timeout=config.worker.delivery_timeout.total_seconds(),
        broker_session_timeout=config.worker.broker_session_timeout.total_seconds(),
        broker_heartbeat_interval=min(3.0, config.worker.broker_session_timeout.total_seconds() / 3),
        web_enabled=True,
        web_host=config.worker.web_host,
        web_port=config.worker.web_port,
        table_standby_replicas=config.worker.standby_replicas,
        consumer_group_instance_id=config.worker.group_instance_id,
        # Every record is bytes in and bytes out: we decode ourselves, so a malformed record is dead-lettered
        # by our code rather than dropped by Faust's decoder with only a log line.
        key_serializer="raw",
        value_serializer="raw",
        # Partitions far behind their changelogs (an empty volume) are rebuilt in bulk before Faust's recovery.
        TableManager=BulkTableManager,
    )
    app.bulk_restore = BulkRestore(config.kafka, group=f"{names.app_id}-bulk-restore")
    ctx = WiringContext(app=app, config=config, table_options=rocksdb_options(config))
    register_ledger(ctx)
    polling = register_polling(ctx)
    register_seller_orders(ctx)
    register_seller_fulfillments(ctx)
    register_buyer_tracking(ctx)
    register_views(app, ctx.registry)
    # a verified delivery polls its connection at once
    register_webhooks(app, config, WebhookMetrics(ctx.registry), on_delivery=polling.request_poll)
    return Service(app=app, names=names, registry=ctx.registry)


def run_worker(service: Service, loglevel: str, log_format: LogFormat = "text") -> None:
    """Run the app in a Faust worker until SIGTERM or SIGINT. `log_format` "json": every log line is one JSON
    object on standard error (`streams.kit.logs.use_json_logs`) and Faust prints no banner or spinner; "text":
    Faust's own lines on standard output."""
    collect_less_often()
    throttle_repeats()  # a broker outage would otherwise log a hundred lines a second
    _Worker(service.app, loglevel=loglevel, redirect_stdouts=False, quiet=log_format == "json",
            log_format=log_format).execute_from_commandline()


class _Worker(faust.Worker):
    """Mode leaves the root logger at DEBUG and filters in the handler: every debug call in aiokafka and Faust
    then builds a log record (about 6% of the worker's time under load). Set the level on the logger instead.
    In JSON, Faust's colored handler and its spinner give way to one JSON handler."""

    def __init__(self, *args: Any, log_format: LogFormat, **kwargs: Any) -> None:
        self.log_format = log_format
        super().__init__(*args, **kwargs)

    def _setup_logging(self) -> None:
        if self.log_format == "json":
            self.spinner = None
        super()._setup_logging()
        if self.log_format == "json":
            use_json_logs(str(self.loglevel))
        logging.getLogger().setLevel(str(self.loglevel).upper())
        # httpx logs every request at INFO: thousands of lines per poll interval, and URLs are for debugging.
        logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


def rocksdb_options(config: Config) -> dict[str, Any]:
    """The RocksDB options of every table: a capped block cache (RocksDB's default is large per partition)."""
    cache = config.worker.rocksdb_block_cache_mb * _MIB
    return {
        "driver": "rocksdict",
        "block_cache_size": cache,
        "block_cache_compressed_size": max(cache // 4, _MIB),
        "write_buffer_size": 8 * _MIB,
        "max_write_buffer_number": 2,
        "target_file_size_base": 16 * _MIB,
    }

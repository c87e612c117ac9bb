"""Creating fulfillsync's topics, idempotently, with confluent-kafka's AdminClient.

A topic that already exists is left as it is (its partitions are not changed: that would move keys between
partitions and break co-partitioning); `ensure_topics` reports it as existing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.cimpl import NewTopic

from schemas.config import KafkaSettings
from schemas.topics import TopicNames
from streams.buyers.tables import BUYER_FULFILLMENTS
from streams.fulfillments.tables import SELLER_FULFILLMENTS
from streams.kit.kafka_clients import describe_kafka_error, new_admin
from streams.kit.tables import TableSpec
from streams.orders.tables import ORDERS
from streams.polling.tables import BUYER_ORDERS, POLL_CURSORS
from streams.sellers.tables import SELLER_ORDERS

TABLES: tuple[TableSpec[Any], ...] = (ORDERS, POLL_CURSORS, BUYER_ORDERS, SELLER_ORDERS, SELLER_FULFILLMENTS,
                                      BUYER_FULFILLMENTS)
"""Every table of the worker (one spec per Faust table name): their changelogs are derived from these."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


def topic_specs(settings: KafkaSettings) -> list[TopicSpec]:
    """Every topic the service needs: the four public ones, the internal ones and the tables' changelogs."""
    names = TopicNames(settings.topic_prefix)
    retention = str(int(settings.retention.total_seconds() * 1000))
    dead_letter_retention = str(int(settings.dead_letter_retention.total_seconds() * 1000))
    events = {"cleanup.policy": "delete", "retention.ms": retention}
    compacted = {"cleanup.policy": "compact"}  # changelogs: never expired, co-partitioned with the input topics
    return [
        TopicSpec(names.order_events, settings.partitions, events),
        TopicSpec(names.fulfillment_events, settings.partitions, events),
        TopicSpec(names.shipped_orders, settings.partitions, events),
        TopicSpec(names.dead_letters, settings.partitions,
                  {"cleanup.policy": "delete", "retention.ms": dead_letter_retention}),
        TopicSpec(f"{names.app_id}-__assignor-__leader", 1, {"cleanup.policy": "delete"}),
        # Polling (streams/polling): ticks are stale after one interval.
        TopicSpec(names.poll_ticks, settings.partitions, {"cleanup.policy": "delete", "retention.ms": "86400000"}),
        # Internal records keyed by order id, co-partitioned with order-events.
        TopicSpec(names.seller_order_retries, settings.partitions, events),
        TopicSpec(names.seller_checks, settings.partitions, events),
        TopicSpec(names.buyer_pushes, settings.partitions, events),
        TopicSpec(names.buyer_push_retries, settings.partitions, events),
        # The operators' tool's record of requeued dead letters, by letter id: kept as long as there are letters.
        TopicSpec(names.requeued_letters, settings.partitions, compacted),
        *(TopicSpec(table.changelog(names.app_id), settings.partitions, compacted) for table in TABLES),
    ]


def ensure_topics(settings: KafkaSettings, timeout_s: float = 30.0) -> dict[str, str]:
    """Create the missing topics. Returns topic -> `created` or `exists`.

    Raises KafkaException naming the topic when the broker refuses one (e.g. a replication factor larger than
    the number of brokers; a missing Create ACL, named with the principal refused: `describe_kafka_error`).
    Connects with `settings`' security settings (`streams.kit.kafka_clients`).
    """
    admin = new_admin(settings)
    specs = topic_specs(settings)
    futures = admin.create_topics(
        [NewTopic(s.name, num_partitions=s.partitions, replication_factor=settings.replication_factor,
                  config=s.config) for s in specs],
        operation_timeout=timeout_s, request_timeout=timeout_s,
    )
    outcome: dict[str, str] = {}
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            outcome[name] = "created"
        except KafkaException as error:
            kafka_error = error.args[0]
            if isinstance(kafka_error, KafkaError) and kafka_error.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                outcome[name] = "exists"
                continue
            raise KafkaException(describe_kafka_error(settings, error, what=f"create topic {name}")) from error
    return outcome

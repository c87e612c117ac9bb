"""Topic creation on the real broker: idempotent, with partitions and retention from configuration."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource

from schemas.config import KafkaSettings
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.orders.tables import ORDERS

pytestmark = pytest.mark.kafka


def test_topics_are_created_once_with_configured_partitions_and_retention(kafka_bootstrap: str) -> None:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_prefix=f"adm{uuid.uuid4().hex[:8]}",
                             partitions=3, retention=timedelta(days=2), dead_letter_retention=timedelta(days=9))
    names = TopicNames(settings.topic_prefix)
    first = ensure_topics(settings)
    assert set(first.values()) == {"created"}
    assert set(names.public) | {ORDERS.changelog(names.app_id)} <= set(first)
    assert set(ensure_topics(settings).values()) == {"exists"}

    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    topics = admin.list_topics(timeout=10).topics
    assert all(len(topics[name].partitions) == 3 for name in names.public)
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name)
                 for name in (names.order_events, names.dead_letters, ORDERS.changelog(names.app_id))]
    configs = {r.name: future.result() for r, future in admin.describe_configs(resources).items()}
    assert configs[names.order_events]["retention.ms"].value == str(2 * 86_400_000)
    assert configs[names.dead_letters]["retention.ms"].value == str(9 * 86_400_000)
    assert configs[ORDERS.changelog(names.app_id)]["cleanup.policy"].value == "compact"
    admin.delete_topics(list(first))

"""fulfillsync on a secured Kafka (docs/deploy.md, "Kafka security"): the session's secured broker
(tests/support/secure_kafka.py: SASL_SSL with SCRAM-SHA-512 on 39092, mutual TLS on 39094, ACLs).

1. The whole sync loop over each protocol, as the service user `fulfillsync` with only the ACLs docs/deploy.md
   lists (prefixed topics and consumer groups, no cluster ACL): a Shopify buyer, a BigCommerce seller and a manual
   seller; an order split between them is routed, created on the seller's store, fulfilled there and by the web
   app's publisher (`KafkaPublisher`), written back to the buyer's store and Shipped; the web app's read model
   (`TopicReadModel`) shows it; `fulfillsync watch` (a tool, its own process) prints both shipments; `fulfillsync
   topics create` finds every topic there.
2. Failing fast, with the setting named and no secret printed: a wrong password, a CA that did not sign the
   broker's certificate, a client certificate of another CA; each command exits 1 within seconds.
3. The `reader` user may read but not write: its producer fails with the missing ACL named, and `fulfillsync
   worker` as reader stops before starting, naming the topic it may not write.
"""

from __future__ import annotations

import functools
import gc
import os
import subprocess
import sys
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from confluent_kafka import KafkaException

from fulfillsync.localkafka.broker import LocalBroker
from fulfillsync.localkafka.security import certificate_pem, issue_ca, issue_certificate, key_pem
from sandbox.merchant import Merchant, PlacedOrder, StoreFulfillment
from sandbox.server import free_port
from sandbox.settings import SandboxPlatform
from schemas.config import KafkaSettings, KafkaTls
from schemas.config_file import load_config
from schemas.events import FulfilledLine, SourceRef
from schemas.factories import fulfillment_recorded
from schemas.topics import TopicNames
from streams.kit.kafka_clients import KafkaAccessError, check_access, describe_kafka_error, new_producer
from streams.kit.producer import EventProducer
from tests.support.cli import run_cli
from tests.support.marketplace import Marketplace, buyer_id, marketplace, sku
from tests.support.secure_kafka import KEY_PASSWORD_ENV, PASSWORD_ENV, mtls_section, sasl_section, topic_prefix
from webapp.publisher import KafkaPublisher
from webapp.readmodel import TopicReadModel

pytestmark = pytest.mark.kafka

BUYER: SandboxPlatform = "shopify"
SELLER: SandboxPlatform = "bigcommerce"
HAND = SourceRef(partner="hand", connection="s-hand", platform="manual")
FAIL_FAST_S = 8.0
"""A command given a wrong password or certificate must have exited within this (the access check answers in
about a second; the rest is the interpreter starting)."""


def secured(section: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A marketplace `customize`: the broker's connection keys, a topic prefix under the service's ACLs, and the
    manual seller `s-hand` (HAND-* routed to it)."""
    def customize(document: dict[str, Any]) -> None:
        document["kafka"] = {**document["kafka"], **section, "topic_prefix": topic_prefix()}
        document["connections"].append({"id": HAND.connection, "partner": HAND.partner, "role": "seller",
                                        "platform": "manual"})
        document["routes"].append({"buyer": buyer_id(BUYER), "seller": HAND.connection, "skus": ["HAND-*"]})
    return customize


def numbers_on(market: Marketplace, order: PlacedOrder) -> set[str]:
    found: list[StoreFulfillment] = market.buyers[BUYER].fulfillments(order)
    return {number for item in found if not item.cancelled for number in item.numbers}


@pytest.mark.parametrize("protocol", ["SASL_SSL", "mutual TLS"])
def test_the_sync_loop_runs_over_a_secured_broker(protocol: str, secure_broker: LocalBroker, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    security = secure_broker.security
    monkeypatch.setenv(PASSWORD_ENV, security.passwords["fulfillsync"])  # the worker and the tools inherit them
    monkeypatch.setenv(KEY_PASSWORD_ENV, security.client_key_password)
    section = sasl_section(secure_broker) if protocol == "SASL_SSL" else mtls_section(secure_broker)
    with marketplace(tmp_path, str(section["bootstrap_servers"]), interval="2s", buyers=(BUYER,), sellers=(SELLER,),
                     customize=secured(section)) as market:
        config = load_config(market.config_path).config
        assert config.kafka.security_protocol == ("SASL_SSL" if protocol == "SASL_SSL" else "SSL")
        watch = subprocess.Popen([sys.executable, "-m", "fulfillsync.cli", "--config", str(market.config_path),
                                  "watch", "--from-beginning"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, stdin=subprocess.DEVNULL)
        read_model = TopicReadModel(config).start()
        try:
            order = market.buyers[BUYER].act(functools.partial(
                Merchant.place_order, lines={sku(SELLER, "MUG"): 2, "HAND-BOWL": 1}))
            on_store = market.routed(BUYER, order, SELLER)
            by_hand = market.wait_for(
                lambda: market.topics.order_id(buyer_id(BUYER), order.order_ref, HAND.connection),
                "the order's HAND-* line routed to the manual seller")
            [placed] = market.topics.of(market.names.order_events, by_hand, "order.placed")
            created = market.seller_order(SELLER, on_store)
            market.sellers[SELLER].act(lambda merchant: merchant.fulfill(created, {sku(SELLER, "MUG"): 2},
                                                                        ["1Z999AA10123456784"], "UPS"))
            KafkaPublisher(config.kafka, market.names).publish(fulfillment_recorded(
                order_id=by_hand, source=HAND, fulfillment_id="web-1", source_version=datetime.now(UTC),
                lines=[FulfilledLine(line_id=placed["lines"][0]["line_id"], quantity=1)],
                carrier="UPS", tracking_numbers=["1Z999AA10123456793"]))
            market.wait_for(lambda: numbers_on(market, order) == {"1Z999AA10123456784", "1Z999AA10123456793"},
                            "both fulfillments on the buyer's order")
            for order_id in (on_store, by_hand):
                market.wait_for(functools.partial(market.topics.of, market.names.shipped_orders, order_id,
                                                  "order.shipped"), f"{order_id} shipped")
            assert read_model.wait_ready(30)
            deadline = time.monotonic() + 30
            while (view := read_model.order(by_hand)) is None or view.shipped_at is None:
                assert time.monotonic() < deadline, "the read model never showed the manual order shipped"
                time.sleep(0.3)
            assert market.topics.of(market.names.dead_letters) == []

            created_again = run_cli("--config", str(market.config_path), "topics", "create", timeout_s=60)
            assert created_again.returncode == 0, created_again.stderr
            assert set(line.split()[0] for line in created_again.stdout.splitlines()) == {"exists"}
        finally:
            read_model.close()
            watch.terminate()
            printed, _ = watch.communicate(timeout=30)
        assert printed.count("SHIPPED") >= 2, printed
        for secret in (security.passwords["fulfillsync"], security.client_key_password):
            assert secret not in printed
            assert secret not in market.worker.log_path.read_text(errors="replace")


def write_config(folder: Path, kafka: dict[str, Any]) -> Path:
    """A configuration of the worker on the secured broker (no connections: the access check comes first)."""
    path = folder / "fulfillsync.yaml"
    path.write_text(yaml.safe_dump({
        "kafka": {**kafka, "topic_prefix": topic_prefix(), "partitions": 1},
        "worker": {"web_host": "127.0.0.1", "web_port": free_port(), "state_dir": str(folder / "state")}}))
    return path


def fails_fast(path: Path, command: str, setting: str, secrets: tuple[str, ...] = ()) -> str:
    """Run `fulfillsync --config path <command>`: it must exit 1 within `FAIL_FAST_S`, naming `setting`, showing no
    secret; returns what it said."""
    started = time.monotonic()
    result = run_cli("--config", str(path), *command.split(), timeout_s=60)
    took = time.monotonic() - started
    said = result.stdout + result.stderr
    assert result.returncode == 1, said
    assert took < FAIL_FAST_S, f"{command} took {took:.1f}s to fail: {said}"
    assert setting in said, said
    for secret in secrets:
        assert secret not in said
    return said


def test_a_wrong_password_stops_every_command_within_seconds_naming_the_setting(
        secure_broker: LocalBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = "wrong-password-Qz81"
    monkeypatch.setenv(PASSWORD_ENV, wrong)
    path = write_config(tmp_path, sasl_section(secure_broker))
    said = fails_fast(path, "worker", "kafka.sasl.password", (wrong, secure_broker.security.passwords["fulfillsync"]))
    assert "worker: cannot use Kafka" in said and "'fulfillsync'" in said and "SCRAM-SHA-512" in said
    fails_fast(path, "topics create", "kafka.sasl.password", (wrong,))
    fails_fast(path, "watch", "kafka.sasl.password", (wrong,))


def test_an_untrusted_certificate_stops_the_worker_within_seconds_naming_the_setting(
        secure_broker: LocalBroker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, secure_broker.security.passwords["fulfillsync"])
    monkeypatch.setenv(KEY_PASSWORD_ENV, secure_broker.security.client_key_password)
    rogue_key, rogue_ca = issue_ca("not the broker's CA")
    (tmp_path / "rogue-ca.crt").write_bytes(certificate_pem(rogue_ca))
    sasl = sasl_section(secure_broker)
    path = write_config(tmp_path, {**sasl, "ssl": {"ca_file": str(tmp_path / "rogue-ca.crt")}})
    said = fails_fast(path, "worker", "kafka.ssl.ca_file")
    assert "not signed by the CA in kafka.ssl.ca_file" in said, said

    # the broker's side of mutual TLS: a client certificate of another CA is refused, and said so
    client_key, client_cert = issue_certificate(rogue_key, rogue_ca, "fulfillsync")
    (tmp_path / "rogue.crt").write_bytes(certificate_pem(client_cert))
    (tmp_path / "rogue.key").write_bytes(key_pem(client_key))
    mtls = secure_broker.mtls_settings()
    assert mtls.ssl is not None
    rogue = mtls.model_copy(update={"ssl": KafkaTls(ca_file=mtls.ssl.ca_file, cert_file=str(tmp_path / "rogue.crt"),
                                                    key_file=str(tmp_path / "rogue.key"))})
    started = time.monotonic()
    with pytest.raises(KafkaAccessError) as refused:
        check_access(rogue)
    assert refused.value.setting == "kafka.ssl.cert_file" and time.monotonic() - started < FAIL_FAST_S
    assert "refused the client certificate" in str(refused.value)


def test_the_reader_may_read_but_not_write(secure_broker: LocalBroker, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from streams.admin import ensure_topics

    service = secure_broker.kafka_settings().model_copy(update={"topic_prefix": topic_prefix(), "partitions": 1})
    ensure_topics(service)
    names = TopicNames(service.topic_prefix)
    reader = secure_broker.kafka_settings("reader").model_copy(update={"topic_prefix": service.topic_prefix})
    check_access(reader, needs={names.shipped_orders: {"DESCRIBE", "READ"}})  # reading is allowed

    # a plain producer: the broker refuses the topic, and the error says who and which ACL
    failures: list[str] = []
    plain = new_producer(reader, {"message.timeout.ms": 5000})
    plain.produce(names.order_events, b"{}", on_delivery=lambda error, _: failures.append(
        describe_kafka_error(reader, error or "delivered", what=f"write to topic {names.order_events}")))
    plain.flush(10)
    [refusal] = failures
    assert refusal.startswith(f"not authorized to write to topic {names.order_events}: the brokers refused "
                              "User:reader (kafka.sasl.username) access to the topic"), refusal
    assert "Topic authorization failed" in refusal and repr(service.topic_prefix) in refusal

    # fulfillsync's idempotent producer: refused a producer id (a fatal error): said as clearly, never a crash
    producer = EventProducer(reader, source="/tests", settings={"message.timeout.ms": 5000})
    producer.publish_raw(names.order_events, b"k", b"{}")
    with pytest.raises(KafkaException, match=r"not authorized .* User:reader \(kafka.sasl.username\)"):
        producer.flush(10)
    # and once dropped it is gone (with its connections): the exception confluent-kafka keeps holds no frame of it
    dropped = weakref.ref(producer)
    del producer
    gc.collect()
    assert dropped() is None, "a producer ended by a fatal error outlived every reference to it"

    # the worker as the reader: stopped by the access check, naming the topic and the missing operation
    monkeypatch.setenv(PASSWORD_ENV, secure_broker.security.passwords["reader"])
    path = tmp_path / "reader.yaml"
    path.write_text(yaml.safe_dump({
        "kafka": {**sasl_section(secure_broker, "reader"), "topic_prefix": service.topic_prefix, "partitions": 1},
        "worker": {"web_host": "127.0.0.1", "web_port": free_port(), "state_dir": str(tmp_path / "state")}}))
    said = fails_fast(path, "worker", "kafka.sasl.username", (secure_broker.security.passwords["reader"],))
    assert "User:reader (kafka.sasl.username) may not WRITE topic" in said, said
    assert os.environ[PASSWORD_ENV] not in said


def test_a_listener_of_another_protocol_is_named_as_such_within_seconds(secure_broker: LocalBroker) -> None:
    sasl = secure_broker.kafka_settings()
    assert sasl.ssl is not None
    for wrong in (KafkaSettings(bootstrap_servers=secure_broker.bootstrap),  # plaintext to SASL_SSL
                  KafkaSettings(bootstrap_servers=secure_broker.bootstrap, security_protocol="SSL",
                                ssl=KafkaTls(ca_file=sasl.ssl.ca_file))):  # TLS without SASL
        started = time.monotonic()
        with pytest.raises(KafkaAccessError) as raised:
            check_access(wrong)
        assert raised.value.setting == "kafka.security_protocol", str(raised.value)
        assert time.monotonic() - started < FAIL_FAST_S

"""Session-wide fixtures: a real Kafka broker for every test that needs one.

Where the broker comes from, in order:
1. `KAFKA_BOOTSTRAP_SERVERS` when set (`make test` sets it to the broker it started);
2. testcontainers' Kafka (the `apache/kafka` image) when a Docker engine answers;
3. the project's own local broker (`fulfillsync.localkafka`), started for the session on port 19092.
If none can be had, every test that asks for it fails with the reason: Kafka tests never skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from fulfillsync.localkafka.broker import BrokerError, LocalBroker, broker_answers

pytest_plugins = ("tests.support.browser",  # the `browser` and `page` fixtures
                  "tests.support.secure_kafka")  # `secure_broker`: SASL_SSL and mutual TLS on 39092-39094

# The suite's property and fuzz tests draw the same examples on every run (`derandomize`): a failure names its
# test, not a lucky seed, and a clean run stays clean. `make fuzz` draws new examples on each run (profile
# "explore"); what it finds becomes an `@example` of the test.
settings.register_profile("suite", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("FULFILLSYNC_HYPOTHESIS_PROFILE", "suite"))

REPO = Path(__file__).resolve().parent.parent
KAFKA_IMAGE = "apache/kafka:4.1.1"


def _docker_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=10, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """The bootstrap servers of a running Kafka 4 broker."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        if not broker_answers(configured, timeout_s=15):
            pytest.fail(f"KAFKA_BOOTSTRAP_SERVERS={configured} is set but no broker answers there; start one "
                        "(`fulfillsync kafka start`) or unset the variable")
        yield configured
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
            yield container.get_bootstrap_server()
        return
    broker = LocalBroker(home=REPO / ".fulfillsync" / "test-kafka", port=19092, controller_port=19093)
    try:
        broker.start()
    except BrokerError as error:
        pytest.fail(f"no Kafka broker for the tests: KAFKA_BOOTSTRAP_SERVERS is unset, no Docker engine answers, "
                    f"and the local broker could not start: {error}")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


FIXTURE_SPECS = REPO / "tests" / "fixtures" / "platform-specs"


@pytest.fixture(scope="session")
def platform_specs() -> Path:
    """The folder of platform specs that may not be copied into the project (BigCommerce, Shopify 2026-07):
    `FULFILLSYNC_PLATFORM_SPECS`, which `.ci/run` and `make test` set to ../shared/platform-specs. Tests that
    need it are skipped, saying so, when it is unset; they fail when it is set to a folder that is not there."""
    value = os.environ.get("FULFILLSYNC_PLATFORM_SPECS")
    if not value:
        pytest.skip("FULFILLSYNC_PLATFORM_SPECS is not set: the unlicensed platform specs are not available "
                    "(set it to the folder holding ../shared/platform-specs)")
    folder = Path(value)
    if not folder.is_dir():
        pytest.fail(f"FULFILLSYNC_PLATFORM_SPECS={value} is not a folder")
    return folder

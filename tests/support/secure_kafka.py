"""A secured Kafka broker for the session (`secure_broker`): the project's own local broker with security on
(`LocalBroker(secure=True)`: SASL_SSL with SCRAM-SHA-512 and PLAIN on 39092, the controller on 39093, mutual TLS on
39094; users `admin`, `fulfillsync` with the service's ACLs on the prefix `fulfillsync`, and `reader`), and what
tests need to point a configuration at it.

One broker per session, started on first use (about 10 s) and stopped at the end, its data deleted. Its home is
`.fulfillsync/test-kafka-secure`; its `libs/` links to the jars of a broker home of this checkout when one has them
(no Maven fetch). A broker already running from that home (a session that was killed) is used as it is. The broker
cannot be had (no Java): the tests that ask for it fail with the reason.
"""

from __future__ import annotations

import gc
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fulfillsync.localkafka.broker import KAFKA_JARS_MARKER, BrokerError, LocalBroker, default_home
from fulfillsync.localkafka.security import SERVICE_PREFIX

REPO = Path(__file__).resolve().parents[2]
PORT, CONTROLLER_PORT, MTLS_PORT = 39092, 39093, 39094
PASSWORD_ENV = "FULFILLSYNC_TEST_KAFKA_PASSWORD"
KEY_PASSWORD_ENV = "FULFILLSYNC_TEST_KAFKA_KEY_PASSWORD"


def _link_jars(home: Path) -> None:
    """Point `home/libs` at the jars of a broker home of this checkout, when it has none yet."""
    if (home / "libs").exists():
        return
    for libs in [*sorted((REPO / ".fulfillsync").glob("*/libs")), default_home() / "libs"]:
        if libs.is_dir() and not libs.is_symlink() and any(jar.name.startswith(KAFKA_JARS_MARKER)
                                                           for jar in libs.iterdir()):
            (home / "libs").symlink_to(libs.resolve(), target_is_directory=True)
            return


@pytest.fixture(scope="session")
def secure_broker() -> Iterator[LocalBroker]:
    """The session's secured broker (see the module docstring)."""
    home = REPO / ".fulfillsync" / "test-kafka-secure"
    home.mkdir(parents=True, exist_ok=True)
    _link_jars(home)
    broker = LocalBroker(home=home, port=PORT, controller_port=CONTROLLER_PORT, secure=True, mtls_port=MTLS_PORT,
                         heap="384m")
    try:
        broker.start()
    except BrokerError as error:
        pytest.fail(f"the secured Kafka broker for the tests could not start: {error}")
    try:
        yield broker
    finally:
        gc.collect()  # clients of the tests left in reference cycles go before their broker does
        broker.stop()
        shutil.rmtree(home / "data", ignore_errors=True)


def topic_prefix() -> str:
    """A topic prefix of its own for a test, under the prefix the service user's ACLs are on."""
    return f"{SERVICE_PREFIX}-t{uuid.uuid4().hex[:10]}"


def sasl_section(broker: LocalBroker, user: str = "fulfillsync", *,
                 mechanism: str = "SCRAM-SHA-512") -> dict[str, Any]:
    """The `kafka:` connection keys of a configuration file for `user` on the SASL_SSL listener, the password as
    the `${FULFILLSYNC_TEST_KAFKA_PASSWORD}` reference (set it to `broker.security.passwords[user]`)."""
    return {"bootstrap_servers": broker.bootstrap, "security_protocol": "SASL_SSL",
            "sasl": {"mechanism": mechanism, "username": user, "password": f"${{{PASSWORD_ENV}}}"},
            "ssl": {"ca_file": str(broker.security.ca_file)}}


def mtls_section(broker: LocalBroker) -> dict[str, Any]:
    """The `kafka:` connection keys of a configuration file for the client certificate on the mutual-TLS
    listener, the key's password as the `${FULFILLSYNC_TEST_KAFKA_KEY_PASSWORD}` reference."""
    security = broker.security
    return {"bootstrap_servers": broker.mtls_bootstrap, "security_protocol": "SSL",
            "ssl": {"ca_file": str(security.ca_file), "cert_file": str(security.client_cert),
                    "key_file": str(security.client_key), "key_password": f"${{{KEY_PASSWORD_ENV}}}"}}

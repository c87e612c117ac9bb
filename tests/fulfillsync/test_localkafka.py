"""The local broker's tooling: clear messages when it cannot work, and status against a live broker."""

from __future__ import annotations

import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from fulfillsync.localkafka.broker import BrokerError, LocalBroker, broker_answers
from sandbox.server import free_port


def test_start_without_java_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH: neither java nor mvn
    broker = LocalBroker(home=tmp_path / "kafka", port=29092, controller_port=29093)
    with pytest.raises(BrokerError, match=r"`java` was not found on PATH: the local Kafka broker needs a Java 17\+"):
        broker.start()


def test_start_without_maven_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    java = shutil.which("java")
    assert java is not None, "this test needs java on PATH, as `make test` does"
    only_java = tmp_path / "bin"
    only_java.mkdir()
    (only_java / "java").symlink_to(java)
    monkeypatch.setenv("PATH", str(only_java))
    broker = LocalBroker(home=tmp_path / "kafka", port=29092, controller_port=29093)  # no jars cached there
    with pytest.raises(BrokerError, match=r"`mvn` was not found on PATH: the local Kafka broker needs Apache Maven"):
        broker.start()


def test_stopping_a_broker_that_is_not_running_is_a_no_op(tmp_path: Path) -> None:
    assert LocalBroker(home=tmp_path, port=29092, controller_port=29093).stop() == "not running"


def test_a_port_nobody_listens_on_does_not_answer() -> None:
    assert not broker_answers("127.0.0.1:1", timeout_s=1)


@pytest.mark.kafka
def test_cli_status_reports_a_live_broker(kafka_bootstrap: str) -> None:
    port = kafka_bootstrap.rsplit(":", 1)[1]
    result = subprocess.run([sys.executable, "-m", "fulfillsync.cli", "kafka", "status", "--port", port],
                            capture_output=True, text=True, check=False)
    assert "answers on" in result.stdout or result.stdout.startswith("kafka: running"), result.stdout


@pytest.mark.kafka
def test_start_on_a_port_another_broker_answers_refuses_unless_told_to_reuse(tmp_path: Path,
                                                                            kafka_bootstrap: str) -> None:
    port = int(kafka_bootstrap.rsplit(":", 1)[1])
    broker = LocalBroker(home=tmp_path / "kafka", port=port, controller_port=port + 1)
    with pytest.raises(BrokerError, match=f"another broker already answers on 127.0.0.1:{port}"):
        broker.start()
    assert broker.start(reuse=True) == f"using the broker that already answers on 127.0.0.1:{port}"
    assert not (tmp_path / "kafka" / "libs").exists(), "nothing was fetched or started"


def test_a_secured_broker_gets_its_listeners_authorizer_and_material_without_starting(tmp_path: Path) -> None:
    from fulfillsync.localkafka.broker import acl_bindings

    broker = LocalBroker(home=tmp_path / "kafka", port=29192, controller_port=29193, secure=True)
    assert (broker.bootstrap, broker.mtls_bootstrap) == ("127.0.0.1:29192", "127.0.0.1:29194")
    properties = broker._write_properties().read_text()
    assert ("listeners=SASL_SSL://127.0.0.1:29192,SSL://127.0.0.1:29194,CONTROLLER://127.0.0.1:29193"
            in properties.splitlines())
    assert "listener.security.protocol.map=SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT" in properties
    assert "listener.name.ssl.ssl.client.auth=required" in properties
    assert "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer" in properties
    assert "super.users=User:ANONYMOUS;User:fulfillsync-broker;User:admin" in properties
    security = broker.security
    for path in (security.ca_key, security.broker_keystore, security.client_key, broker.home / "server.properties",
                 security.folder / "credentials.json"):
        assert path.stat().st_mode & 0o077 == 0, path  # private keys and passwords: the owner's only
    assert "ENCRYPTED PRIVATE KEY" in security.client_key.read_text()
    assert set(security.passwords) == {"admin", "fulfillsync", "reader"}
    assert LocalBroker(home=tmp_path / "kafka", port=29192, secure=True).security == security  # made once
    granted = {(binding.principal, str(getattr(binding.restype, "name", binding.restype)),
                str(getattr(binding.operation, "name", binding.operation))) for binding in acl_bindings()}
    assert ("User:reader", "TOPIC", "WRITE") not in granted and ("User:reader", "TOPIC", "READ") in granted
    assert not any(kind == "BROKER" for _, kind, _ in granted)  # no cluster ACL: Write on a topic suffices
    with pytest.raises(BrokerError, match="not secured"):
        _ = LocalBroker(home=tmp_path / "plain", port=29192).mtls_bootstrap


def test_a_cluster_id_beginning_with_a_dash_formats_the_storage(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """One random cluster id in 64 begins with "-" (base64url): Kafka's storage tool must not take it for an
    option. Runs the real tool on the jars of the suite's broker (skipped where that broker came from elsewhere)."""
    jars = Path(__file__).resolve().parents[2] / ".fulfillsync" / "test-kafka" / "libs"
    if not jars.is_dir():
        pytest.skip("no broker jars in .fulfillsync/test-kafka/libs (the suite's broker is not the local one)")
    java = shutil.which("java")
    assert java is not None
    home = tmp_path / "home"
    home.mkdir()
    (home / "libs").symlink_to(jars)
    broker = LocalBroker(home=home, port=free_port(), controller_port=free_port())
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(bytes=b"\xf8" + bytes(15)))
    broker._format_storage(java, broker._write_properties())
    assert "cluster.id=-" in (home / "data" / "meta.properties").read_text()

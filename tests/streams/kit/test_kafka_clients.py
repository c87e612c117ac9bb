"""`streams.kit.kafka_clients` without a broker: the settings each kind of client gets from `kafka:`, the TLS
context and what it says about bad files, the access check's reading of librdkafka's errors, and the sentences for
authorization refusals. (tests/e2e/test_kafka_security.py runs them against a secured broker.)"""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import faust
import pytest
from confluent_kafka import KafkaError
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from pydantic import SecretStr

from fulfillsync.localkafka.security import certificate_pem, issue_ca, issue_certificate, key_pem
from sandbox.server import free_port
from schemas.config import KafkaSasl, KafkaSettings, KafkaTls
from streams.kit.kafka_clients import (
    KafkaAccessError,
    KafkaSetupError,
    check_access,
    client_settings,
    describe_kafka_error,
    explain_error,
    faust_settings,
    librdkafka_settings,
    new_faust_app,
    tls_context,
)

PASSWORD = "pw-Hq27-never-shown"
KEY_PASSWORD = "key-Zx81-never-shown"
SASL = KafkaSasl(mechanism="SCRAM-SHA-512", username="fulfillsync", password=SecretStr(PASSWORD))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A CA, a client certificate with its key encrypted by `KEY_PASSWORD`, another key, as PEM files."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key, ca = issue_ca("test CA")
    key, cert = issue_certificate(ca_key, ca, "fulfillsync")
    other_key, _ = issue_certificate(ca_key, ca, "other")
    files = {"ca": certificate_pem(ca), "cert": certificate_pem(cert), "key": key_pem(key, KEY_PASSWORD),
             "plain_key": key_pem(key), "other_key": key_pem(other_key), "junk": b"not a certificate\n"}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: str(folder / name) for name in files}


def test_plaintext_clients_get_only_the_servers() -> None:
    kafka = KafkaSettings(bootstrap_servers="a:9092,b:9092")
    assert librdkafka_settings(kafka) == {"bootstrap.servers": "a:9092,b:9092", "security.protocol": "PLAINTEXT"}
    assert faust_settings(kafka) == {"broker": ["kafka://a:9092", "kafka://b:9092"]}


def test_sasl_ssl_without_an_ssl_section_trusts_the_systems_cas_and_checks_hostnames() -> None:
    kafka = KafkaSettings(bootstrap_servers="b-1:9096", security_protocol="SASL_SSL", sasl=SASL)
    assert librdkafka_settings(kafka) == {
        "bootstrap.servers": "b-1:9096", "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "fulfillsync", "sasl.password": PASSWORD, "ssl.ca.location": "probe",
        "ssl.endpoint.identification.algorithm": "https"}
    credentials = faust_settings(kafka)["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    auth = credentials_to_aiokafka_auth(credentials)  # what aiokafka's clients are given
    assert (auth["security_protocol"], auth["sasl_mechanism"], auth["sasl_plain_username"]) == (
        "SASL_SSL", "SCRAM-SHA-512", "fulfillsync")
    assert auth["sasl_plain_password"] == PASSWORD
    assert auth["ssl_context"].check_hostname and auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert PASSWORD not in repr(credentials)


def test_sasl_plaintext_has_no_tls_at_all() -> None:
    kafka = KafkaSettings(security_protocol="SASL_PLAINTEXT", sasl=SASL.model_copy(update={"mechanism": "PLAIN"}))
    assert not any(key.startswith("ssl.") for key in librdkafka_settings(kafka))
    auth = credentials_to_aiokafka_auth(faust_settings(kafka)["broker_credentials"])
    assert (auth["security_protocol"], auth["sasl_mechanism"], auth["ssl_context"]) == ("SASL_PLAINTEXT", "PLAIN",
                                                                                         None)


def test_mutual_tls_gets_the_client_certificate_on_both_clients(pki: dict[str, str]) -> None:
    tls = KafkaTls(ca_file=pki["ca"], cert_file=pki["cert"], key_file=pki["key"],
                   key_password=SecretStr(KEY_PASSWORD), check_hostname=False)
    kafka = KafkaSettings(security_protocol="SSL", ssl=tls)
    settings = librdkafka_settings(kafka)
    assert {key: value for key, value in settings.items() if key.startswith("ssl.")} == {
        "ssl.ca.location": pki["ca"], "ssl.certificate.location": pki["cert"], "ssl.key.location": pki["key"],
        "ssl.key.password": KEY_PASSWORD, "ssl.endpoint.identification.algorithm": "none"}
    credentials = faust_settings(kafka)["broker_credentials"]
    assert isinstance(credentials, faust.SSLCredentials)
    auth = credentials_to_aiokafka_auth(credentials)
    assert auth["security_protocol"] == "SSL" and not auth["ssl_context"].check_hostname
    assert auth["ssl_context"].verify_mode == ssl.CERT_REQUIRED  # the broker is verified all the same


def test_a_client_may_not_change_the_connection_or_security_settings() -> None:
    kafka = KafkaSettings(security_protocol="SASL_SSL", sasl=SASL)
    own = client_settings(kafka, {"group.id": "g", "bootstrap.servers": kafka.bootstrap_servers})
    assert own["group.id"] == "g" and own["sasl.password"] == PASSWORD
    for key, value in (("security.protocol", "PLAINTEXT"), ("sasl.password", "other"), ("ssl.ca.location", "/x"),
                       ("bootstrap.servers", "elsewhere:9092"), ("enable.ssl.certificate.verification", False)):
        with pytest.raises(ValueError, match=f"the client setting '{key}' comes from the configuration"):
            client_settings(kafka, {key: value})
    with pytest.raises(ValueError, match="broker, broker_credentials: set from the configuration"):
        new_faust_app(faust.App, "x", kafka, broker="kafka://elsewhere", broker_credentials=None)


@pytest.mark.parametrize(("tls", "setting", "says"), [
    ({"ca_file": "/nowhere/ca.crt"}, "kafka.ssl.ca_file", "no such file"),
    ({"ca_file": "junk"}, "kafka.ssl.ca_file", "holds no PEM CA certificate"),
    ({"cert_file": "cert", "key_file": "key"}, "kafka.ssl.key_password", "is encrypted; set key_password"),
    ({"cert_file": "cert", "key_file": "key", "key_password": "wrong"}, "kafka.ssl.key_password",
     "does not decrypt the client key"),
    ({"cert_file": "cert", "key_file": "other_key"}, "kafka.ssl.key_file", "is not the private key of the"),
    ({"cert_file": "junk", "key_file": "plain_key"}, "kafka.ssl.cert_file", "holds no PEM certificate"),
    ({"cert_file": "cert", "key_file": "junk"}, "kafka.ssl.key_file", "holds no PEM private key"),
])
def test_unusable_tls_files_are_named(pki: dict[str, str], tls: dict[str, str], setting: str, says: str) -> None:
    fields = {key: pki.get(value, value) for key, value in tls.items() if key != "key_password"}
    password = SecretStr(tls["key_password"]) if "key_password" in tls else None
    with pytest.raises(KafkaSetupError) as raised:
        tls_context(KafkaTls(**fields, key_password=password))  # never prompts on a terminal
    assert raised.value.setting == setting and says in str(raised.value), str(raised.value)
    assert KEY_PASSWORD not in str(raised.value) and "wrong" not in str(raised.value)


def test_a_usable_context(pki: dict[str, str]) -> None:
    context = tls_context(KafkaTls(ca_file=pki["ca"], cert_file=pki["cert"], key_file=pki["key"],
                                   key_password=SecretStr(KEY_PASSWORD)))
    assert context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED


SCRAM = KafkaSettings(security_protocol="SASL_SSL", sasl=SASL)


@pytest.mark.parametrize(("said", "setting"), [
    ("SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL "
     "mechanism SCRAM-SHA-512 (after 311ms in state AUTH_REQ)", "kafka.sasl.password"),
    ("SASL authentication error: Authentication failed: Invalid username or password", "kafka.sasl.password"),
    ("SASL SCRAM-SHA-256 mechanism handshake failed: Broker: Unsupported SASL mechanism: broker's supported "
     "mechanisms: SCRAM-SHA-512,PLAIN", "kafka.sasl.mechanism"),
    ("SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be "
     "verified, verify that ssl.ca.location is correctly configured", "kafka.ssl.ca_file"),
    ("SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: Hostname mismatch",
     "kafka.ssl.check_hostname"),
    ("Receive failed: error:0A000412:SSL routines::ssl/tls alert bad certificate: SSL alert number 42",
     "kafka.ssl.cert_file"),
    ("SSL handshake failed: error:0A00010B:SSL routines::wrong version number", "kafka.security_protocol"),
])
def test_librdkafkas_words_are_read_as_the_setting_at_fault(said: str, setting: str) -> None:
    found = explain_error(SCRAM, said)
    assert found is not None and found[0] == setting, found


def test_a_broker_that_does_not_answer_is_said_so_naming_the_servers() -> None:
    kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}")
    assert explain_error(kafka, "Connect to ipv4#127.0.0.1:1 failed: Connection refused") is None
    started = time.monotonic()
    with pytest.raises(KafkaAccessError) as raised:
        check_access(kafka, timeout_s=2.0)
    assert raised.value.setting == "kafka.bootstrap_servers"
    assert "no broker answered within 2s" in str(raised.value) and kafka.bootstrap_servers in str(raised.value)
    assert time.monotonic() - started < 5.0


def test_bad_tls_files_stop_the_access_check_before_any_connection(pki: dict[str, str]) -> None:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:1", security_protocol="SSL",
                          ssl=KafkaTls(ca_file=pki["ca"], cert_file=pki["cert"], key_file=pki["key"],
                                       key_password=SecretStr("wrong")))
    started = time.monotonic()
    with pytest.raises(KafkaAccessError, match=r"^kafka\.ssl\.key_password: does not decrypt"):
        check_access(kafka)
    assert time.monotonic() - started < 1.0


def test_authorization_refusals_name_the_principal_and_the_acl(pki: dict[str, str]) -> None:
    refused = KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    scram = SCRAM.model_copy(update={"topic_prefix": "shop"})
    said = describe_kafka_error(scram, refused, what="write to topic shop.order-events")
    assert said.startswith("not authorized to write to topic shop.order-events: the brokers refused User:fulfillsync "
                           "(kafka.sasl.username) access to the topic; grant it Describe, Read, Write or Create on "
                           "the topics prefixed 'shop'"), said
    mtls = KafkaSettings(security_protocol="SSL", ssl=KafkaTls(cert_file=pki["cert"], key_file=pki["key"]))
    assert "the principal of the client certificate (kafka.ssl.cert_file)" in describe_kafka_error(mtls, refused)
    assert "consumer group" in describe_kafka_error(scram, "Broker: Group authorization failed")
    assert "IdempotentWrite" in describe_kafka_error(scram, KafkaError(KafkaError.CLUSTER_AUTHORIZATION_FAILED))
    assert describe_kafka_error(scram, "Broker: Message size too large", what="write to topic t") == (
        "could not write to topic t: Broker: Message size too large")
    assert PASSWORD not in said


def test_the_settings_never_leak_the_password_through_a_client_error(pki: dict[str, str]) -> None:
    with pytest.raises(KafkaSetupError) as raised:
        faust_settings(KafkaSettings(security_protocol="SASL_SSL", sasl=SASL, ssl=KafkaTls(ca_file=pki["junk"])))
    assert PASSWORD not in str(raised.value) and raised.value.setting == "kafka.ssl.ca_file"
    assert Path(pki["junk"]).name not in str(raised.value)

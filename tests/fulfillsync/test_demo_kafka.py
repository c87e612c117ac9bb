"""The demo on a secured Kafka: its generated configuration keeps the base configuration's security settings, the
secrets as `${FULFILLSYNC_DEMO_KAFKA_*}` references whose values reach the demo's processes."""

from __future__ import annotations

import yaml
from pydantic import SecretStr

from fulfillsync.demo_setup import KAFKA_ENV, credential_environment, kafka_document, kafka_environment
from schemas.config import KafkaSasl, KafkaSettings, KafkaTls
from schemas.config_file import parse_config

PASSWORD, KEY_PASSWORD = "demo-pw-Kq19", "demo-key-Lm28"


def test_the_run_keeps_the_security_settings_and_passes_the_secrets_by_environment() -> None:
    base = KafkaSettings(bootstrap_servers="b:9096", security_protocol="SASL_SSL",
                         sasl=KafkaSasl(mechanism="SCRAM-SHA-512", username="u", password=SecretStr(PASSWORD)),
                         ssl=KafkaTls(ca_file="/ca.crt", cert_file="/c.crt", key_file="/c.key",
                                      key_password=SecretStr(KEY_PASSWORD), check_hostname=False))
    document = kafka_document(base)
    text = yaml.safe_dump({"kafka": document})
    assert PASSWORD not in text and KEY_PASSWORD not in text
    environment = credential_environment(base)
    assert {name: environment[name] for name in KAFKA_ENV.values()} == kafka_environment(base) == {
        KAFKA_ENV["password"]: PASSWORD, KAFKA_ENV["key_password"]: KEY_PASSWORD}
    loaded = parse_config(text, environ=environment).config.kafka
    assert loaded.model_dump() == base.model_dump()
    assert loaded.sasl is not None and loaded.sasl.password.get_secret_value() == PASSWORD
    assert kafka_document(KafkaSettings()) == {"bootstrap_servers": "127.0.0.1:9092",
                                               "security_protocol": "PLAINTEXT"}
    assert kafka_environment(KafkaSettings()) == {}

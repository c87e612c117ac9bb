"""The configuration the chart renders is one the service accepts (schemas.config_file, the loader every command
uses), takes its credentials only from the existing Secret as ${NAME} references, carries the Kafka security keys
exactly as the configuration defines them, and rolls the pods when it changes."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import yaml

from schemas.config_file import parse_config
from tests.helm.chart import ALL_ON, REFERENCE, RELEASE, container, environment_for, pod_spec, render


@pytest.mark.parametrize("values", [(), (str(ALL_ON),)], ids=["default", "all-on"])
def test_the_rendered_configuration_is_valid_for_the_service(values: tuple[str, ...]) -> None:
    text = render(*values).config_text()
    loaded = parse_config(text, source="rendered", environ=environment_for(text))
    # The loader counts every key under web_access as a secret, so a manual seller's (non-secret) email warns too.
    warnings = [warning for warning in loaded.warnings if ".web_access.email: " not in warning]
    assert warnings == [], "a secret written in the rendered file"
    config = loaded.config
    assert (config.worker.web_port, config.worker.state_dir) == (6066, "/var/lib/fulfillsync/state")
    assert (config.web.host, config.web.port, config.worker.web_host) == ("0.0.0.0", 8080, "0.0.0.0")
    assert config.worker.group_instance_id == f"{RELEASE}-fulfillsync-worker-0"


def test_kafka_security_is_rendered_as_the_configuration_defines_it() -> None:
    kafka = render(str(ALL_ON)).config()["kafka"]
    assert {key: kafka[key] for key in ("security_protocol", "sasl", "ssl")} == {
        "security_protocol": "SASL_SSL",
        "sasl": {"mechanism": "SCRAM-SHA-512", "username": "fulfillsync", "password": "${KAFKA_PASSWORD}"},
        "ssl": {"ca_file": "/etc/fulfillsync/kafka-tls/ca.crt", "cert_file": "/etc/fulfillsync/kafka-tls/client.crt",
                "key_file": "/etc/fulfillsync/kafka-tls/client.key", "key_password": "${KAFKA_KEY_PASSWORD}",
                "check_hostname": True},
    }
    plain = render().config()["kafka"]
    assert plain["security_protocol"] == "PLAINTEXT" and "sasl" not in plain and "ssl" not in plain


def test_the_tls_files_named_in_the_configuration_are_mounted_from_their_secrets() -> None:
    rendered = render(str(ALL_ON), sets=("topics.mode=job",))
    ssl = rendered.config()["kafka"]["ssl"]
    for kind in ("StatefulSet", "Deployment", "Job"):
        workload = rendered.one(kind)
        [volume] = [v for v in pod_spec(workload)["volumes"] if v["name"] == "kafka-tls"]
        [mount] = [m for m in container(workload)["volumeMounts"] if m["name"] == "kafka-tls"]
        assert mount["readOnly"] is True
        files = {f"{mount['mountPath']}/{item['path']}": (source["secret"]["name"], item["key"])
                 for source in volume["projected"]["sources"] for item in source["secret"]["items"]}
        assert files == {ssl["ca_file"]: ("prod-kafka-cluster-ca-cert", "ca.crt"),
                         ssl["cert_file"]: ("fulfillsync-kafka-user", "user.crt"),
                         ssl["key_file"]: ("fulfillsync-kafka-user", "user.key")}, kind


def test_tls_with_the_systems_cas_mounts_nothing() -> None:
    rendered = render(sets=("kafkaSecurity.protocol=SSL",))
    assert rendered.config()["kafka"]["ssl"] == {"check_hostname": True}
    assert all(v["name"] != "kafka-tls" for v in pod_spec(rendered.one("StatefulSet"))["volumes"])
    ca_only = render(sets=("kafkaSecurity.protocol=SASL_SSL", "kafkaSecurity.sasl.username=u",
                           "kafkaSecurity.tls.caSecretName=cluster-ca")).config()["kafka"]
    assert ca_only["ssl"] == {"ca_file": "/etc/fulfillsync/kafka-tls/ca.crt", "check_hostname": True}


def test_every_pod_gets_the_secret_and_its_pod_name_and_no_credential_in_the_manifests() -> None:
    rendered = render(str(ALL_ON), sets=("topics.mode=job",))
    for kind in ("StatefulSet", "Deployment", "Job"):
        spec = container(rendered.one(kind))
        assert spec["envFrom"] == [{"secretRef": {"name": "fulfillsync-prod"}}], kind
        variables = {item["name"]: item for item in spec["env"]}
        assert variables["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    text = rendered.config_text()
    assert set(REFERENCE.findall(text)) == {
        "POD_NAME", "FULFILLSYNC_WEB_SECRET", "SMTP_PASSWORD", "ACME_SHOPIFY_TOKEN", "ACME_SHOPIFY_WEBHOOK_SECRET",
        "SHOP_BC_TOKEN", "SHOP_WEB_HASH", "MAKER_WEB_HASH", "KAFKA_PASSWORD", "KAFKA_KEY_PASSWORD"}
    assert [m["kind"] for m in rendered if m["kind"] == "Secret"] == [], "the chart never makes a Secret"


def test_standby_replicas_and_static_membership_come_from_the_values() -> None:
    worker = render(str(ALL_ON)).config()["worker"]
    assert (worker["standby_replicas"], worker["group_instance_id"]) == (1, "${POD_NAME}")
    dynamic = render(sets=("worker.staticMembership=false", "worker.standbyReplicas=2")).config()["worker"]
    assert "group_instance_id" not in dynamic and dynamic["standby_replicas"] == 2


def checksums(values: tuple[str, ...], sets: tuple[str, ...]) -> set[str]:
    rendered = render(*values, sets=sets)
    return {workload["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
            for workload in (rendered.one("StatefulSet"), rendered.one("Deployment"))}


def test_a_configuration_change_rolls_the_workers_and_the_web_app() -> None:
    [before] = checksums((), ())
    [after] = checksums((), ("config.polling.interval=10m",))
    assert before != after
    assert checksums((), ("worker.resources.requests.cpu=2",)) == {before}, "not a configuration change"
    assert before == hashlib.sha256(render().config_text().rstrip("\n").encode()).hexdigest()


def test_values_keep_the_configuration_files_own_spelling() -> None:
    config: dict[str, Any] = yaml.safe_load(render(str(ALL_ON)).config_text())
    assert config["web"]["smtp"]["from"] == "orders@example.com"
    assert config["routes"][1] == {"buyer": "shop-bc", "seller": "maker", "skus": ["MAKER-*"]}

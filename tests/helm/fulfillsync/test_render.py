"""helm/fulfillsync renders and lints, with the default values and with every option on (ci/all-on-values.yaml),
and refuses with a message naming the value what would only fail once pods run: more workers than partitions, a
credential written in the values, a key the chart owns, a typo (values.schema.json)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from schemas.config_file import parse_config
from tests.helm.chart import (
    ALL_ON,
    CHART,
    HELM,
    NAMESPACE,
    RELEASE,
    REPO,
    environment_for,
    helm,
    helm_binary,
    pinned_helm_version,
    render,
    render_error,
)


def test_the_pinned_helm_is_the_one_the_makefile_installs() -> None:
    assert helm_binary() == HELM
    assert pinned_helm_version() == "v4.3.2"


@pytest.mark.parametrize("values", [(), (str(ALL_ON),)], ids=["default", "all-on"])
def test_helm_lint_strict_passes(values: tuple[str, ...]) -> None:
    args = ["lint", "--strict", str(CHART)] + [arg for file in values for arg in ("--values", file)]
    done = helm(*args)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout


def test_the_default_values_render_the_worker_the_web_app_and_the_topics_job() -> None:
    kinds = Counter(manifest["kind"] for manifest in render())
    assert kinds == Counter({"ConfigMap": 2, "ServiceAccount": 1, "StatefulSet": 1, "Service": 3, "Deployment": 1,
                             "PodDisruptionBudget": 2, "Job": 1})


def test_every_option_on_renders_every_optional_resource() -> None:
    kinds = Counter(manifest["kind"] for manifest in render(str(ALL_ON)))
    assert kinds == Counter({"ConfigMap": 2, "ServiceAccount": 1, "StatefulSet": 1, "Service": 3, "Deployment": 1,
                             "PodDisruptionBudget": 2, "Ingress": 2, "KafkaTopic": 17, "ServiceMonitor": 1,
                             "PrometheusRule": 1, "ScaledObject": 1, "TriggerAuthentication": 1, "NetworkPolicy": 2})
    with_job = Counter(m["kind"] for m in render(str(ALL_ON), sets=("topics.mode=job",)))
    assert with_job["Job"] == 1 and with_job["NetworkPolicy"] == 3 and with_job["KafkaTopic"] == 0


def test_the_web_app_can_be_left_out() -> None:
    kinds = Counter(m["kind"] for m in render(sets=("web.enabled=false",)))
    assert kinds["Deployment"] == 0 and kinds["Service"] == 2 and kinds["PodDisruptionBudget"] == 1


def test_more_workers_than_partitions_fail_the_rendering() -> None:
    message = render_error(sets=("worker.replicas=7",))
    assert "worker.replicas (7) exceeds config.kafka.partitions (6)" in message
    message = render_error(str(ALL_ON), sets=("autoscaling.maxReplicas=13",))
    assert "autoscaling.maxReplicas (13) exceeds config.kafka.partitions (12)" in message
    render(sets=("worker.replicas=6",))  # as many as partitions is fine


@pytest.mark.parametrize(("assignment", "key"), [
    ("config.connections[0].credentials.access_token=shpat_123", "connections[0].credentials.access_token"),
    ("config.connections[0].webhook_secret=hunter2", "connections[0].webhook_secret"),
    ("config.web.session_secret=0123456789abcdef0123456789abcdef", "web.session_secret"),
])
def test_a_secret_written_in_the_values_fails_the_rendering(assignment: str, key: str) -> None:
    sets = ("config.connections[0].id=acme", "config.connections[0].partner=acme",
            "config.connections[0].role=seller", "config.connections[0].platform=shopify",
            "config.connections[0].base_url=https://acme.example", "config.connections[0].credentials.access_token="
            "${ACME_TOKEN}", assignment)
    message = render_error(sets=sets)
    assert f"config.{key}: write a ${{NAME}} reference to a key of the Secret" in message


@pytest.mark.parametrize("key", ["worker.state_dir", "worker.web_port", "web.port", "worker.group_instance_id",
                                 "kafka.security_protocol"])
def test_keys_the_chart_sets_are_refused_in_config(key: str) -> None:
    message = render_error(sets=(f"config.{key}=x",))
    assert f"config.{key}: set by the chart" in message


def test_the_web_app_needs_its_session_secret() -> None:
    message = render_error(sets=("config.web.session_secret=null",))
    assert "config.web.session_secret: the web app needs it" in message
    render(sets=("config.web.session_secret=null", "web.enabled=false"))


def test_values_schema_refuses_unknown_keys_and_wrong_types() -> None:
    assert "additional properties 'replicaz' not allowed" in render_error(sets=("worker.replicaz=3",))
    assert "kafkaSecurity/protocol" in render_error(sets=("kafkaSecurity.protocol=TLS",))
    assert "topics/mode" in render_error(sets=("topics.mode=operator",))


def test_tls_files_need_a_tls_protocol() -> None:
    assert "kafkaSecurity.tls: TLS files with protocol SASL_PLAINTEXT would not be used" in render_error(
        sets=("kafkaSecurity.protocol=SASL_PLAINTEXT", "kafkaSecurity.sasl.username=u",
              "kafkaSecurity.tls.caSecretName=ca"))


def test_sasl_needs_a_user_and_strimzi_a_cluster() -> None:
    assert "kafkaSecurity.sasl.username: required with protocol SASL_SSL" in render_error(
        sets=("kafkaSecurity.protocol=SASL_SSL",))
    assert "topics.strimzi.clusterName" in render_error(sets=("topics.mode=strimzi",))


def test_install_notes_say_where_things_are() -> None:
    done = helm("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client", "--values", str(ALL_ON))
    assert done.returncode == 0, done.stderr
    notes = done.stdout.split("NOTES:", 1)[1]
    assert f"rollout status statefulset/{RELEASE}-fulfillsync-worker" in notes
    assert "https://hooks.example.com/webhooks/<connection id>" in notes
    assert "https://orders.example.com/" in notes and "fulfillsync-prod" in notes


def test_the_values_of_the_deploy_guide_render(tmp_path: Path) -> None:
    guide = (REPO / "docs" / "deploy.md").read_text()
    [example] = [block for block in re.findall(r"```yaml\n(.*?)```", guide, re.DOTALL)
                 if block.startswith("# my-values.yaml")]
    values = tmp_path / "my-values.yaml"
    values.write_text(example)
    rendered = render(str(values))
    assert rendered.one("Ingress", "-webhooks")["spec"]["rules"][0]["host"] == "hooks.example.com"
    text = rendered.config_text()
    assert parse_config(text, source="guide", environ=environment_for(text)).config.connections
    [strimzi] = [block for block in re.findall(r"```yaml\n(.*?)```", guide, re.DOTALL)
                 if block.startswith("kafkaSecurity:")]
    (tmp_path / "strimzi.yaml").write_text(strimzi)
    kafka = render(str(values), str(tmp_path / "strimzi.yaml")).config()["kafka"]
    assert kafka["ssl"]["cert_file"] == "/etc/fulfillsync/kafka-tls/client.crt"

"""Every manifest the chart renders is valid for the Kubernetes API, checked offline: built-in kinds against the
OpenAPI schemas kubernetes-validate ships for the pinned versions (strict: no unknown field), custom resources
(ServiceMonitor, PrometheusRule, ScaledObject, TriggerAuthentication, KafkaTopic) against their CRDs' schemas
vendored in tests/helm/crd_schemas/ (its NOTICE.md says where from)."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate  # type: ignore[import-untyped]  # no type hints shipped
import pytest
import yaml

from tests.helm.chart import ALL_ON, CHART, KUBERNETES_VERSIONS, Manifest, render

SCHEMAS = Path(__file__).resolve().parents[1] / "crd_schemas"
CUSTOM_RESOURCES = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com/servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com/prometheusrule_v1.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh/scaledobject_v1alpha1.json",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh/triggerauthentication_v1alpha1.json",
    ("kafka.strimzi.io/v1beta2", "KafkaTopic"): "kafka.strimzi.io/kafkatopic_v1beta2.json",
}
RENDERINGS = {
    "default": ((), ()),
    "all-on": ((str(ALL_ON),), ()),
    "all-on, topics job": ((str(ALL_ON),), ("topics.mode=job",)),
    "ssl, no autoscaling": ((), ("kafkaSecurity.protocol=SSL", "kafkaSecurity.tls.caSecretName=kafka-ca",
                                 "worker.staticMembership=false", "web.enabled=false", "networkPolicy.enabled=true")),
}
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@functools.cache
def crd_validator(file: str) -> jsonschema.protocols.Validator:
    schema: dict[str, Any] = json.loads((SCHEMAS / file).read_text())
    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)
    # The schema against its meta-schema, without checking `pattern`s as Python regexes: a CRD's patterns are Go's
    # (Prometheus Operator's `^(?i)(abort|warn)?$` has a flag Python's re refuses after the anchor).
    assert not list(validator_class(validator_class.META_SCHEMA).iter_errors(schema)), file
    validator: jsonschema.protocols.Validator = validator_class(schema)
    return validator


def problems(manifest: Manifest, version: str) -> list[str]:
    """What is wrong with `manifest` for Kubernetes `version` (empty when it is valid)."""
    name = f"{manifest['kind']} {manifest['metadata']['name']}"
    found = [f"{name}: metadata.name is not a DNS subdomain"] if not DNS_SUBDOMAIN.match(
        manifest["metadata"]["name"]) or len(manifest["metadata"]["name"]) > 253 else []
    schema_file = CUSTOM_RESOURCES.get((manifest["apiVersion"], manifest["kind"]))
    if schema_file is not None:
        return found + [f"{name}: {'/'.join(map(str, error.absolute_path))}: {error.message}"
                        for error in crd_validator(schema_file).iter_errors(manifest)]
    try:
        kubernetes_validate.validate(manifest, version, strict=True)
    except kubernetes_validate.ValidationError as error:
        found.append(f"{name}: {'/'.join(map(str, error.absolute_path))}: {error.message}")
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("rendering", list(RENDERINGS))
def test_every_manifest_is_valid_for_the_kubernetes_api(rendering: str, version: str) -> None:
    values, sets = RENDERINGS[rendering]
    rendered = render(*values, sets=sets, kube_version=version)
    assert [problem for manifest in rendered for problem in problems(manifest, version)] == []


def test_the_validation_catches_what_the_api_server_would_refuse() -> None:
    statefulset = dict(render().one("StatefulSet"))
    wrong = {**statefulset, "spec": {**statefulset["spec"], "podManagementPolicy": "parallel", "replica": 3}}
    found = problems(wrong, KUBERNETES_VERSIONS[-1])
    assert found, "a misspelt field and a wrong enum value passed"
    topic = render(str(ALL_ON)).of_kind("KafkaTopic")[0]
    assert problems({**topic, "spec": {**topic["spec"], "partition": 3}}, KUBERNETES_VERSIONS[-1])


def test_every_kind_rendered_has_a_schema_for_each_pinned_version() -> None:
    kinds = {(m["apiVersion"], m["kind"]) for values, sets in RENDERINGS.values() for m in render(*values, sets=sets)}
    assert set(CUSTOM_RESOURCES) <= kinds
    for version in KUBERNETES_VERSIONS:
        assert f"{version}" in kubernetes_validate.utils.all_versions()


def test_the_oldest_version_validated_is_the_charts_minimum() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == f">={KUBERNETES_VERSIONS[0]}-0"


def test_the_vendored_schemas_name_their_source_version_and_licence() -> None:
    notice = (SCHEMAS / "NOTICE.md").read_text()
    assert "https://github.com/datreeio/CRDs-catalog" in notice and "MIT" in notice and (SCHEMAS / "LICENSE").exists()
    for file in CUSTOM_RESOURCES.values():
        assert (SCHEMAS / file).exists() and file in notice, file

"""The chart's monitoring speaks of metrics that exist: every fulfillsync_* series its alerts and dashboard query is
one the worker registers (read from a worker app built from the code; tests/helm/fulfillsync/test_monitoring_worker.py
checks the same on a worker's /metrics after a real run), the others come from Prometheus itself (`up`) and
kube-state-metrics; every expression is valid PromQL and the rules are a valid rule group file; the alerts the
operator needs are there; the ServiceMonitor scrapes the workers' port."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.metrics_core import Metric

from schemas.config import Config
from streams.app import create_app
from tests.helm.chart import ALL_ON, NAMESPACE, RELEASE, render
from tests.helm.promql import grafana_to_promql, parse, rule_file_problems, series

EXTERNAL = {"up", "kube_pod_container_status_restarts_total"}
"""Series from Prometheus itself (`up`, one per scrape target) and kube-state-metrics (restarts): the workers cannot
export them."""
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",), "info": ("_info",)}
ALERTS = {"FulfillsyncWorkerDown", "FulfillsyncNoMetrics", "FulfillsyncDeadLetters", "FulfillsyncPollsFailing",
          "FulfillsyncNoPolls", "FulfillsyncPollsStale", "FulfillsyncPlatformErrors", "FulfillsyncWorkerRestarts",
          "FulfillsyncConsumerLag", "FulfillsyncRetryBacklog", "FulfillsyncOrdersStuck"}
"""Every alert of the chart; docs/operations.md has a section for each."""


def exported_series(tmp_path: Path) -> set[str]:
    """The series names the worker's registry can expose (counters with `_total`, histograms' `_bucket`, `_count`,
    `_sum`)."""
    service = create_app(Config.model_validate({"worker": {"state_dir": str(tmp_path / "state")}}))
    families: list[Metric] = list(service.registry.collect())
    return {family.name + suffix for family in families for suffix in SUFFIXES.get(family.type, ("",))}


def queried_series(expressions: list[str]) -> set[str]:
    return series(expressions)


def rules() -> list[dict[str, Any]]:
    [rule] = render(str(ALL_ON)).of_kind("PrometheusRule")
    return [item for group in rule["spec"]["groups"] for item in group["rules"]]


def dashboard() -> dict[str, Any]:
    [configmap] = [m for m in render(str(ALL_ON)).of_kind("ConfigMap") if m["metadata"]["name"].endswith("-dashboard")]
    loaded: dict[str, Any] = json.loads(configmap["data"]["fulfillsync.json"])
    return loaded


def expressions() -> list[str]:
    """Every PromQL expression of the alerts and of the dashboard's panels (Grafana's variables filled in)."""
    return [rule["expr"] for rule in rules()] + [grafana_to_promql(target["expr"]) for panel in dashboard()["panels"]
                                                 for target in panel["targets"]]


def test_every_fulfillsync_series_queried_is_one_the_worker_exports(tmp_path: Path) -> None:
    exported = exported_series(tmp_path)
    assert {"fulfillsync_dead_letters_total", "fulfillsync_polls_total", "fulfillsync_poll_failing",
            "fulfillsync_platform_request_seconds_count", "process_resident_memory_bytes"} <= exported
    queried = queried_series(expressions())
    assert queried - EXTERNAL <= exported, f"not exported by the worker: {sorted(queried - EXTERNAL - exported)}"
    assert queried >= EXTERNAL


def test_every_expression_is_valid_promql_and_the_rules_a_valid_rule_file() -> None:
    for expression in expressions():
        parse(expression)
    [rule] = render(str(ALL_ON)).of_kind("PrometheusRule")
    assert rule_file_problems(rule["spec"]) == []
    [defaults] = render(sets=("prometheusRule.enabled=true", "prometheusRule.consumerLag.enabled=false"))\
        .of_kind("PrometheusRule")
    assert rule_file_problems(defaults["spec"]) == []
    assert {r["alert"] for g in defaults["spec"]["groups"] for r in g["rules"]} == ALERTS - {"FulfillsyncConsumerLag"}


@pytest.mark.parametrize("document", [
    {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "sum(x"}]}]},
    {"groups": [{"name": "g", "rules": [{"alert": "A", "record": "b", "expr": "x"}]}]},
    {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "x", "for": "ten minutes"}]}]},
    {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "x", "labels": {"severity": 3}}]}]},
    {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "x", "summary": "at the wrong level"}]}]},
    {"groups": [{"name": "g", "rules": []}, {"name": "g", "rules": []}]},
    {"rules": []},
])
def test_the_rule_file_check_finds_what_prometheus_would_refuse(document: dict[str, Any]) -> None:
    assert rule_file_problems(document)


def test_the_alerts_an_operator_needs_are_there() -> None:
    by_name = {rule["alert"]: rule for rule in rules()}
    assert set(by_name) == ALERTS
    # three poll intervals of the configuration (all-on: 5m)
    assert "[900s]" in by_name["FulfillsyncNoPolls"]["expr"]
    assert "> 900" in by_name["FulfillsyncPollsStale"]["expr"]
    assert "fulfillsync_consumer_lag{" in by_name["FulfillsyncConsumerLag"]["expr"]
    assert by_name["FulfillsyncConsumerLag"]["for"] == "20m"
    stuck = by_name["FulfillsyncOrdersStuck"]["expr"]
    assert 'age="7d"' in stuck and "> 5" in stuck
    assert 'outcome!="ok"' in by_name["FulfillsyncPlatformErrors"]["expr"]
    assert "absent(fulfillsync_build_info{" in by_name["FulfillsyncNoMetrics"]["expr"]
    assert f'pod=~"{RELEASE}-fulfillsync-worker-[0-9]+"' in by_name["FulfillsyncWorkerRestarts"]["expr"]
    selector = f'{{namespace="{NAMESPACE}",job="{RELEASE}-fulfillsync-worker-headless"}}'
    assert selector in by_name["FulfillsyncDeadLetters"]["expr"]
    for rule in by_name.values():
        assert rule["labels"]["severity"] and rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_a_short_poll_interval_still_gets_a_five_minute_window() -> None:
    [rule] = render(str(ALL_ON), sets=("config.polling.interval=30s",)).of_kind("PrometheusRule")
    [no_polls] = [r for g in rule["spec"]["groups"] for r in g["rules"] if r["alert"] == "FulfillsyncNoPolls"]
    assert "[300s]" in no_polls["expr"]


def test_the_servicemonitor_scrapes_every_workers_metrics_port() -> None:
    rendered = render(str(ALL_ON))
    monitor = rendered.one("ServiceMonitor")
    headless = rendered.one("Service", "-worker-headless")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= headless["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["path"] == "/metrics" and endpoint["port"] in {p["name"] for p in headless["spec"]["ports"]}
    # the alerts' default selector names the job the ServiceMonitor makes: the Service's name
    assert f'job="{headless["metadata"]["name"]}"' in rules()[0]["expr"]


def test_the_dashboard_is_filled_in_for_the_release() -> None:
    board = dashboard()
    variables = {item["name"]: item for item in board["templating"]["list"]}
    assert variables["namespace"]["query"] == NAMESPACE
    assert variables["job"]["query"] == f"{RELEASE}-fulfillsync-worker-headless"
    assert "__" not in json.dumps(board).replace("$__rate_interval", ""), "a placeholder left in the dashboard"
    assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])


def test_monitoring_and_autoscaling_are_off_by_default() -> None:
    kinds = {m["kind"] for m in render()}
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "ScaledObject"}
    assert not [m for m in render().of_kind("ConfigMap") if m["metadata"]["name"].endswith("-dashboard")]

"""The chart's monitoring speaks of metrics that exist: every fulfillsync_* series its alerts and dashboard query is
one the worker registers (read from a worker app built from the code), the others come from the two exporters
named in values.yaml; the alerts the operator needs are there; the ServiceMonitor scrapes the workers' port."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.metrics_core import Metric

from schemas.config import Config
from streams.app import create_app
from tests.helm.chart import ALL_ON, NAMESPACE, RELEASE, render

SERIES = re.compile(r"\b([a-z_]+_[a-z_]+)(?=\{|\[|\))")
EXTERNAL = {"kafka_consumergroup_lag", "kube_pod_container_status_restarts_total"}
"""Series from a Kafka exporter (lag) and kube-state-metrics (restarts): the workers cannot export them."""
PROMQL_WORDS = {"sum", "max", "rate", "increase", "by", "on", "and"}


def exported_series(tmp_path: Path) -> set[str]:
    """The series names the worker's registry exposes (counters with their _total suffix)."""
    service = create_app(Config.model_validate({"worker": {"state_dir": str(tmp_path / "state")}}))
    families: list[Metric] = list(service.registry.collect())
    return {family.name + ("_total" if family.type == "counter" else "") for family in families}


def queried_series(expressions: list[str]) -> set[str]:
    return {name for expression in expressions for name in SERIES.findall(expression)} - PROMQL_WORDS


def rules() -> list[dict[str, Any]]:
    [rule] = render(str(ALL_ON)).of_kind("PrometheusRule")
    return [item for group in rule["spec"]["groups"] for item in group["rules"]]


def dashboard() -> dict[str, Any]:
    [configmap] = [m for m in render(str(ALL_ON)).of_kind("ConfigMap") if m["metadata"]["name"].endswith("-dashboard")]
    loaded: dict[str, Any] = json.loads(configmap["data"]["fulfillsync.json"])
    return loaded


def test_every_fulfillsync_series_queried_is_one_the_worker_exports(tmp_path: Path) -> None:
    exported = exported_series(tmp_path)
    assert {"fulfillsync_dead_letters_total", "fulfillsync_polls_total", "fulfillsync_poll_failing"} <= exported
    expressions = [rule["expr"] for rule in rules()] + [target["expr"] for panel in dashboard()["panels"]
                                                        for target in panel["targets"]]
    queried = queried_series(expressions)
    assert queried - EXTERNAL <= exported, f"not exported by the worker: {sorted(queried - EXTERNAL - exported)}"
    assert queried >= EXTERNAL


def test_the_alerts_an_operator_needs_are_there() -> None:
    by_name = {rule["alert"]: rule for rule in rules()}
    assert set(by_name) == {"FulfillsyncDeadLetters", "FulfillsyncPollsFailing", "FulfillsyncNoPolls",
                            "FulfillsyncWorkerRestarts", "FulfillsyncConsumerLag"}
    # three poll intervals of the configuration (all-on: 5m)
    assert "[900s]" in by_name["FulfillsyncNoPolls"]["expr"]
    assert 'consumergroup="shop-sync-ledger"' in by_name["FulfillsyncConsumerLag"]["expr"]
    assert f'pod=~"{RELEASE}-fulfillsync-worker-[0-9]+"' in by_name["FulfillsyncWorkerRestarts"]["expr"]
    selector = f'{{namespace="{NAMESPACE}",job="{RELEASE}-fulfillsync-worker-headless"}}'
    assert selector in by_name["FulfillsyncDeadLetters"]["expr"]
    for rule in by_name.values():
        assert rule["labels"]["severity"] and rule["annotations"]["summary"]
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]


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
    assert variables["group"]["query"] == "shop-sync-ledger"
    assert variables["job"]["query"] == f"{RELEASE}-fulfillsync-worker-headless"
    assert "__" not in json.dumps(board).replace("$__rate_interval", ""), "a placeholder left in the dashboard"
    assert len({panel["id"] for panel in board["panels"]}) == len(board["panels"])


def test_monitoring_and_autoscaling_are_off_by_default() -> None:
    kinds = {m["kind"] for m in render()}
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "ScaledObject"}
    assert not [m for m in render().of_kind("ConfigMap") if m["metadata"]["name"].endswith("-dashboard")]

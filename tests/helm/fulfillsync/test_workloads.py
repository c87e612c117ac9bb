"""What the chart promises about its workloads: the worker a StatefulSet with its state volume, a grace period above
the measured shutdown, probes that fit a stream processor; every pod locked down (non-root, read-only root, no
capabilities, a writable /tmp) with resources, spread, disruption budgets; only /webhooks/ public on the worker;
KEDA capped at the partitions; NetworkPolicies open on each pod's port only."""

from __future__ import annotations

import pytest

from schemas.topics import TopicNames
from streams.kit.worker_app import SHUTDOWN_WAIT_S
from tests.helm.chart import ALL_ON, RELEASE, Manifest, Rendered, container, pod_spec, render

MEASURED_SLOWEST_STOP_S = 12.3
"""The slowest clean shutdown of a worker under load measured by bench/deploy_timings.py (docs/deploy.md,
"Stopping"): SIGTERM while a poll is stuck on a slow store, so it waits its whole SHUTDOWN_WAIT_S."""


def workloads(rendered: Rendered) -> list[Manifest]:
    return [*rendered.of_kind("StatefulSet"), *rendered.of_kind("Deployment"), *rendered.of_kind("Job")]


def probe(workload: Manifest, kind: str) -> Manifest:
    found: Manifest = container(workload)[kind]
    return found


def test_the_worker_is_a_parallel_statefulset_with_its_state_on_a_volume() -> None:
    rendered = render()
    statefulset = rendered.one("StatefulSet")
    spec = statefulset["spec"]
    assert spec["podManagementPolicy"] == "Parallel" and spec["replicas"] == 3
    headless = rendered.one("Service", "-worker-headless")
    assert spec["serviceName"] == headless["metadata"]["name"] and headless["spec"]["clusterIP"] == "None"
    [claim] = spec["volumeClaimTemplates"]
    [mount] = [m for m in container(statefulset)["volumeMounts"] if m["name"] == claim["metadata"]["name"]]
    assert mount["mountPath"] == rendered.config()["worker"]["state_dir"] == "/var/lib/fulfillsync/state"
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_the_web_app_keeps_its_read_model_on_a_volume_of_its_own() -> None:
    rendered = render(sets=("web.store.sizeLimit=8Gi",))
    web = rendered.one("Deployment")
    [mount] = [m for m in container(web)["volumeMounts"] if m["name"] == "store"]
    assert mount["mountPath"] == rendered.config()["web"]["store_dir"] == "/var/lib/fulfillsync/web"
    [volume] = [v for v in pod_spec(web)["volumes"] if v["name"] == "store"]
    assert volume["emptyDir"] == {"sizeLimit": "8Gi"}


def test_the_grace_period_covers_the_measured_shutdown_with_margin() -> None:
    spec = pod_spec(render().one("StatefulSet"))
    pause = container(render().one("StatefulSet"))["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert MEASURED_SLOWEST_STOP_S > SHUTDOWN_WAIT_S
    assert spec["terminationGracePeriodSeconds"] >= pause + 2 * MEASURED_SLOWEST_STOP_S


def test_probes_fit_a_stream_processor() -> None:
    worker = render().one("StatefulSet")
    startup, liveness, readiness = (probe(worker, kind) for kind in ("startupProbe", "livenessProbe",
                                                                      "readinessProbe"))
    # startup waits for the first table recovery, for as long as worker.startupTimeoutSeconds allows
    assert startup["httpGet"]["path"] == "/readyz"
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 1800
    # liveness asks only whether the event loop answers: a recovery of any length never fails it
    assert liveness["httpGet"]["path"] == "/healthz"
    # readiness stays 200 through rebalances and without partitions (streams/web/health.py), 503 when stopping
    assert readiness["httpGet"]["path"] == "/readyz"
    web = render().one("Deployment")
    assert probe(web, "livenessProbe")["httpGet"]["path"] == "/healthz"
    assert probe(web, "readinessProbe")["httpGet"]["path"] == "/readyz"
    assert probe(web, "startupProbe")["httpGet"]["path"] == "/healthz"


@pytest.mark.parametrize("values", [(), (str(ALL_ON),)], ids=["default", "all-on"])
def test_every_pod_runs_locked_down_with_a_writable_tmp_and_resources(values: tuple[str, ...]) -> None:
    rendered = render(*values, sets=("topics.mode=job",))
    for workload in workloads(rendered):
        name = workload["metadata"]["name"]
        pod = pod_spec(workload)
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001, name
        assert pod["automountServiceAccountToken"] is False, name
        spec = container(workload)
        security = spec["securityContext"]
        assert security["readOnlyRootFilesystem"] is True and security["allowPrivilegeEscalation"] is False, name
        assert security["capabilities"] == {"drop": ["ALL"]}, name
        [tmp] = [m for m in spec["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert next(v for v in pod["volumes"] if v["name"] == tmp["name"])["emptyDir"], name
        assert spec["resources"]["requests"]["cpu"] and spec["resources"]["limits"]["memory"], name


def test_workers_and_web_pods_spread_and_have_disruption_budgets() -> None:
    rendered = render()
    for workload in (rendered.one("StatefulSet"), rendered.one("Deployment")):
        labels = workload["spec"]["selector"]["matchLabels"]
        keys = [c["topologyKey"] for c in pod_spec(workload)["topologySpreadConstraints"]]
        assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
        [budget] = [b for b in rendered.of_kind("PodDisruptionBudget")
                    if b["spec"]["selector"]["matchLabels"] == labels]
        assert budget["spec"]["maxUnavailable"] == 1
    assert rendered.one("Deployment")["spec"]["replicas"] == 2


def test_only_webhooks_are_public_on_the_worker() -> None:
    rendered = render(str(ALL_ON))
    ingress = rendered.one("Ingress", "-webhooks")
    [rule] = ingress["spec"]["rules"]
    assert [(p["path"], p["pathType"]) for p in rule["http"]["paths"]] == [("/webhooks/", "Prefix")]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    service = rendered.one("Service", "-worker")
    assert backend["name"] == service["metadata"]["name"]
    assert service["spec"]["selector"] == rendered.one("StatefulSet")["spec"]["selector"]["matchLabels"]
    assert rendered.one("Ingress", "-web")["spec"]["rules"][0]["http"]["paths"][0]["path"] == "/"


def test_keda_scales_the_workers_on_lag_never_beyond_the_partitions() -> None:
    rendered = render(str(ALL_ON))
    scaled = rendered.one("ScaledObject")
    statefulset = rendered.one("StatefulSet")
    assert "replicas" not in statefulset["spec"], "helm would reset what KEDA scaled on every upgrade"
    assert scaled["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "StatefulSet",
                                                "name": statefulset["metadata"]["name"]}
    assert scaled["spec"]["maxReplicaCount"] == rendered.config()["kafka"]["partitions"] == 12
    names = TopicNames("shop-sync")
    assert [t["metadata"]["topic"] for t in scaled["spec"]["triggers"]] == [names.order_events,
                                                                              names.fulfillment_events]
    for trigger in scaled["spec"]["triggers"]:
        assert trigger["metadata"]["consumerGroup"] == names.app_id
        assert trigger["metadata"]["allowIdleConsumers"] == "false"
        assert (trigger["metadata"]["sasl"], trigger["metadata"]["tls"]) == ("scram_sha512", "enable")
        assert trigger["authenticationRef"]["name"] == rendered.one("TriggerAuthentication")["metadata"]["name"]
    auth = rendered.one("TriggerAuthentication")["spec"]
    assert {ref["parameter"]: (ref["name"], ref["key"]) for ref in auth["secretTargetRef"]} == {
        "password": ("fulfillsync-prod", "KAFKA_PASSWORD"), "ca": ("prod-kafka-cluster-ca-cert", "ca.crt"),
        "cert": ("fulfillsync-kafka-user", "user.crt"), "key": ("fulfillsync-kafka-user", "user.key"),
        "keyPassword": ("fulfillsync-prod", "KAFKA_KEY_PASSWORD")}
    [username] = auth["configMapTargetRef"]
    assert rendered.one("ConfigMap", f"{RELEASE}-fulfillsync")["data"][username["key"]] == "fulfillsync"
    default_max = render(str(ALL_ON), sets=("autoscaling.maxReplicas=0",)).one("ScaledObject")
    assert default_max["spec"]["maxReplicaCount"] == 12


def test_network_policies_open_each_pods_port_only_and_let_out_dns_and_kafka() -> None:
    rendered = render(str(ALL_ON), sets=("topics.mode=job",))
    ports = {"worker": 6066, "web": 8080}
    for policy in rendered.of_kind("NetworkPolicy"):
        component = policy["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        if component == "topics":
            assert policy["spec"]["ingress"] == []
        else:
            [rule] = policy["spec"]["ingress"]
            assert [p["port"] for p in rule["ports"]] == [ports[component]] and rule["from"]
        egress = policy["spec"]["egress"]
        assert {"port": 53, "protocol": "UDP"} in egress[0]["ports"]
        assert egress[1]["ports"] == [{"port": 9093, "protocol": "TCP"}] and egress[1]["to"]
        assert (len(egress) == 3) == (component == "worker")  # the stores: workers only

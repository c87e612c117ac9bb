"""The topics the chart creates are the topics the service needs: with `topics.mode: strimzi`, its KafkaTopic
resources carry exactly the names, partitions, replication and configs of `streams.admin.topic_specs` for the
configuration it renders; with `job`, a hook runs `fulfillsync topics create` before install and upgrade; in every
mode the workers start with `--no-create-topics`."""

from __future__ import annotations

import pytest

from schemas.config_file import parse_config
from streams.admin import topic_specs
from tests.helm.chart import ALL_ON, container, environment_for, render

STRIMZI = ("topics.mode=strimzi", "topics.strimzi.clusterName=kafka-prod")
CASES = {
    "default values": ((), STRIMZI),
    "all-on": ((str(ALL_ON),), ()),
    "the configuration's own defaults": ((), (*STRIMZI, *(f"config.kafka.{key}=null" for key in (
        "partitions", "topic_prefix", "retention", "dead_letter_retention", "replication_factor")))),
    "other durations": ((), (*STRIMZI, "config.kafka.retention=36h", "config.kafka.dead_letter_retention=1500000",
                             "config.kafka.partitions=3", "worker.replicas=3", "config.kafka.topic_prefix=Acme_EU")),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_kafkatopics_are_the_topics_fulfillsync_topics_create_makes(case: str) -> None:
    values, sets = CASES[case]
    rendered = render(*values, sets=sets)
    text = rendered.config_text()
    config = parse_config(text, source="rendered", environ=environment_for(text)).config
    expected = {spec.name: (spec.partitions, config.kafka.replication_factor, spec.config)
                for spec in topic_specs(config.kafka)}
    topics = rendered.of_kind("KafkaTopic")
    found = {topic["spec"]["topicName"]: (topic["spec"]["partitions"], topic["spec"]["replicas"],
                                          topic["spec"]["config"]) for topic in topics}
    assert found == expected
    assert len({topic["metadata"]["name"] for topic in topics}) == len(topics), "two KafkaTopics share a name"


def test_kafkatopics_belong_to_the_cluster_and_outlive_the_release() -> None:
    for topic in render(str(ALL_ON)).of_kind("KafkaTopic"):
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "prod-kafka"
        assert topic["metadata"]["namespace"] == "kafka"
        assert topic["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"


def test_job_mode_creates_the_topics_in_a_hook_before_install_and_upgrade() -> None:
    rendered = render()
    job = rendered.one("Job", "-topics")
    hook = job["metadata"]["annotations"]
    assert hook["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert container(job)["args"][-2:] == ["topics", "create"]
    # a hook runs before the release's resources exist: its configuration is a hook of its own, created first
    configmap = rendered.one("ConfigMap", "-topics")
    assert configmap["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(configmap["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(hook["helm.sh/hook-weight"])
    assert rendered.config_text("-topics") == rendered.config_text()
    assert job["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"] == configmap["metadata"]["name"]


@pytest.mark.parametrize("mode", ["job", "strimzi", "none"])
def test_workers_never_create_topics_themselves(mode: str) -> None:
    rendered = render(sets=("topics.mode=" + mode, "topics.strimzi.clusterName=kafka-prod"))
    assert container(rendered.one("StatefulSet"))["args"][-2:] == ["worker", "--no-create-topics"]
    assert bool(rendered.of_kind("Job")) == (mode == "job")
    assert bool(rendered.of_kind("KafkaTopic")) == (mode == "strimzi")

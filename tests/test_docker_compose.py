"""docker-compose.yml, the Dockerfile and config/compose.yaml, checked without a Docker engine.

The compose document is validated against the official Compose Specification JSON Schema (the copy vendored in
check-jsonschema); the rest asserts what that schema cannot know: which broker image, how the broker's listeners
line up with the worker's configuration, that the mounted configuration file exists and is valid, that the
health checks probe the right things, and that every `depends_on` names a service.
"""

from __future__ import annotations

import base64
import copy
import http.server
import importlib.resources
import json
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.validators
import pytest
import yaml
from jsonschema.protocols import Validator

from schemas.config_file import load_config

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
CONFIG_IN_CONTAINER = "/etc/fulfillsync/config.yaml"
KAFKA_4_IMAGE = re.compile(r"^apache/kafka:4\.\d+\.\d+$")


# --- helpers ----------------------------------------------------------------------------------------------------


@cache
def compose_schema() -> dict[str, Any]:
    """The Compose Specification JSON Schema vendored in the installed check-jsonschema."""
    resource = importlib.resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    schema: dict[str, Any] = json.loads(resource.read_text(encoding="utf-8"))
    return schema


DRAFTS: tuple[type[Validator], ...] = (
    jsonschema.Draft4Validator,
    jsonschema.Draft6Validator,
    jsonschema.Draft7Validator,
    jsonschema.Draft201909Validator,
    jsonschema.Draft202012Validator,
)


def _canonical_schema_uri(uri: str) -> str:
    return uri.replace("https://", "http://", 1).rstrip("#")


def validator_class(schema: dict[str, Any]) -> type[Validator]:
    """The validator class for the draft the schema's `$schema` names.

    The vendored file says `https://json-schema.org/draft-07/schema`, which `jsonschema.validators.validator_for`
    does not recognise as written (its registry holds the canonical `http://…#` ids), so scheme and fragment are
    normalised before comparing with each draft's meta-schema id.
    """
    declared = _canonical_schema_uri(str(schema["$schema"]))
    for cls in DRAFTS:
        meta_id = cls.META_SCHEMA.get("$id", cls.META_SCHEMA.get("id", ""))
        if _canonical_schema_uri(str(meta_id)) == declared:
            return cls
    raise LookupError(f"jsonschema has no validator for $schema {schema['$schema']!r}")


@cache
def compose_validator() -> Validator:
    schema = compose_schema()
    cls = validator_class(schema)
    cls.check_schema(schema)
    return cls(schema)


def schema_errors(document: dict[str, Any]) -> list[str]:
    """Every Compose Specification violation in `document`, as `path: message` lines."""
    errors = sorted(compose_validator().iter_errors(document), key=lambda error: error.json_path)
    return [f"{error.json_path}: {error.message}" for error in errors]


def load_compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(document, dict), "docker-compose.yml must be a mapping"
    return document


def service(document: dict[str, Any], name: str) -> dict[str, Any]:
    services = document.get("services") or {}
    assert name in services, f"docker-compose.yml has no service {name!r} (services: {sorted(services)})"
    result: dict[str, Any] = services[name]
    return result


def as_list(value: str | list[str] | None) -> list[str]:
    """A compose command/entrypoint as argv (string form split on whitespace, as compose does without quotes)."""
    if value is None:
        return []
    return value.split() if isinstance(value, str) else [str(part) for part in value]


def effective_argv(spec: dict[str, Any]) -> list[str]:
    """entrypoint + command; the image's ENTRYPOINT is `fulfillsync` when the service does not override it."""
    entrypoint = as_list(spec.get("entrypoint")) if "entrypoint" in spec else ["fulfillsync"]
    return entrypoint + as_list(spec.get("command"))


def unknown_dependencies(document: dict[str, Any]) -> list[str]:
    """`service -> dependency` for every depends_on entry naming no service (or the service itself)."""
    services = document.get("services") or {}
    problems = []
    for name, spec in services.items():
        depends_on = (spec or {}).get("depends_on") or []
        names = list(depends_on) if isinstance(depends_on, dict | list) else []
        problems += [f"{name} -> {dep}" for dep in names if dep not in services or dep == name]
    return problems


def bind_mounts(spec: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """container path -> (source, mode) for the short-syntax volumes of a service."""
    mounts: dict[str, tuple[str, str]] = {}
    for entry in spec.get("volumes") or []:
        if isinstance(entry, dict):
            mounts[str(entry["target"])] = (str(entry.get("source", "")), "ro" if entry.get("read_only") else "rw")
            continue
        source, target, *rest = str(entry).split(":")
        mounts[target] = (source, rest[0] if rest else "rw")
    return mounts


def config_file_of(spec: dict[str, Any]) -> Path:
    """The repository file a service is started with: `--config <path>` resolved through its bind mount."""
    argv = effective_argv(spec)
    assert "--config" in argv, f"the service must be started with --config: {argv}"
    in_container = argv[argv.index("--config") + 1]
    mounts = bind_mounts(spec)
    assert in_container in mounts, f"{in_container} is not mounted into the service (mounts: {sorted(mounts)})"
    source, _mode = mounts[in_container]
    return (REPO / source).resolve()


def environment(spec: dict[str, Any]) -> dict[str, str]:
    env = spec.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(key): str(value) for key, value in env.items()}


def listener_addresses(value: str) -> dict[str, tuple[str, int]]:
    """`NAME://host:port,…` -> {NAME: (host, port)}."""
    result = {}
    for item in value.split(","):
        name, address = item.strip().split("://", 1)
        host, port = address.rsplit(":", 1)
        result[name] = (host, int(port))
    return result


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


# --- the Compose Specification ----------------------------------------------------------------------------------


def test_vendored_schema_is_draft_07_and_selects_draft7_validator() -> None:
    schema = compose_schema()
    assert "draft-07" in schema["$schema"]
    assert validator_class(schema) is jsonschema.Draft7Validator


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    errors = schema_errors(compose)
    assert not errors, "docker-compose.yml violates the Compose Specification:\n" + "\n".join(errors)


@pytest.mark.parametrize(
    ("mutate", "expected_in_error"),
    [
        pytest.param(lambda d: d["services"]["worker"].update(helthcheck={}), "helthcheck", id="unknown-service-key"),
        pytest.param(
            lambda d: d["services"]["kafka"].update(restart_policy="always"),
            "restart_policy",
            id="unknown-service-key-kafka",
        ),
        pytest.param(lambda d: d.update(servics={}), "servics", id="unknown-top-level-key"),
        pytest.param(
            lambda d: d["services"]["worker"]["depends_on"]["topics"].update(condition="service_done"),
            "service_done",
            id="bad-depends-on-condition",
        ),
        pytest.param(
            lambda d: d["services"]["worker"].update(ports={"6066": 6066}),
            "$.services.worker.ports",
            id="ports-not-a-list",
        ),
        pytest.param(
            lambda d: d["services"]["worker"]["healthcheck"].update(interval=10),
            "10 is not of type",
            id="healthcheck-interval-not-a-string",
        ),
    ],
)
def test_schema_validation_rejects_a_broken_copy(
    compose: dict[str, Any], mutate: Callable[[dict[str, Any]], object], expected_in_error: str
) -> None:
    broken = copy.deepcopy(compose)
    mutate(broken)
    errors = schema_errors(broken)
    assert errors, "the broken document was accepted"
    assert any(expected_in_error in error for error in errors), errors


def test_schema_errors_name_the_path(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["topics"]["volumes"] = "./config/compose.yaml"
    errors = schema_errors(broken)
    assert any(error.startswith("$.services.topics.volumes: ") for error in errors), errors


# --- kafka ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "accepted"),
    [
        ("apache/kafka:4.1.1", True),
        ("apache/kafka:4.0.0", True),
        ("apache/kafka:3.9.0", False),
        ("apache/kafka:latest", False),
        ("apache/kafka", False),
        ("bitnami/kafka:4.1.1", False),
        ("apache/kafka-native:4.1.1", False),
    ],
)
def test_kafka_image_rule(image: str, accepted: bool) -> None:
    assert bool(KAFKA_4_IMAGE.match(image)) is accepted


def test_kafka_is_the_official_apache_image_at_4x(compose: dict[str, Any]) -> None:
    image = service(compose, "kafka").get("image", "")
    assert KAFKA_4_IMAGE.match(image), f"kafka must run apache/kafka:4.x.y, not {image!r}"


def test_kafka_runs_single_node_kraft(compose: dict[str, Any]) -> None:
    env = environment(service(compose, "kafka"))
    assert env["KAFKA_NODE_ID"] == "1"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] == "CONTROLLER"
    listeners = listener_addresses(env["KAFKA_LISTENERS"])
    assert listeners["PLAINTEXT"][1] == 9092
    assert listeners["CONTROLLER"][1] == 9093
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert re.fullmatch(r"1@[A-Za-z0-9.-]+:9093", voters), voters
    protocol_map = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) <= set(protocol_map), "every listener needs a security protocol"
    for key in (
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_REPLICATION_FACTOR",
        "KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR",
    ):
        assert env[key] == "1", key
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"].lower() == "false"
    if "CLUSTER_ID" in env:  # Kafka's Uuid: 16 bytes, url-safe base64 without padding
        assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
        assert len(env["CLUSTER_ID"]) == 22


def test_kafka_publishes_9092_to_the_host_and_advertises_it_as_localhost(compose: dict[str, Any]) -> None:
    kafka = service(compose, "kafka")
    assert "9092:9092" in [str(port) for port in kafka.get("ports", [])]
    advertised = listener_addresses(environment(kafka)["KAFKA_ADVERTISED_LISTENERS"])
    assert advertised["PLAINTEXT"] == ("localhost", 9092)


def test_kafka_healthcheck_lists_topics(compose: dict[str, Any]) -> None:
    test = service(compose, "kafka")["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert test[1:] == ["/opt/kafka/bin/kafka-topics.sh", "--bootstrap-server", "localhost:9092", "--list"]


def test_worker_bootstrap_is_an_internal_advertised_listener(compose: dict[str, Any]) -> None:
    """The containers' bootstrap address must be advertised by the broker, under a name they can resolve."""
    kafka = service(compose, "kafka")
    advertised = listener_addresses(environment(kafka)["KAFKA_ADVERTISED_LISTENERS"])
    container_names = {"kafka", kafka.get("hostname"), kafka.get("container_name")} - {None}
    config = load_config(config_file_of(service(compose, "worker")), environ={}).config
    host, port = config.kafka.bootstrap_servers.rsplit(":", 1)
    matching = [name for name, address in advertised.items() if address == (host, int(port))]
    assert matching, f"{config.kafka.bootstrap_servers} is not an advertised listener ({advertised})"
    assert host in container_names, f"containers cannot resolve {host!r}"
    assert matching != ["PLAINTEXT"], "the containers must use the internal listener, not the host's"


# --- topics and worker ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["topics", "worker"])
def test_service_is_built_from_the_repository_dockerfile(compose: dict[str, Any], name: str) -> None:
    build = service(compose, name)["build"]
    context = REPO / (build if isinstance(build, str) else build.get("context", "."))
    dockerfile = context / ("Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile"))
    assert context.resolve() == REPO
    assert dockerfile.is_file(), f"{dockerfile} does not exist"


@pytest.mark.parametrize(
    ("name", "subcommand"),
    [("topics", ["topics", "create"]), ("worker", ["worker"])],
)
def test_service_runs_fulfillsync_with_the_mounted_config(
    compose: dict[str, Any], name: str, subcommand: list[str]
) -> None:
    spec = service(compose, name)
    assert effective_argv(spec) == ["fulfillsync", "--config", CONFIG_IN_CONTAINER, *subcommand]
    _source, mode = bind_mounts(spec)[CONFIG_IN_CONTAINER]
    assert mode == "ro", "the configuration is mounted read-only"
    assert config_file_of(spec) == REPO / "config" / "compose.yaml"


def test_config_mount_must_exist_in_the_repository(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(service(compose, "worker"))
    broken["volumes"] = [f"./config/does-not-exist.yaml:{CONFIG_IN_CONTAINER}:ro"]
    assert not config_file_of(broken).exists()


def test_compose_config_file_validates() -> None:
    loaded = load_config(REPO / "config" / "compose.yaml", environ={})
    config = loaded.config
    assert loaded.warnings == []
    assert config.kafka.topic_prefix == "fulfillsync"
    assert config.kafka.partitions == 6
    assert config.kafka.replication_factor == 1
    assert config.worker.state_dir == "/var/lib/fulfillsync/state"
    assert config.worker.web_port == 6066
    assert config.connections == []
    assert config.routes == []


def test_worker_state_dir_is_a_named_volume(compose: dict[str, Any]) -> None:
    worker = service(compose, "worker")
    config = load_config(config_file_of(worker), environ={}).config
    mounts = bind_mounts(worker)
    assert config.worker.state_dir in mounts, f"{config.worker.state_dir} is not a volume of the worker"
    volume, _mode = mounts[config.worker.state_dir]
    assert volume in (compose.get("volumes") or {}), f"{volume!r} is not a named volume"


def test_worker_publishes_its_web_port(compose: dict[str, Any]) -> None:
    worker = service(compose, "worker")
    port = load_config(config_file_of(worker), environ={}).config.worker.web_port
    assert f"{port}:{port}" in [str(entry) for entry in worker.get("ports", [])]


def test_worker_waits_for_topics_and_topics_for_a_healthy_kafka(compose: dict[str, Any]) -> None:
    assert service(compose, "worker")["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert service(compose, "topics")["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert "healthcheck" in service(compose, "kafka"), "service_healthy needs a healthcheck on kafka"
    assert str(service(compose, "topics").get("restart", "no")) == "no", "a one-shot job must not restart"


def test_every_depends_on_names_a_service(compose: dict[str, Any]) -> None:
    assert unknown_dependencies(compose) == []


def test_unknown_dependency_is_reported(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["depends_on"]["topic"] = {"condition": "service_completed_successfully"}
    broken["services"]["topics"]["depends_on"] = ["topics"]
    assert unknown_dependencies(broken) == ["topics -> topics", "worker -> topic"]


# --- the worker's healthcheck -----------------------------------------------------------------------------------


def worker_healthcheck_code(compose: dict[str, Any]) -> str:
    test = service(compose, "worker")["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"], f"expected an exec-form python -c healthcheck, got {test}"
    code: str = test[3]
    return code


def test_worker_healthcheck_probes_healthz(compose: dict[str, Any]) -> None:
    code = worker_healthcheck_code(compose)
    port = load_config(config_file_of(service(compose, "worker")), environ={}).config.worker.web_port
    assert f"http://localhost:{port}/healthz" in code
    assert "urllib" in code
    compile(code, "<worker healthcheck>", "exec")


@pytest.fixture
def health_server() -> Iterator[tuple[int, list[int]]]:
    """A local HTTP server answering /healthz with the status at the head of the returned list."""
    status = [200]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = status[0] if self.path == "/healthz" else 404
            self.send_response(code)
            self.end_headers()

        def log_message(self, *args: object) -> None:  # quiet: no request log on stderr
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], status
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_worker_healthcheck_exit_code_follows_healthz(
    compose: dict[str, Any], health_server: tuple[int, list[int]], status: int, healthy: bool
) -> None:
    port, answer = health_server
    answer[0] = status
    code = worker_healthcheck_code(compose).replace("localhost:6066", f"127.0.0.1:{port}")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30, check=False)
    assert (result.returncode == 0) is healthy, result.stderr.decode()


# --- the image --------------------------------------------------------------------------------------------------


def test_dockerfile_builds_a_non_root_worker_image() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    froms = [line for line in instructions if line.upper().startswith("FROM ")]
    assert froms
    assert all(line.split()[1] == "python:3.11-slim" for line in froms), froms
    assert any(re.fullmatch(r"RUN pip install \.", line) for line in instructions)
    users = [line.split()[1] for line in instructions if line.upper().startswith("USER ")]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0"), users
    assert "EXPOSE 6066" in instructions
    assert instructions[-2:] == ['ENTRYPOINT ["fulfillsync"]', 'CMD ["worker"]']


def test_dockerignore_keeps_local_state_out_of_the_build_context() -> None:
    lines = {line.strip() for line in (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()}
    for entry in (".venv", ".fulfillsync", ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis"):
        assert entry in lines, entry
    assert "**/__pycache__" in lines

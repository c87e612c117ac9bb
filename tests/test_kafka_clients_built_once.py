"""Every Kafka client of fulfillsync takes its connection and security settings from one module,
`streams.kit.kafka_clients`, so a new client cannot forget `kafka.security_protocol`, `kafka.sasl` or `kafka.ssl`.
Checked on the source with `ast`, in every package of ours and in bench/:

- a confluent-kafka or aiokafka client (`Producer(`, `Consumer(`, `AdminClient(`, `AIOKafka...(`) or a Faust app
  (`faust.App(`, `App(`, or a subclass of it such as `WorkerApp(`) is constructed only in that module; everywhere
  else through its `new_producer`, `new_consumer`, `new_admin` and `new_faust_app`;
- fulfillsync's own producers (`EventProducer(`, `KafkaEventSink(`, `KafkaPublisher(`) are given the configuration's
  `kafka:` settings, never its bare `bootstrap_servers` (nor a literal address), which would drop the security.

tests/ is left out: tests build plain clients for the plain test broker on purpose, and reach the secured one
through the same builders (tests/support/secure_kafka.py) or with the settings they return
(`tests.support.kafka_harness.reader_settings`).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PARTS = ("schemas", "ledger", "connectors", "sandbox", "streams", "webapp", "fulfillsync", "bench")
BUILDER = REPO / "streams" / "kit" / "kafka_clients.py"
CLIENTS = frozenset({"Producer", "Consumer", "AdminClient", "SerializingProducer", "DeserializingConsumer",
                     "AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaClient", "AIOKafkaAdminClient", "App"})
OUR_PRODUCERS = frozenset({"EventProducer", "KafkaEventSink", "KafkaPublisher"})


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def faust_app_classes(paths: list[Path]) -> set[str]:
    """Our classes that derive from Faust's App (directly or through another of ours), by name."""
    bases: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = {name for base in node.bases if (name := _name(base)) is not None}
    found = {"App"}
    while True:
        more = {name for name, parents in bases.items() if parents & found} - found
        if not more:
            return found - {"App"}
        found |= more


def violations(path: Path, forbidden: frozenset[str], root: Path = REPO) -> list[str]:
    """Where `path` builds a Kafka client itself, or hands one of our producers a bare address."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        where = f"{path.relative_to(root)}:{node.lineno}"
        if name in forbidden:
            found.append(f"{where}: {name}(...) built here; use streams.kit.kafka_clients (new_producer, "
                         "new_consumer, new_admin, new_faust_app)")
        elif name in OUR_PRODUCERS and node.args:
            first = node.args[0]
            if (isinstance(first, ast.Attribute) and first.attr == "bootstrap_servers") or isinstance(
                    first, ast.Constant | ast.JoinedStr):
                found.append(f"{where}: {name} given a bare address; give it the configuration's kafka settings")
    return found


def test_every_kafka_client_is_built_by_the_one_module() -> None:
    paths = sorted(path for part in PARTS for path in (REPO / part).rglob("*.py"))
    forbidden = CLIENTS | faust_app_classes(paths)
    assert "WorkerApp" in forbidden
    found = [problem for path in paths if path != BUILDER for problem in violations(path, forbidden)]
    assert not found, "Kafka clients built outside streams/kit/kafka_clients.py:\n" + "\n".join(found)


def test_the_check_finds_clients_built_elsewhere(tmp_path: Path) -> None:
    source = tmp_path / "rogue.py"
    source.write_text(
        "import faust\nfrom confluent_kafka import Consumer\nfrom confluent_kafka import admin\n"
        "class MyApp(faust.App):\n    pass\n"
        "def build(config):\n"
        "    c = Consumer({'bootstrap.servers': 'x'})\n"
        "    a = admin.AdminClient({})\n"
        "    app = faust.App('id', broker='kafka://x')\n"
        "    mine = MyApp('id')\n"
        "    p = EventProducer(config.kafka.bootstrap_servers, source='/x')\n"
        "    q = KafkaPublisher('127.0.0.1:9092', None)\n"
        "    fine = EventProducer(config.kafka, source='/x')\n")
    forbidden = CLIENTS | faust_app_classes([source])
    found = violations(source, forbidden, tmp_path)
    assert [problem.split(":")[1] for problem in found] == ["7", "8", "9", "10", "11", "12"], found

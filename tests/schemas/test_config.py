"""The configuration file (README.md, "Configuration"): loading, `${ENV}` substitution, validation and the
messages it gives.

Every problem must name the offending key as a path (`connections[0].platform`) and, where the file has it, its
line; secrets must never show up in a repr, a dump or an error message.
"""

from __future__ import annotations

import os
import re
import traceback
from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest

import schemas.config_file
from schemas.config import FILE_RULES, Config, Connection, parse_duration
from schemas.config_file import ConfigError, key_path, load_config, parse_config

REPO = Path(__file__).resolve().parents[2]
DESIGN_NOTES = Path(os.environ.get("FULFILLSYNC_DESIGN_NOTES") or "/nonexistent")
"""The project's design notes, kept outside the repository (`make test` passes their path in
FULFILLSYNC_DESIGN_NOTES when they are there); their section 3 has the configuration example copied below. Only
read to catch drift; skipped where absent."""

# A value that cannot appear anywhere by accident.
SECRET = "s3cr3t-Zq9vXk41-never-log-me"
OTHER_SECRET = "0th3r-Jm7Wq2Lp-also-private"

DESIGN_EXAMPLE = """\
kafka:
  bootstrap_servers: 127.0.0.1:9092
  topic_prefix: fulfillsync
polling:
  interval: 15m          # how often unshipped orders are checked
  shipped_watch: 1h      # how long shipped orders are still watched for corrections
connections:
  - id: acme-shopify       # unique; names the connection in events, metrics and logs
    partner: acme
    role: seller           # seller | buyer
    platform: shopify      # shopify | bigcommerce | woocommerce | magento2 | manual
    base_url: https://acme.myshopify.com   # the part before the platform's API path
    credentials: {access_token: "${ACME_SHOPIFY_TOKEN}"}
    webhook_secret: "${ACME_SHOPIFY_WEBHOOK_SECRET}"
  - id: shop-bc
    partner: shop
    role: buyer
    platform: bigcommerce
    base_url: https://api.bigcommerce.com/stores/abc123
    credentials: {access_token: "${SHOP_BC_TOKEN}"}
routes:                    # which seller ships which of a buyer's SKUs
  - {buyer: shop-bc, seller: acme-shopify, skus: ["ACME-*"]}
"""

DESIGN_ENV = {
    "ACME_SHOPIFY_TOKEN": SECRET,
    "ACME_SHOPIFY_WEBHOOK_SECRET": OTHER_SECRET,
    "SHOP_BC_TOKEN": "shpat-bc-token-value-123",
}


# --- helpers ----------------------------------------------------------------------------------------------------


def parse(text: str, environ: dict[str, str] | None = None) -> schemas.config_file.LoadedConfig:
    return parse_config(dedent(text), source="test.yaml", environ=environ or {})


def problems_of(text: str, environ: dict[str, str] | None = None) -> list[str]:
    """The problems a ConfigError lists for `text`; fails the test if the text is accepted."""
    with pytest.raises(ConfigError) as caught:
        parse(text, environ)
    assert caught.value.problems, "a ConfigError must list at least one problem"
    assert str(caught.value).startswith("test.yaml: invalid configuration:")
    return caught.value.problems


def only_problem(text: str, environ: dict[str, str] | None = None) -> str:
    problems = problems_of(text, environ)
    assert len(problems) == 1, problems
    return problems[0]


def line_of(problem: str) -> int:
    match = re.match(r"line (\d+): ", problem)
    assert match, f"the problem does not start with its line: {problem!r}"
    return int(match.group(1))


def connection(**fields: object) -> str:
    """One connection as a YAML flow mapping (enough for one-line fixtures)."""
    base: dict[str, object] = {"id": "c1", "partner": "p", "role": "seller", "platform": "manual"}
    base.update(fields)
    return "{" + ", ".join(f"{key}: {value}" for key, value in base.items()) + "}"


def connections_doc(*connections: str, after: str = "") -> str:
    """A file whose `connections` list holds these flow mappings, one per line from line 2 on."""
    return "connections:\n" + "".join(f"  - {item}\n" for item in connections) + after


def design_example_from_the_doc() -> str:
    """The ```yaml block of section 3 of `DESIGN_NOTES`, when FULFILLSYNC_DESIGN_NOTES names them."""
    if not DESIGN_NOTES.is_file():
        pytest.skip(f"the design notes are not available: FULFILLSYNC_DESIGN_NOTES="
                    f"{os.environ.get('FULFILLSYNC_DESIGN_NOTES', '')!r} names no file")
    section = DESIGN_NOTES.read_text(encoding="utf-8").split("## 3.", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert match, f"section 3 of {DESIGN_NOTES.name} has no ```yaml block"
    return match.group(1)


# --- the design example -----------------------------------------------------------------------------------------


def test_design_example_validates_with_its_env_vars() -> None:
    loaded = parse_config(DESIGN_EXAMPLE, source="design.yaml", environ=DESIGN_ENV)
    config = loaded.config
    assert loaded.warnings == []
    assert config.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert config.kafka.topic_prefix == "fulfillsync"
    assert config.polling.interval == timedelta(minutes=15)
    assert config.polling.shipped_watch == timedelta(hours=1)
    seller = config.connection("acme-shopify")
    assert (seller.partner, seller.role, seller.platform) == ("acme", "seller", "shopify")
    assert seller.base_url == "https://acme.myshopify.com"
    assert seller.credentials["access_token"].get_secret_value() == SECRET
    assert seller.webhook_secret is not None
    assert seller.webhook_secret.get_secret_value() == OTHER_SECRET
    buyer = config.connection("shop-bc")
    assert (buyer.role, buyer.platform) == ("buyer", "bigcommerce")
    assert buyer.credentials["access_token"].get_secret_value() == DESIGN_ENV["SHOP_BC_TOKEN"]
    assert len(config.routes) == 1
    route = config.routes[0]
    assert (route.buyer, route.seller) == ("shop-bc", "acme-shopify")
    assert route.covers("ACME-123")
    assert not route.covers("acme-123")  # patterns are case-sensitive
    assert not route.covers("OTHER-1")
    with pytest.raises(KeyError):
        config.connection("nope")


def test_design_doc_example_is_the_one_tested_here() -> None:
    """Catches drift between the design notes' configuration example and the copy above (skipped where the notes
    are absent)."""
    assert design_example_from_the_doc() == DESIGN_EXAMPLE
    parse_config(design_example_from_the_doc(), source=DESIGN_NOTES.name, environ=DESIGN_ENV)


def test_design_example_without_its_env_vars_names_each_missing_variable() -> None:
    problems = problems_of(DESIGN_EXAMPLE, {"SHOP_BC_TOKEN": "x"})
    assert len(problems) == 2, problems
    assert "connections[0].credentials.access_token" in problems[0]
    assert "ACME_SHOPIFY_TOKEN" in problems[0]
    assert line_of(problems[0]) == 13
    assert "connections[0].webhook_secret" in problems[1]
    assert "ACME_SHOPIFY_WEBHOOK_SECRET" in problems[1]
    assert line_of(problems[1]) == 14


def test_empty_file_gives_the_defaults() -> None:
    config = parse("").config
    assert config == Config()
    assert config.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert config.polling.interval == timedelta(minutes=15)
    assert config.worker.web_port == 6066


def test_config_is_frozen() -> None:
    config = parse("kafka: {partitions: 3}").config
    with pytest.raises(ValueError, match="frozen"):
        config.kafka.partitions = 4  # type: ignore[misc]


# --- durations --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("30s", timedelta(seconds=30)),
        ("500ms", timedelta(milliseconds=500)),
        ("7d", timedelta(days=7)),
        ("1.5h", timedelta(minutes=90)),
        ("' 2m '", timedelta(minutes=2)),
        ("90", timedelta(seconds=90)),  # a plain number is seconds
        ("0.25", timedelta(milliseconds=250)),
    ],
)
def test_durations(yaml_value: str, expected: timedelta) -> None:
    assert parse(f"polling:\n  interval: {yaml_value}\n").config.polling.interval == expected


@pytest.mark.parametrize(
    "key",
    [
        "polling.interval",
        "polling.shipped_watch",
        "kafka.retention",
        "kafka.dead_letter_retention",
        "worker.broker_session_timeout",
    ],
)
def test_every_duration_key_accepts_the_units(key: str) -> None:
    section, name = key.split(".")
    config = parse(f"{section}:\n  {name}: 500ms\n").config
    assert getattr(getattr(config, section), name) == timedelta(milliseconds=500)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("15x", "expected a duration"),
        ("0s", "positive"),
        ("0", "positive"),
        ("-5m", "expected a duration"),
        ("m", "expected a duration"),
        ("15 minutes", "expected a duration"),
        ("true", "expected a duration"),
        ("''", "expected a duration"),
    ],
)
def test_bad_durations_name_the_key_and_line(text: str, reason: str) -> None:
    problem = only_problem(f"kafka:\n  topic_prefix: x\npolling:\n  shipped_watch: 1h\n  interval: {text}\n")
    assert problem.startswith("line 5: polling.interval: "), problem
    assert reason in problem


@pytest.mark.parametrize("text", ["4s", "16m"])
def test_a_delivery_timeout_outside_5s_to_15m_names_the_bounds(text: str) -> None:
    problem = only_problem(f"kafka:\n  topic_prefix: x\nworker:\n  delivery_timeout: {text}\n")
    assert "worker" in problem and "delivery_timeout: must be between 5s and 15m" in problem, problem


def test_the_delivery_timeout_defaults_to_2_minutes_and_takes_any_value_within_the_bounds() -> None:
    assert parse("kafka:\n  topic_prefix: x\n").config.worker.delivery_timeout == timedelta(minutes=2)
    for text, value in (("5s", timedelta(seconds=5)), ("15m", timedelta(minutes=15))):
        config = parse(f"kafka:\n  topic_prefix: x\nworker:\n  delivery_timeout: {text}\n").config
        assert config.worker.delivery_timeout == value


def test_parse_duration_directly() -> None:
    assert parse_duration(timedelta(seconds=3)) == timedelta(seconds=3)
    assert parse_duration(2) == timedelta(seconds=2)
    for bad in (True, None, "15x", 0, -1.0, [1]):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


# --- unknown keys -----------------------------------------------------------------------------------------------


def test_unknown_key_in_a_section_names_path_and_line() -> None:
    problem = only_problem("""\
        kafka:
          topic_prefix: fulfillsync
          bootstrap_server: 127.0.0.1:9092
        """)
    assert problem.startswith("line 3: kafka.bootstrap_server: "), problem
    assert "unknown key 'bootstrap_server' in kafka" in problem


def test_unknown_top_level_key_with_a_scalar_value() -> None:
    problem = only_problem("kafka: {}\ntopic_prefix: fulfillsync\n")
    assert problem.startswith("line 2: topic_prefix: "), problem
    assert "unknown key 'topic_prefix'" in problem


def test_unknown_key_in_a_connection_names_its_index() -> None:
    text = connections_doc(connection(id="a"), connection(id="b", token='"${T}"'))
    problem = only_problem(text, {"T": SECRET})
    assert problem.startswith("line 3: connections[1].token: "), problem
    assert "unknown key 'token' in connections[1]" in problem
    assert SECRET not in problem


def test_unknown_key_in_a_route() -> None:
    routes = "routes:\n  - buyer: b\n    seller: s\n    sku: [X-1]\n"
    problems = problems_of(connections_doc(connection(id="s"), connection(id="b", role="buyer"), after=routes))
    assert len(problems) == 2, problems
    assert any(problem.startswith("line 7: routes[0].sku: unknown key 'sku'") for problem in problems), problems
    assert any(problem.startswith("line 5: routes[0].skus: ") for problem in problems), problems


def test_every_unknown_key_is_reported_at_once() -> None:
    problems = problems_of("""\
        kafka:
          partitons: 3
        polling:
          intervall: 15m
        worker:
          web_prot: 8080
        """)
    assert [line_of(problem) for problem in problems] == [2, 4, 6]
    for problem, key in zip(problems, ["kafka.partitons", "polling.intervall", "worker.web_prot"], strict=True):
        assert f": {key}: unknown key" in problem


def test_unknown_section_reports_the_line_of_its_key() -> None:
    # Input: "kafka: {}\npollling:\n  interval: 15m\n"  (typo in the section name, on line 2)
    # Expected: "line 2: pollling: unknown key 'pollling' ..."
    problem = only_problem("kafka: {}\npollling:\n  interval: 15m\n")
    assert "pollling" in problem
    assert line_of(problem) == 2, problem


# --- environment variables --------------------------------------------------------------------------------------


def test_env_var_is_substituted_in_any_value() -> None:
    config = parse(
        "kafka:\n  bootstrap_servers: ${BROKER}:9092\n  topic_prefix: ${PREFIX}\n",
        {"BROKER": "kafka.internal", "PREFIX": "staging"},
    ).config
    assert config.kafka.bootstrap_servers == "kafka.internal:9092"
    assert config.kafka.topic_prefix == "staging"


def test_missing_env_var_names_key_and_variable_and_leaks_nothing() -> None:
    environ = {"PRESENT_TOKEN": SECRET, "UNRELATED": OTHER_SECRET}
    store = {"platform": "shopify", "base_url": "https://a.example"}
    text = connections_doc(
        connection(id="a", **store, credentials='{access_token: "${PRESENT_TOKEN}"}'),
        connection(id="b", **store, credentials='{access_token: "${MISSING_TOKEN}"}'),
    )
    problem = only_problem(text, environ)
    assert problem.startswith("line 3: connections[1].credentials.access_token: "), problem
    assert "MISSING_TOKEN" in problem
    assert "PRESENT_TOKEN" not in problem
    assert SECRET not in problem
    assert OTHER_SECRET not in problem


def test_all_missing_env_vars_are_reported_before_validation() -> None:
    problems = problems_of("""\
        kafka:
          bootstrap_servers: ${BROKER_HOST}:${BROKER_PORT}
          not_a_key: 1
        """)
    assert len(problems) == 2, problems  # the unknown key is reported once the variables are there
    assert all(problem.startswith("line 2: kafka.bootstrap_servers: ") for problem in problems)
    assert "BROKER_HOST" in problems[0]
    assert "BROKER_PORT" in problems[1]


def test_set_but_empty_env_var_is_not_missing() -> None:
    config = parse("kafka: {topic_prefix: 'fs${SUFFIX}'}", {"SUFFIX": ""}).config
    assert config.kafka.topic_prefix == "fs"


def test_load_config_reads_os_environ_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(DESIGN_EXAMPLE, encoding="utf-8")
    for name, value in DESIGN_ENV.items():
        monkeypatch.setenv(name, value)
    config = load_config(path).config
    assert config.connection("acme-shopify").credentials["access_token"].get_secret_value() == SECRET
    with pytest.raises(ConfigError, match="SHOP_BC_TOKEN"):
        load_config(path, environ={k: v for k, v in DESIGN_ENV.items() if k != "SHOP_BC_TOKEN"})


# --- secrets ----------------------------------------------------------------------------------------------------


def test_secrets_never_appear_in_repr_str_or_json() -> None:
    loaded = parse_config(DESIGN_EXAMPLE, source="design.yaml", environ=DESIGN_ENV)
    config = loaded.config
    seller = config.connection("acme-shopify")
    renderings = {
        "repr(config)": repr(config),
        "str(config)": str(config),
        "config.model_dump_json()": config.model_dump_json(),
        "str(config.model_dump())": str(config.model_dump()),
        "repr(loaded)": repr(loaded),
        "repr(connection)": repr(seller),
        "repr(credentials)": repr(seller.credentials),
    }
    for name, text in renderings.items():
        assert SECRET not in text, name
        assert OTHER_SECRET not in text, name
    assert "**********" in config.model_dump_json()


def test_secrets_never_appear_in_config_errors() -> None:
    environ = {"TOKEN": SECRET, "HOOK": OTHER_SECRET}
    text = connections_doc(
        connection(
            id="Bad Id",
            role="sellr",
            platform="shopify",
            base_url="https://a.example",
            credentials='{access_token: "${TOKEN}"}',
            webhook_secret='"${HOOK}"',
        ),
        connection(id="b", credentials='"${TOKEN}"'),  # not a mapping
        connection(id="c", access_token='"${TOKEN}"'),  # a credential in the wrong place
        connection(id="d", webhook_secret='["${HOOK}"]'),  # not a string
        after="polling: {interval: 15x}\n",
    )
    with pytest.raises(ConfigError) as caught:
        parse(text, environ)
    error = caught.value
    reported = [problem.split(": ")[1] for problem in error.problems]
    assert reported == [
        "polling.interval",
        "connections[0].id",
        "connections[0].role",
        "connections[1].credentials",
        "connections[2].access_token",
        "connections[3].webhook_secret",
    ], error.problems
    renderings = [str(error), repr(error), *error.problems, "".join(traceback.format_exception(error))]
    for rendering in renderings:
        assert SECRET not in rendering
        assert OTHER_SECRET not in rendering


@pytest.mark.parametrize(
    "text",
    [
        "polling: {interval: '${INTERVAL}'}",  # INTERVAL holds the secret: "... got 's3cr3t-...'"
        "connections: [{id: a, partner: p, role: seller, platform: manual, base_url: '${URL}'}]",
    ],
    ids=["duration", "base_url"],
)
def test_env_values_never_appear_in_value_errors(text: str) -> None:
    # Input: the text above with INTERVAL=<secret> / URL=ftp://user:<secret>@host
    # Expected: the problem names the key and the variable, not its value.
    problem = only_problem(text, {"INTERVAL": SECRET, "URL": f"ftp://user:{SECRET}@host"})
    assert SECRET not in problem


def test_literal_secrets_produce_a_warning_naming_the_key() -> None:
    store = {"platform": "shopify", "base_url": "https://a.example"}
    text = connections_doc(
        connection(**store, credentials=f'{{access_token: "{SECRET}"}}', webhook_secret=f'"{OTHER_SECRET}"'),
        connection(id="c2", **store, credentials='{access_token: "${TOKEN}"}'),
    )
    loaded = parse(text, {"TOKEN": "from-env"})
    warnings = loaded.warnings
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("line 2: connections[0].credentials.access_token: ")
    assert warnings[1].startswith("line 2: connections[0].webhook_secret: ")
    assert all("environment variable" in warning for warning in warnings)
    assert all(SECRET not in warning and OTHER_SECRET not in warning for warning in warnings)
    assert loaded.config.connections[0].credentials["access_token"].get_secret_value() == SECRET


def test_referenced_secrets_give_no_warning() -> None:
    assert parse_config(DESIGN_EXAMPLE, source="design.yaml", environ=DESIGN_ENV).warnings == []


# --- connections and routes -------------------------------------------------------------------------------------


def test_duplicate_connection_ids_are_rejected() -> None:
    problem = only_problem(connections_doc(connection(id="twin"), connection(id="twin", role="buyer")))
    assert "'twin' is used twice" in problem


def test_duplicate_connection_id_names_the_key_path() -> None:
    # Input: two connections with id 'twin' (lines 2 and 3)
    # Expected: "line 3: connections[1].id: connection id 'twin' is used twice; ..."
    problem = only_problem(connections_doc(connection(id="twin"), connection(id="twin", role="buyer")))
    assert "connections[1].id" in problem, problem
    assert line_of(problem) == 3, problem


ROUTE_CONNECTIONS = connections_doc(
    connection(id="seller-a", role="seller"),
    connection(id="buyer-b", role="buyer"),
    after='routes:\n  - {buyer: buyer-b, seller: seller-a, skus: ["A-*"]}\n',
)


def test_route_to_known_connections_validates() -> None:
    config = parse(ROUTE_CONNECTIONS).config
    assert config.routes[0].covers("A-1")


@pytest.mark.parametrize(
    ("route", "key", "message"),
    [
        ("{buyer: nobody, seller: seller-a, skus: [A-1]}", "routes[1].buyer", "no connection has id 'nobody'"),
        ("{buyer: buyer-b, seller: nobody, skus: [A-1]}", "routes[1].seller", "no connection has id 'nobody'"),
        (
            "{buyer: seller-a, seller: seller-a, skus: [A-1]}",
            "routes[1].buyer",
            "connection 'seller-a' has role seller, not buyer",
        ),
        (
            "{buyer: buyer-b, seller: buyer-b, skus: [A-1]}",
            "routes[1].seller",
            "connection 'buyer-b' has role buyer, not seller",
        ),
    ],
)
def test_route_naming_an_unknown_connection_or_the_wrong_role(route: str, key: str, message: str) -> None:
    problem = only_problem(ROUTE_CONNECTIONS + f"  - {route}\n")
    assert key in problem, problem
    assert message in problem


def test_route_problem_reports_the_route_line() -> None:
    # Input: ROUTE_CONNECTIONS + "  - {buyer: nobody, ...}" on line 6
    # Expected: "line 6: routes[1].buyer: no connection has id 'nobody'"
    problem = only_problem(ROUTE_CONNECTIONS + "  - {buyer: nobody, seller: seller-a, skus: [A-1]}\n")
    assert line_of(problem) == 6, problem


@pytest.mark.parametrize(
    ("route", "key"),
    [
        ("{buyer: buyer-b, seller: seller-a, skus: []}", "routes[1].skus"),
        ("{buyer: buyer-b, seller: seller-a, skus: ['']}", "routes[1].skus[0]"),
        ("{buyer: buyer-b, seller: seller-a}", "routes[1].skus"),
        ("{buyer: Buyer-B, seller: seller-a, skus: [A-1]}", "routes[1].buyer"),
    ],
)
def test_route_field_problems(route: str, key: str) -> None:
    problem = only_problem(ROUTE_CONNECTIONS + f"  - {route}\n")
    assert problem.startswith(f"line 6: {key}: "), problem


@pytest.mark.parametrize(
    ("fields", "key", "message"),
    [
        ({"platform": "shopifyy"}, "connections[0].platform", "got 'shopifyy'"),
        ({"role": "supplier"}, "connections[0].role", "got 'supplier'"),
        ({"id": "ACME"}, "connections[0].id", "lower-case letters"),
        ({"partner": "'-p'"}, "connections[0].partner", "lower-case letters"),
        ({"base_url": "acme.example"}, "connections[0].base_url", "http:// or https://"),
        ({"credentials": "[a, b]"}, "connections[0].credentials", "dictionary"),
    ],
)
def test_connection_field_problems_name_the_key(fields: dict[str, str], key: str, message: str) -> None:
    problem = only_problem(f"connections:\n  - {connection(**fields)}\n")
    assert problem.startswith(f"line 2: {key}: "), problem
    assert message in problem


def test_missing_required_connection_field_names_it() -> None:
    problem = only_problem("connections:\n  - {id: a, role: seller, platform: manual}\n")
    assert problem.startswith("line 2: connections[0].partner: "), problem
    assert "required" in problem.lower()


def test_base_url_trailing_slash_is_dropped() -> None:
    config = parse(f"connections:\n  - {connection(base_url='https://a.example/rest/default/')}\n").config
    assert config.connections[0].base_url == "https://a.example/rest/default"


# --- per-platform requirements ----------------------------------------------------------------------------------


WOO_ENV = {"WOO_KEY": "ck_" + SECRET, "WOO_SECRET": "cs_" + OTHER_SECRET}


def test_woocommerce_with_key_and_secret_validates() -> None:
    credentials = '{consumer_key: "${WOO_KEY}", consumer_secret: "${WOO_SECRET}"}'
    text = connections_doc(connection(platform="woocommerce", base_url="https://shop.example", credentials=credentials))
    config = parse(text, WOO_ENV).config
    stored = config.connections[0].credentials
    assert stored["consumer_key"].get_secret_value() == WOO_ENV["WOO_KEY"]
    assert stored["consumer_secret"].get_secret_value() == WOO_ENV["WOO_SECRET"]


@pytest.mark.parametrize(
    ("credentials", "missing"),
    [
        ('{consumer_key: "${WOO_KEY}"}', "missing consumer_secret"),
        ('{consumer_secret: "${WOO_SECRET}"}', "missing consumer_key"),
        ('{access_token: "${WOO_KEY}"}', "missing consumer_key, consumer_secret"),
        ("{}", "missing consumer_key, consumer_secret"),
    ],
)
def test_woocommerce_needs_consumer_key_and_consumer_secret(credentials: str, missing: str) -> None:
    woo = connection(platform="woocommerce", base_url="https://shop.example", credentials=credentials)
    problem = only_problem(connections_doc(connection(id="m"), woo), WOO_ENV)
    assert problem.startswith("line 3: connections[1]"), problem
    assert "connections[1].credentials: platform woocommerce needs consumer_key, consumer_secret" in problem
    assert missing in problem
    assert SECRET not in problem
    assert OTHER_SECRET not in problem


@pytest.mark.parametrize(
    ("platform", "credential"),
    [("shopify", "access_token"), ("bigcommerce", "access_token"), ("magento2", "access_token")],
)
def test_token_platforms_need_an_access_token(platform: str, credential: str) -> None:
    problem = only_problem(f"connections:\n  - {connection(platform=platform, base_url='https://a.example')}\n")
    assert problem.startswith("line 2: connections[0]"), problem
    assert f"missing {credential}" in problem
    complete = connection(platform=platform, base_url="https://a.example", credentials="{access_token: x}")
    assert parse(f"connections:\n  - {complete}\n").config.connections[0].platform == platform


@pytest.mark.parametrize("platform", ["shopify", "bigcommerce", "woocommerce", "magento2"])
def test_store_platforms_need_a_base_url(platform: str) -> None:
    problem = only_problem(f"connections:\n  - {connection(platform=platform, credentials='{access_token: x}')}\n")
    assert problem.startswith("line 2: connections[0]"), problem
    assert f"base_url: required for platform {platform}" in problem


def test_manual_needs_no_base_url_and_no_credentials() -> None:
    config = parse(f"connections:\n  - {connection(platform='manual')}\n").config
    manual = config.connections[0]
    assert manual.platform == "manual"
    assert manual.base_url is None
    assert manual.credentials == {}


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        (
            {"platform": "woocommerce", "base_url": "https://a.example", "credentials": "{consumer_key: k}"},
            "connections[0].credentials",
        ),
        ({"platform": "shopify", "credentials": "{access_token: t}"}, "connections[0].base_url"),
    ],
    ids=["woocommerce-credentials", "shopify-base_url"],
)
def test_platform_requirement_problems_name_the_key(fields: dict[str, str], key: str) -> None:
    # Input: a woocommerce connection without consumer_secret / a shopify connection without base_url
    # Expected: "line 2: connections[0].credentials: ... missing consumer_secret" / "connections[0].base_url: ..."
    problem = only_problem(f"connections:\n  - {connection(**fields)}\n")
    assert key in problem, problem


# --- kafka and worker sections ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("kafka: {partitions: 0}", "kafka.partitions"),
        ("kafka: {replication_factor: 11}", "kafka.replication_factor"),
        ("kafka: {topic_prefix: 'has space'}", "kafka.topic_prefix"),
        ("worker: {web_port: 70000}", "worker.web_port"),
        ("worker: {rocksdb_block_cache_mb: 0}", "worker.rocksdb_block_cache_mb"),
        ("kafka: [1, 2]", "kafka"),
        ("connections: {id: a}", "connections"),
    ],
)
def test_section_value_problems_name_the_key(text: str, key: str) -> None:
    problem = only_problem(text)
    assert problem.startswith(f"line 1: {key}: "), problem


# --- the file itself --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where"),
    [
        pytest.param("kafka:\n  bootstrap_servers: a: b\n", "line 2, column 23", id="colon-in-value"),
        pytest.param("kafka:\n\tpartitions: 2\n", "line 2, column 1", id="tab-indent"),
        pytest.param("kafka: {partitions: 2\npolling: {}\n", "line 2, column 8", id="unclosed-flow-mapping"),
        pytest.param("connections:\n  - id: a\n   partner: p\n", "line 3, column 4", id="bad-indent"),
    ],
)
def test_invalid_yaml_reports_line_and_column(text: str, where: str) -> None:
    problem = only_problem(text)
    assert problem.startswith(f"{where}: not valid YAML ("), problem


def test_a_file_that_is_not_a_mapping_is_rejected() -> None:
    problem = only_problem("- kafka\n- polling\n")
    assert "must be a mapping of sections" in problem


def test_missing_file_gives_a_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "config.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert message.startswith(f"{path}: invalid configuration:"), message
    assert caught.value.problems == ["cannot read the file: No such file or directory"]
    assert "Traceback" not in message
    assert "Errno" not in message


def test_a_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path, environ={})
    assert caught.value.problems == ["cannot read the file: Is a directory"]


def test_load_config_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "fulfillsync.yaml"
    path.write_text("kafka:\n  partitions: many\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.source == str(path)
    assert str(caught.value).startswith(f"{path}: invalid configuration:\n  - line 2: kafka.partitions: ")


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ((), "(top level)"),
        (("kafka",), "kafka"),
        (("connections", 1, "id"), "connections[1].id"),
        (("connections", 0, "credentials", "access_token"), "connections[0].credentials.access_token"),
        (("routes", 2, "skus", 0), "routes[2].skus[0]"),
    ],
)
def test_key_path(location: tuple[str | int, ...], expected: str) -> None:
    assert key_path(location) == expected


# --- transport, response size and proxies ----------------------------------------------------------------------


def store(base_url: str, **fields: object) -> str:
    return connection(platform="shopify", base_url=f"'{base_url}'", credentials="{access_token: t}", **fields)


@pytest.mark.parametrize("base_url", ["http://shop.example", "http://10.0.0.5:8080", "http://localhost.example",
                                      "http://127.0.0.1.nip.io", "http://[::2]:80", "ftp://shop.example"])
def test_a_store_base_url_over_plain_http_is_refused_off_loopback(base_url: str) -> None:
    problem = only_problem(connections_doc(connection(id="m"), store(base_url)))
    assert problem.startswith("line 3: connections[1].base_url: "), problem
    if base_url.startswith("http://"):
        assert "must start with https://" in problem and "in clear" in problem and "access token" in problem
        assert "Use the store's https:// address" in problem
        assert base_url not in problem  # the value may come from the environment


@pytest.mark.parametrize("base_url", ["https://shop.example", "http://127.0.0.1:9000",
                                      "http://127.8.9.10/rest", "http://localhost:8080", "http://[::1]:8080"])
def test_https_and_loopback_base_urls_are_accepted(base_url: str) -> None:
    assert parse(connections_doc(store(base_url))).config.connections[0].base_url == base_url.rstrip("/")


def test_the_https_rule_is_for_files_models_built_in_code_skip_it() -> None:
    document = {"platform": "shopify", "base_url": "http://shop.test", "credentials": {"access_token": "t"},
                "id": "c1", "partner": "p", "role": "seller"}
    assert Connection.model_validate(document).base_url == "http://shop.test"  # e.g. a test's simulated store
    with pytest.raises(ValueError, match="must start with https://"):
        Config.model_validate({"connections": [document]}, context=FILE_RULES)


def test_a_base_url_from_the_environment_is_checked_too() -> None:
    problem = only_problem(connections_doc(store("${SHOP_URL}")), {"SHOP_URL": "http://shop.example"})
    assert "connections[0].base_url: must start with https://" in problem
    assert "(the value comes from an environment variable)" in problem


def test_max_response_mb_defaults_to_16_and_is_bounded() -> None:
    config = parse(connections_doc(store("https://a.example"), store("https://b.example", id="c2",
                                                                     max_response_mb=64))).config
    assert [c.max_response_mb for c in config.connections] == [16, 64]
    for value in (0, 1025, "lots"):
        problem = only_problem(connections_doc(store("https://a.example", max_response_mb=value)))
        assert problem.startswith("line 2: connections[0].max_response_mb: "), problem


def test_max_response_mb_is_refused_on_a_manual_connection() -> None:
    problem = only_problem(connections_doc(connection(max_response_mb=32)))
    assert problem.startswith("line 2: connections[0].max_response_mb: only for connections to a store"), problem


def test_trusted_proxies_are_addresses_or_networks() -> None:
    text = "web:\n  trusted_proxies: [10.0.0.5, 10.1.0.0/16, 'fd00::/8', '::1']\n"
    assert parse(text).config.web.trusted_proxies == ["10.0.0.5", "10.1.0.0/16", "fd00::/8", "::1"]
    assert parse("web: {}\n").config.web.trusted_proxies == []
    for index, bad in enumerate(["'*'", "proxy.example", "10.0.0.1/8", "10.0.0.0/33"]):
        problem = only_problem(f"web:\n  trusted_proxies: [10.0.0.5, {bad}]\n")
        assert problem.startswith("line 2: web.trusted_proxies[1]: expected an IP address or a network"), (
            index, problem)


def yaml_blocks(path: Path, after: str) -> list[str]:
    """The ```yaml blocks of `path` after the heading `after`."""
    section = path.read_text(encoding="utf-8").split(after, 1)[1]
    return re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)


def test_the_example_configurations_are_valid() -> None:
    env = {name: "x" * 40 for name in ("ACME_SHOPIFY_TOKEN", "ACME_SHOPIFY_WEBHOOK_SECRET", "SHOP_BC_TOKEN",
                                       "FULFILLSYNC_WEB_SECRET", "SMTP_PASSWORD")}
    env["MAKER_WEB_HASH"] = "scrypt$n=131072,r=8,p=1$c2FsdA$aGFzaA"
    for path in sorted((REPO / "config").glob("*.yaml")):
        load_config(path, environ={})
    readme = yaml_blocks(REPO / "README.md", "## Configuration")
    webapp_doc = yaml_blocks(REPO / "docs" / "webapp.md", "## Configuring access for a seller")
    assert readme and webapp_doc
    for block in [readme[0], webapp_doc[0]]:
        parse(block, env)


# --- kafka security ---------------------------------------------------------------------------------------------

KAFKA_SASL = """\
kafka:
  bootstrap_servers: b-1.example:9096
  security_protocol: SASL_SSL
  sasl:
    mechanism: SCRAM-SHA-512
    username: fulfillsync
    password: "${KAFKA_PASSWORD}"
"""


def test_sasl_over_tls_with_the_systems_cas_by_default() -> None:
    kafka = parse(KAFKA_SASL, {"KAFKA_PASSWORD": SECRET}).config.kafka
    assert (kafka.security_protocol, kafka.ssl) == ("SASL_SSL", None)
    assert kafka.sasl is not None and kafka.sasl.password.get_secret_value() == SECRET
    assert kafka.tls is not None and (kafka.tls.ca_file, kafka.tls.check_hostname) == (None, True)
    assert parse("kafka: {}\n").config.kafka.security_protocol == "PLAINTEXT"
    assert parse("kafka: {}\n").config.kafka.tls is None


@pytest.mark.parametrize(("text", "expected"), [
    ("kafka: {security_protocol: SASL_SSL}", "line 1: kafka.sasl: required with security_protocol SASL_SSL"),
    ("kafka: {security_protocol: SASL_PLAINTEXT}", "kafka.sasl: required with security_protocol SASL_PLAINTEXT"),
    ("kafka: {security_protocol: SSL, sasl: {mechanism: PLAIN, username: u, password: '${P}'}}",
     "kafka.sasl: only for security_protocol SASL_PLAINTEXT or SASL_SSL, not SSL"),
    ("kafka: {sasl: {mechanism: PLAIN, username: u, password: '${P}'}}",
     "kafka.sasl: only for security_protocol SASL_PLAINTEXT or SASL_SSL, not PLAINTEXT"),
    ("kafka: {ssl: {ca_file: /ca.crt}}", "kafka.ssl: only for security_protocol SSL or SASL_SSL, not PLAINTEXT"),
    ("kafka: {security_protocol: SASL_PLAINTEXT, sasl: {mechanism: PLAIN, username: u, password: '${P}'}, "
     "ssl: {ca_file: /ca.crt}}", "kafka.ssl: only for security_protocol SSL or SASL_SSL, not SASL_PLAINTEXT"),
    ("kafka: {security_protocol: SSL, ssl: {cert_file: /c.crt}}",
     "kafka.ssl.key_file: required with cert_file: a client certificate (mutual TLS) needs both"),
    ("kafka: {security_protocol: SSL, ssl: {key_file: /c.key}}", "kafka.ssl.cert_file: required with key_file"),
    ("kafka: {security_protocol: SSL, ssl: {key_password: '${P}'}}", "kafka.ssl.key_password: only with key_file"),
    ("kafka: {security_protocol: SASL_SSL, sasl: {username: u, password: '${P}'}}", "kafka.sasl.mechanism: "),
    ("kafka: {security_protocol: SASL_SSL, sasl: {mechanism: GSSAPI, username: u, password: '${P}'}}",
     "kafka.sasl.mechanism: Input should be 'PLAIN', 'SCRAM-SHA-256' or 'SCRAM-SHA-512'"),
    ("kafka: {security_protocol: TLS}", "kafka.security_protocol: Input should be 'PLAINTEXT', 'SSL', "),
    ("kafka: {security_protocol: SASL_SSL, sasl: {mechanism: PLAIN, username: u, password: '${P}', extra: 1}}",
     "unknown key 'extra' in kafka.sasl"),
])
def test_kafka_security_problems_name_the_key(text: str, expected: str) -> None:
    problem = only_problem(text + "\n", {"P": SECRET})
    assert expected in problem, problem
    assert SECRET not in problem


def test_an_empty_password_from_the_environment_is_refused_naming_the_variable() -> None:
    problem = only_problem(KAFKA_SASL, {"KAFKA_PASSWORD": ""})
    assert problem.startswith("line 7: kafka.sasl.password: is empty"), problem
    assert "(the value comes from an environment variable)" in problem


def test_tls_files_are_checked_only_when_the_configuration_is_loaded_to_run(tmp_path: Path) -> None:
    ca = tmp_path / "ca.crt"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    unreadable = tmp_path / "tls.key"
    unreadable.write_text("secret key")
    unreadable.chmod(0)
    text = (f"kafka:\n  security_protocol: SSL\n  ssl:\n    ca_file: {ca}\n    cert_file: {tmp_path / 'missing.crt'}\n"
            f"    key_file: {unreadable}\n")
    path = tmp_path / "f.yaml"
    path.write_text(text)
    assert load_config(path, environ={}).config.kafka.ssl is not None  # `config check`: maybe another machine
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={}, check_files=True)
    [problem] = caught.value.problems
    assert problem.startswith("line 5: kafka.ssl.cert_file: no such file on this machine"), problem
    assert str(tmp_path) not in problem  # the value is not quoted: it may come from the environment
    (tmp_path / "missing.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    if os.geteuid() != 0:  # root reads any file
        with pytest.raises(ConfigError, match=r"line 6: kafka.ssl.key_file: the file is not readable by this "
                                              r"process \(permission denied\)"):
            load_config(path, environ={}, check_files=True)
    unreadable.chmod(0o600)
    assert load_config(path, environ={}, check_files=True).config.kafka.ssl is not None
    folder = text.replace(f"ca_file: {ca}", f"ca_file: {tmp_path}")
    with pytest.raises(ConfigError, match=r"line 4: kafka\.ssl\.ca_file: is a folder, not a file"):
        parse_config(folder, source="f.yaml", environ={}, check_files=True)


def test_kafka_secrets_never_appear_in_reprs_dumps_or_errors() -> None:
    text = KAFKA_SASL + ("  ssl:\n    cert_file: /c.crt\n    key_file: /c.key\n    key_password: '${KEY_PASSWORD}'\n")
    environ = {"KAFKA_PASSWORD": SECRET, "KEY_PASSWORD": OTHER_SECRET}
    config = parse(text, environ).config
    assert config.kafka.ssl is not None and config.kafka.ssl.key_password is not None
    assert config.kafka.ssl.key_password.get_secret_value() == OTHER_SECRET
    for rendering in (repr(config), str(config), config.model_dump_json(), str(config.model_dump()),
                      repr(config.kafka.sasl), repr(config.kafka.ssl)):
        assert SECRET not in rendering and OTHER_SECRET not in rendering
    broken = text.replace("mechanism: SCRAM-SHA-512", "mechanism: '${KAFKA_PASSWORD}'").replace(
        "key_file: /c.key", "key_file: ['${KEY_PASSWORD}']")
    with pytest.raises(ConfigError) as caught:
        parse(broken, environ)
    renderings = [str(caught.value), repr(caught.value), "".join(traceback.format_exception(caught.value))]
    assert len(caught.value.problems) == 2, caught.value.problems
    for rendering in renderings:
        assert SECRET not in rendering and OTHER_SECRET not in rendering


def test_literal_kafka_secrets_and_unsafe_choices_are_warned_about() -> None:
    text = (f"kafka:\n  security_protocol: SASL_PLAINTEXT\n  sasl:\n    mechanism: PLAIN\n    username: u\n"
            f"    password: {SECRET}\n")
    warnings = parse(text).warnings
    assert warnings[0].startswith("line 6: kafka.sasl.password: a secret is written in the file"), warnings
    assert warnings[1].startswith("line 4: kafka.sasl.mechanism: PLAIN over SASL_PLAINTEXT sends the password in "
                                  "clear"), warnings
    tls = "kafka:\n  security_protocol: SSL\n  ssl:\n    key_file: /k\n    cert_file: /c\n    key_password: pw\n" \
          "    check_hostname: false\n"
    warnings = parse(tls).warnings
    assert [warning.split(": ")[1] for warning in warnings] == ["kafka.ssl.key_password", "kafka.ssl.check_hostname"]
    assert all(SECRET not in warning for warning in warnings)


def test_the_kafka_security_examples_of_the_deploy_docs_are_valid() -> None:
    section = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8").split("## Kafka security", 1)[1]
    section = re.split(r"\n## ", section, maxsplit=1)[0]
    blocks = [block for block in re.findall(r"```yaml\n(.*?)```", section, re.DOTALL) if block.startswith("kafka:")]
    assert len(blocks) == 4, blocks  # the keys, MSK, Confluent Cloud, Strimzi
    env = {name: SECRET for name in ("KAFKA_PASSWORD", "KAFKA_KEY_PASSWORD", "KAFKA_API_KEY", "KAFKA_API_SECRET")}
    protocols = [parse(block, env).config.kafka.security_protocol for block in blocks]
    assert protocols == ["SASL_SSL", "SASL_SSL", "SASL_SSL", "SSL"]

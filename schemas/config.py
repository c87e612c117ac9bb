"""The configuration file's contract (README.md, "Configuration"): pydantic models with unknown keys forbidden.

Validators that check several fields start their message with the key path they concern, relative to the model
(`credentials: ...`, `routes[1].buyer: ...`), so error messages can name the offending key and its line.
Messages never quote the value: it may have come from an environment variable holding a secret.

Secrets are `SecretStr`: their repr and str are masked, so a logged config never shows them.
Loading a file (YAML, `${ENV}` substitution, error messages) lives in `schemas.config_file`.

Some rules protect a real deployment and apply to a configuration read from a file only: validate with
`context=FILE_RULES` (as `schemas.config_file` does) to check them. Today: a store's `base_url` must be https://
unless it is on loopback (`Connection`). Models built in code without that context (tests, tools pointing at
simulated stores) skip them. `CHECK_FILES` adds the rules for a configuration loaded to run with: the TLS files it
names (`kafka.ssl`) exist and are readable.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from collections.abc import Mapping
from datetime import timedelta
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    model_validator,
)

from schemas.platform import Money
from schemas.platform_names import CONNECTION_RULES, ConnectionOption, Platform, credentials_problem
from schemas.platform_names import REQUIRED_CREDENTIALS as REQUIRED_CREDENTIALS  # re-exported: the config contract

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> timedelta:
    """`15m`, `1h`, `30s`, `500ms`, `7d` (or a number of seconds) as a timedelta; ValueError otherwise."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    else:
        raise ValueError("expected a duration such as 30s, 15m, 1h or 7d")
    if seconds <= 0:
        raise ValueError("expected a positive duration such as 30s, 15m, 1h or 7d")
    return timedelta(seconds=seconds)


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError("expected an http:// or https:// URL such as https://shop.example")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_http_url)]

FILE_RULES: Final[Mapping[str, bool]] = {"file_rules": True}
"""The validation context that turns on the rules for a configuration read from a file (module doc)."""

LOOPBACK_NAMES: Final = ("localhost",)


def is_loopback_url(url: str) -> bool:
    """Whether `url`'s host is this machine's loopback: `localhost`, 127.0.0.0/8 or ::1."""
    host = (urlsplit(url).hostname or "").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _ip_network(value: str) -> str:
    """An IP address or network (CIDR) as written, checked; ValueError otherwise (no `*`: trust must be named)."""
    text = value.strip()
    try:
        ipaddress.ip_network(text)
    except ValueError:
        raise ValueError("expected an IP address or a network in CIDR notation, such as 10.0.0.5, 10.0.0.0/8 or "
                         "fd00::/8 (with no host bits set after the /)") from None
    return text


IpNetwork = Annotated[str, AfterValidator(_ip_network)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
SASL_PROTOCOLS: Final = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_PROTOCOLS: Final = frozenset({"SSL", "SASL_SSL"})

CHECK_FILES: Final[Mapping[str, bool]] = {"file_rules": True, "check_files": True}
"""The validation context of a configuration loaded to run with (`fulfillsync worker`, `web`, `watch`, `topics
create`): `FILE_RULES`, and the files it names (`kafka.ssl.*_file`) must exist and be readable here. `fulfillsync
config check` runs elsewhere (CI, a laptop) and leaves the files out unless asked."""


class KafkaSasl(_Section):
    """Who fulfillsync signs in to the brokers as (`kafka.security_protocol` SASL_PLAINTEXT or SASL_SSL)."""

    mechanism: SaslMechanism = Field(
        description="PLAIN (e.g. Confluent Cloud API keys), SCRAM-SHA-256 or SCRAM-SHA-512 (e.g. Amazon MSK).")
    username: Annotated[str, Field(min_length=1)]
    password: SecretStr = Field(description="From an environment variable, e.g. ${KAFKA_PASSWORD}.")

    @model_validator(mode="after")
    def _password_not_empty(self) -> KafkaSasl:
        if not self.password.get_secret_value():
            raise ValueError("password: is empty; set it from an environment variable, e.g. ${KAFKA_PASSWORD}")
        return self


_TLS_FILES: Final = ("ca_file", "cert_file", "key_file")


class KafkaTls(_Section):
    """TLS to the brokers (`kafka.security_protocol` SSL or SASL_SSL): which CA to trust and, for mutual TLS, the
    client certificate. PEM files."""

    ca_file: str | None = Field(
        default=None, description="The CA certificate(s) that signed the brokers' certificates; unset: the "
                                  "system's trusted CAs (as for Amazon MSK and Confluent Cloud).")
    cert_file: str | None = Field(default=None, description="Client certificate (mutual TLS), with key_file.")
    key_file: str | None = Field(default=None, description="The client certificate's private key, with cert_file.")
    key_password: SecretStr | None = Field(
        default=None, description="The password of an encrypted key_file, from an environment variable.")
    check_hostname: bool = Field(
        default=True, description="Check that a broker's certificate names the host connected to. Turn off only "
                                  "for brokers whose certificates do not name their addresses.")

    @model_validator(mode="after")
    def _client_certificate(self, info: ValidationInfo) -> KafkaTls:
        if (self.cert_file is None) != (self.key_file is None):
            given, missing = ("cert_file", "key_file") if self.key_file is None else ("key_file", "cert_file")
            raise ValueError(f"{missing}: required with {given}: a client certificate (mutual TLS) needs both the "
                             "certificate and its private key")
        if self.key_password is not None and self.key_file is None:
            raise ValueError("key_password: only with key_file (the password of an encrypted client key); remove it")
        rules = info.context if isinstance(info.context, Mapping) else {}
        if rules.get("check_files"):
            for name in _TLS_FILES:
                path = getattr(self, name)
                if path is not None and (problem := _unreadable(path)):
                    raise ValueError(f"{name}: {problem}")
        return self


def _unreadable(path: str) -> str | None:
    """Why the PEM file at `path` cannot be read by this process, or None when it can (the path is not quoted:
    it may have come from an environment variable)."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            handle.read(1)
    except FileNotFoundError:
        return "no such file on this machine (the path must be absolute, or relative to the working directory)"
    except IsADirectoryError:
        return "is a folder, not a file"
    except PermissionError:
        return "the file is not readable by this process (permission denied)"
    except OSError as error:
        return f"cannot read the file ({error.strerror or type(error).__name__})"
    return None


class KafkaSettings(_Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,100}$")] = "fulfillsync"
    partitions: Annotated[int, Field(ge=1, le=1000)] = 6
    replication_factor: Annotated[int, Field(ge=1, le=10)] = 1
    retention: Duration = timedelta(days=30)
    dead_letter_retention: Duration = timedelta(days=90)
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="PLAINTEXT (default), SSL, SASL_PLAINTEXT or SASL_SSL; every Kafka client "
                                         "of fulfillsync uses it (streams.kit.kafka_clients).")
    sasl: KafkaSasl | None = Field(default=None, description="Required for SASL_PLAINTEXT and SASL_SSL, refused "
                                                             "otherwise.")
    ssl: KafkaTls | None = Field(default=None, description="For SSL and SASL_SSL (optional there: the system's "
                                                           "CAs, no client certificate); refused otherwise.")

    @model_validator(mode="after")
    def _security(self) -> KafkaSettings:
        """`sasl` exactly with the SASL protocols; `ssl` only with the TLS ones (over PLAINTEXT it would be a
        false sense of encryption)."""
        protocol = self.security_protocol
        if protocol in SASL_PROTOCOLS and self.sasl is None:
            raise ValueError(f"sasl: required with security_protocol {protocol}: give sasl.mechanism, "
                             "sasl.username and sasl.password")
        if protocol not in SASL_PROTOCOLS and self.sasl is not None:
            raise ValueError(f"sasl: only for security_protocol SASL_PLAINTEXT or SASL_SSL, not {protocol}; remove "
                             "it or change security_protocol")
        if protocol not in TLS_PROTOCOLS and self.ssl is not None:
            raise ValueError(f"ssl: only for security_protocol SSL or SASL_SSL, not {protocol}: the connection "
                             "would not be encrypted; remove it or change security_protocol")
        return self

    @property
    def tls(self) -> KafkaTls | None:
        """The TLS settings in force: `ssl`, or the defaults (system CAs, hostname checked) for SSL and SASL_SSL
        without an `ssl` section; None when the protocol has no TLS."""
        if self.security_protocol not in TLS_PROTOCOLS:
            return None
        return self.ssl if self.ssl is not None else KafkaTls()


class PollingSettings(_Section):
    interval: Duration = timedelta(minutes=15)
    shipped_watch: Duration = timedelta(hours=1)
    sweep_interval: Duration = timedelta(minutes=15)
    """How often the sweep re-reads the watched orders of sellers whose tracking edits keep the order's modified
    time (Magento, WooCommerce): a read per order each time, so it is kept apart from a short poll interval. It
    runs on the poll timer, so it is never more often than `interval`."""


PASSWORD_HASH_FORMAT = re.compile(r"^scrypt\$n=\d+,r=\d+,p=\d+\$[A-Za-z0-9_-]+=*\$[A-Za-z0-9_-]+=*$")
"""`scrypt$n=<N>,r=<r>,p=<p>$<salt>$<hash>` (salt and hash base64url): `fulfillsync web hash-password` writes it;
`webapp.auth` documents and checks it."""


class SmtpSettings(_Section):
    """The mail server the new-order notices to manual sellers go through."""

    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 25
    sender: Annotated[str, Field(alias="from", pattern=r"^[^@\s]+@[^@\s]+$")]
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _login_pair(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username: give both username and password to sign in to the mail server, or neither")
        return self


class WebSettings(_Section):
    """`fulfillsync web`: the web app for manual sellers and buyers (docs/webapp.md)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    public_url: HttpUrl | None = Field(
        default=None, description="The address people open, for links in emails; https makes cookies Secure.")
    session_secret: SecretStr | None = Field(
        default=None, description="Signs session cookies and form tokens; at least 32 characters, from ${ENV}.")
    session_ttl: Duration = timedelta(hours=12)
    smtp: SmtpSettings | None = None
    trusted_proxies: list[IpNetwork] = Field(
        default_factory=list,
        description="Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For names the client; the "
                    "sign-in throttle counts per client address. Empty: the socket peer is the client.")
    store_dir: str = Field(
        default=".fulfillsync/web",
        description="Folder of the read model's store (one SQLite file per topic prefix): a cache of the topics, "
                    "read again from offset 0 when lost; a web process that finds it in use by another, or cannot "
                    "write there, uses a temporary one.")

    @model_validator(mode="after")
    def _secret_is_long(self) -> WebSettings:
        if self.session_secret is not None and len(self.session_secret.get_secret_value()) < 32:
            raise ValueError("session_secret: must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return self


class WebAccess(_Section):
    """Who may sign in to the web app as this connection: the scrypt hash of its password."""

    password_hash: SecretStr
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")] | None = Field(
        default=None, description="Manual sellers only: where the new-order emails go (needs web.smtp, public_url).")

    @model_validator(mode="after")
    def _hash_format(self) -> WebAccess:
        if not PASSWORD_HASH_FORMAT.match(self.password_hash.get_secret_value()):
            raise ValueError("password_hash: expected a hash made by `fulfillsync web hash-password` "
                             "(scrypt$n=...,r=...,p=...$salt$hash), not a password")
        return self


MIN_DELIVERY_TIMEOUT = timedelta(seconds=5)
MAX_DELIVERY_TIMEOUT = timedelta(minutes=15)


LogFormat = Literal["text", "json"]
"""How a long-running command writes its log (`WorkerSettings.log_format`, the `--log-format` option)."""


class WorkerSettings(_Section):
    web_host: str = "0.0.0.0"  # noqa: S104 - the worker serves health checks to Kubernetes probes
    web_port: Annotated[int, Field(ge=1, le=65535)] = 6066
    state_dir: str = ".fulfillsync/state"
    rocksdb_block_cache_mb: Annotated[int, Field(ge=1, le=4096)] = 16
    broker_session_timeout: Duration = timedelta(seconds=30)
    delivery_timeout: Duration = Field(
        default=timedelta(minutes=2),
        description="How long a record the worker publishes may wait for the broker (both of its producers) before "
                    "it counts as failed: the agent then retries in place, or the worker stops before committing, "
                    "so the input is read again after the restart. An outage shorter than this is ridden out.")
    catalog_ttl: Duration = Field(
        default=timedelta(minutes=10),
        description="How long the seller order sink trusts what a seller's catalog said about a SKU it had (its item "
                    "and price) before asking again; a SKU the catalog lacked is asked again every time.")
    standby_replicas: Annotated[int, Field(ge=0, le=10)] = Field(
        default=0,
        description="Warm copies of every table partition kept on other workers (Faust's table_standby_replicas): a "
                    "worker taking a partition over starts from its standby copy instead of the whole changelog. "
                    "Each copy costs another worker's disk, memory and changelog reads; useful only with more "
                    "workers than copies. 0: none.")
    group_instance_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,200}$")] | None = Field(
        default=None,
        description="Static consumer-group membership (Kafka's group.instance.id), unique per worker and stable "
                    "across its restarts (in Kubernetes the pod name, e.g. ${POD_NAME}): a worker that comes back "
                    "within broker_session_timeout gets its partitions again without a rebalance, but one that "
                    "stops for good keeps them unprocessed until that timeout. None: dynamic membership.")
    log_format: LogFormat = Field(
        default="text",
        description="How long-running commands (worker, web, watch, demo, sandbox) write their log: text, lines "
                    "for a person at a terminal; json, one JSON object per line with time (ISO 8601, UTC), level, "
                    "logger, message, exception and, where known, order_id, connection, event_id, topic, partition "
                    "and offset (README.md, \"Command line\"). The --log-format option (FULFILLSYNC_LOG_FORMAT) wins "
                    "over it.")

    @model_validator(mode="after")
    def _delivery_timeout_in_range(self) -> WorkerSettings:
        if not MIN_DELIVERY_TIMEOUT <= self.delivery_timeout <= MAX_DELIVERY_TIMEOUT:
            raise ValueError(f"delivery_timeout: must be between {MIN_DELIVERY_TIMEOUT.total_seconds():.0f}s and "
                             f"{MAX_DELIVERY_TIMEOUT.total_seconds() / 60:.0f}m (e.g. 2m)")
        return self


class Connection(_Section):
    """One partner's store (or the web app, for `platform: manual`)."""

    id: Identifier
    partner: Identifier
    role: Literal["seller", "buyer"]
    platform: Platform
    base_url: HttpUrl | None = None
    credentials: dict[str, SecretStr] = Field(default_factory=dict)
    webhook_secret: SecretStr | None = None
    api_version: Annotated[str, Field(pattern=r"^(\d{4}-(01|04|07|10)|unstable)$")] | None = Field(
        default=None, description="Shopify only: the Admin API version, e.g. 2026-07 (the default).")
    tracking_api: Literal["auto", "shipment-tracking", "fulfillments"] | None = Field(
        default=None, description="WooCommerce only: where tracking lives; auto (the default) reads the REST index.")
    requests_per_s: Annotated[float, Field(gt=0, le=1000)] | None = Field(
        default=None, description="This connection's request rate limit; unset: the platform's safe default.")
    notify_customer: bool = Field(
        default=False, description="Buyers only: let the platform email the customer when tracking is added.")
    web_access: WebAccess | None = Field(
        default=None, description="Manual sellers and buyers: may sign in to the web app (`fulfillsync web`).")
    max_response_mb: Annotated[int, Field(ge=1, le=1024)] = Field(
        default=16, description="The largest response body (MiB) the connector reads from this platform; a larger "
                                "one is an error. Not for manual connections.")

    @model_validator(mode="after")
    def _https_store(self, info: ValidationInfo) -> Connection:
        """With `FILE_RULES`: a store's base_url is https://, or http:// on loopback only (a simulated store)."""
        rules = info.context if isinstance(info.context, Mapping) else {}
        if (rules.get("file_rules") and self.platform != "manual" and self.base_url is not None
                and not self.base_url.lower().startswith("https://") and not is_loopback_url(self.base_url)):
            raise ValueError(
                "base_url: must start with https:// (plain http:// is allowed on loopback only: localhost, "
                "127.0.0.0/8, ::1); over http the connection's access token or keys would travel in clear to "
                "the store and anyone on the way. Use the store's https:// address")
        return self

    @model_validator(mode="after")
    def _platform_needs(self) -> Connection:
        options: tuple[ConnectionOption, ...] = ("api_version", "tracking_api")
        for option in options:
            if getattr(self, option) is not None and option not in CONNECTION_RULES[self.platform].options:
                allowed = ", ".join(name for name, rules in CONNECTION_RULES.items() if option in rules.options)
                raise ValueError(f"{option}: only for platform {allowed}, not {self.platform}; remove it")
        if self.web_access is not None and self.role == "seller" and self.platform != "manual":
            raise ValueError(f"web_access: only for buyers and manual sellers; seller platform {self.platform} "
                             "fulfills in its own store")
        if self.platform == "manual":
            if "max_response_mb" in self.model_fields_set:
                raise ValueError("max_response_mb: only for connections to a store; a manual connection reads "
                                 "no responses, remove it")
            return self
        if self.base_url is None:
            raise ValueError(f"base_url: required for platform {self.platform}")
        problem = credentials_problem(self.platform, self.credentials)
        if problem:
            raise ValueError(problem)
        return self


class PriceList(_Section):
    """`price: {list: {SKU: price}}`: the unit price the seller charges the buyer for each SKU listed, in the
    seller store's currency; SKUs not listed are charged the seller's catalog price."""

    prices: dict[Annotated[str, Field(min_length=1)], Money] = Field(alias="list", min_length=1)


class FlatShipping(_Section):
    """`shipping: {flat: 4.90}`: the shipping the seller charges per order, in the seller store's currency."""

    flat: Money


class Route(_Section):
    """Which seller ships which of a buyer's SKUs (shell-style patterns, case-sensitive), and how the seller's
    order is made (docs/routing.md, "Seller orders"): each line linked to the seller's catalog variant with the
    same SKU; a SKU the catalog lacks is refused (`unknown_sku: reject`, a dead letter) or sent as a custom line
    (`custom_line`, flagged on the order); lines priced at the catalog price or a price list; shipping free or
    flat per order."""

    buyer: Identifier
    seller: Identifier
    skus: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    unknown_sku: Literal["reject", "custom_line"] = Field(
        default="reject", description="A SKU the seller's catalog lacks: `reject` (a dead letter `unknown_sku` "
                                      "until the catalog has it) or `custom_line` (a custom line, flagged).")
    price: Literal["catalog"] | PriceList = Field(
        default="catalog", description="The unit price the seller charges: `catalog` (the seller's catalog price) "
                                       "or `{list: {SKU: price}}` in the seller store's currency.")
    shipping: Literal["free"] | FlatShipping = Field(
        default="free", description="The shipping the seller charges per order: `free` or `{flat: 4.90}`.")

    def covers(self, sku: str) -> bool:
        return any(fnmatchcase(sku, pattern) for pattern in self.skus)

    @model_validator(mode="after")
    def _listed_skus_routed(self) -> Route:
        """A price list names only SKUs this route sends to its seller: any other entry is a typo."""
        if isinstance(self.price, PriceList):
            stray = sorted(sku for sku in self.price.prices if not self.covers(sku))
            if stray:
                raise ValueError(f"price.list: {', '.join(stray[:5])} not covered by this route's skus "
                                 f"({', '.join(self.skus[:5])}); remove them or route them here")
        return self


def _glob_tokens(pattern: str) -> list[str | None]:
    """`pattern` as `fnmatch` reads it: one single-character pattern per character it matches (a literal, `?` or
    a `[...]` class, each usable with `fnmatchcase`), None for a run of `*`. An unclosed `[` is a literal."""
    tokens: list[str | None] = []
    i = 0
    while i < len(pattern):
        char, i = pattern[i], i + 1
        if char == "*":
            if not tokens or tokens[-1] is not None:
                tokens.append(None)
            continue
        end = i
        if char == "[":
            end += pattern[end:end + 1] == "!"
            end += pattern[end:end + 1] == "]"
            end = pattern.find("]", end)
        if char != "[" or end < 0:
            tokens.append("[[]" if char == "[" else char)
        else:
            tokens.append(pattern[i - 1:end + 1])
            i = end + 1
    return tokens


def sku_overlap(first: str, second: str) -> str | None:
    """A non-empty SKU that both shell-style patterns cover (`Route.covers`), or None when none exists.

    Exact: a breadth-first walk of the two patterns' automata side by side. The characters tried are those of
    the patterns, their neighbours and the extremes of Unicode, which always include one in any non-empty
    intersection of two character classes."""
    left, right = _glob_tokens(first), _glob_tokens(second)
    chars = {c for text in (first, second) for c in text}
    candidates = sorted(chars) + sorted({chr(o) for c in chars for o in (ord(c) - 1, ord(c) + 1)
                                         if 0 <= o <= 0x10FFFF} - chars) + ["x", "\x00", "\U0010ffff"]
    found: dict[tuple[int, int], str] = {(0, 0): ""}
    queue = [(0, 0)]
    for i, j in queue:
        text = found[(i, j)]
        if (i, j) == (len(left), len(right)):
            return text or "x"  # only patterns of `*` alone match the empty text, and they match every text
        steps = [((i + 1, j), text)] if i < len(left) and left[i] is None else []
        steps += [((i, j + 1), text)] if j < len(right) and right[j] is None else []
        if i < len(left) and j < len(right):
            for char in candidates:
                if all(token is None or fnmatchcase(char, token) for token in (left[i], right[j])):
                    steps.append(((i + (left[i] is not None), j + (right[j] is not None)), text + char))
                    break
        for state, reached in steps:
            if state not in found:
                found[state] = reached
                queue.append(state)
    return None


class Config(_Section):
    """The whole configuration file."""

    kafka: KafkaSettings = KafkaSettings()
    polling: PollingSettings = PollingSettings()
    worker: WorkerSettings = WorkerSettings()
    connections: list[Connection] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    web: WebSettings = WebSettings()

    def _price_lists_apply(self) -> None:
        """A SKU's route is the first of its buyer and seller covering it (docs/routing.md, "Seller orders"): a
        price-list entry of a later route that an earlier one covers would never apply."""
        for index, route in enumerate(self.routes):
            if not isinstance(route.price, PriceList):
                continue
            for sku in route.price.prices:
                first = next((i for i, other in enumerate(self.routes[:index]) if other.buyer == route.buyer
                              and other.seller == route.seller and other.covers(sku)), None)
                if first is not None:
                    raise ValueError(f"routes[{index}].price.list: {sku} is covered first by routes[{first}], "
                                     "whose settings apply to it; list its price there")

    @model_validator(mode="after")
    def _references(self) -> Config:
        seen: set[str] = set()
        for index, connection in enumerate(self.connections):
            if connection.id in seen:
                raise ValueError(f"connections[{index}].id: connection id {connection.id!r} is used twice; "
                                 "ids must be unique")
            seen.add(connection.id)
        roles = {connection.id: connection.role for connection in self.connections}
        platforms = {connection.id: connection.platform for connection in self.connections}
        for index, route in enumerate(self.routes):
            for side in ("buyer", "seller"):
                name = getattr(route, side)
                if name not in roles:
                    raise ValueError(f"routes[{index}].{side}: no connection has id {name!r}")
                if roles[name] != side:
                    raise ValueError(f"routes[{index}].{side}: connection {name!r} has role {roles[name]}, not {side}")
            catalog_settings = sorted({"unknown_sku", "price", "shipping"} & route.model_fields_set)
            if platforms[route.seller] == "manual" and catalog_settings:
                raise ValueError(f"routes[{index}].{catalog_settings[0]}: seller {route.seller!r} fulfills in the web "
                                 "app and has no catalog; remove it (it applies to sellers on a store platform)")
        self._routes_do_not_overlap()
        self._price_lists_apply()
        with_access = [connection.id for connection in self.connections if connection.web_access is not None]
        if with_access and self.web.session_secret is None:
            raise ValueError(f"web.session_secret: required when a connection has web_access "
                             f"({', '.join(with_access)}); set it from an environment variable, e.g. "
                             "${FULFILLSYNC_WEB_SECRET}")
        return self

    def _routes_do_not_overlap(self) -> None:
        """A buyer's SKU must have one seller: two routes of a buyer to different sellers may not both cover a SKU
        (file order would silently decide, and goods shipped by the wrong seller cannot be called back)."""
        for later, route in enumerate(self.routes):
            for earlier, other in enumerate(self.routes[:later]):
                if other.buyer != route.buyer or other.seller == route.seller:
                    continue
                for pattern, other_pattern in itertools.product(route.skus, other.skus):
                    example = sku_overlap(other_pattern, pattern)
                    if example is not None:
                        raise ValueError(
                            f"routes[{later}].skus: pattern {pattern!r} and pattern {other_pattern!r} of "
                            f"routes[{earlier}] both cover SKUs such as {example!r}, for buyer {route.buyer!r} "
                            f"but different sellers ({other.seller!r}, {route.seller!r}); a SKU must have one "
                            "seller: make the patterns disjoint")

    def connection(self, connection_id: str) -> Connection:
        """The connection with this id; KeyError if there is none."""
        for connection in self.connections:
            if connection.id == connection_id:
                return connection
        raise KeyError(connection_id)

    @model_validator(mode="after")
    def _new_order_emails(self) -> Config:
        """A `web_access.email` is where a manual seller's new-order emails go: only manual sellers get them, and
        sending them needs the mail server (`web.smtp`) and the address the link in them opens (`web.public_url`)."""
        for index, connection in enumerate(self.connections):
            if connection.web_access is None or connection.web_access.email is None:
                continue
            if connection.role != "seller" or connection.platform != "manual":
                raise ValueError(f"connections[{index}].web_access.email: only manual sellers get new-order emails; "
                                 "remove it")
            for setting, value in (("smtp", self.web.smtp), ("public_url", self.web.public_url)):
                if value is None:
                    raise ValueError(f"web.{setting}: required to send new-order emails (connection "
                                     f"{connection.id} has web_access.email)")
        return self

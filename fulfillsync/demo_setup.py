"""What `fulfillsync demo` runs before its script: simulated stores, a generated configuration, and the worker.

- The cast (`CAST`): two buyers and three sellers on all four platforms: northwind (Shopify) buys from acme
  (BigCommerce) and bolt (Magento 2); corner (WooCommerce) buys from cobalt (Shopify). Every buyer also sells
  its own products (SKUs `HOUSE-*`), which no route covers. And a seller without a store: dray (`manual`),
  which fulfills northwind's `DRAY-*` in the web app.
- The stores: `fulfillsync sandbox --stores <dir>/stores.yaml` as a child process (the command's own code, output
  in `<dir>/sandbox.log`); each store's `base_url` is read from the lines it announces. One per party of
  `STORE_CAST` (every party but dray).
- The configuration: `<dir>/config.yaml`, written on every run from the base configuration (broker, web port,
  partitions, polling) plus the cast's connections and routes, a topic prefix of its own for the run
  (`<base prefix>-demo-<run>`) and the state under `<dir>/state`. Credentials are `${FULFILLSYNC_DEMO_*}`
  references, set in the worker's environment (the stores accept `sandbox-token`, or `ck_sandbox`/`cs_sandbox`).
  The web app (`web:`) listens on the base configuration's `web.host`/`web.port` (any free port when that one is
  taken); dray signs in with `DEMO_WEB_PASSWORD`, whose scrypt hash, like the session secret, is made afresh for
  each run and reaches the processes as `${FULFILLSYNC_DEMO_WEB_*}` (`RunEnvironment`). The base configuration's
  Kafka security settings are kept (`kafka_document`), its secrets passed on as `${FULFILLSYNC_DEMO_KAFKA_*}`.
- The previous run's topics (found through the previous `<dir>/config.yaml`) are deleted first: its stores are
  gone, and the broker keeps only one demo's topics.
- The worker: `fulfillsync --config <dir>/config.yaml worker` as a child process, output in `<dir>/worker.log`;
  the web app: `fulfillsync --config <dir>/config.yaml web`, output in `<dir>/web.log`.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from confluent_kafka import KafkaException

from sandbox.server import free_port
from sandbox.settings import DEFAULT_CREDENTIALS, SandboxPlatform
from schemas.config import REQUIRED_CREDENTIALS, Config, KafkaSettings
from streams.kit.kafka_clients import new_admin
from webapp.auth import hash_password

DEFAULT_DIR = Path(".fulfillsync/demo")
CREDENTIAL_ENV = {"access_token": "FULFILLSYNC_DEMO_TOKEN", "consumer_key": "FULFILLSYNC_DEMO_WOO_KEY",
                  "consumer_secret": "FULFILLSYNC_DEMO_WOO_SECRET"}
WEB_ENV = {"password_hash": "FULFILLSYNC_DEMO_WEB_HASH", "session_secret": "FULFILLSYNC_DEMO_WEB_SECRET"}
KAFKA_ENV = {"password": "FULFILLSYNC_DEMO_KAFKA_PASSWORD", "key_password": "FULFILLSYNC_DEMO_KAFKA_KEY_PASSWORD"}
DEMO_WEB_PASSWORD = "dray-demo-password"  # noqa: S105 - the local demo's published password
"""dray's password in the demo's web app (printed by the demo: the demo is local and throwaway)."""
_ANNOUNCED = re.compile(r"^(?P<platform>\S+)\s+(?P<name>\S+)\s+base_url: (?P<url>\S+)$")


class DemoSetupError(RuntimeError):
    """A store, the broker or the worker could not be set up; the message says which and where its log is."""


@dataclass(frozen=True)
class Party:
    """One store of the cast and the connection fulfillsync has to it."""

    partner: str
    role: str  # buyer | seller
    platform: SandboxPlatform | Literal["manual"]
    skus: tuple[str, ...] = ()  # sellers: the SKU patterns their buyers route to them

    @property
    def connection(self) -> str:
        return f"{self.partner}-{'woo' if self.platform == 'woocommerce' else self.platform}"

    @property
    def has_store(self) -> bool:
        return self.platform != "manual"

    @property
    def store_platform(self) -> SandboxPlatform:
        """The platform of its simulated store; ValueError for a party without one."""
        if self.platform == "manual":
            raise ValueError(f"{self.partner} has no store: it fulfills in the web app")
        return self.platform

    def __str__(self) -> str:
        return f"{self.partner} ({self.platform})"


NORTHWIND = Party("northwind", "buyer", "shopify")
CORNER = Party("corner", "buyer", "woocommerce")
ACME = Party("acme", "seller", "bigcommerce", ("ACME-*",))
BOLT = Party("bolt", "seller", "magento2", ("BOLT-*",))
COBALT = Party("cobalt", "seller", "shopify", ("COBALT-*",))
DRAY = Party("dray", "seller", "manual", ("DRAY-*",))
CAST: tuple[Party, ...] = (NORTHWIND, CORNER, ACME, BOLT, COBALT, DRAY)
STORE_CAST: tuple[Party, ...] = tuple(party for party in CAST if party.has_store)
ROUTES: tuple[tuple[Party, Party], ...] = ((NORTHWIND, ACME), (NORTHWIND, BOLT), (CORNER, COBALT), (NORTHWIND, DRAY))
ROUTE_TERMS: dict[tuple[str, str], dict[str, Any]] = {
    ("northwind", "acme"): {"shipping": {"flat": "4.90"}},
    ("corner", "cobalt"): {"price": {"list": {"COBALT-SOCK": "2.80"}}},
}
"""What a seller charges a buyer beyond its catalog prices (docs/routing.md, "Seller orders")."""
CATALOG_STOCK = 40
"""Units on hand of each product of a seller's catalog when the demo starts."""
CATALOGS: dict[str, dict[str, Decimal]] = {
    "acme": {"ACME-MUG": Decimal("6.50"), "ACME-TEE": Decimal("9.00"), "ACME-CAP": Decimal("7.25")},
    "bolt": {"BOLT-LAMP": Decimal("38.00"), "BOLT-VASE": Decimal("21.00")},
    "cobalt": {"COBALT-SOCK": Decimal("3.10"), "COBALT-HAT": Decimal("11.40")},
}
"""Each store seller's catalog: SKU -> its wholesale price, in the store's currency."""


@dataclass(frozen=True)
class Store:
    """A served store: `root` reaches its admin routes (`sandbox.merchant.Merchant`), `base_url` its API."""

    party: Party
    root: str
    base_url: str


def stores_file(folder: Path) -> Path:
    """Write `<folder>/stores.yaml` for `fulfillsync sandbox --stores`: one store per party, on any free port."""
    document = {"stores": [{"platform": party.platform, "name": party.partner, "port": 0,
                            "credentials": {key: DEFAULT_CREDENTIALS[key]
                                            for key in REQUIRED_CREDENTIALS[party.platform]}}
                           for party in STORE_CAST]}
    path = folder / "stores.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def config_document(base: Config, stores: dict[str, Store], *, prefix: str, state_dir: Path,
                    interval: timedelta, web_port: int) -> dict[str, Any]:
    """The demo's configuration: `base`'s broker and worker settings, the cast's connections and routes, the web
    app on `web_port` (dray signs in there)."""
    def connection(party: Party) -> dict[str, Any]:
        document: dict[str, Any] = {"id": party.connection, "partner": party.partner, "role": party.role,
                                    "platform": party.platform}
        if not party.has_store:
            return {**document, "web_access": {"password_hash": f"${{{WEB_ENV['password_hash']}}}"}}
        return {**document, "base_url": stores[party.partner].base_url,
                "credentials": {key: f"${{{CREDENTIAL_ENV[key]}}}" for key in REQUIRED_CREDENTIALS[party.platform]}}

    return {
        "kafka": {**kafka_document(base.kafka), "topic_prefix": prefix,
                  "partitions": base.kafka.partitions, "replication_factor": base.kafka.replication_factor},
        "polling": {"interval": _duration(interval), "shipped_watch": _duration(base.polling.shipped_watch)},
        "worker": {"web_host": base.worker.web_host, "web_port": base.worker.web_port, "state_dir": str(state_dir),
                   "broker_session_timeout": _duration(base.worker.broker_session_timeout)},
        "web": {"host": base.web.host, "port": web_port, "public_url": web_url(base.web.host, web_port),
                "session_secret": f"${{{WEB_ENV['session_secret']}}}"},
        "connections": [connection(party) for party in CAST],
        "routes": [{"buyer": buyer.connection, "seller": seller.connection, "skus": list(seller.skus),
                    **ROUTE_TERMS.get((buyer.partner, seller.partner), {})} for buyer, seller in ROUTES],
    }


def kafka_document(kafka: KafkaSettings) -> dict[str, Any]:
    """The connection and security keys of `kafka` for the run's configuration file, its secrets written as
    `${FULFILLSYNC_DEMO_KAFKA_*}` references (`KAFKA_ENV`; `kafka_environment` holds their values)."""
    document: dict[str, Any] = {"bootstrap_servers": kafka.bootstrap_servers,
                                "security_protocol": kafka.security_protocol}
    if kafka.sasl is not None:
        document["sasl"] = {"mechanism": kafka.sasl.mechanism, "username": kafka.sasl.username,
                            "password": f"${{{KAFKA_ENV['password']}}}"}
    if kafka.ssl is not None:
        tls = kafka.ssl.model_dump(exclude={"key_password"}, exclude_none=True)
        document["ssl"] = tls | ({"key_password": f"${{{KAFKA_ENV['key_password']}}}"}
                                 if kafka.ssl.key_password is not None else {})
    return document


def kafka_environment(kafka: KafkaSettings) -> dict[str, str]:
    """The values of the `${FULFILLSYNC_DEMO_KAFKA_*}` references `kafka_document` writes."""
    values = {KAFKA_ENV["password"]: kafka.sasl.password.get_secret_value() if kafka.sasl is not None else None,
              KAFKA_ENV["key_password"]: kafka.ssl.key_password.get_secret_value()
              if kafka.ssl is not None and kafka.ssl.key_password is not None else None}
    return {name: value for name, value in values.items() if value is not None}


def _duration(value: timedelta) -> str:
    return f"{round(value.total_seconds() * 1000)}ms"


def web_url(host: str, port: int) -> str:
    """Where a person on this machine opens the web app."""
    return f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"  # noqa: S104 - compared, not bound


def web_port(base: Config) -> int:
    """The base configuration's `web.port` when it is free, else any free port (the demo says which)."""
    return base.web.port if _free(base.web.host, base.web.port) else free_port()


def credential_environment(kafka: KafkaSettings | None = None) -> dict[str, str]:
    """The environment variables the generated configuration refers to, with the stores' credentials, the Kafka
    secrets of `kafka` (`kafka_environment`), and for the web app a session secret and the hash of
    `DEMO_WEB_PASSWORD`, both new on every call (call it once a run, and hand the result to every process of the
    run)."""
    return {**{variable: DEFAULT_CREDENTIALS[key] for key, variable in CREDENTIAL_ENV.items()},
            **(kafka_environment(kafka) if kafka is not None else {}),
            WEB_ENV["password_hash"]: hash_password(DEMO_WEB_PASSWORD),
            WEB_ENV["session_secret"]: secrets.token_hex(32)}


def forget_previous_run(folder: Path, kafka: KafkaSettings) -> None:
    """Delete the topics of the run whose configuration is `<folder>/config.yaml` (when it used `kafka`'s
    bootstrap servers; connecting with `kafka`'s settings) and its state. Failures are reported on stderr and
    otherwise ignored: leftover topics only cost disk."""
    bootstrap = kafka.bootstrap_servers
    previous = folder / "config.yaml"
    try:
        document = yaml.safe_load(previous.read_text(encoding="utf-8")) if previous.exists() else None
    except (OSError, yaml.YAMLError):
        document = None
    written = document.get("kafka") if isinstance(document, dict) else None
    written = written if isinstance(written, dict) else {}
    prefix = written.get("topic_prefix")
    if isinstance(prefix, str) and "-demo-" in prefix and written.get("bootstrap_servers") == bootstrap:
        try:
            admin = new_admin(kafka)
            topics = [name for name in admin.list_topics(timeout=10).topics
                      if name.startswith((f"{prefix}.", f"{prefix}-"))]
            for future in admin.delete_topics(topics, operation_timeout=30).values() if topics else ():
                future.result()
        except KafkaException as error:
            print(f"note: could not delete the previous demo's topics ({prefix}.*): {error}", file=sys.stderr)
    shutil.rmtree(folder / "state", ignore_errors=True)


class ChildProcess:
    """A `fulfillsync` command run as a child process with its output in a log file; `stop` ends it."""

    def __init__(self, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "fulfillsync.cli", *argv], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})

    def exited(self) -> bool:
        return self.process.poll() is not None

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_stores(folder: Path, timeout_s: float = 60.0) -> tuple[ChildProcess, dict[str, Store]]:
    """Serve the cast's stores; returns the process and partner -> store once every store answers.
    Raises DemoSetupError (after stopping the process) when they do not within `timeout_s`."""
    process = ChildProcess(["sandbox", "--stores", str(stores_file(folder))], folder / "sandbox.log")
    parties = {party.partner: party for party in STORE_CAST}
    stores: dict[str, Store] = {}
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not process.exited():
            for line in process.log_path.read_text(errors="replace").splitlines():
                match = _ANNOUNCED.match(line.strip())
                if match and match["name"] in parties:
                    url = match["url"]
                    root = "{0.scheme}://{0.netloc}".format(urlsplit(url))
                    stores[match["name"]] = Store(parties[match["name"]], root, url)
            if len(stores) == len(STORE_CAST) and all(_answers(f"{store.root}/_sandbox/requests")
                                                      for store in stores.values()):
                return process, stores
            time.sleep(0.2)
    except BaseException:  # Ctrl-C while waiting: no store outlives the demo
        process.stop()
        raise
    process.stop()
    raise DemoSetupError(f"the simulated stores did not start within {timeout_s:.0f}s (announced: "
                         f"{sorted(stores)}); see {process.log_path}:\n{process.log_tail()}")


def start_worker(config_path: Path, web_port: int, env: dict[str, str], timeout_s: float = 120.0) -> ChildProcess:
    """`fulfillsync worker` on the generated configuration, with `env` (`credential_environment`); returns once
    /readyz answers 200. Raises DemoSetupError (after stopping it) when it exits or is not ready within
    `timeout_s`, and without starting it when something already listens on the web port (whose /readyz would be
    taken for the worker's)."""
    if not _free("127.0.0.1", web_port):
        raise DemoSetupError(f"port {web_port} (worker.web_port) is in use: is another worker or demo running? "
                             "Stop it, or give the demo a configuration with another web_port")
    process = ChildProcess(["--config", str(config_path), "worker", "--no-create-topics"],
                           config_path.parent / "worker.log", env=env)
    return _until_answers(process, "the worker", f"http://127.0.0.1:{web_port}/readyz", timeout_s)


def start_web(config_path: Path, url: str, env: dict[str, str], timeout_s: float = 60.0) -> ChildProcess:
    """`fulfillsync web` on the generated configuration, with `env`; returns once its read model caught up (its
    order list answers, after the redirect to the sign-in page, rather than 503). Raises DemoSetupError (after
    stopping it) when it exits or is not ready within `timeout_s`."""
    process = ChildProcess(["--config", str(config_path), "web", "--loglevel", "warning"],
                           config_path.parent / "web.log", env=env)
    return _until_answers(process, "the web app", f"{url}/orders", timeout_s)


def _until_answers(process: ChildProcess, what: str, url: str, timeout_s: float) -> ChildProcess:
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline and not process.exited():
            if _answers(url):
                return process
            time.sleep(0.3)
    except BaseException:  # Ctrl-C while waiting: no child outlives the demo
        process.stop()
        raise
    process.stop()
    raise DemoSetupError(f"{what} {'exited' if process.exited() else 'was not ready'} "
                         f"(within {timeout_s:.0f}s); see {process.log_path}:\n{process.log_tail()}")


def _free(host: str, port: int) -> bool:
    """Whether a server could listen on `port` (a port in TIME_WAIT counts as free, as for the servers)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - a local URL we built
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False

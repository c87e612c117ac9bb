"""The `fulfillsync` command line (typer).

    fulfillsync worker                          run the Faust worker (creates missing topics first)
    fulfillsync topics create                   create the topics, idempotently
    fulfillsync watch                           print shipped-orders and dead-letters as they arrive
    fulfillsync demo                            stores, worker, scripted merchants and each order's story
    fulfillsync config check FILE               validate a configuration file
    fulfillsync kafka start|stop|status         the local single-node Kafka broker
    fulfillsync sandbox --shopify PORT ...      simulated stores over HTTP
    fulfillsync web                             serve the web app for manual sellers and buyers
    fulfillsync web hash-password               read a password on stdin, print its hash for web_access
    fulfillsync --version                       print the version
    fulfillsync --show-completion               print this shell's completion script (--install-completion installs it)

Global options, accepted before or after the subcommand at any depth (`fulfillsync -c FILE worker`, `fulfillsync
worker -c FILE`, `fulfillsync topics create -c FILE`; `GlobalOptionsGroup` adds them to every command, and the one
nearest the command wins): `--config/-c FILE` (or FULFILLSYNC_CONFIG) and `--log-format text|json` (or
FULFILLSYNC_LOG_FORMAT; it wins over the file's `worker.log_format`). In JSON, the long-running commands (worker,
web, watch, demo, sandbox) write every log line, and the message they exit with once their log is set up (right after
reading the configuration), as one JSON object on standard error (`streams.kit.logs`), and hand the format to the
processes they start; usage errors stay plain text. Every command's `--help` ends with an example.

Exit codes: 0 success, 1 a runtime failure (broker, Kafka), 2 bad usage or configuration.

`worker`, `web`, `topics create` and `watch` first sign in to Kafka with the configured security settings
(`streams.kit.kafka_clients.check_access`): a wrong password, an untrusted certificate or no broker answering ends
them within seconds with exit code 1 and a message naming the setting, instead of a client retrying for ever.
"""

from __future__ import annotations

import copy
import importlib.metadata
import inspect
import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from fulfillsync.localkafka.broker import BrokerError, LocalBroker, default_home
from fulfillsync.ops.commands import register as register_operators_tools
from sandbox.settings import DEFAULT_CREDENTIALS, SANDBOX_PLATFORMS
from schemas.config import Config, LogFormat
from schemas.config_file import ConfigError, load_config

log = logging.getLogger("fulfillsync")
GLOBAL_OPTIONS = ("config", "log_format")
"""The root callback's options that every command and group also accepts (`GlobalOptionsGroup`)."""


class GlobalOptionsGroup(TyperGroup):
    """The root group: it gives every command and group below it, at any depth, its own copy of the global options
    (`GLOBAL_OPTIONS`), so that `fulfillsync worker --config FILE` parses like `fulfillsync --config FILE worker`.
    A copy has no environment variable or default and stores what it was given in `_state`; the subcommand's
    options are parsed after the root's, so the one nearest the command wins. A command that has an option of the
    same name or flag keeps its own. A group without an epilog of its own shows its commands' examples."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        shared = [param for param in self.params if param.name in GLOBAL_OPTIONS]
        pending = list(self.commands.values())
        while pending:
            command = pending.pop()
            taken = {flag for param in command.params for flag in (*param.opts, param.name)}
            for param in shared:
                if taken.isdisjoint({*param.opts, param.name}):
                    command.params.append(_global_copy(param))
            below = getattr(command, "commands", {})
            if below and not command.epilog:
                command.epilog = "\n\n".join(sub.epilog for sub in below.values() if sub.epilog) or None
            pending.extend(below.values())


def _global_copy(param: Any) -> Any:
    """`param` (a root option) for a subcommand: same flags, type and help, no env var or default, not passed to
    the command's function but stored in `_state` when given."""
    twin = copy.copy(param)
    twin.envvar, twin.default, twin.expose_value = None, None, False

    def remember(ctx: Any, given: Any, value: Any) -> Any:
        if value is not None:
            _state[str(given.name)] = value
        return value

    twin.callback = remember
    return twin


app = typer.Typer(cls=GlobalOptionsGroup, no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
                  help="Keeps dropship orders and shipment tracking in sync between buyers' and sellers' stores.",
                  epilog="Example: fulfillsync --config config/local.yaml worker")
kafka_app = typer.Typer(no_args_is_help=True, help="The local single-node Kafka broker (no Docker needed).",
                        epilog="Example: fulfillsync kafka start --port 9092")
topics_app = typer.Typer(no_args_is_help=True, help="fulfillsync's Kafka topics.",
                         epilog="Example: fulfillsync topics create -c config/local.yaml")
config_app = typer.Typer(no_args_is_help=True, help="Configuration files.",
                         epilog="Example: fulfillsync config check config/local.yaml")
app.add_typer(kafka_app, name="kafka")
app.add_typer(topics_app, name="topics")
app.add_typer(config_app, name="config")
web_app = typer.Typer(invoke_without_command=True,
                      help="The web app for sellers without an integration and for buyers (docs/webapp.md).",
                      epilog="Example: fulfillsync web --config prod.yaml --log-format json")
app.add_typer(web_app, name="web")

_state: dict[str, Any] = {"config": None, "log_format": None, "json_logs": False}

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", envvar="FULFILLSYNC_CONFIG", help="Configuration file (YAML).",
                 show_default=False),
]
LogFormatOption = Annotated[
    LogFormat | None,
    typer.Option("--log-format", envvar="FULFILLSYNC_LOG_FORMAT", show_default=False,
                 help="text or json (one JSON object per line on standard error) for the log of long-running "
                      "commands; wins over the configuration's worker.log_format [default: text]"),
]


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"fulfillsync {importlib.metadata.version('fulfillsync')}")
        raise typer.Exit()


@app.callback()
def _main(
    config: ConfigOption = None,
    log_format: LogFormatOption = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    _state.update(config=config, log_format=log_format, json_logs=False)


def _fail(message: str, code: int = 1) -> typer.Exit:
    """The exit to raise after telling `message` on standard error (a JSON line once the command's log is JSON)."""
    if _state["json_logs"]:
        log.error("%s", message)
    else:
        typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


def _config(logs: str | None = None) -> Config:
    """The configuration to run with, from --config / FULFILLSYNC_CONFIG (the files it names checked here), or the
    built-in local defaults. `logs`: a long-running command's log level; its log is set up here
    (`_start_logs`), before the file's warnings are told, so that in JSON they are JSON lines too."""
    path = _state["config"]
    config = Config() if path is None else _load(path, check_files=True, logs=logs)
    if path is None and logs is not None:
        _start_logs(config, logs)
    return config


def _load(path: Path, *, check_files: bool = False, logs: str | None = None) -> Config:
    """The validated file at `path`, its warnings told; exit code 2 with every problem when invalid.
    `check_files`: the TLS files it names must be readable here (`schemas.config.CHECK_FILES`). `logs`: see
    `_config`."""
    try:
        loaded = load_config(path, check_files=check_files)
    except ConfigError as error:
        if logs is not None:
            _start_logs(None, logs)
        raise _fail(str(error), 2) from None
    if logs is not None:
        _start_logs(loaded.config, logs)
    for warning in loaded.warnings:
        if _state["json_logs"]:
            log.warning("%s: %s", path, warning)
        else:
            typer.secho(f"warning: {path}: {warning}", err=True, fg=typer.colors.YELLOW)
    return loaded.config


def _log_format(config: Config | None) -> LogFormat:
    """--log-format (or FULFILLSYNC_LOG_FORMAT) when given, else `config`'s worker.log_format, else text."""
    chosen: LogFormat | None = _state["log_format"]
    if chosen is not None:
        return chosen
    return config.worker.log_format if config is not None else "text"


def _start_logs(config: Config | None, level: str) -> LogFormat:
    """Set up a long-running command's log at `level` and return its format (`_log_format`). JSON: one JSON
    handler for the whole process (`streams.kit.logs.use_json_logs`), `_fail` messages logged through it, and
    FULFILLSYNC_LOG_FORMAT set for the processes the command starts (the demo's worker, web app and stores).
    Text: the command's own set-up, left as it was."""
    chosen = _log_format(config)
    if chosen == "json":
        from streams.kit.logs import use_json_logs

        use_json_logs(level)
        _state["json_logs"] = True
        os.environ["FULFILLSYNC_LOG_FORMAT"] = "json"
    return chosen


# -- config ---------------------------------------------------------------------------------------------------


def _kafka_ready(config: Config, command: str) -> None:
    """Sign in to Kafka once with `config`'s settings and check the ACLs of the command's existing topics
    (`check_access`, `_operations`); exit code 1 with the setting to fix when that fails (a wrong password, an
    untrusted certificate, no broker answering, a missing ACL: within seconds)."""
    from streams.kit.kafka_clients import KafkaAccessError, check_access

    try:
        check_access(config.kafka, needs=_operations(config, command))
    except KafkaAccessError as error:
        raise _fail(f"{command}: cannot use Kafka: {error}") from None


def _operations(config: Config, command: str) -> dict[str, frozenset[str]]:
    """Topic -> the operations `command` needs on it: the worker reads and writes its topics (only writes the
    shipped-orders and dead-letters); the web app
    writes fulfillment-events and reads what its read model reads; `watch` reads what it prints. (`topics create`
    needs Create, which the creation itself reports.)"""
    from schemas.topics import TopicNames
    from streams.admin import topic_specs
    from streams.buyers.tables import BUYER_FULFILLMENTS
    from streams.orders.tables import ORDERS

    names = TopicNames(config.kafka.topic_prefix)
    read, read_write = frozenset({"DESCRIBE", "READ"}), frozenset({"DESCRIBE", "READ", "WRITE"})
    if command == "worker":
        write_only = {names.shipped_orders, names.dead_letters}
        return {spec.name: frozenset({"DESCRIBE", "WRITE"}) if spec.name in write_only else read_write
                for spec in topic_specs(config.kafka)}
    if command == "web":
        return {names.fulfillment_events: frozenset({"DESCRIBE", "WRITE"}), names.dead_letters: read,
                ORDERS.changelog(names.app_id): read, BUYER_FULFILLMENTS.changelog(names.app_id): read}
    if command == "watch":
        return {names.shipped_orders: read, names.dead_letters: read}
    return {}


@config_app.command("check", epilog="Example: fulfillsync config check --check-files prod.yaml")
def config_check(
    file: Path,
    check_files: Annotated[bool, typer.Option(
        "--check-files", help="Also check that the files it names (kafka.ssl.*_file) are readable here; by "
                              "default they are not, as the check may run on another machine.")] = False,
) -> None:
    """Validate FILE; print every problem with its key and line, or a summary when it is valid."""
    config = _load(file, check_files=check_files)
    typer.echo(f"{file}: valid ({len(config.connections)} connections, {len(config.routes)} routes, "
               f"topics prefixed {config.kafka.topic_prefix!r}, polling every {config.polling.interval})")


# -- kafka ----------------------------------------------------------------------------------------------------

PortOption = Annotated[int, typer.Option(help="Broker (PLAINTEXT, or SASL_SSL with --secure) port; the controller "
                                              "uses the next one, the mutual-TLS listener of --secure the one after.")]
HomeOption = Annotated[Path | None, typer.Option(help="Folder for jars, data and logs [default: .fulfillsync/kafka]")]
SecureOption = Annotated[bool, typer.Option(
    help="A secured broker: SASL_SSL (SCRAM-SHA-512, PLAIN) on --port, mutual TLS on --port + 2, ACLs, users admin, "
         "fulfillsync and reader; CA, client certificate and passwords in <home>/security. Implied for a home "
         "first started secured.")]


def _broker(port: int, home: Path | None, secure: bool = False) -> LocalBroker:
    """The broker of `home` on `port`; secured when asked, or when the home was first started secured (it has
    `security/credentials.json`)."""
    folder = (home or default_home()).resolve()
    secure = secure or (folder / "security" / "credentials.json").exists()
    return LocalBroker(home=folder, port=port, controller_port=port + 1, secure=secure)


@kafka_app.command("start", epilog="Example: fulfillsync kafka start --port 9092 --home /tmp/kafka")
def kafka_start(
    port: PortOption = 9092,
    home: HomeOption = None,
    reuse: Annotated[bool, typer.Option(help="Use a broker not started from --home if one answers on the port.")]
    = False,
    secure: SecureOption = False,
) -> None:
    """Start the broker; returns once it answers metadata requests."""
    broker = _broker(port, home, secure)
    try:
        typer.echo(f"kafka: {broker.start(reuse=reuse)}")
    except BrokerError as error:
        raise _fail(f"kafka: {error}") from None


@kafka_app.command("stop", epilog="Example: fulfillsync kafka stop --port 9092")
def kafka_stop(port: PortOption = 9092, home: HomeOption = None) -> None:
    """Stop the broker cleanly."""
    broker = _broker(port, home)
    typer.echo(f"kafka: {broker.stop()}")


@kafka_app.command("status", epilog="Example: fulfillsync kafka status --port 9092")
def kafka_status(port: PortOption = 9092, home: HomeOption = None, secure: SecureOption = False) -> None:
    """Say whether the broker runs and answers; exit 1 when it does not."""
    broker = _broker(port, home, secure)
    status = broker.status()
    typer.echo(f"kafka: {status}")
    if not status.startswith("running"):
        raise typer.Exit(1)


# -- topics ---------------------------------------------------------------------------------------------------


@topics_app.command("create", epilog="Example: fulfillsync topics create --config prod.yaml")
def topics_create() -> None:
    """Create every topic the service needs (existing ones are left as they are)."""
    from confluent_kafka import KafkaException

    from streams.admin import ensure_topics

    config = _config()
    _kafka_ready(config, "topics")
    try:
        outcome = ensure_topics(config.kafka)
    except KafkaException as error:
        raise _fail(f"topics: {error} (bootstrap servers {config.kafka.bootstrap_servers})") from None
    for name, what in outcome.items():
        typer.echo(f"{what:8} {name}")


# -- worker, watch, demo --------------------------------------------------------------------------------------


@app.command(epilog="Example: fulfillsync worker --config prod.yaml --log-format json --loglevel warning")
def worker(
    loglevel: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    create_topics: Annotated[bool, typer.Option(help="Create missing topics before starting.")] = True,
) -> None:
    """Run the worker until SIGTERM or SIGINT (Ctrl-C), then stop cleanly."""
    from confluent_kafka import KafkaException

    from streams.admin import ensure_topics
    from streams.app import create_app, run_worker

    config = _config(logs=loglevel)
    _kafka_ready(config, "worker")
    if create_topics:
        try:
            ensure_topics(config.kafka)
        except KafkaException as error:
            raise _fail(f"worker: cannot prepare topics on {config.kafka.bootstrap_servers}: {error}") from None
    run_worker(create_app(config), loglevel, _log_format(config))


@app.command(epilog="Example: fulfillsync watch --config prod.yaml --from-beginning")
def watch(
    from_beginning: Annotated[bool, typer.Option(help="Also print what was published before now.")] = False,
) -> None:
    """Print shipped-orders and dead-letters records as they arrive, one readable line each."""
    from fulfillsync.timeline import watch_outcomes

    config = _config(logs="warning")
    _kafka_ready(config, "watch")
    watch_outcomes(config, from_beginning=from_beginning)


@app.command(epilog="Example: fulfillsync --config config/local.yaml demo --interval 5s --once")
def demo(
    folder: Annotated[Path, typer.Option("--dir", help="Where the run's configuration, logs and state go.")]
    = Path(".fulfillsync/demo"),
    interval: Annotated[str, typer.Option(help="Poll interval, e.g. 2s (the configuration's polling.interval "
                                               "is not used).")] = "10s",
    step_timeout: Annotated[float | None, typer.Option(help="Longest wait for one answer of fulfillsync, seconds "
                                                            "[default: 3 intervals + 20]", show_default=False)] = None,
    duration: Annotated[float, typer.Option(help="Time limit of the merchants' script, seconds.")] = 300.0,
    once: Annotated[bool, typer.Option(help="Exit after the summary: 0 when every order reached its intended "
                                            "state, 1 otherwise.")] = False,
) -> None:
    """Simulated stores of all four platforms, the worker, a scripted merchant activity and the live story of
    every order (see the README's "What `make run` shows")."""
    from fulfillsync.demo import DemoOptions, run_demo
    from schemas.config import parse_duration

    try:
        every = parse_duration(interval)
    except ValueError as error:
        raise _fail(f"demo: --interval: {error}", 2) from None
    config = _config(logs="warning")
    _kafka_ready(config, "demo")
    raise typer.Exit(run_demo(config, DemoOptions(folder=folder, interval=every, step_timeout_s=step_timeout,
                                                  duration_s=duration, once=once)))


# -- web ------------------------------------------------------------------------------------------------------


@web_app.callback()
def web(
    ctx: typer.Context,
    loglevel: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
) -> None:
    """Serve the web app on web.host:web.port until Ctrl-C (pages answer 503 until the read model caught up)."""
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from schemas.topics import TopicNames
    from streams.kit.gc_tuning import collect_less_often
    from webapp.app import create_app
    from webapp.publisher import KafkaPublisher
    from webapp.readmodel import TopicReadModel

    config = _config(logs=loglevel)
    if config.web.session_secret is None:
        raise _fail("web: web.session_secret is not set in the configuration; see docs/webapp.md", 2)
    _kafka_ready(config, "web")
    collect_less_often()
    read_model = TopicReadModel(config).start()
    publisher = KafkaPublisher(config.kafka, TopicNames(config.kafka.topic_prefix))
    try:
        uvicorn.run(create_app(config, read_model, publisher, ready=lambda: read_model.ready,
                               publisher_failure=publisher.failure),
                    host=config.web.host, port=config.web.port, log_level=loglevel, proxy_headers=False,
                    # JSON: uvicorn's loggers go through the root's JSON handler instead of its own
                    log_config=None if _log_format(config) == "json" else LOGGING_CONFIG)
    finally:
        read_model.close()


@web_app.command("hash-password", epilog="Example: fulfillsync web hash-password < password.txt")
def web_hash_password() -> None:
    """Read a password from standard input (one line) and print its scrypt hash, for `web_access.password_hash`."""
    import sys

    from webapp.auth import hash_password

    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 12:
        raise _fail("web hash-password: use a password of at least 12 characters", 2)
    typer.echo(hash_password(password))


# -- sandbox --------------------------------------------------------------------------------------------------

SANDBOX_DEFAULT_CREDENTIALS = DEFAULT_CREDENTIALS
StorePort = Annotated[int | None, typer.Option(help="Serve one such store on this port (0: any free port).")]


def sandbox(
    stores: Annotated[Path | None, typer.Option(help="YAML file: `stores:` list of platform, name, port, "
                                                     "credentials, options (see sandbox/settings.py).")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    **ports: int | None,
) -> None:
    """Serve simulated stores over HTTP until Ctrl-C. Stores given by flags accept the token `sandbox-token`
    (WooCommerce: `ck_sandbox` / `cs_sandbox`)."""
    import asyncio

    import yaml
    from pydantic import ValidationError
    from uvicorn.config import LOGGING_CONFIG

    from sandbox.server import serve
    from sandbox.settings import SandboxFile, StoreSettings

    json_logs = _start_logs(None, "warning") == "json"  # --log-format only: the stores read no configuration
    listed: list[dict[str, object]] = []
    if stores is not None:
        try:
            loaded = yaml.safe_load(stores.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise _fail(f"sandbox: cannot read {stores}: {error}", 2) from None
        listed = list(loaded.get("stores", [])) if isinstance(loaded, dict) else []
        host = loaded.get("host", host) if isinstance(loaded, dict) else host
    for platform in SANDBOX_PLATFORMS:
        if (port := ports.get(platform)) is not None:
            listed.append({"platform": platform, "port": port, "credentials": dict(SANDBOX_DEFAULT_CREDENTIALS)})
    if not listed:
        raise _fail("sandbox: no stores; give --stores FILE or a port per platform, e.g. --shopify 8101", 2)
    settings: list[StoreSettings] = []
    problems: list[str] = []
    for index, item in enumerate(listed):
        try:
            settings.append(StoreSettings.model_validate(item))
        except ValidationError as error:
            problems += [f"stores[{index}].{'.'.join(str(part) for part in problem['loc'])}: {problem['msg']}"
                         for problem in error.errors()]
    if problems:
        raise _fail(f"sandbox: invalid store settings in {stores or 'the flags'}: {'; '.join(problems)}", 2)
    file = SandboxFile(host=host, stores=settings)
    try:
        asyncio.run(serve(file, typer.echo, log_config=None if json_logs else LOGGING_CONFIG))
    except KeyboardInterrupt:
        pass
    except OSError as error:
        raise _fail(f"sandbox: cannot listen: {error}") from None


# One `--<platform> PORT` flag per platform with a simulated store, as keyword-only parameters that typer reads
# from the signature; they reach `sandbox` through `**ports`.
sandbox.__signature__ = inspect.signature(sandbox).replace(  # type: ignore[attr-defined]
    parameters=[*(parameter for parameter in inspect.signature(sandbox).parameters.values()
                  if parameter.kind is not inspect.Parameter.VAR_KEYWORD),
                *(inspect.Parameter(platform, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=StorePort)
                  for platform in SANDBOX_PLATFORMS)])
app.command(epilog="Example: fulfillsync sandbox --shopify 8101 --woocommerce 0")(sandbox)
register_operators_tools(app, _config, _fail)  # replay, offsets reset, dead-letters, order show (fulfillsync/ops)


def main() -> None:
    """Console-script entry point."""
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()


if __name__ == "__main__":
    main()

"""Every Kafka client of fulfillsync is built here, from the configuration's `kafka:` section (`KafkaSettings`):
the bootstrap servers and the security settings (`security_protocol`, `sasl`, `ssl`) are set in this module only,
so a new client cannot forget them (tests/test_kafka_clients_built_once.py fails on a client built elsewhere).

- confluent-kafka (librdkafka): `librdkafka_settings(kafka)` is the dict (`bootstrap.servers`,
  `security.protocol`, `sasl.*`, `ssl.*`); `new_producer`, `new_consumer` and `new_admin` build the clients from
  it plus a client's own settings, which may not change the connection or security settings (ValueError).
- Faust (aiokafka): `faust_settings(kafka)` gives the app's `broker` URLs and `broker_credentials`
  (`faust.SASLCredentials`, `faust.SSLCredentials`, with an `ssl.SSLContext` from `tls_context`); `new_faust_app`
  builds an app with them.
- `check_access(kafka)`: signs in to the brokers once with these settings before a command starts, and turns the
  way it fails (a wrong password, an untrusted certificate, no broker answering) into `KafkaAccessError`, whose
  message names the setting to fix, within seconds instead of a client retrying for ever.
- `describe_kafka_error`: an authorization refusal (a topic, a consumer group, the cluster) as a sentence that
  names the principal and the ACL it lacks.

A bare string where `KafkaSettings` is expected (`as_kafka_settings`) is a PLAINTEXT broker at those servers: the
local broker of `make run`, tests and benchmarks. Secrets (`sasl.password`, `ssl.key_password`) are in the
returned dicts and credentials only: never in a message of this module.
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
import ssl
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import faust
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicCollection
from confluent_kafka.admin import AdminClient

from schemas.config import KafkaSettings, KafkaTls
from streams.kit.logs import LIBRDKAFKA_LOGGER, json_logs_active

CHECK_TIMEOUT_S: Final = 10.0
"""How long `check_access` waits for a broker to answer before it says none does."""
DEPLOY_DOCS: Final = 'docs/deploy.md, "Kafka security"'

A = TypeVar("A", bound=faust.App)

OWNED_PREFIXES: Final = ("bootstrap.servers", "security.protocol", "sasl.", "ssl.", "enable.ssl.")
"""librdkafka settings only this module sets (a client's own settings may repeat them with the same value)."""
FAUST_OWNED: Final = frozenset({"broker", "broker_credentials", "ssl_context"})


def as_kafka_settings(kafka: KafkaSettings | str) -> KafkaSettings:
    """`kafka` itself, or for a string of bootstrap servers the settings of a PLAINTEXT broker there."""
    return kafka if isinstance(kafka, KafkaSettings) else KafkaSettings(bootstrap_servers=kafka)


# -- confluent-kafka ----------------------------------------------------------------------------------------------


def librdkafka_settings(kafka: KafkaSettings) -> dict[str, Any]:
    """The confluent-kafka (librdkafka) settings of every client: `bootstrap.servers`, `security.protocol`, and per
    protocol `sasl.mechanism`/`sasl.username`/`sasl.password`, `ssl.ca.location` (the system's CAs, probed, when
    no `ca_file`), `ssl.certificate.location`/`ssl.key.location`/`ssl.key.password` and
    `ssl.endpoint.identification.algorithm` (`https`, or `none` when `check_hostname` is off). Never raises."""
    settings: dict[str, Any] = {"bootstrap.servers": kafka.bootstrap_servers,
                                "security.protocol": kafka.security_protocol}
    if kafka.sasl is not None:
        settings |= {"sasl.mechanism": kafka.sasl.mechanism, "sasl.username": kafka.sasl.username,
                     "sasl.password": kafka.sasl.password.get_secret_value()}
    tls = kafka.tls
    if tls is not None:
        settings["ssl.ca.location"] = tls.ca_file if tls.ca_file is not None else "probe"
        if tls.cert_file is not None and tls.key_file is not None:
            settings |= {"ssl.certificate.location": tls.cert_file, "ssl.key.location": tls.key_file}
        if tls.key_password is not None:
            settings["ssl.key.password"] = tls.key_password.get_secret_value()
        settings["ssl.endpoint.identification.algorithm"] = "https" if tls.check_hostname else "none"
    return settings


def client_settings(kafka: KafkaSettings | str, own: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`librdkafka_settings` plus a client's `own` settings (group id, timeouts, callbacks...). Raises ValueError
    when `own` would change a connection or security setting (`OWNED_PREFIXES`) to another value."""
    base = librdkafka_settings(as_kafka_settings(kafka))
    for key, value in (own or {}).items():
        if key.startswith(OWNED_PREFIXES) and base.get(key) != value:
            raise ValueError(f"the client setting {key!r} comes from the configuration's kafka section "
                             "(streams.kit.kafka_clients), not from the client")
    logs = {"logger": logging.getLogger(LIBRDKAFKA_LOGGER)} if json_logs_active() else {}  # JSON: no raw lines
    return {**logs, **(own or {}), **base}


def new_producer(kafka: KafkaSettings | str, own: Mapping[str, Any] | None = None) -> Producer:
    """A confluent-kafka Producer with `client_settings(kafka, own)`."""
    return Producer(client_settings(kafka, own))


def new_consumer(kafka: KafkaSettings | str, own: Mapping[str, Any]) -> Consumer:
    """A confluent-kafka Consumer with `client_settings(kafka, own)` (`own` holds at least `group.id`)."""
    return Consumer(client_settings(kafka, own))


def new_admin(kafka: KafkaSettings | str, own: Mapping[str, Any] | None = None) -> AdminClient:
    """A confluent-kafka AdminClient with `client_settings(kafka, own)`."""
    return AdminClient(client_settings(kafka, own))


# -- Faust --------------------------------------------------------------------------------------------------------


class KafkaSetupError(ValueError):
    """The configuration's TLS files cannot be used as they are (a CA file that is no certificate, a key that does
    not match its certificate, a wrong key password). `setting` names the key to fix; the message never holds a
    secret."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {message}")


def tls_context(tls: KafkaTls) -> ssl.SSLContext:
    """The client `ssl.SSLContext` of `tls`: `ssl.create_default_context(cafile=ca_file)` (the system's CAs
    without one), the client certificate loaded with `load_cert_chain`, `check_hostname` as configured (the
    brokers' certificates are always verified). Raises KafkaSetupError naming the file or password at fault;
    never prompts for a key password on a terminal."""
    try:
        context = ssl.create_default_context(cafile=tls.ca_file)
    except FileNotFoundError:
        raise KafkaSetupError("kafka.ssl.ca_file", "no such file on this machine") from None
    except (ssl.SSLError, OSError, ValueError) as error:
        raise KafkaSetupError("kafka.ssl.ca_file", f"holds no PEM CA certificate that can be used "
                                                   f"({_reason(error)})") from None
    if tls.cert_file is not None and tls.key_file is not None:
        password = tls.key_password.get_secret_value() if tls.key_password is not None else None

        def ask() -> str:
            if password is None:
                raise KafkaSetupError("kafka.ssl.key_password", "the client key (kafka.ssl.key_file) is encrypted; "
                                      "set key_password from an environment variable")
            return password

        try:
            context.load_cert_chain(tls.cert_file, tls.key_file, password=ask)
        except KafkaSetupError:
            raise
        except FileNotFoundError:
            raise KafkaSetupError("kafka.ssl.cert_file", "the certificate or key file is missing") from None
        except (ssl.SSLError, OSError, ValueError) as error:
            raise _key_problem(error, tls) from None
    context.check_hostname = tls.check_hostname
    return context


def _key_problem(error: Exception, tls: KafkaTls) -> KafkaSetupError:
    """Which of the client certificate, its key or the key's password `load_cert_chain` failed on (OpenSSL says
    "PEM lib" for most of them, so the files' PEM headers decide)."""
    text = str(error).upper()
    if "KEY_VALUES_MISMATCH" in text or "KEY VALUES MISMATCH" in text:
        return KafkaSetupError("kafka.ssl.key_file", "is not the private key of the certificate in "
                                                     "kafka.ssl.cert_file")
    certificate, key = _head(tls.cert_file), _head(tls.key_file)
    if "BEGIN CERTIFICATE" not in certificate:
        return KafkaSetupError("kafka.ssl.cert_file", "holds no PEM certificate")
    if "PRIVATE KEY" not in key:
        return KafkaSetupError("kafka.ssl.key_file", "holds no PEM private key")
    if "ENCRYPTED" in key or "BAD_DECRYPT" in text or "BAD DECRYPT" in text:
        return KafkaSetupError("kafka.ssl.key_password", "does not decrypt the client key (kafka.ssl.key_file)")
    return KafkaSetupError("kafka.ssl.cert_file", f"with kafka.ssl.key_file: not a usable PEM certificate and "
                                                  f"private key ({_reason(error)})")


def _head(path: str | None) -> str:
    """The PEM headers of the file at `path` (empty when unreadable): never its secret parts."""
    try:
        with open(path or "", encoding="ascii", errors="replace") as handle:
            return "".join(line for line in handle.read(1 << 20).splitlines(keepends=True)
                           if line.startswith(("-----", "Proc-Type")))
    except OSError:
        return ""


def _reason(error: Exception) -> str:
    return str(getattr(error, "reason", None) or type(error).__name__)


def faust_credentials(kafka: KafkaSettings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """Faust's `broker_credentials` for `kafka`: SASL credentials (with the TLS context for SASL_SSL), TLS
    credentials for SSL, None for PLAINTEXT. Raises KafkaSetupError (see `tls_context`)."""
    tls = kafka.tls
    context = tls_context(tls) if tls is not None else None
    if kafka.sasl is not None:
        return faust.SASLCredentials(username=kafka.sasl.username, password=kafka.sasl.password.get_secret_value(),
                                     mechanism=kafka.sasl.mechanism, ssl_context=context)
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def faust_settings(kafka: KafkaSettings) -> dict[str, Any]:
    """The settings of a Faust app for `kafka`: `broker` (one `kafka://` URL per bootstrap server) and
    `broker_credentials` (`faust_credentials`; left out for PLAINTEXT). aiokafka takes the protocol from the
    credentials: SASL_PLAINTEXT, SASL_SSL (SASL with a context) or SSL. Raises KafkaSetupError."""
    settings: dict[str, Any] = {"broker": [f"kafka://{server.strip()}"
                                           for server in kafka.bootstrap_servers.split(",") if server.strip()]}
    credentials = faust_credentials(kafka)
    if credentials is not None:
        settings["broker_credentials"] = credentials
    return settings


def new_faust_app(app_type: type[A], app_id: str, kafka: KafkaSettings, **options: Any) -> A:
    """`app_type(app_id, **faust_settings(kafka), **options)`. Raises ValueError when `options` set the broker or
    its credentials, KafkaSetupError when the TLS files cannot be used."""
    owned = FAUST_OWNED & set(options)
    if owned:
        raise ValueError(f"{', '.join(sorted(owned))}: set from the configuration's kafka section "
                         "(streams.kit.kafka_clients), not by the caller")
    return app_type(app_id, **faust_settings(kafka), **options)


# -- the access check ---------------------------------------------------------------------------------------------


class KafkaAccessError(RuntimeError):
    """The brokers could not be used with the configured settings. `setting` is the configuration key to look at
    first (`kafka.sasl.password`, `kafka.ssl.ca_file`, `kafka.bootstrap_servers`...); the message says what
    happened, with librdkafka's own words last, and never holds a secret."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {message}")


@dataclass(frozen=True)
class _Rule:
    words: tuple[str, ...]
    explain: Callable[[KafkaSettings], tuple[str, str]]


def _sasl_refused(kafka: KafkaSettings) -> tuple[str, str]:
    sasl = kafka.sasl
    who = f"user {sasl.username!r} with {sasl.mechanism}" if sasl is not None else "this client"
    return ("kafka.sasl.password", f"the brokers refused the sign-in of {who}: a wrong password, or no such user "
                                   "for this mechanism (check kafka.sasl.username and kafka.sasl.mechanism too)")


def _mechanism_refused(kafka: KafkaSettings) -> tuple[str, str]:
    mechanism = kafka.sasl.mechanism if kafka.sasl is not None else "?"
    return ("kafka.sasl.mechanism", f"the brokers do not offer {mechanism} on this listener")


def _untrusted(kafka: KafkaSettings) -> tuple[str, str]:
    tls = kafka.tls
    trusted = "the CA in kafka.ssl.ca_file" if tls is not None and tls.ca_file else "the system's CAs (no ca_file)"
    return ("kafka.ssl.ca_file", f"the broker's certificate is not signed by {trusted}: give the CA that signed "
                                 "the brokers' certificates")


def _wrong_name(kafka: KafkaSettings) -> tuple[str, str]:
    return ("kafka.ssl.check_hostname", "the broker's certificate does not name the address connected to; use the "
                                        "names its certificate has in kafka.bootstrap_servers")


def _client_certificate_refused(kafka: KafkaSettings) -> tuple[str, str]:
    tls = kafka.tls
    if tls is None or tls.cert_file is None:
        return ("kafka.ssl.cert_file", "the broker requires a client certificate (mutual TLS): set "
                                       "kafka.ssl.cert_file and kafka.ssl.key_file")
    return ("kafka.ssl.cert_file", "the broker refused the client certificate: it is not signed by a CA the "
                                   "broker trusts, or has expired")


def _wrong_protocol(kafka: KafkaSettings) -> tuple[str, str]:
    return ("kafka.security_protocol", f"the brokers do not speak {kafka.security_protocol} on this port (a TLS "
                                       "listener reached without TLS, or the other way round, or SASL expected)")


_RULES: Final = (
    _Rule(("unsupported sasl mechanism", "unsupported_sasl_mechanism", "mechanism not enabled",
           "does not support sasl mechanism"), _mechanism_refused),
    _Rule(("hostname mismatch", "ip address mismatch"), _wrong_name),
    _Rule(("certificate verify failed", "could not be verified", "self-signed certificate in certificate chain",
           "unable to get local issuer"), _untrusted),
    _Rule(("alert certificate required", "alert bad certificate", "alert unknown ca", "alert certificate unknown",
           "alert certificate expired", "alert handshake failure", "alert access denied"),
          _client_certificate_refused),
    _Rule(("sasl authentication error", "authentication failed", "sasl_authentication_failed", "invalid credentials"),
          _sasl_refused),
    _Rule(("wrong version number", "packet length too long", "record layer failure", "incorrect security.protocol",
           "http_request", "unexpected eof", "ssl handshake failed", "sasl handshake", "illegal_sasl_state",
           "unexpected sasl"), _wrong_protocol),
)


def explain_error(kafka: KafkaSettings, text: str) -> tuple[str, str] | None:
    """(the setting at fault, why) for a librdkafka error text about signing in or TLS; None for anything else
    (a broker that does not answer, a timeout)."""
    lowered = text.lower()
    for rule in _RULES:
        if any(word in lowered for word in rule.words):
            return rule.explain(kafka)
    return None


def check_access(kafka: KafkaSettings, *, needs: Mapping[str, Collection[str]] | None = None,
                 timeout_s: float = CHECK_TIMEOUT_S) -> str:
    """Sign in to the brokers of `kafka` and read the cluster's metadata once; return a one-line summary (the
    brokers and how we signed in). `needs`: topic -> the operations (`READ`, `WRITE`, ...) the command needs on it,
    checked against what the brokers say our principal may do there (`describe_topics` with its authorized
    operations); a topic that does not exist yet, or a broker without an authorizer, is not checked. Raises
    KafkaAccessError naming the setting at fault:
    - the TLS files unusable (`kafka.ssl.*`, before any connection; from `tls_context`);
    - a refused password (`kafka.sasl.password`) or mechanism (`kafka.sasl.mechanism`), an untrusted broker
      certificate (`kafka.ssl.ca_file`), one for another name (`kafka.ssl.check_hostname`), a refused or missing
      client certificate (`kafka.ssl.cert_file`), a listener of another protocol (`kafka.security_protocol`): as
      soon as librdkafka reports it, within seconds;
    - no broker answering within `timeout_s` (`kafka.bootstrap_servers`);
    - an operation of `needs` the ACLs do not allow (the principal's setting: `kafka.sasl.username`, or
      `kafka.ssl.cert_file`), naming the topic, what is allowed and what to grant.
    Other refusals name the missing ACL where they happen (`describe_kafka_error`)."""
    tls = kafka.tls
    if tls is not None:
        try:
            tls_context(tls)
        except KafkaSetupError as error:
            raise KafkaAccessError(error.setting, str(error).removeprefix(f"{error.setting}: ")) from None
    said = _Heard()
    try:
        admin = new_admin(kafka, {"error_cb": said.error, "logger": said.logger,
                                  "socket.connection.setup.timeout.ms": max(1000, int(timeout_s * 1000) // 2)})
    except KafkaException as error:  # librdkafka refused a setting (e.g. a key it cannot read)
        found = explain_error(kafka, str(error))
        raise KafkaAccessError(*(found or ("kafka.ssl", f"librdkafka cannot use the TLS settings: {error}"))) from None
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            metadata = admin.list_topics(timeout=max(0.1, min(1.0, deadline - time.monotonic())))
            brokers = ", ".join(sorted(f"{broker.host}:{broker.port}" for broker in metadata.brokers.values()))
            if needs:
                _check_operations(kafka, admin, needs, timeout_s)
            return f"signed in to {len(metadata.brokers)} broker(s) ({brokers}) over {_how(kafka)}"
        except KafkaException as error:
            said.lines.append(str(error.args[0]) if error.args else str(error))
        admin.poll(0)
        for line in said.lines:
            cause = explain_error(kafka, line)
            if cause is not None:
                raise KafkaAccessError(cause[0], f"{cause[1]} [{kafka.bootstrap_servers}: {_clean(line)}]")
        dropped = [line for line in said.lines if _DROPPED.search(line)]
        if len(dropped) >= DROPS_BEFORE_VERDICT:
            setting, why = _wrong_protocol(kafka)
            raise KafkaAccessError(setting, f"{why} [{kafka.bootstrap_servers}: {_clean(dropped[-1])}]")
        if time.monotonic() >= deadline:
            last = said.lines[-1] if said.lines else "no answer"
            raise KafkaAccessError("kafka.bootstrap_servers", f"no broker answered within {timeout_s:.0f}s: check "
                                   f"the addresses and that the brokers run and are reachable from here "
                                   f"[{kafka.bootstrap_servers}: {_clean(last)}]")


def _check_operations(kafka: KafkaSettings, admin: AdminClient, needs: Mapping[str, Collection[str]],
                      timeout_s: float) -> None:
    """Raise KafkaAccessError for the first topic of `needs` (by name) on which the principal lacks an operation."""
    try:
        futures = admin.describe_topics(TopicCollection(sorted(needs)), include_authorized_operations=True,
                                        request_timeout=timeout_s)
    except KafkaException:  # brokers too old to say: the refusals will name what is missing where they happen
        return
    for topic, future in sorted(futures.items()):
        wanted = {operation.upper() for operation in needs[topic]}
        allowed: set[str] = set()
        try:
            operations = future.result(timeout=timeout_s).authorized_operations
        except KafkaException as error:
            found = error.args[0] if error.args else None
            if not isinstance(found, KafkaError) or found.code() != KafkaError.TOPIC_AUTHORIZATION_FAILED:
                continue  # not there yet (it is created later), or the broker could not say: not checked
        except concurrent.futures.TimeoutError:
            continue
        else:
            if operations is None:  # a broker without an authorizer: anything goes
                continue
            allowed = {operation.name for operation in operations}
        missing = sorted(wanted - allowed)
        if missing:
            raise KafkaAccessError(_principal_setting(kafka), (
                f"{principal(kafka)} may not {', '.join(missing)} topic {topic} (its ACLs allow "
                f"{', '.join(sorted(allowed)) or 'nothing'}); grant it {', '.join(sorted(wanted | {'DESCRIBE'}))} "
                f"on the topics prefixed {kafka.topic_prefix!r} ({DEPLOY_DOCS})"))


def _principal_setting(kafka: KafkaSettings) -> str:
    """The configuration key that decides who the brokers see."""
    if kafka.sasl is not None:
        return "kafka.sasl.username"
    tls = kafka.tls
    return "kafka.ssl.cert_file" if tls is not None and tls.cert_file is not None else "kafka.security_protocol"


DROPS_BEFORE_VERDICT: Final = 3
_DROPPED: Final = re.compile(r"Disconnected.*closed by peer.*in state (APIVERSION_QUERY|UP)\)")
"""A connection the broker closes as soon as the client speaks (before the API versions are known, or right after
the TLS handshake): the listener expects another protocol (TLS, or SASL after TLS). Said by librdkafka's log only,
so `check_access` reads its log; `DROPS_BEFORE_VERDICT` of them in a row are a verdict, not a restarting broker."""


class _Heard:
    """What librdkafka reported during `check_access`: its error callbacks and its log lines, as text."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        # a logger of this check's own (not registered): its lines become the verdict, not log noise
        self.logger = logging.Logger(f"{__name__}.check", logging.INFO)
        self.logger.addHandler(_Collect(self.lines))

    def error(self, error: KafkaError) -> None:
        self.lines.append(error.str())


class _Collect(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self._lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self._lines.append(record.getMessage())


def _clean(line: str) -> str:
    """A librdkafka line without its `FAIL [rdkafka#producer-1] [thrd:...]: ` prefix."""
    return re.sub(r"^\w+ \[rdkafka#[^]]*\] \[thrd:[^]]*\]: ", "", line)


def _how(kafka: KafkaSettings) -> str:
    protocol = kafka.security_protocol
    if kafka.sasl is not None:
        return f"{protocol} as user {kafka.sasl.username!r} ({kafka.sasl.mechanism})"
    tls = kafka.tls
    if tls is not None and tls.cert_file is not None:
        return f"{protocol} with a client certificate"
    return protocol


# -- authorization refusals ---------------------------------------------------------------------------------------

_REFUSALS: Final[Mapping[int, tuple[str, str, str]]] = {
    KafkaError.TOPIC_AUTHORIZATION_FAILED: ("topic authorization failed", "topic",
                                            "Describe, Read, Write or Create on the topics"),
    KafkaError.GROUP_AUTHORIZATION_FAILED: ("group authorization failed", "consumer group",
                                            "Read on the consumer groups"),
    KafkaError.CLUSTER_AUTHORIZATION_FAILED: ("cluster authorization failed", "cluster",
                                              "Write on the topics (idempotent producers; IdempotentWrite on the "
                                              "cluster for brokers before Kafka 3.0)"),
}


REFUSED: Final = frozenset(_REFUSALS)
"""The error codes of an authorization refusal (`describe_kafka_error` says which ACL is missing)."""


def principal(kafka: KafkaSettings) -> str:
    """Who the brokers see, in words naming the setting: the SASL user, the client certificate, or anonymous."""
    if kafka.sasl is not None:
        return f"User:{kafka.sasl.username} (kafka.sasl.username)"
    tls = kafka.tls
    if tls is not None and tls.cert_file is not None:
        return "the principal of the client certificate (kafka.ssl.cert_file)"
    return "User:ANONYMOUS (no kafka.sasl or client certificate)"


def describe_kafka_error(kafka: KafkaSettings, error: KafkaError | KafkaException | str, *,
                         what: str = "") -> str:
    """`error` as a sentence: for an authorization refusal (a topic, a consumer group, the cluster), who was
    refused and which ACL it lacks on the `kafka.topic_prefix` resources; anything else as librdkafka says it.
    `what` names what was being done, as a verb phrase (e.g. "write to topic <name>"). Never raises."""
    found = error.args[0] if isinstance(error, KafkaException) and error.args else error
    text = found.str() if isinstance(found, KafkaError) else str(found)
    code = found.code() if isinstance(found, KafkaError) else None
    if code is None:
        lowered = text.lower()
        code = next((number for number, (words, _, _) in _REFUSALS.items() if words in lowered), None)
    doing = f" to {what}" if what else ""
    if code is not None and code in _REFUSALS:
        _, kind, needed = _REFUSALS[code]
        return (f"not authorized{doing}: the brokers refused {principal(kafka)} access to the {kind}; grant it "
                f"{needed} prefixed {kafka.topic_prefix!r} ({DEPLOY_DOCS}) [{text}]")
    return f"could not {what}: {text}" if what else text

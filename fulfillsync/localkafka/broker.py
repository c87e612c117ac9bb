"""Start, stop and inspect the local KRaft broker.

Layout of the home folder (default `.fulfillsync/kafka` under the current directory, or `$FULFILLSYNC_HOME/kafka`):

    libs/             the broker's jars, fetched by Maven once and reused
    data/             the formatted log directory
    logs/server.log   the broker's own log (kept across runs)
    logs/stdout.log   what the JVM printed
    server.properties the configuration the broker was started with
    broker.pid        the running broker's process id
    security/         secured brokers only: the CA, certificates and passwords (`fulfillsync.localkafka.security`)

A secured broker (`LocalBroker(secure=True)`, `fulfillsync kafka start --secure`) is the same Kafka 4 broker with
a SASL_SSL listener (SCRAM-SHA-512 and PLAIN) on `port`, a mutual-TLS listener (client certificates required) on
`mtls_port` (default `port + 2`), the controller listener PLAINTEXT on loopback, the StandardAuthorizer with ACLs,
and three users: `admin` (a super user), `fulfillsync` (the service's ACLs) and `reader` (reading only); the users
and ACLs are described in `fulfillsync.localkafka.security`. `kafka_settings(user)` and `mtls_settings()` are
the `kafka:` settings to reach it. A home is secured or not from its first start on (the SCRAM users are made when
the storage is formatted).
"""

from __future__ import annotations

import base64
import concurrent.futures
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from confluent_kafka import KafkaException
from confluent_kafka.admin._acl import AclBinding, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from pydantic import SecretStr

from fulfillsync.localkafka.security import (
    ADMIN,
    BROKER_PRINCIPAL,
    READER,
    SERVICE,
    SERVICE_PREFIX,
    SecureMaterial,
    SecurityMaterialError,
)
from schemas.config import KafkaSasl, KafkaSettings, KafkaTls, SaslMechanism
from streams.kit.kafka_clients import new_admin

KAFKA_JARS_MARKER = "kafka_2.13-"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


class BrokerError(RuntimeError):
    """The local broker could not be started, stopped or found; the message says what to do."""


def default_home() -> Path:
    """The folder that holds the broker's jars, data and logs."""
    base = os.environ.get("FULFILLSYNC_HOME")
    return (Path(base) if base else Path.cwd() / ".fulfillsync") / "kafka"


def broker_answers(bootstrap: str | KafkaSettings, timeout_s: float = 2.0) -> bool:
    """True when a broker at `bootstrap` (servers of a PLAINTEXT broker, or the settings to reach a secured one)
    answers a metadata request within `timeout_s`."""
    admin = new_admin(bootstrap, {"socket.connection.setup.timeout.ms": 1000, "log_level": 0})
    try:
        admin.list_topics(timeout=timeout_s)
    except Exception:  # noqa: BLE001 - any failure means "not answering"
        return False
    return True


@dataclass(frozen=True)
class LocalBroker:
    """One local broker: its home folder and ports.

    Every method raises `BrokerError` with an actionable message on failure; none leaves a half-started
    JVM behind (a broker that does not become ready in time is stopped again).
    """

    home: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"
    secure: bool = False
    """SASL_SSL on `port`, mutual TLS on `mtls_port`, ACLs (the module docstring)."""
    mtls_port: int | None = None
    """Secured brokers: the mutual-TLS listener's port; None: `port + 2`."""

    def __post_init__(self) -> None:
        # Maven resolves relative paths against the pom's folder, not ours.
        object.__setattr__(self, "home", Path(self.home).resolve())
        if self.secure and self.mtls_port is None:
            object.__setattr__(self, "mtls_port", self.port + 2)

    @property
    def bootstrap(self) -> str:
        """The address clients connect to: PLAINTEXT, or SASL_SSL on a secured broker."""
        return f"127.0.0.1:{self.port}"

    @property
    def mtls_bootstrap(self) -> str:
        """A secured broker's mutual-TLS listener. Raises BrokerError on a broker that is not secured."""
        if not self.secure:
            raise BrokerError("this broker is not secured: it has no mutual-TLS listener")
        return f"127.0.0.1:{self.mtls_port}"

    @property
    def security(self) -> SecureMaterial:
        """A secured broker's CA, client certificate and passwords, made on first use. Raises BrokerError on a
        broker that is not secured, or when they cannot be made (the `cryptography` package missing)."""
        if not self.secure:
            raise BrokerError("this broker is not secured: start it with secure=True (`kafka start --secure`)")
        try:
            return SecureMaterial.load_or_make(self.home / "security")
        except SecurityMaterialError as error:
            raise BrokerError(str(error)) from None

    def kafka_settings(self, user: str = SERVICE, *, mechanism: SaslMechanism = "SCRAM-SHA-512",
                       password: str | None = None) -> KafkaSettings:
        """The `kafka:` settings of `user` on a secured broker's SASL_SSL listener (its own password unless
        `password` is given), trusting the broker's CA."""
        security = self.security
        return KafkaSettings(
            bootstrap_servers=self.bootstrap, security_protocol="SASL_SSL",
            sasl=KafkaSasl(mechanism=mechanism, username=user,
                           password=SecretStr(password if password is not None else security.passwords[user])),
            ssl=KafkaTls(ca_file=str(security.ca_file)))

    def mtls_settings(self) -> KafkaSettings:
        """The `kafka:` settings of the client certificate (principal User:fulfillsync) on a secured broker's
        mutual-TLS listener."""
        security = self.security
        return KafkaSettings(
            bootstrap_servers=self.mtls_bootstrap, security_protocol="SSL",
            ssl=KafkaTls(ca_file=str(security.ca_file), cert_file=str(security.client_cert),
                         key_file=str(security.client_key),
                         key_password=SecretStr(security.client_key_password)))

    @property
    def _answer_settings(self) -> str | KafkaSettings:
        return self.kafka_settings(ADMIN) if self.secure else self.bootstrap

    @property
    def log_file(self) -> Path:
        return self.home / "logs" / "server.log"

    @property
    def _pid_file(self) -> Path:
        return self.home / "broker.pid"

    def pid(self) -> int | None:
        """The running broker's pid, or None when it is not running (a stale pid file is removed)."""
        try:
            pid = int(self._pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if not _alive(pid):
            self._pid_file.unlink(missing_ok=True)
            return None
        return pid

    def status(self) -> str:
        """A one-line, human-readable status."""
        pid = self.pid()
        answering = broker_answers(self._answer_settings, timeout_s=1.0)
        if pid and answering:
            return f"running: pid {pid}, {self.bootstrap}, log {self.log_file}"
        if pid:
            return f"starting or unhealthy: pid {pid} does not answer on {self.bootstrap}; see {self.log_file}"
        if answering:
            return f"a broker not started from {self.home} answers on {self.bootstrap}"
        return f"stopped ({self.bootstrap})"

    def start(self, *, reuse: bool = False) -> str:
        """Start the broker and return once it answers metadata requests.

        Idempotent: a broker already running from this home is left as it is. A broker from elsewhere on the
        same port is an error, unless `reuse` says to use whatever answers there.
        """
        if self.pid() is not None and broker_answers(self._answer_settings):
            return f"already running on {self._listeners_text()}"
        if broker_answers(self._answer_settings, timeout_s=1.0):
            if reuse:
                return f"using the broker that already answers on {self.bootstrap}"
            raise BrokerError(
                f"another broker already answers on {self.bootstrap}; use it (set KAFKA_BOOTSTRAP_SERVERS) "
                f"or choose another port with --port"
            )
        if self.secure:
            taken = [port for port in self._ports() if _listening(port)]
            if taken:
                raise BrokerError(f"port(s) {', '.join(map(str, taken))} on 127.0.0.1 are taken by another "
                                  "process; choose another --port (the secured broker uses it and the next two)")
        java = _require_tool("java", "a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre-headless`)")
        self._fetch_jars()
        properties = self._write_properties()
        self._format_storage(java, properties)
        self._spawn(java, properties)
        self._wait_ready()
        if self.secure:
            self._grant_acls()
        return f"started on {self._listeners_text()} (log {self.log_file})"

    def _ports(self) -> list[int]:
        return [self.port, self.controller_port] + ([self.mtls_port] if self.mtls_port is not None else [])

    def _listeners_text(self) -> str:
        if not self.secure:
            return self.bootstrap
        return (f"{self.bootstrap} (SASL_SSL: SCRAM-SHA-512, PLAIN) and {self.mtls_bootstrap} (SSL with client "
                f"certificates); CA, client certificate and passwords in {self.home / 'security'}")

    def stop(self) -> str:
        """Stop the broker cleanly (SIGTERM, then SIGKILL after a timeout). Stopping a stopped broker is a no-op."""
        pid = self.pid()
        if pid is None:
            return "not running"
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline:
            if not _alive(pid):
                self._pid_file.unlink(missing_ok=True)
                return f"stopped (pid {pid})"
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)
        return f"killed after {STOP_TIMEOUT_S:.0f}s without a clean shutdown (pid {pid}); see {self.log_file}"

    # -- steps of start ---------------------------------------------------------------------------------

    def _fetch_jars(self) -> None:
        libs = self.home / "libs"
        if _has_kafka_jars(libs):
            return
        mvn = _require_tool("mvn", "Apache Maven, to fetch the broker's jars (e.g. `apt-get install maven`)")
        libs.mkdir(parents=True, exist_ok=True)
        with resources.as_file(resources.files(__package__).joinpath("pom.xml")) as pom:
            result = subprocess.run(
                [mvn, "-q", "-B", "-f", str(pom), "dependency:copy-dependencies",
                 f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
                capture_output=True, text=True, check=False,
            )
        if result.returncode != 0 or not _has_kafka_jars(libs):
            shutil.rmtree(libs, ignore_errors=True)
            raise BrokerError(
                f"Maven could not fetch the Kafka jars from Maven Central into {libs}; check network access to "
                f"the registry. Maven said:\n{_tail(result.stdout + result.stderr) or '(nothing)'}"
            )

    def _write_properties(self) -> Path:
        template = resources.files(__package__).joinpath("server.properties").read_text()
        data_dir = self.home / "data"
        controller = f"CONTROLLER://127.0.0.1:{self.controller_port}"
        if self.secure:
            if (data_dir / "meta.properties").exists() and not (self.home / "security").is_dir():
                raise BrokerError(f"{self.home} holds a broker formatted without security; give --secure a home "
                                  "of its own (--home)")
            security = self.security
            client = f"SASL_SSL://127.0.0.1:{self.port},SSL://127.0.0.1:{self.mtls_port}"
            listeners = {"listeners": f"{client},{controller}", "advertised_listeners": client,
                         "protocol_map": "SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT",
                         "inter_broker_listener": "SSL"}
        else:
            plain = f"PLAINTEXT://127.0.0.1:{self.port}"
            listeners = {"listeners": f"{plain},{controller}", "advertised_listeners": plain,
                         "protocol_map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                         "inter_broker_listener": "PLAINTEXT"}
        text = template.format(data_dir=data_dir, controller_port=self.controller_port, **listeners)
        if self.secure:
            text += resources.files(__package__).joinpath("secure.properties").read_text().format(
                plain_users=" ".join(f'user_{user}="{password}"' for user, password in security.passwords.items()),
                keystore=security.broker_keystore, truststore=security.ca_file,
                super_users=f"User:ANONYMOUS;User:{BROKER_PRINCIPAL};User:{ADMIN}")
        path = self.home / "server.properties"
        self.home.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # PLAIN passwords inside
        with os.fdopen(descriptor, "w") as handle:
            handle.write(text)
        return path

    def _format_storage(self, java: str, properties: Path) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        # A base64url id may begin with "-": given as `--cluster-id=...`, it is never taken for an option.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        scram = []
        if self.secure:
            for user, password in self.security.passwords.items():
                scram += ["--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]"]
        result = subprocess.run(
            [java, "-cp", str(self.home / "libs" / "*"), "kafka.tools.StorageTool", "format",
             f"--cluster-id={cluster_id}", "-c", str(properties), *scram],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"formatting the broker's storage failed:\n{_tail(result.stdout + result.stderr)}")

    def _spawn(self, java: str, properties: Path) -> None:
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        with resources.as_file(resources.files(__package__).joinpath("log4j2.properties")) as log_config:
            log_config_copy = self.home / "log4j2.properties"
            shutil.copyfile(log_config, log_config_copy)
        stdout = (logs / "stdout.log").open("ab")
        process = subprocess.Popen(
            [java, f"-Xmx{self.heap}", f"-Xms{self.heap}", "-XX:+UseG1GC",
             f"-Dlog4j2.configurationFile={log_config_copy}", f"-Dkafka.logs.dir={logs}",
             "-cp", str(self.home / "libs" / "*"), "kafka.Kafka", str(properties)],
            stdout=stdout, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        stdout.close()
        self._pid_file.write_text(str(process.pid))

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            pid = self.pid()
            if pid is None:
                raise BrokerError(f"the broker exited during start-up; last lines of its log:\n{self._log_tail()}")
            if broker_answers(self._answer_settings) and (
                    not self.secure or broker_answers(self.mtls_settings())):
                return
            time.sleep(0.5)
        self.stop()
        raise BrokerError(
            f"the broker did not answer on {self.bootstrap} within {START_TIMEOUT_S:.0f}s and was stopped; "
            f"last lines of its log:\n{self._log_tail()}"
        )

    def _grant_acls(self) -> None:
        """The ACLs of the service user and the reader (`fulfillsync.localkafka.security`), made as the admin user;
        making an existing ACL again changes nothing. Raises BrokerError when the broker refuses them."""
        admin = new_admin(self.kafka_settings(ADMIN))
        try:
            for future in admin.create_acls(acl_bindings(), request_timeout=30).values():
                future.result(timeout=30)
        except (KafkaException, concurrent.futures.TimeoutError) as error:
            raise BrokerError(f"the broker did not take its ACLs: {error}; see {self.log_file}") from None

    def _log_tail(self) -> str:
        texts = []
        for name in ("server.log", "stdout.log"):
            path = self.home / "logs" / name
            if path.exists():
                texts.append(_tail(path.read_text(errors="replace")))
        return "\n".join(texts) or "(no log written)"


SERVICE_TOPIC_OPERATIONS = (AclOperation.CREATE, AclOperation.DESCRIBE, AclOperation.READ, AclOperation.WRITE,
                            AclOperation.DESCRIBE_CONFIGS)
"""What the service may do on the topics of its prefix (docs/deploy.md, "Kafka security"): no cluster ACL at all
(idempotent producers need only Write on a topic since Kafka 3.0)."""


def acl_bindings(prefix: str = SERVICE_PREFIX) -> list[AclBinding]:
    """The ACLs of a secured broker: the service user on topics and consumer groups prefixed `prefix`
    (`SERVICE_TOPIC_OPERATIONS`; Read on the groups), the reader user Describe and Read on those topics and Read
    on those groups."""
    def allow(user: str, kind: ResourceType, operation: AclOperation) -> AclBinding:
        return AclBinding(kind, prefix, ResourcePatternType.PREFIXED, f"User:{user}", "*", operation,
                          AclPermissionType.ALLOW)

    return ([allow(SERVICE, ResourceType.TOPIC, operation) for operation in SERVICE_TOPIC_OPERATIONS]
            + [allow(SERVICE, ResourceType.GROUP, AclOperation.READ)]
            + [allow(READER, ResourceType.TOPIC, operation) for operation in (AclOperation.DESCRIBE,
                                                                              AclOperation.READ)]
            + [allow(READER, ResourceType.GROUP, AclOperation.READ)])


def _listening(port: int) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _has_kafka_jars(libs: Path) -> bool:
    return libs.is_dir() and any(p.name.startswith(KAFKA_JARS_MARKER) for p in libs.iterdir())


def _require_tool(name: str, what: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BrokerError(
            f"`{name}` was not found on PATH: the local Kafka broker needs {what}. "
            "Alternatively point KAFKA_BOOTSTRAP_SERVERS (or kafka.bootstrap_servers) at a running broker."
        )
    return path


def _alive(pid: int) -> bool:
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])

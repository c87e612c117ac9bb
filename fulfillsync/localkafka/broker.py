"""Start, stop and inspect the local KRaft broker.

Layout of the home folder (default `.fulfillsync/kafka` under the current directory, or `$FULFILLSYNC_HOME/kafka`):

    libs/             the broker's jars, fetched by Maven once and reused
    data/             the formatted log directory
    logs/server.log   the broker's own log (kept across runs)
    logs/stdout.log   what the JVM printed
    server.properties the configuration the broker was started with
    broker.pid        the running broker's process id
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from confluent_kafka.admin import AdminClient

KAFKA_JARS_MARKER = "kafka_2.13-"
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 30.0


class BrokerError(RuntimeError):
    """The local broker could not be started, stopped or found; the message says what to do."""


def default_home() -> Path:
    """The folder that holds the broker's jars, data and logs."""
    base = os.environ.get("FULFILLSYNC_HOME")
    return (Path(base) if base else Path.cwd() / ".fulfillsync") / "kafka"


def broker_answers(bootstrap: str, timeout_s: float = 2.0) -> bool:
    """True when a broker at `bootstrap` answers a metadata request within `timeout_s`."""
    admin = AdminClient(
        {"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000, "log_level": 0}
    )
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

    def __post_init__(self) -> None:
        # Maven resolves relative paths against the pom's folder, not ours.
        object.__setattr__(self, "home", Path(self.home).resolve())

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

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
        answering = broker_answers(self.bootstrap, timeout_s=1.0)
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
        if self.pid() is not None and broker_answers(self.bootstrap):
            return f"already running on {self.bootstrap}"
        if broker_answers(self.bootstrap, timeout_s=1.0):
            if reuse:
                return f"using the broker that already answers on {self.bootstrap}"
            raise BrokerError(
                f"another broker already answers on {self.bootstrap}; use it (set KAFKA_BOOTSTRAP_SERVERS) "
                f"or choose another port with --port"
            )
        java = _require_tool("java", "a Java 17+ runtime (e.g. `apt-get install openjdk-17-jre-headless`)")
        self._fetch_jars()
        properties = self._write_properties()
        self._format_storage(java, properties)
        self._spawn(java, properties)
        self._wait_ready()
        return f"started on {self.bootstrap} (log {self.log_file})"

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
        text = template.format(data_dir=data_dir, port=self.port, controller_port=self.controller_port)
        path = self.home / "server.properties"
        path.write_text(text)
        return path

    def _format_storage(self, java: str, properties: Path) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        result = subprocess.run(
            [java, "-cp", str(self.home / "libs" / "*"), "kafka.tools.StorageTool", "format",
             "-t", cluster_id, "-c", str(properties)],
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
            if broker_answers(self.bootstrap):
                return
            time.sleep(0.5)
        self.stop()
        raise BrokerError(
            f"the broker did not answer on {self.bootstrap} within {START_TIMEOUT_S:.0f}s and was stopped; "
            f"last lines of its log:\n{self._log_tail()}"
        )

    def _log_tail(self) -> str:
        texts = []
        for name in ("server.log", "stdout.log"):
            path = self.home / "logs" / name
            if path.exists():
                texts.append(_tail(path.read_text(errors="replace")))
        return "\n".join(texts) or "(no log written)"


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

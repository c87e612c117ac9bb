"""`fulfillsync web` as a child process, for end-to-end tests of the web app (the same harness as the worker's)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from tests.support.kafka_harness import WorkerProcess

WEB_READY_TIMEOUT_S = 60.0


@dataclass
class WebProcess(WorkerProcess):
    """`fulfillsync --config FILE web` with its output in a log file; `root` is `http://{web.host}:{web.port}`."""

    @property
    def root(self) -> str:
        web = self.config.web
        return f"http://{web.host}:{web.port}"

    def start(self) -> WebProcess:
        """Start it and return once its read model caught up (`/orders` no longer answers 503 "catching up");
        AssertionError with the log's tail when it exits or is not ready within `WEB_READY_TIMEOUT_S`."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fulfillsync.cli", "--config", str(self.config_path), "web",
                 "--loglevel", "warning"], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + WEB_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"fulfillsync web exited with {self.process.returncode}:\n{self.log_tail()}")
            if self.http("/orders")[0] == 200:  # the redirect to the sign-in page, followed
                return self
            time.sleep(0.3)
        raise AssertionError(f"fulfillsync web not ready within {WEB_READY_TIMEOUT_S:.0f}s:\n{self.log_tail()}")

    def http(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.root + path, timeout=2) as response:
                return int(response.status), response.read().decode()
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode()
        except OSError:
            return 0, ""

"""Running `fulfillsync` as an operator does: its own process (`python -m fulfillsync.cli`), output captured."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping


def run_cli(*args: str, env: Mapping[str, str] | None = None,
            timeout_s: float = 180.0) -> subprocess.CompletedProcess[str]:
    """`fulfillsync ARGS...` to its end (at most `timeout_s`), standard input closed; `env`: its whole environment
    (None: this process's)."""
    return subprocess.run([sys.executable, "-m", "fulfillsync.cli", *args], capture_output=True, text=True,
                          check=False, timeout=timeout_s, stdin=subprocess.DEVNULL,
                          env=None if env is None else dict(env))

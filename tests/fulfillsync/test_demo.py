"""`make run`'s demo against the real broker: every scripted outcome appears, readable by a person."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.kafka_harness import write_config

pytestmark = pytest.mark.kafka


def test_demo_shows_shipped_reopened_and_dead_lettered_orders(tmp_path: Path, kafka_bootstrap: str) -> None:
    config = write_config(tmp_path, kafka_bootstrap)
    result = subprocess.run(
        [sys.executable, "-m", "fulfillsync.cli", "--config", str(config), "demo", "--pause", "0.05",
         "--exit-when-done"],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "all expected outcomes seen" in out
    assert out.count("<= SHIPPED") == 4
    assert "<= REOPENED" in out and "was cancelled" in out
    assert "<= TRACKING" in out and "794612345692" in out
    assert "<= DEAD-LETTER" in out and "over_fulfillment: line L1: 3 more unit(s)" in out
    assert "invalid_payload" in out
    # Orders are named by the buyer's reference, dead letters included (they carry only our order id).
    assert re.search(r"<= DEAD-LETTER  order #\d{6}-1004: over_fulfillment", out), out
    assert re.search(r"<= SHIPPED      order #\d{6}-1001: 4 unit\(s\) in 3 fulfillment\(s\)", out), out

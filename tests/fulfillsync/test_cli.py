"""The command line's configuration handling: exit codes and messages."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.cli import run_cli


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env)


def test_config_check_accepts_the_local_defaults() -> None:
    result = run("config", "check", "config/local.yaml")
    assert result.returncode == 0, result.stderr
    assert "valid (0 connections, 0 routes" in result.stdout


def test_config_check_names_the_key_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kafka:\n  partitions: zero\npolling:\n  intervall: 5m\n")
    result = run("config", "check", str(bad))
    assert result.returncode == 2
    assert "line 2: kafka.partitions: Input should be a valid integer" in result.stderr
    assert "line 4: polling.intervall: unknown key 'intervall' in polling" in result.stderr


def test_a_missing_secret_variable_is_reported_without_starting_anything(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("connections:\n  - id: s\n    partner: s\n    role: seller\n    platform: shopify\n"
                      "    base_url: https://s.example\n    credentials: {access_token: '${S_TOKEN_UNSET}'}\n")
    result = run("--config", str(config), "topics", "create", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2
    assert "connections[0].credentials.access_token: environment variable S_TOKEN_UNSET is not set" in result.stderr

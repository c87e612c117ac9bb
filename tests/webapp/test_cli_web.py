"""`fulfillsync web hash-password` and the refusal to serve without a session secret."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from fulfillsync.cli import app
from webapp.auth import verify_password


def test_hash_password_prints_a_hash_of_the_password_read_from_stdin() -> None:
    result = CliRunner().invoke(app, ["web", "hash-password"], input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert verify_password("a long enough password", result.output.strip())


def test_hash_password_refuses_a_short_password() -> None:
    result = CliRunner().invoke(app, ["web", "hash-password"], input="short\n")
    assert result.exit_code == 2 and "at least 12 characters" in result.output


def test_web_refuses_to_start_without_a_session_secret(tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    file.write_text("connections: []\n")
    result = CliRunner().invoke(app, ["--config", str(file), "web"])
    assert result.exit_code == 2 and "web.session_secret is not set" in result.output

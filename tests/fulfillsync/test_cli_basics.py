"""The command line's basics: global options before or after the subcommand at any depth, `--version`, shell
completion, an example in every command's help, and which log format a command uses (option, environment, file)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from fulfillsync.cli import app
from tests.support.cli import run_cli

BAD = "partitions: zero"


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(f"kafka:\n  {BAD}\n")
    return path


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), prog_name="fulfillsync", env=env)


def test_version_prints_the_package_version_and_exits_0() -> None:
    result = invoke("--version")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"fulfillsync {importlib.metadata.version('fulfillsync')}"


@pytest.mark.parametrize("argv", [
    ["-c", "{bad}", "topics", "create"],
    ["--config", "{bad}", "topics", "create"],
    ["topics", "-c", "{bad}", "create"],
    ["topics", "create", "-c", "{bad}"],
    ["topics", "create", "--config={bad}"],
    ["-c", "{missing}", "topics", "create", "--config", "{bad}"],  # the one nearest the command wins
], ids=lambda argv: " ".join(argv))
def test_the_config_option_is_taken_before_or_after_the_subcommand(argv: list[str], bad_config: Path) -> None:
    result = invoke(*(arg.format(bad=bad_config, missing=bad_config.with_name("missing.yaml")) for arg in argv))
    assert result.exit_code == 2, result.output
    assert f"{bad_config}: invalid configuration" in result.stderr and BAD.split(":")[0] in result.stderr


def test_the_environment_gives_the_config_and_an_option_after_the_subcommand_wins_over_it(
        bad_config: Path, tmp_path: Path) -> None:
    result = invoke("topics", "create", env={"FULFILLSYNC_CONFIG": str(bad_config)})
    assert result.exit_code == 2 and f"{bad_config}: invalid configuration" in result.stderr
    other = tmp_path / "other.yaml"
    other.write_text("kafka:\n  replication_factor: none\n")
    result = invoke("topics", "create", "-c", str(other), env={"FULFILLSYNC_CONFIG": str(bad_config)})
    assert result.exit_code == 2 and f"{other}: invalid configuration" in result.stderr


def test_a_subcommands_own_options_still_parse_beside_the_global_ones(bad_config: Path, tmp_path: Path) -> None:
    result = invoke("demo", "--interval", "soon", "-c", str(bad_config), "--log-format", "text", "--once")
    assert result.exit_code == 2 and "demo: --interval:" in result.stderr, result.output
    result = invoke("kafka", "status", "--port", "1", "-c", str(bad_config), "--home", str(tmp_path / "k"))
    assert result.exit_code == 1 and "kafka: stopped (127.0.0.1:1)" in result.stdout, result.output


def test_an_unknown_log_format_is_a_usage_error() -> None:
    result = invoke("worker", "--log-format", "xml")
    assert result.exit_code == 2 and "xml" in result.output


# -- help ---------------------------------------------------------------------------------------------------------


def command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command and group of the click tree under `command`, with the words that reach it."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from command_paths(sub, (*path, name))


COMMANDS = dict(command_paths(typer.main.get_command(app)))


def test_the_walk_sees_every_command() -> None:
    names = {" ".join(path) for path in COMMANDS}
    assert {"", "worker", "watch", "demo", "sandbox", "web", "web hash-password", "kafka start", "kafka stop",
            "kafka status", "topics create", "config check"} <= names


@pytest.mark.parametrize("path", list(COMMANDS), ids=lambda path: " ".join(path) or "fulfillsync")
def test_every_help_says_what_the_command_does_with_an_example(path: tuple[str, ...]) -> None:
    name = " ".join(("fulfillsync", *path))
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    description = " ".join((COMMANDS[path].help or "").split())
    assert description, f"`{name}` has no description"
    assert " ".join(description.split()[:4]) in text, f"the help of `{name}` lacks its description"
    examples = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("Example: fulfillsync")]
    assert examples, f"the help of `{name}` has no 'Example: fulfillsync ...' line"
    assert all(word in examples[0] for word in path), f"the example does not show `{name}`: {examples[0]}"
    assert "--config" in text and "--log-format" in text, "the global options are not listed"


# -- completion ---------------------------------------------------------------------------------------------------


def test_bash_completion_prints_a_script_that_completes_commands_and_option_values() -> None:
    entry_point = Path(sys.executable).with_name("fulfillsync")
    assert entry_point.exists(), f"{entry_point}: the package's console script is not installed"
    script = """
        source <(fulfillsync --show-completion) || exit 3
        type _fulfillsync_completion >/dev/null || exit 4
        complete_words() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _fulfillsync_completion fulfillsync
                           echo "${COMPREPLY[*]}"; }
        complete_words fulfillsync topics cr
        complete_words fulfillsync worker --log-f
        complete_words fulfillsync --log-format ''
    """
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False,
                            env={**os.environ, "PATH": f"{entry_point.parent}:{os.environ.get('PATH', '/usr/bin')}"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["create", "--log-format", "text json"]


# -- which log format ---------------------------------------------------------------------------------------------


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command as its own process (a JSON log changes the whole process's logging)."""
    clean = {name: value for name, value in os.environ.items()
             if name not in ("FULFILLSYNC_LOG_FORMAT", "FULFILLSYNC_CONFIG")}
    return run_cli(*args, env={**clean, **(env or {})}, timeout_s=60)


def web_config(folder: Path, log_format: str) -> Path:
    """A file `web` refuses at once (no web.session_secret), after its log is set up; it holds a literal secret,
    which loading it warns about."""
    path = folder / f"{log_format}.yaml"
    path.write_text("connections:\n  - id: s\n    partner: s\n    role: seller\n    platform: shopify\n"
                    "    base_url: https://s.example\n    credentials: {access_token: literal-token-Wq93}\n"
                    f"worker:\n  log_format: {log_format}\n")
    return path


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize(("args", "env", "expected"), [
    (["web", "-c", "{json}"], {}, "json"),  # the file's worker.log_format
    (["web", "-c", "{json}", "--log-format", "text"], {}, "text"),  # the option wins over the file
    (["-c", "{json}", "web"], {"FULFILLSYNC_LOG_FORMAT": "text"}, "text"),  # and so does the environment
    (["web", "--log-format", "json", "--config", "{text}"], {}, "json"),
    (["--log-format", "json", "web"], {}, "json"),  # no file
    (["web"], {}, "text"),
])
def test_a_long_running_command_logs_in_the_format_of_the_option_else_the_file(
        args: list[str], env: dict[str, str], expected: str, tmp_path: Path) -> None:
    files = {"json": web_config(tmp_path, "json"), "text": web_config(tmp_path, "text")}
    result = run(*(arg.format(**files) for arg in args), env=env)
    assert result.returncode == 2, result.stderr
    assert "literal-token-Wq93" not in result.stderr
    if expected == "json":
        lines = json_lines(result.stderr)
        assert lines[-1]["level"] == "ERROR" and lines[-1]["logger"] == "fulfillsync"
        assert lines[-1]["message"].startswith("web: web.session_secret is not set")
        if "-c" in args or "--config" in args:
            assert lines[0]["level"] == "WARNING" and "a secret is written in the file" in lines[0]["message"]
    else:
        assert result.stderr.strip().endswith("web: web.session_secret is not set in the configuration; see "
                                              "docs/webapp.md")
        assert not result.stderr.startswith("{")

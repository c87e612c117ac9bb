"""Loading the YAML configuration: `${ENV_VAR}` substitution, validation, and errors a person can act on.

Every problem names the offending key as a path (`connections[1].credentials.access_token`), the line of the
file it is on, and what was expected. Values substituted from the environment never appear in messages.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from schemas.config import CHECK_FILES, FILE_RULES, Config

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LEADING_PATH = re.compile(r"^(?P<path>[A-Za-z_]\w*(?:\[\d+\])*(?:\.[A-Za-z_]\w*(?:\[\d+\])*)*): (?P<rest>.*)$", re.S)
_PATH_PART = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")
_SECRET_KEYS = ("credentials", "webhook_secret", "web_access", "session_secret", "password", "key_password")

Location = tuple[str | int, ...]


class ConfigError(ValueError):
    """The configuration is not usable. `problems` holds one line per problem, each naming key and line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass
class LoadedConfig:
    """A validated configuration and the warnings found while loading it."""

    config: Config
    warnings: list[str] = field(default_factory=list)


def key_path(location: Location) -> str:
    """`('connections', 1, 'id')` -> `connections[1].id`."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def load_config(path: str | Path, environ: Mapping[str, str] | None = None, *,
                check_files: bool = False) -> LoadedConfig:
    """Read, substitute and validate the file at `path`. Raises ConfigError listing every problem.

    `check_files`: the configuration is loaded to run with here, so the files it names (`kafka.ssl.ca_file`,
    `cert_file`, `key_file`) must exist and be readable (`schemas.config.CHECK_FILES`); without it (`fulfillsync
    config check`, which may run on another machine) they are not looked at."""
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigError(source, [f"cannot read the file: {error.strerror or error}"]) from error
    return parse_config(text, source=source, environ=os.environ if environ is None else environ,
                        check_files=check_files)


def parse_config(text: str, *, source: str = "<config>", environ: Mapping[str, str],
                 check_files: bool = False) -> LoadedConfig:
    """Validate configuration text, with the rules for files (`schemas.config.FILE_RULES`, or `CHECK_FILES` with
    `check_files`); see `load_config`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(source, [f"{where}not valid YAML ({getattr(error, 'problem', error)})"]) from error
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, ["the file must be a mapping of sections (kafka, polling, connections, routes)"])

    problems: list[str] = _duplicate_keys(root, ())
    warnings: list[str] = []
    from_environment: set[Location] = set()
    data = _substitute(data, (), environ, problems, warnings, root, from_environment)
    if problems:
        raise ConfigError(source, problems)
    try:
        config = Config.model_validate(data, context=CHECK_FILES if check_files else FILE_RULES)
    except ValidationError as error:
        raise ConfigError(source, [_describe(item, root, from_environment) for item in error.errors()]) from None
    warnings += _kafka_warnings(config, root)
    return LoadedConfig(config=config, warnings=warnings)


def _kafka_warnings(config: Config, root: Any) -> list[str]:
    """Accepted but unsafe Kafka settings: a PLAIN password over an unencrypted connection, hostnames unchecked."""
    kafka = config.kafka
    found = []
    if kafka.security_protocol == "SASL_PLAINTEXT" and kafka.sasl is not None and kafka.sasl.mechanism == "PLAIN":
        found.append(f"{_line(root, ('kafka', 'sasl', 'mechanism'))}kafka.sasl.mechanism: PLAIN over "
                     "SASL_PLAINTEXT sends the password in clear to the brokers and anyone on the way; use "
                     "security_protocol SASL_SSL (or a SCRAM mechanism)")
    if kafka.ssl is not None and not kafka.ssl.check_hostname:
        found.append(f"{_line(root, ('kafka', 'ssl', 'check_hostname'))}kafka.ssl.check_hostname: off: any "
                     "certificate signed by the trusted CAs is accepted for any broker address")
    return found


def _substitute(
    value: Any, location: Location, environ: Mapping[str, str], problems: list[str], warnings: list[str], root: Any,
    from_environment: set[Location],
) -> Any:
    """Replace `${NAME}` references, recording missing variables in `problems` and where values came from the
    environment in `from_environment`."""
    if isinstance(value, dict):
        return {k: _substitute(v, (*location, k), environ, problems, warnings, root, from_environment)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*location, i), environ, problems, warnings, root, from_environment)
                for i, v in enumerate(value)]
    is_secret = any(part in _SECRET_KEYS for part in location)
    if not isinstance(value, str):
        if is_secret and value is not None:
            warnings.append(f"{_line(root, location)}{key_path(location)}: a secret is written in the file; "
                            "reference an environment variable instead, e.g. ${MY_SECRET}")
        return value
    references = _ENV_REFERENCE.findall(value)
    if is_secret and not references:
        warnings.append(
            f"{_line(root, location)}{key_path(location)}: a secret is written in the file; "
            "reference an environment variable instead, e.g. ${MY_SECRET}"
        )
    if references:
        from_environment.add(location)
    missing = [name for name in references if name not in environ]
    for name in missing:
        problems.append(
            f"{_line(root, location)}{key_path(location)}: environment variable {name} is not set "
            f"(the value refers to ${{{name}}}); export it before starting fulfillsync"
        )
    return _ENV_REFERENCE.sub(lambda m: environ.get(m.group(1), ""), value)


def _describe(error: Mapping[str, Any], root: Any, from_environment: set[Location]) -> str:
    location: Location = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        parent = key_path(location[:-1])
        message = f"unknown key {location[-1]!r} in {parent}; check its spelling against the documented keys"
    elif error["type"] == "literal_error" and location not in from_environment:
        message = f"{message} (got {error['input']!r})"
    elif error["type"] == "string_pattern_mismatch":
        message = "expected lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
    elif match := _LEADING_PATH.match(message):
        location = location + _parse_path(match.group("path"))
        message = match.group("rest")
    if location in from_environment:
        message += " (the value comes from an environment variable)"
    return f"{_line(root, location)}{key_path(location)}: {message}"


def _parse_path(path: str) -> Location:
    return tuple(name if name else int(index) for name, index in _PATH_PART.findall(path))


def _duplicate_keys(node: Any, location: Location) -> list[str]:
    """YAML lets a key repeat (the last wins): report it instead, since the first would be silently lost."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key, value in node.value:
            if key.value in seen:
                problems.append(f"line {key.start_mark.line + 1}: {key_path((*location, key.value))}: "
                                "this key appears twice; merge the two entries")
            seen.add(key.value)
            problems += _duplicate_keys(value, (*location, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _duplicate_keys(item, (*location, index))
    return problems


def _line(root: Any, location: Location) -> str:
    """`line N: ` for the key (or sequence item) at `location`, or the nearest ancestor that exists."""
    node, mark = root, getattr(root, "start_mark", None)
    for part in location:
        found = _child(node, part)
        if found is None:
            break
        mark, node = found[0].start_mark, found[1]
    return f"line {mark.line + 1}: " if mark is not None else ""


def _child(node: Any, part: str | int) -> tuple[Any, Any] | None:
    """(the node that names `part` — its key, or the item itself — and the value node)."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return key, value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part], node.value[part]
    return None

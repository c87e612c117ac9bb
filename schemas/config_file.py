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

from schemas.config import Config

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_KEYS = ("credentials", "webhook_secret")

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


def load_config(path: str | Path, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read, substitute and validate the file at `path`. Raises ConfigError listing every problem."""
    source = str(path)
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ConfigError(source, [f"cannot read the file: {error.strerror or error}"]) from error
    return parse_config(text, source=source, environ=os.environ if environ is None else environ)


def parse_config(text: str, *, source: str = "<config>", environ: Mapping[str, str]) -> LoadedConfig:
    """Validate configuration text; see `load_config`."""
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

    problems: list[str] = []
    warnings: list[str] = []
    data = _substitute(data, (), environ, problems, warnings, root)
    if problems:
        raise ConfigError(source, problems)
    try:
        config = Config.model_validate(data)
    except ValidationError as error:
        raise ConfigError(source, [_describe(item, root) for item in error.errors()]) from None
    return LoadedConfig(config=config, warnings=warnings)


def _substitute(
    value: Any, location: Location, environ: Mapping[str, str], problems: list[str], warnings: list[str], root: Any
) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, (*location, k), environ, problems, warnings, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, (*location, i), environ, problems, warnings, root) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    is_secret = any(part in _SECRET_KEYS for part in location)
    references = _ENV_REFERENCE.findall(value)
    if is_secret and not references:
        warnings.append(
            f"{_line(root, location)}{key_path(location)}: a secret is written in the file; "
            "reference an environment variable instead, e.g. ${MY_SECRET}"
        )
    missing = [name for name in references if name not in environ]
    for name in missing:
        problems.append(
            f"{_line(root, location)}{key_path(location)}: environment variable {name} is not set "
            f"(the value refers to ${{{name}}}); export it before starting fulfillsync"
        )
    return _ENV_REFERENCE.sub(lambda m: environ.get(m.group(1), ""), value)


def _describe(error: Mapping[str, Any], root: Any) -> str:
    location: Location = tuple(error["loc"])
    message = str(error["msg"])
    if error["type"] == "extra_forbidden":
        parent = key_path(location[:-1])
        message = f"unknown key {location[-1]!r} in {parent}; check its spelling against the documented keys"
    elif error["type"] == "literal_error":
        message = f"{message} (got {error['input']!r})"
    elif error["type"] == "string_pattern_mismatch":
        message = "expected lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
    message = message.removeprefix("Value error, ")
    return f"{_line(root, location)}{key_path(location)}: {message}"


def _line(root: Any, location: Location) -> str:
    """`line N: ` for the YAML node at `location`, or the nearest ancestor that exists."""
    node = root
    best = node
    for part in location:
        node = _child(node, part)
        if node is None:
            break
        best = node
    if best is None or not hasattr(best, "start_mark"):
        return ""
    return f"line {best.start_mark.line + 1}: "


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == part:
                return value
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None

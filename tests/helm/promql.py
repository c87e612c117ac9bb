"""Checking the chart's PromQL and rule files without a Prometheus: expressions parsed by promql-parser (Python bindings
of the Rust `promql-parser` crate, which follows Prometheus' own grammar), the series each one selects, and the
structure of a rule group file (Prometheus' `rule_files` format, which a PrometheusRule's `spec` is)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import promql_parser

GRAFANA_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RULE_KEYS = {"alert", "record", "expr", "for", "keep_firing_for", "labels", "annotations"}
GROUP_KEYS = {"name", "interval", "rules", "limit", "query_offset"}


def grafana_to_promql(expression: str) -> str:
    """A Grafana panel's query as plain PromQL: `$__rate_interval` and `$__interval` become `5m`, other variables
    (`$namespace`, `${datasource}`) the text `x`."""
    expression = expression.replace("$__rate_interval", "5m").replace("$__interval", "5m")
    return GRAFANA_VARIABLE.sub("x", expression)


def parse(expression: str) -> promql_parser.Expr:
    """The expression's syntax tree; raises ValueError with the parser's message when it is not valid PromQL."""
    try:
        return promql_parser.parse(expression)
    except ValueError as error:
        raise ValueError(f"not valid PromQL: {error}: {expression}") from None


def series(expressions: Iterable[str]) -> set[str]:
    """The metric names every vector or range selector of `expressions` selects (parsed, not matched by a regex)."""
    names: set[str] = set()

    def visit(node: promql_parser.Expr) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.add(node.name)
        elif isinstance(node, promql_parser.MatrixSelector) and node.vector_selector.name:
            names.add(node.vector_selector.name)
        return True

    for expression in expressions:
        promql_parser.walk(parse(expression), visit)
    return names


def rule_file_problems(document: Any) -> list[str]:
    """What is wrong with a rule file (`{groups: [{name, rules: [...]}]}`): unknown or missing keys, duplicate group
    names, a rule with both or neither of `alert` and `record`, an `expr` that does not parse, a `for` that is not
    a duration, label names that are not names, label and annotation values that are not strings. Empty: none."""
    problems: list[str] = []
    if not isinstance(document, dict) or set(document) != {"groups"} or not isinstance(document["groups"], list):
        return ["the document is not {groups: [...]}"]
    seen: set[str] = set()
    for group in document["groups"]:
        if not isinstance(group, dict) or not {"name", "rules"} <= set(group) or set(group) - GROUP_KEYS:
            problems.append(f"group {group!r:.80}: keys must be name, rules (and {sorted(GROUP_KEYS)})")
            continue
        if group["name"] in seen:
            problems.append(f"group {group['name']} appears twice")
        seen.add(group["name"])
        for rule in group["rules"]:
            problems += [f"{group['name']}: {problem}" for problem in _rule_problems(rule)]
    return problems


def _rule_problems(rule: Any) -> list[str]:
    if not isinstance(rule, dict):
        return [f"rule {rule!r:.80} is not a mapping"]
    name = rule.get("alert") or rule.get("record") or "?"
    problems = [f"{name}: unknown key {key}" for key in sorted(set(rule) - RULE_KEYS)]
    if ("alert" in rule) == ("record" in rule):
        problems.append(f"{name}: a rule has exactly one of alert and record")
    if not isinstance(name, str) or not NAME.match(name):
        problems.append(f"{name}: not a valid alert or record name")
    if not isinstance(rule.get("expr"), str):
        problems.append(f"{name}: no expr")
    else:
        try:
            parse(rule["expr"])
        except ValueError as error:
            problems.append(f"{name}: {error}")
    for key in ("for", "keep_firing_for"):
        if key in rule and not (isinstance(rule[key], str) and DURATION.match(rule[key])):
            problems.append(f"{name}: {key} {rule[key]!r} is not a duration")
    for key in ("labels", "annotations"):
        values = rule.get(key, {})
        if not isinstance(values, dict):
            problems.append(f"{name}: {key} is not a mapping")
            continue
        for label, value in values.items():
            if not isinstance(label, str) or not NAME.match(label):
                problems.append(f"{name}: {key} name {label!r} is not valid")
            if not isinstance(value, str):
                problems.append(f"{name}: {key}.{label} is not a string")
    return problems

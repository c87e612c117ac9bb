"""Is a record type's JSON Schema still compatible with its last released one (`schemas/json/released/`)?

A pure comparison of two JSON Schemas of the shape pydantic writes (draft 2020-12: `type`, `anyOf`, `enum`/`const`,
`properties`/`required`/`additionalProperties`, `items`/`prefixItems`, `$ref` into `$defs`, string, number and
array bounds). What "compatible" means depends on who reads the record (docs/consumers.md, "Compatibility"):

- `output` (fulfillsync writes, other services read: shipped-orders, dead-letters): every record the current
  schema allows must be valid under the released one, which consumers still code and validate against.
  Breaking: removing a property, making a required property optional, widening a type (e.g. adding `null`) or an
  enum, changing a type, loosening a bound or a pattern, allowing properties a closed released schema forbade.
  Compatible: adding an optional property (published schemas leave `additionalProperties` open), narrowing.
- `input` (others write, fulfillsync reads: order-events, fulfillment-events): every record the released schema
  allows must still be accepted. Breaking: adding a required property, making an optional one required, removing
  a property (input schemas are closed: records that still carry it would be refused), narrowing a type or an
  enum, changing a type, tightening a bound or a pattern, making `additionalProperties` stricter, changing the
  default of an optional property (it changes what records without it mean). Compatible: adding an optional
  property, making a required one optional, widening a type or an enum, loosening a bound.
  Rolling upgrades: a producer may only send a new optional property once every worker reads the new schema.

`incompatibilities(released, current, direction)` lists each breaking change found, with the path in the record
(`/fulfillments/*/carrier`), a `kind` code and a sentence. It is conservative: a keyword it does not model (e.g.
`patternProperties`, `not`, `if`) that differs between the two is reported as `unsupported`, never passed over.
Known gap: when the narrower side lists concrete values (`enum`/`const`) and the wider side has none, only their
JSON types are compared with the wider side's type, not its string or number bounds.

`verdict(released, current, direction)` is the release policy: breaking changes are allowed only with a higher
`schema_version` (the `const` of the schema's `schema_version` property); a lower one is itself a problem.
Nothing here reads files or raises on a schema it does not understand: it reports it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Direction = Literal["input", "output"]
Kind = Literal[
    "property_removed", "required_added", "required_removed", "type_changed", "enum_changed", "constraint_changed",
    "additional_properties", "default_changed", "unsupported", "schema_version",
]

ANNOTATIONS = frozenset({"title", "description", "examples", "$schema", "$id", "$defs", "definitions", "$comment",
                         "deprecated", "readOnly", "writeOnly", "discriminator", "default"})
"""Keywords that do not change which records are valid (`default` is compared apart, for inputs only)."""
MODELLED = frozenset({"type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref", "properties", "required",
                      "additionalProperties", "items", "prefixItems", "minItems", "maxItems", "uniqueItems",
                      "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum",
                      "exclusiveMaximum", "multipleOf", "minProperties", "maxProperties"})
TYPES = ("null", "boolean", "integer", "number", "string", "array", "object")


@dataclass(frozen=True)
class Incompatibility:
    """One breaking change: where in the record (`path`, `(record)` for the whole), what kind, and why."""

    path: str
    kind: Kind
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class Verdict:
    """The release policy's answer for one record type: `ok` unless there are breaking changes and
    `schema_version` was not raised (or it went down)."""

    released_version: int | None
    current_version: int | None
    problems: tuple[Incompatibility, ...] = field(default_factory=tuple)

    @property
    def bumped(self) -> bool:
        return (self.released_version is not None and self.current_version is not None
                and self.current_version > self.released_version)

    @property
    def ok(self) -> bool:
        if any(problem.kind == "schema_version" for problem in self.problems):
            return False
        return not self.problems or self.bumped


def schema_version(schema: Mapping[str, Any]) -> int | None:
    """The `schema_version` a record of `schema` carries (its property's `const`, else its `default`), or None."""
    prop = schema.get("properties", {}).get("schema_version")
    if not isinstance(prop, Mapping):
        return None
    value = prop.get("const", prop.get("default"))
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def verdict(released: Mapping[str, Any], current: Mapping[str, Any], direction: Direction) -> Verdict:
    """The breaking changes from `released` to `current`, and whether `schema_version` allows them."""
    old, new = schema_version(released), schema_version(current)
    problems = incompatibilities(released, current, direction)
    if old is not None and (new is None or new < old):
        problems.append(Incompatibility("/schema_version", "schema_version",
                                        f"schema_version went from {old} to {new}; it may only grow"))
    return Verdict(old, new, tuple(problems))


def incompatibilities(released: Mapping[str, Any], current: Mapping[str, Any],
                      direction: Direction) -> list[Incompatibility]:
    """Every breaking change from `released` to `current` for a record read in `direction` (see the module's
    docstring); an empty list when `current` is compatible."""
    return _Comparison(released, current, direction).run()


# -- the comparison -------------------------------------------------------------------------------------------

Schema = Mapping[str, Any] | bool


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _path(path: str) -> str:
    return path or "(record)"


class _Comparison:
    """Checks that every instance of the narrower side (`sub`) is valid under the wider side (`sup`): for outputs
    the current schema is the narrower side, for inputs the released one. Messages name released and current."""

    def __init__(self, released: Mapping[str, Any], current: Mapping[str, Any], direction: Direction) -> None:
        self.direction = direction
        self.released_root, self.current_root = released, current
        if direction == "output":
            self.sub_root, self.sup_root = current, released
        else:
            self.sub_root, self.sup_root = released, current
        self.seen: set[tuple[str, str]] = set()
        """The pairs of `$ref`s being compared on the way down (a guard against recursive definitions)."""

    def run(self) -> list[Incompatibility]:
        return list(self.node(self.sub_root, self.sup_root, ""))

    # names of the two sides in messages
    def sub_name(self) -> str:
        return "current" if self.direction == "output" else "released"

    def sup_name(self) -> str:
        return "released" if self.direction == "output" else "current"

    def released_of(self, sub: Any, sup: Any) -> Any:
        return sup if self.direction == "output" else sub

    def current_of(self, sub: Any, sup: Any) -> Any:
        return sub if self.direction == "output" else sup

    # -- resolution -------------------------------------------------------------------------------------------

    @staticmethod
    def resolve(schema: Schema, root: Mapping[str, Any]) -> tuple[Schema, str | None]:
        """`schema` with a local `$ref` followed (siblings other than annotations are kept), and the ref."""
        if isinstance(schema, bool) or "$ref" not in schema:
            return schema, None
        ref = schema["$ref"]
        target: Any = root
        if isinstance(ref, str) and ref.startswith("#"):
            for part in ref[1:].split("/")[1:]:
                part = part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, Mapping) else None
        else:
            target = None
        if not isinstance(target, Mapping | bool):
            return {"$unresolved": ref}, str(ref)
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        if isinstance(target, bool):
            return (target if not siblings else {**siblings}), str(ref)
        inner, _ = _Comparison.resolve(target, root)
        if isinstance(inner, bool):
            return inner, str(ref)
        return {**inner, **siblings}, str(ref)

    def alternatives(self, schema: Schema, root: Mapping[str, Any]) -> list[dict[str, Any]]:
        """`schema` as a union of single-type alternatives (an empty dict: anything; no alternative: nothing)."""
        schema, _ = self.resolve(schema, root)
        if schema is True:
            return [{}]
        if schema is False:
            return []
        assert isinstance(schema, Mapping)
        if "allOf" in schema:  # merged into one schema (pydantic writes it around a `$ref` with siblings)
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for part in schema["allOf"]:
                resolved, _ = self.resolve(part, root)
                if isinstance(resolved, Mapping):
                    merged.update({k: v for k, v in resolved.items() if k not in ANNOTATIONS})
                elif resolved is False:
                    return []
            return self.alternatives(merged, root)
        rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf") and k not in ANNOTATIONS}
        found: list[dict[str, Any]] = []
        branches = [*schema.get("anyOf", []), *schema.get("oneOf", [])]
        if branches:
            for branch in branches:
                for alternative in self.alternatives(branch, root):
                    found.extend(self.split_types({**rest, **alternative}))
            return found
        return self.split_types(rest)

    @staticmethod
    def split_types(schema: dict[str, Any]) -> list[dict[str, Any]]:
        kinds = schema.get("type")
        if isinstance(kinds, list):
            return [{**schema, "type": kind} for kind in kinds]
        return [schema]

    # -- comparing --------------------------------------------------------------------------------------------

    def node(self, sub: Schema, sup: Schema, path: str) -> Iterator[Incompatibility]:
        sub_resolved, sub_ref = self.resolve(sub, self.sub_root)
        sup_resolved, sup_ref = self.resolve(sup, self.sup_root)
        pair = (sub_ref or "", sup_ref or "")
        if sub_ref is not None and sup_ref is not None:
            if pair in self.seen:
                return  # a recursive definition, already being compared further up
            self.seen.add(pair)
        try:
            yield from self.default(sub_resolved, sup_resolved, path)
            sub_alternatives = self.alternatives(sub_resolved, self.sub_root)
            sup_alternatives = self.alternatives(sup_resolved, self.sup_root)
            for alternative in sub_alternatives:
                yield from self.one(alternative, sup_alternatives, path)
        finally:
            self.seen.discard(pair)

    def default(self, sub: Schema, sup: Schema, path: str) -> Iterator[Incompatibility]:
        """Inputs only: a default both schemas give, changed (a property that lost its default became required,
        which the object comparison reports)."""
        if self.direction != "input" or isinstance(sub, bool) or isinstance(sup, bool):
            return
        released, current = self.released_of(sub, sup), self.current_of(sub, sup)
        if "default" in released and "default" in current and _dump(current["default"]) != _dump(released["default"]):
            yield Incompatibility(_path(path), "default_changed",
                                  f"the default changed from {_dump(released['default'])} to "
                                  f"{_dump(current['default'])}: released records without this property would "
                                  "mean something else")

    def one(self, sub: dict[str, Any], sups: list[dict[str, Any]], path: str) -> Iterator[Incompatibility]:
        """`sub` (one alternative) against the union `sups`: fine when some alternative of `sups` holds it."""
        kind = sub.get("type")
        candidates = [sup for sup in sups if _type_within(kind, sup.get("type"))]
        if not candidates:
            yield Incompatibility(_path(path), "type_changed", self.type_message(sub, sups))
            return
        best: list[Incompatibility] | None = None
        for candidate in candidates:
            problems = list(self.pair(sub, candidate, path))
            if not problems:
                return
            if best is None or len(problems) < len(best):
                best = problems
        yield from best or []

    def type_message(self, sub: dict[str, Any], sups: list[dict[str, Any]]) -> str:
        what = sub.get("type", "any value")
        allowed = sorted({str(sup.get("type", "any value")) for sup in sups}) or ["nothing"]
        if self.direction == "output":
            return (f"the current schema allows {what}, the released one only {' or '.join(allowed)} "
                    "(a type widened or changed)")
        return (f"the released schema allowed {what}, the current one only {' or '.join(allowed)} "
                "(a type narrowed or changed)")

    def pair(self, sub: dict[str, Any], sup: dict[str, Any], path: str) -> Iterator[Incompatibility]:
        yield from self.values(sub, sup, path)
        if _values(sub) is not None:
            return  # concrete values: their types matched, nothing else of `sup` is compared (see the docstring)
        yield from self.bounds(sub, sup, path)
        yield from self.arrays(sub, sup, path)
        yield from self.objects(sub, sup, path)
        yield from self.unsupported(sub, sup, path)

    def values(self, sub: dict[str, Any], sup: dict[str, Any], path: str) -> Iterator[Incompatibility]:
        sup_values = _values(sup)
        if sup_values is None:
            return
        sub_values = _values(sub)
        if sub_values is None:
            yield Incompatibility(_path(path), "enum_changed",
                                  f"the {self.sub_name()} schema allows any {sub.get('type', 'value')}, the "
                                  f"{self.sup_name()} one only {', '.join(sorted(sup_values))}")
            return
        extra = sorted(set(sub_values) - set(sup_values))
        if extra:
            change = "added" if self.direction == "output" else "removed"
            yield Incompatibility(_path(path), "enum_changed",
                                  f"{', '.join(extra)} {change} (allowed by the {self.sub_name()} schema, not by "
                                  f"the {self.sup_name()} one)")

    def bounds(self, sub: dict[str, Any], sup: dict[str, Any], path: str) -> Iterator[Incompatibility]:
        def problem(word: str, sub_value: Any, sup_value: Any) -> Incompatibility:
            released, current = self.released_of(sub_value, sup_value), self.current_of(sub_value, sup_value)
            return Incompatibility(_path(path), "constraint_changed",
                                   f"{word} {released} in the released schema, {current} now (the {self.sub_name()} "
                                   f"schema allows what the {self.sup_name()} one refuses)")

        for low in ("minLength", "minItems", "minProperties"):
            if sup.get(low, 0) > sub.get(low, 0):
                yield problem(low, sub.get(low, 0), sup[low])
        for high in ("maxLength", "maxItems", "maxProperties"):
            if high in sup and (high not in sub or sub[high] > sup[high]):
                yield problem(high, sub.get(high, "none"), sup[high])
        for word in ("pattern", "format"):
            if word in sup and sub.get(word) != sup[word]:
                yield problem(word, repr(sub[word]) if word in sub else "none", repr(sup[word]))
        if sup.get("uniqueItems") is True and sub.get("uniqueItems") is not True:
            yield problem("uniqueItems", sub.get("uniqueItems", "none"), True)
        sub_low, sup_low = _lower(sub), _lower(sup)
        if sup_low is not None and (sub_low is None or sub_low < sup_low):
            yield problem("lower bound", _bound_text(sub_low, lower=True), _bound_text(sup_low, lower=True))
        sub_high, sup_high = _upper(sub), _upper(sup)
        if sup_high is not None and (sub_high is None or sub_high > sup_high):
            yield problem("upper bound", _bound_text(sub_high, lower=False), _bound_text(sup_high, lower=False))
        if "multipleOf" in sup:
            step = sub.get("multipleOf")
            if step is None or step % sup["multipleOf"] != 0:
                yield problem("multipleOf", step, sup["multipleOf"])

    def arrays(self, sub: dict[str, Any], sup: dict[str, Any], path: str) -> Iterator[Incompatibility]:
        if "items" not in sub and "items" not in sup and "prefixItems" not in sub and "prefixItems" not in sup:
            return
        sub_prefix: list[Schema] = list(sub.get("prefixItems", []))
        sup_prefix: list[Schema] = list(sup.get("prefixItems", []))
        sub_items: Schema = sub.get("items", True)
        sup_items: Schema = sup.get("items", True)
        for index in range(max(len(sub_prefix), len(sup_prefix))):
            one = sub_prefix[index] if index < len(sub_prefix) else sub_items
            other = sup_prefix[index] if index < len(sup_prefix) else sup_items
            yield from self.node(one, other, f"{path}/{index}")
        yield from self.node(sub_items, sup_items, f"{path}/*")

    def objects(self, sub: dict[str, Any], sup: dict[str, Any], path: str) -> Iterator[Incompatibility]:
        if not any(key in either for either in (sub, sup) for key in ("properties", "required",
                                                                        "additionalProperties")):
            return
        sub_props: Mapping[str, Schema] = sub.get("properties", {})
        sup_props: Mapping[str, Schema] = sup.get("properties", {})
        sub_required, sup_required = set(sub.get("required", [])), set(sup.get("required", []))
        sub_extra: Schema = sub.get("additionalProperties", True)
        sup_extra: Schema = sup.get("additionalProperties", True)
        for name in sorted(sup_required - sub_required):
            where = f"{path}/{name}"
            if self.direction == "input":
                yield Incompatibility(where, "required_added",
                                      "required now; released records may lack it")
            elif name in sub_props:
                yield Incompatibility(where, "required_removed",
                                      "required in the released schema, optional now: consumers rely on it")
            else:
                yield Incompatibility(where, "property_removed",
                                      "a required property of the released schema is gone")
        for name, schema in sup_props.items():
            where = f"{path}/{name}"
            if name in sub_props:
                yield from self.node(sub_props[name], schema, where)
            elif sub_extra is not False and name not in (sup_required - sub_required):
                problems = list(self.node(sub_extra, schema, where))
                if problems and self.direction == "output":
                    yield Incompatibility(where, "property_removed",
                                          "a property of the released schema is gone: consumers may read it")
                elif problems:
                    yield Incompatibility(where, "constraint_changed",
                                          "new property constrained where the released schema accepted any value")
        for name, schema in sub_props.items():
            if name in sup_props:
                continue
            where = f"{path}/{name}"
            if sup_extra is False:
                if self.direction == "input":
                    yield Incompatibility(where, "property_removed",
                                          "gone from a closed schema: released records that carry it are refused")
                else:
                    yield Incompatibility(where, "additional_properties",
                                          "new property, but the released schema forbids unknown properties")
            elif sup_extra is not True:
                yield from self.node(schema, sup_extra, where)
        if sub_extra is not False and sup_extra is not True:
            problems = list(self.node(sub_extra, sup_extra, f"{path}/*"))
            if problems:
                text = ("additionalProperties made stricter: released records with other properties are refused"
                        if self.direction == "input" else
                        "the current schema allows other properties the released one forbids")
                yield Incompatibility(_path(path), "additional_properties", text)

    def unsupported(self, sub: dict[str, Any], sup: dict[str, Any], path: str) -> Iterator[Incompatibility]:
        for key in sorted((set(sub) | set(sup)) - MODELLED - ANNOTATIONS):
            if _dump(sub.get(key)) != _dump(sup.get(key)):
                yield Incompatibility(_path(path), "unsupported",
                                      f"{key!r} differs and is not modelled by this checker: review it by hand")


def _type_within(kind: Any, wider: Any) -> bool:
    if wider is None:
        return True
    if kind is None:
        return False
    return bool(kind == wider or (kind == "integer" and wider == "number"))


def _values(schema: Mapping[str, Any]) -> set[str] | None:
    """The allowed values (as JSON text) when `const` or `enum` lists them, else None."""
    found: set[str] | None = None
    if "enum" in schema:
        found = {_dump(value) for value in schema["enum"]}
    if "const" in schema:
        const = {_dump(schema["const"])}
        found = const if found is None else found & const
    return found


def _lower(schema: Mapping[str, Any]) -> tuple[float, int] | None:
    """The lower bound as (value, 0 inclusive | 1 exclusive): a larger tuple is a tighter bound."""
    bounds = []
    if isinstance(schema.get("minimum"), int | float):
        bounds.append((float(schema["minimum"]), 0))
    if isinstance(schema.get("exclusiveMinimum"), int | float):
        bounds.append((float(schema["exclusiveMinimum"]), 1))
    return max(bounds) if bounds else None


def _upper(schema: Mapping[str, Any]) -> tuple[float, int] | None:
    """The upper bound as (value, 0 exclusive | 1 inclusive): a smaller tuple is a tighter bound."""
    bounds = []
    if isinstance(schema.get("maximum"), int | float):
        bounds.append((float(schema["maximum"]), 1))
    if isinstance(schema.get("exclusiveMaximum"), int | float):
        bounds.append((float(schema["exclusiveMaximum"]), 0))
    return min(bounds) if bounds else None


def _bound_text(bound: tuple[float, int] | None, *, lower: bool) -> str:
    if bound is None:
        return "none"
    exclusive = bound[1] == (1 if lower else 0)
    return f"{bound[0]:g}" + (" (exclusive)" if exclusive else "")

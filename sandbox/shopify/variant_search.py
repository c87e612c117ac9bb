"""Shopify's search syntax for `productVariants(query:)`, the subset the simulated store implements, with the
connectives the order search (`sandbox.shopify.search`) lacks: `OR`, `AND` (also implied by a space), `NOT` /
a leading `-`, and parentheses, `AND` binding tighter than `OR`.

Fields: `sku`, `title`, `product_status` (comma-separated statuses), `product_id` and `id` (numbers or GIDs); a
bare word matches the variant's title, its product's title or its SKU (case-insensitive, contained). Values bare
(a backslash escapes `:`, `\\`, `(`, `)`) or in single or double quotes (a backslash escapes the next character).

Like Shopify's own index, `sku:` is NOT exact: it ignores case and matches a SKU that equals the value, starts
with it, or holds it as one of its tokens (split at characters other than letters and digits), so `sku:ACME-1`
also finds `acme-1`, `ACME-10` and `ACME-1-BLUE`, and `sku:1` finds `ACME-1`. Callers that need one SKU filter the
results exactly, as on Shopify. (Assumed from the platform's documented tokenized search; the exact rules of
the real index are not published.)

A term it cannot read (an unknown field) is ignored and reported in `warnings`, as Shopify does; unbalanced
parentheses are closed or dropped with a warning. Never raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.shopify.catalog import Product, Variant
from sandbox.shopify.store import gid_number

Item = tuple[Product, Variant]
Predicate = Callable[[Item], bool]
_TOKENS = re.compile(r"[^0-9a-z]+")


@dataclass
class VariantSearch:
    predicate: Predicate
    warnings: list[str] = field(default_factory=list)

    def matches(self, item: Item) -> bool:
        return self.predicate(item)


def parse_variant_search(query: str | None) -> VariantSearch:
    """The filter of `query` (None or blank: everything matches)."""
    warnings: list[str] = []
    parser = _Parser(_tokens(query or "", warnings), warnings)
    predicate = parser.query()
    while parser.position < len(parser.tokens):  # a stray `)`: skip it and go on
        warnings.append("unbalanced ')' ignored")
        parser.position += 1
        rest = parser.query()
        predicate = _all(predicate, rest)
    return VariantSearch(predicate, warnings)


# -- tokens ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "-", "word", "term"
    text: str = ""
    name: str = ""
    op: str = ""
    quoted: bool = False


def _tokens(text: str, warnings: list[str]) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
        elif char in "()":
            tokens.append(_Token(char))
            index += 1
        elif char == "-" and index + 1 < len(text) and not text[index + 1].isspace():
            tokens.append(_Token("-"))
            index += 1
        else:
            token, index = _term(text, index)
            tokens.append(token)
    return tokens


def _term(text: str, index: int) -> tuple[_Token, int]:
    """A `name:[op]value` or a bare value starting at `index`, and where it ends."""
    match = re.match(r"(\w+):(>=|<=|>|<)?", text[index:])
    if match is not None:
        value, end, quoted = _value(text, index + match.end())
        return _Token("term", value, match.group(1).lower(), match.group(2) or "", quoted), end
    value, end, quoted = _value(text, index)
    return _Token("word", value, quoted=quoted), end


def _value(text: str, index: int) -> tuple[str, int, bool]:
    if index < len(text) and text[index] in "'\"":
        quote, index, chars = text[index], index + 1, []
        while index < len(text) and text[index] != quote:
            if text[index] == "\\" and index + 1 < len(text):
                index += 1
            chars.append(text[index])
            index += 1
        return "".join(chars), index + 1, True
    chars = []
    while index < len(text) and not text[index].isspace() and text[index] not in "()":
        if text[index] == "\\" and index + 1 < len(text):
            index += 1
        chars.append(text[index])
        index += 1
    return "".join(chars), index, False


# -- grammar -----------------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, tokens: list[_Token], warnings: list[str]) -> None:
        self.tokens = tokens
        self.warnings = warnings
        self.position = 0

    def _peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _at(self, kind: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == kind

    def _connective(self, word: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == "word" and not token.quoted and token.text == word

    def query(self) -> Predicate:
        """query = and ( OR and )*"""
        alternatives = [self._and()]
        while self._connective("OR"):
            self.position += 1
            alternatives.append(self._and())
        return alternatives[0] if len(alternatives) == 1 else _any(*alternatives)

    def _and(self) -> Predicate:
        """and = unary ( [AND] unary )*"""
        terms: list[Predicate] = []
        while True:
            token = self._peek()
            if token is None or self._at(")") or self._connective("OR"):
                break
            if self._connective("AND"):
                self.position += 1
                continue
            terms.append(self._unary())
        return _all(*terms)

    def _unary(self) -> Predicate:
        token = self._peek()
        assert token is not None
        if token.kind == "-" or self._connective("NOT"):
            self.position += 1
            if self._peek() is None or self._at(")"):
                return _all()
            inner = self._unary()
            return lambda item: not inner(item)
        self.position += 1
        if token.kind == "(":
            inner = self.query()
            if self._at(")"):
                self.position += 1
            else:
                self.warnings.append("unclosed '(' closed at the end")
            return inner
        if token.kind == "word":
            return _bare(token.text.lower())
        return _field(token, self.warnings)


def _all(*predicates: Predicate) -> Predicate:
    return lambda item: all(predicate(item) for predicate in predicates)


def _any(*predicates: Predicate) -> Predicate:
    return lambda item: any(predicate(item) for predicate in predicates)


def _bare(word: str) -> Predicate:
    def matches(item: Item) -> bool:
        product, variant = item
        return any(word in text.lower() for text in (product.title, variant.title, variant.sku or ""))
    return matches


def sku_matches(sku: str | None, value: str) -> bool:
    """Shopify's loose `sku:` match (module docstring)."""
    if not sku or not value:
        return False
    have, wanted = sku.lower(), value.lower()
    return have.startswith(wanted) or wanted in _TOKENS.split(have)


def _field(token: _Token, warnings: list[str]) -> Predicate:
    name, value = token.name, token.text
    if token.op:
        warnings.append(f"comparator {token.op!r} is not supported on {name}: term ignored")
        return _all()
    if name == "sku":
        return lambda item: sku_matches(item[1].sku, value)
    if name == "title":
        return lambda item: value.lower() in item[1].title.lower()
    if name == "product_status":
        statuses = {part.strip().upper() for part in value.split(",") if part.strip()}
        return lambda item: item[0].status in statuses
    if name in ("product_id", "id"):
        kind = "Product" if name == "product_id" else "ProductVariant"
        number = int(value) if value.isdigit() else gid_number(value, kind)
        if number is None:
            warnings.append(f"invalid id {value!r} for {name}: term ignored")
            return _all()
        return lambda item: (item[0].id if name == "product_id" else item[1].id) == number
    warnings.append(f"unknown search field {name!r}: term ignored")
    return _all()

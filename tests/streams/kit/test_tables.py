"""`streams.kit.tables`: the one typed table declaration (key and value codecs, compression, what an unreadable
value does), and the changelog names derived from the declarations."""

from __future__ import annotations

import ast
import logging
import zlib
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from schemas.config import KafkaSettings
from schemas.topics import TopicNames
from streams.admin import TABLES, topic_specs
from streams.kit.tables import TableSpec, UnreadableEntry

REPO = Path(__file__).resolve().parents[3]


class Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    count: int = 0


PLAIN = TableSpec("things", Entry, unreadable="absent")
PACKED = TableSpec("packed", Entry, unreadable="raise", compressed=True)


def test_values_are_json_of_the_model_compressed_when_declared_and_keys_utf8() -> None:
    raw: dict[bytes, bytes] = {}
    PLAIN.entries(raw).put("order-é", Entry(name="a", count=2))
    assert raw == {"order-é".encode(): b'{"name":"a","count":2}'}
    packed: dict[bytes, bytes] = {}
    PACKED.entries(packed).put("k", Entry(name="b"))
    assert zlib.decompress(packed[b"k"]) == b'{"name":"b","count":0}'
    assert PACKED.entries(packed).get("k") == Entry(name="b")
    assert PLAIN.entries(raw).get("missing") is None and not PLAIN.entries(raw).contains("missing")


def test_an_unreadable_value_is_absent_and_logged_or_raises_as_declared(caplog: pytest.LogCaptureFixture) -> None:
    raw = {b"k": b"not json"}
    with caplog.at_level(logging.ERROR, logger="streams.kit.tables"):
        assert PLAIN.entries(raw).get("k") is None
    assert "table things" in caplog.text and "k" in caplog.text
    assert PLAIN.entries(raw).contains("k")  # present, readable or not
    with pytest.raises(UnreadableEntry, match=r"packed.*key 'k'"):
        PACKED.entries(raw).get("k")


def test_suffixed_entries_live_beside_the_plain_ones_and_items_skips_unreadable_ones() -> None:
    raw: dict[bytes, bytes] = {}
    plain, side = PLAIN.entries(raw), PLAIN.entries(raw, suffix="\x1fside")
    plain.put("o1", Entry(name="main"))
    side.put("o1", Entry(name="side"))
    raw[b"o2"] = b"{broken"
    assert set(raw) == {b"o1", b"o1\x1fside", b"o2"}
    assert plain.get("o1") == Entry(name="main") and side.get("o1") == Entry(name="side")
    assert list(side.items()) == [("o1", Entry(name="side"))]
    side.delete("o1")
    assert not side.contains("o1") and plain.contains("o1")


def test_changelog_names_are_fausts_and_every_declared_table_gets_its_compacted_topic() -> None:
    names = TopicNames("p")
    assert PLAIN.changelog(names.app_id) == "p-ledger-things-changelog"
    specs = {spec.name: spec.config for spec in topic_specs(KafkaSettings(topic_prefix="p"))}
    for table in TABLES:
        assert specs[table.changelog(names.app_id)] == {"cleanup.policy": "compact"}


def declared_tables() -> set[str]:
    """Every `TableSpec("<name>", ...)` written in streams/, by name."""
    found = set()
    for path in (REPO / "streams").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "TableSpec"
                    and node.args and isinstance(node.args[0], ast.Constant)):
                found.add(str(node.args[0].value))
    return found


def test_the_admin_list_holds_every_table_declared_in_streams() -> None:
    assert declared_tables() == {table.name for table in TABLES}
    assert len({table.name for table in TABLES}) == len(TABLES)


# -- cached tables ---------------------------------------------------------------------------------------------


class CountingDict(dict[bytes, bytes]):
    """A table's raw values that count reads."""

    reads = 0

    def get(self, key: bytes, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        self.reads += 1
        return super().get(key, default)


CACHED = TableSpec("cached", Entry, unreadable="raise", cached=2)


def test_a_cached_table_reads_each_value_once_while_it_is_among_the_last_used() -> None:
    raw = CountingDict()
    table = CACHED.entries(raw)
    table.put("a", Entry(name="a"))
    raw[b"b"] = b'{"name":"b","count":0}'  # written by another worker before a rebalance
    assert table.get("a") == Entry(name="a") and raw.reads == 0  # what it wrote: never read back
    assert table.get("b") == Entry(name="b") and table.get("b") == Entry(name="b") and raw.reads == 1
    table.put("c", Entry(name="c"))  # a, b, c: the least recently used (a) goes
    assert table.get("a") == Entry(name="a") and raw.reads == 2


def test_a_cached_table_forgets_on_request_and_on_delete() -> None:
    raw = CountingDict()
    table = CACHED.entries(raw)
    table.put("a", Entry(name="a"))
    raw[b"a"] = b'{"name":"a","count":7}'  # the partition moved away and back: the table holds another value
    assert table.get("a") == Entry(name="a")
    table.forget()
    assert table.get("a") == Entry(name="a", count=7)
    table.delete("a")
    assert table.get("a") is None


def test_a_compressed_table_reads_values_stored_uncompressed() -> None:
    assert PACKED.entries({b"k": b'{"name":"b","count":3}'}).get("k") == Entry(name="b", count=3)


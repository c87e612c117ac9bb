"""How the operators' tools speak: counts of records by topic, partition and type (`Counts`), tables and JSON on
stdout, a progress bar on stderr for long work (rich; only on a terminal, never with `--json`)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True)


class Counts:
    """Records counted by (topic, partition, type)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, int, str]] = Counter()

    def add(self, topic: str, partition: int, kind: str) -> None:
        self._counts[topic, partition, kind] += 1

    @property
    def total(self) -> int:
        return sum(self._counts.values())

    def rows(self) -> list[dict[str, Any]]:
        """One row per topic, partition and type, sorted: `{"topic", "partition", "type", "records"}`."""
        return [{"topic": topic, "partition": partition, "type": kind, "records": count}
                for (topic, partition, kind), count in sorted(self._counts.items())]

    def table(self, title: str) -> Table:
        table = Table(title=title, title_justify="left")
        for column in ("topic", "partition", "type"):
            table.add_column(column)
        table.add_column("records", justify="right")
        for row in self.rows():
            table.add_row(row["topic"], str(row["partition"]), row["type"], str(row["records"]))
        table.add_row("", "", "total", str(self.total), style="bold")
        return table


def rows_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A table of `rows` under `columns` (values shown with `str`, None as empty)."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row))
    return table


def print_json(document: object) -> None:
    """`document` as one JSON document on stdout (datetimes and other values as text)."""
    print(json.dumps(document, indent=2, default=str))


@contextmanager
def progress(description: str, total: int, *, quiet: bool) -> Iterator[Callable[[int], None]]:
    """A progress bar of `total` steps on stderr while the block runs; yields `advance(n)`. Nothing is shown when
    `quiet` (JSON output) or stderr is not a terminal."""
    if quiet or not sys.stderr.isatty() or total <= 0:
        yield lambda _: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=stderr, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda steps: bar.advance(task, steps)

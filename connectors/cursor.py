"""Poll cursors: opaque to the pipeline, plain JSON inside, so they survive restarts and upgrades.

A cursor records where the next poll starts (`since`: the newest `updated_at` of the last complete walk) and,
while a poll walks its pages, where it is (`page`: the platform's page token or number) and the newest time seen
so far (`newest`); `since` moves only when a walk completes, so page tokens always belong to the same query.
Each poll asks the platform for changes from `since` minus `OVERLAP`, so a change committed while the previous
poll ran (and search indexes that lag) is still seen; what is seen twice is dropped downstream (the ledger and the
pollers are idempotent). So that the overlap costs no more than the page that lists it, a cursor also remembers
the items of the last walk that fall inside the overlap (`recent`: ref and updated time, at most `RECENT_LIMIT`);
a connector that reads details per item skips those whose updated time has not changed (`seen_before`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

OVERLAP = timedelta(minutes=2)
SETTLE = timedelta(seconds=5)
"""Items updated this recently are not remembered as seen: platforms keep `updated_at` to the second, so an item
changed again within the second it was seen in keeps its `updated_at`, and would be taken as unchanged. The margin
also absorbs a few seconds of clock skew between the platform and us."""
RECENT_LIMIT = 500
_VERSION = 1


class CursorError(ValueError):
    """A cursor that this version cannot read (corrupted, or from another connection's platform)."""


@dataclass(frozen=True)
class PollCursor:
    since: datetime
    page: str | None = None
    newest: datetime | None = None
    recent: frozenset[tuple[str, datetime]] = frozenset()

    @classmethod
    def start(cls, cursor: str | None, *, default_since: datetime) -> PollCursor:
        """Decode `cursor`, or begin at `default_since` when there is none. Raises CursorError when unreadable."""
        if cursor is None:
            return cls(since=default_since)
        try:
            raw = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            if raw.get("v") != _VERSION:
                raise CursorError(f"cursor version {raw.get('v')!r} is not {_VERSION}")
            since = _aware(datetime.fromisoformat(raw["since"]))
            newest = _aware(datetime.fromisoformat(raw["newest"])) if raw.get("newest") else None
            page = raw.get("page")
            recent = frozenset((str(ref), _aware(datetime.fromisoformat(at))) for ref, at in raw.get("recent", []))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise CursorError(f"unreadable poll cursor {cursor[:40]!r}: {error}; reset the connection's cursor "
                              "to poll from its start window again") from None
        return cls(since=since, page=None if page is None else str(page), newest=newest, recent=recent)

    @property
    def query_since(self) -> datetime:
        """The lower bound to ask the platform for: `since` minus the overlap."""
        return self.since - OVERLAP

    def seen_before(self, ref: str, updated_at: datetime) -> bool:
        """Whether the last walk already returned item `ref` at this very `updated_at` (unchanged since)."""
        return (ref, updated_at) in self.recent

    def advanced(self, seen: datetime | None, page: str | None,
                 items: Iterable[tuple[str, datetime]] = (), *, now: datetime | None = None) -> PollCursor:
        """The cursor after one page: `seen` is the newest `updated_at` on it (None for an empty page), `page`
        where the walk continues (None: the walk is complete, and `since` moves to the newest time seen);
        `items` are the page's (ref, updated_at), remembered while they stay inside the overlap, except those
        updated less than `SETTLE` before `now` (default: the current time)."""
        newest = max(filter(None, (self.newest, seen)), default=None)
        settled = (now or datetime.now(UTC)) - SETTLE
        recent = self.recent | frozenset(item for item in items if item[1] <= settled)
        if page is not None:
            return replace(self, page=page, newest=newest, recent=recent)
        since = max(self.since, newest) if newest is not None else self.since
        kept = sorted((item for item in recent if item[1] >= since - OVERLAP), key=lambda item: item[1])
        return PollCursor(since=since, recent=frozenset(kept[-RECENT_LIMIT:]))

    def encode(self) -> str:
        raw = {"v": _VERSION, "since": self.since.isoformat(), "page": self.page,
               "newest": self.newest.isoformat() if self.newest else None,
               "recent": sorted([ref, at.isoformat()] for ref, at in self.recent)}
        return base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode()).decode()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

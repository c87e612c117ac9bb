"""Keeps a broker outage from flooding the worker's log: aiokafka logs every failed connection attempt and produce
response (ten a second per connection), Faust every record whose send failed, asyncio every future of those records
whose error nobody read. `RepeatThrottle` lets the first line of each kind through per window and says on the next
one it lets through how many it held back; nothing else about a line changes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

WINDOW_S = 30.0
KEY_CHARS = 48
"""Lines logged without arguments (f-strings, asyncio's reports) are told apart by their first characters."""
MAX_KINDS = 512
"""The kinds remembered at once; the oldest is forgotten first (its held-back count is lost, not its next line)."""
NOISY_LOGGERS = ("aiokafka", "aiokafka.producer.sender", "aiokafka.consumer.fetcher",
                 "aiokafka.consumer.group_coordinator", "aiokafka.conn", "faust.topics", "asyncio")
"""The loggers that repeat themselves while the broker is away."""


@dataclass
class _Kind:
    since: float
    held_back: int = 0


class RepeatThrottle(logging.Filter):
    """A logging filter: per kind of line (logger, level, message template), the first in each `window_s` passes;
    the others are counted and dropped, and the next one that passes ends with how many were. Never raises."""

    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._window_s = window_s
        self._clock = clock
        self._kinds: dict[tuple[str, int, str], _Kind] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        template = record.msg if isinstance(record.msg, str) else repr(record.msg)
        key = (record.name, record.levelno, template if record.args else template[:KEY_CHARS])
        now = self._clock()
        kind = self._kinds.get(key)
        if kind is not None and now - kind.since < self._window_s:
            kind.held_back += 1
            return False
        if kind is not None and kind.held_back:
            record.msg = (f"{template} [{kind.held_back} more like this in the last "
                          f"{now - kind.since:.0f} s were not logged]")
        self._kinds.pop(key, None)
        if len(self._kinds) >= MAX_KINDS:
            del self._kinds[next(iter(self._kinds))]
        self._kinds[key] = _Kind(since=now)
        return True


def throttle_repeats(logger_names: Iterable[str] = NOISY_LOGGERS, window_s: float = WINDOW_S) -> RepeatThrottle:
    """Attach one `RepeatThrottle` to each of the named loggers (a filter on a logger sees the lines logged through
    that very logger, not its children's: each noisy one is named) and return it."""
    throttle = RepeatThrottle(window_s)
    for name in logger_names:
        logging.getLogger(name).addFilter(throttle)
    return throttle

"""streams.kit.log_throttle: the first line of a kind per window passes, the rest are counted and reported on the
next one that passes; kinds are told apart by logger, level and template."""

from __future__ import annotations

import logging

import pytest

from streams.kit.log_throttle import KEY_CHARS, MAX_KINDS, RepeatThrottle, throttle_repeats


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(msg: str, *args: object, name: str = "aiokafka", level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args or None, None)


def test_repeats_within_the_window_are_held_back_and_counted_on_the_next_line_let_through() -> None:
    clock = Clock()
    throttle = RepeatThrottle(30.0, clock)
    first = record("Unable connect to node with id %s: %s", 1, "refused")
    assert throttle.filter(first) and first.getMessage() == "Unable connect to node with id 1: refused"
    for second in range(29):
        clock.now += 1
        assert not throttle.filter(record("Unable connect to node with id %s: %s", 1, f"refused {second}"))
    clock.now += 1
    later = record("Unable connect to node with id %s: %s", 2, "refused")
    assert throttle.filter(later)
    assert later.getMessage() == ("Unable connect to node with id 2: refused [29 more like this in the last 30 s "
                                  "were not logged]")
    clock.now += 31
    quiet = record("Unable connect to node with id %s: %s", 1, "refused")
    assert throttle.filter(quiet) and quiet.getMessage() == "Unable connect to node with id 1: refused"


@pytest.mark.parametrize(("other", "passes"), [
    (record("Got error produce response: %s", "x"), True),  # another template
    (record("Unable connect to node with id %s: %s", 1, "x", name="aiokafka.conn"), True),  # another logger
    (record("Unable connect to node with id %s: %s", 1, "x", level=logging.WARNING), True),  # another level
    (record("Unable connect to node with id %s: %s", 7, "y"), False),  # the same kind, other arguments
])
def test_kinds_are_logger_level_and_template(other: logging.LogRecord, passes: bool) -> None:
    throttle = RepeatThrottle(30.0, Clock())
    assert throttle.filter(record("Unable connect to node with id %s: %s", 1, "refused"))
    assert throttle.filter(other) is passes


def test_lines_without_arguments_are_told_apart_by_their_start() -> None:
    throttle = RepeatThrottle(30.0, Clock())
    prefix = "_on_published error for message topic t.poll-ticks"[:KEY_CHARS]
    assert throttle.filter(record(prefix + " error NodeNotReady message <1>"))
    assert not throttle.filter(record(prefix + " error NodeNotReady message <2>"))
    assert throttle.filter(record("Future exception was never retrieved"))


def test_the_kinds_remembered_are_bounded() -> None:
    throttle = RepeatThrottle(30.0, Clock())
    for n in range(MAX_KINDS + 10):
        assert throttle.filter(record(f"line {n:06d} " + "x" * KEY_CHARS))
    assert len(throttle._kinds) == MAX_KINDS
    assert throttle.filter(record("line 000000 " + "x" * KEY_CHARS))  # forgotten: passes again


def test_throttle_repeats_filters_the_named_loggers_only(caplog: pytest.LogCaptureFixture) -> None:
    throttle = throttle_repeats(("fulfillsync-test-noisy",))
    try:
        with caplog.at_level(logging.INFO):
            for _ in range(5):
                logging.getLogger("fulfillsync-test-noisy").error("broker gone: %s", "refused")
                logging.getLogger("fulfillsync-test-quiet").error("broker gone: %s", "refused")
        by_logger = [r.name for r in caplog.records]
        assert by_logger.count("fulfillsync-test-noisy") == 1 and by_logger.count("fulfillsync-test-quiet") == 5
    finally:
        logging.getLogger("fulfillsync-test-noisy").removeFilter(throttle)

"""Transient or deterministic: what an agent does when handling one record raises.

- **Transient** (`is_transient`): an error that may go away by itself: the broker unreachable, a send or delivery
  timing out, the disk full, RocksDB busy (OSError and TimeoutError, Kafka clients' and RocksDB's own errors, and
  RocksDB status messages such as "IO error" or "Resource busy"). It never becomes a dead letter and never lets the
  record's offset be committed: `InPlaceRetry` runs the record's work again with a capped backoff, and past
  `TRANSIENT_RETRY_S` it crashes the worker (exit non-zero, a critical log line saying what failed) without
  returning, so the record is read again after the restart.
- **Deterministic**: anything else is a bug that may repeat. The work is tried `BUG_ATTEMPTS` times in all; if it
  still fails, the caller's `on_bug` records it (the ledger dead-letters the record as `internal_error`) and the
  agent goes on. Bad data and platforms' refusals never get here: the agents handle those themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import NoReturn

log = logging.getLogger(__name__)

TRANSIENT_RETRY_S = 120.0
"""How long a record's work is retried in place while it fails transiently before the worker stops."""
BUG_ATTEMPTS = 3
"""Attempts in all before an unexpected (non-transient) error is taken for a bug that repeats."""
FIRST_DELAY_S = 0.2
MAX_DELAY_S = 5.0
_CLIENT_MODULES = ("aiokafka", "kafka", "confluent_kafka", "cimpl", "rocksdict", "faust.exceptions", "mode.")
_STORE_STATUSES = ("io error", "resource busy", "busy", "timed out", "try again", "no space left")


def is_transient(error: BaseException) -> bool:
    """Whether `error` may go away by itself (see the module docstring)."""
    if isinstance(error, (OSError, TimeoutError)):
        return True
    if type(error).__module__.startswith(_CLIENT_MODULES):
        return True
    text = str(error).lower()
    return text.startswith(_STORE_STATUSES)


Crash = Callable[[BaseException], Awaitable[None]]


@dataclass
class InPlaceRetry:
    """Runs one record's work until it succeeds, is taken for a repeating bug, or the transient bound is reached
    (see the module docstring). `crash` stops the worker (Faust's `App.crash`)."""

    crash: Crash
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    monotonic: Callable[[], float] = time.monotonic
    bound_s: float = TRANSIENT_RETRY_S
    attempts_for_bug: int = BUG_ATTEMPTS
    retried: int = field(default=0, init=False)

    async def run(self, work: Callable[[], Awaitable[None]], *, what: str,
                  on_bug: Callable[[Exception], Awaitable[None]]) -> None:
        """Run `work` (handling `what`, for the log). Returns once it succeeded or `on_bug` recorded a repeating
        bug (if recording it fails the same way, the record is only in the log: logged as critical); on a
        transient failure past the bound, crashes the worker and waits to be cancelled."""
        try:
            await work()
        except Exception as error:  # noqa: BLE001 (classified by `recover`)
            await self.recover(error, work, what=what, on_bug=on_bug)

    async def recover(self, error: Exception, work: Callable[[], Awaitable[None]], *, what: str,
                      on_bug: Callable[[Exception], Awaitable[None]]) -> None:
        """What `run` does once `work` failed the first time with `error` (for a hot path that makes its first
        attempt itself, so that success costs nothing extra)."""
        bug = await self._attempts(work, what, first=error)
        if bug is None:
            return

        async def record_bug() -> None:
            await on_bug(bug)

        if await self._attempts(record_bug, f"recording the failure of {what}") is not None:
            log.critical("%s: the failure could not be recorded either; it is only in this log", what)

    async def _attempts(self, work: Callable[[], Awaitable[None]], what: str,
                        first: Exception | None = None) -> Exception | None:
        """Run `work` until it succeeds (None) or fails `attempts_for_bug` times non-transiently (that error);
        `first`: the error of an attempt already made."""
        started = self.monotonic()
        delay = FIRST_DELAY_S
        failures = 0
        pending = first
        while True:
            try:
                if pending is not None:
                    error_seen, pending = pending, None
                    raise error_seen
                await work()
                return None
            except Exception as error:
                if is_transient(error):
                    waited = self.monotonic() - started
                    if waited >= self.bound_s:
                        await self._give_up(error, what, waited)
                    log.warning("%s failed with a transient error, retrying in %.1f s (not committed): %s: %s",
                                what, delay, type(error).__name__, error)
                else:
                    failures += 1
                    if failures >= self.attempts_for_bug:
                        log.exception("%s failed %d times with an unexpected error; taken for a bug", what,
                                      failures)
                        return error
                    log.warning("%s failed unexpectedly (attempt %d), trying again: %s: %s", what, failures,
                                type(error).__name__, error)
                self.retried += 1
                await self.sleep(delay)
                delay = min(delay * 2, MAX_DELAY_S)

    async def _give_up(self, error: Exception, what: str, waited: float) -> NoReturn:
        log.critical("%s still fails after %.0f s: %s: %s. Stopping the worker: nothing past this record is "
                     "committed, and it is read again after the restart; fix what the error names (broker, disk, "
                     "permissions) and start the worker again", what, waited, type(error).__name__, error)
        await self.crash(error)
        await asyncio.Event().wait()  # never returns, so never acked: the stopping worker cancels this
        raise AssertionError("unreachable")


async def no_worker(error: BaseException) -> None:
    """A `Crash` for code run without a worker (unit tests, tools): raises the error instead of stopping one."""
    raise error

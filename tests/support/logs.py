"""Tests that switch a process to JSON logs (`streams.kit.logs.use_json_logs`) change process-wide state: the root
logger's handlers and level, uvicorn's and httpx's loggers, the exception hooks, captured warnings and the bound
log context. `logging_restored` puts all of it back."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from schemas import log_context
from streams.kit.logs import UVICORN_LOGGERS


@contextmanager
def logging_restored() -> Iterator[None]:
    """Run the block with no log context bound, and restore the logging set-up it changed afterwards."""
    root = logging.getLogger()
    named = [logging.getLogger(name) for name in (*UVICORN_LOGGERS, "httpx")]
    saved_root = (list(root.handlers), root.level, sys.excepthook, threading.excepthook)
    saved_named = [(list(logger.handlers), logger.propagate, logger.level) for logger in named]
    log_context.clear()
    try:
        yield
    finally:
        root.handlers[:] = saved_root[0]
        root.setLevel(saved_root[1])
        sys.excepthook, threading.excepthook = saved_root[2], saved_root[3]
        logging.captureWarnings(False)
        for logger, (handlers, propagate, level) in zip(named, saved_named, strict=True):
            logger.handlers[:] = handlers
            logger.propagate = propagate
            logger.setLevel(level)
        log_context.clear()

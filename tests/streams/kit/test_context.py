"""`streams.kit.context`: each topic and table exists once per worker, every agent sends through one `Send`, and the
stop hooks run after the app's services have stopped, each one whatever the others did."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from schemas.config import Config
from streams.app import create_app, rocksdb_options
from streams.kit.context import WiringContext
from streams.kit.worker_app import WorkerApp
from streams.orders.tables import ORDERS
from streams.sellers.tables import SELLER_ORDERS


def config(tmp_path: Path) -> Config:
    return Config.model_validate({"kafka": {"topic_prefix": "ctx", "partitions": 3},
                                  "worker": {"state_dir": str(tmp_path / "state")}})


def test_tables_and_topics_are_made_once_per_name(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    ctx = WiringContext(app=WorkerApp("ctx-ledger", autodiscover=False), config=cfg,
                        table_options=rocksdb_options(cfg))
    assert ctx.faust_table(ORDERS.name) is ctx.faust_table("orders")
    assert ctx.topic(ctx.names.dead_letters) is ctx.topic("ctx.dead-letters")
    assert ctx.topic(ctx.names.dead_letters).partitions == 3
    assert ctx.table(SELLER_ORDERS).spec is SELLER_ORDERS


def test_the_worker_declares_each_table_once_with_its_derived_changelog(tmp_path: Path) -> None:
    service = create_app(config(tmp_path))
    tables = {name: table for name, table in service.app.tables.items()}
    assert set(tables) == {"orders", "poll-cursors", "buyer-orders", "seller-orders", "seller-fulfillments",
                           "buyer-fulfillments"}
    for name, table in tables.items():
        assert table.changelog_topic.get_topic_name() == f"ctx-ledger-{name}-changelog"


def test_stop_hooks_run_in_order_and_a_failing_one_does_not_stop_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    app = WorkerApp("hooks", autodiscover=False)
    ran: list[str] = []

    async def first() -> None:
        ran.append("first")
        raise RuntimeError("a client would not close")

    async def second() -> None:
        ran.append("second")

    app.stop_hooks += [first, second]
    asyncio.run(app.on_shutdown())
    assert ran == ["first", "second"]
    assert "a stop hook failed" in caplog.text

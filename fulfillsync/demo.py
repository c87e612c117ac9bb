"""`fulfillsync demo` (what `make run` runs): the whole sync loop on simulated stores of all four platforms.

1. serve the stores and write the run's configuration (`fulfillsync.demo_setup`), create its topics and start
   `fulfillsync worker` on it, and `fulfillsync web` beside it (the web app of dray, the seller without a store;
   its address and dray's demo password are printed);
2. run the merchants' script (`fulfillsync.demo_script`) while a reader thread follows the four public topics and
   the buyers' stores are read every second, printing each order's story as it happens (`fulfillsync.timeline`);
3. print what the sellers' stores show (their products' inventory gone down, each seller order made of their
   products at wholesale prices: `demo_script.seller_summary`), then a summary table of every order against what
   the script intended; with `once`, stop and return 0 when
   every order got there, 1 otherwise; without, keep telling the story (and serving the web app, where dray's
   order waits for a person to fulfill it) until Ctrl-C.

Lines start with a marker: `=>` a merchant acts, `<=` fulfillsync's doing as the topics and the buyer's store show
it, `..` waiting, `!!` a store refused something.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import yaml

from fulfillsync.demo_script import Stage, WebApp, run_script, seller_summary, watch_buyers
from fulfillsync.demo_setup import (
    CAST,
    DEMO_WEB_PASSWORD,
    DRAY,
    ROUTES,
    ChildProcess,
    DemoSetupError,
    Store,
    config_document,
    credential_environment,
    forget_previous_run,
    start_stores,
    start_web,
    start_worker,
    web_port,
    web_url,
)
from fulfillsync.timeline import Outcome, Timeline, read_topics, summary
from schemas.config import Config
from schemas.config_file import load_config
from schemas.topics import TopicNames
from streams.admin import ensure_topics


@dataclass(frozen=True)
class DemoOptions:
    """`folder`: where the configuration, logs and state go; `interval`: the poll interval; `step_timeout_s`:
    the longest wait for one answer of fulfillsync (None: three intervals plus 20 s); `duration_s`: the script's
    time limit; `once`: stop after the summary."""

    folder: Path
    interval: timedelta = timedelta(seconds=10)
    step_timeout_s: float | None = None
    duration_s: float = 300.0
    once: bool = False


def say(marker: str, text: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {marker} {text}", flush=True)


def run_demo(base: Config, options: DemoOptions) -> int:
    """Run the demo on `base`'s broker and web port. Returns 0 when every order reached its intended state (or
    on Ctrl-C), 1 when one did not, 2 when the stores or the worker could not be started."""
    signal.signal(signal.SIGTERM, _interrupt)  # a SIGTERM stops the demo as Ctrl-C does: its children too
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background (SIGINT ignored)
    folder = options.folder
    folder.mkdir(parents=True, exist_ok=True)
    forget_previous_run(folder, base.kafka)
    interval = options.interval
    env = credential_environment(base.kafka)  # one session secret and password hash for the whole run
    try:
        with _stores(folder) as stores:
            port = web_port(base)
            config_path = _write_config(base, stores, folder, interval, port)
            config = load_config(config_path, environ=env).config
            ensure_topics(config.kafka)
            say("..", f"starting the worker on {config_path} (log: {folder / 'worker.log'}) ...")
            worker = start_worker(config_path, config.worker.web_port, env)
            web: ChildProcess | None = None
            try:
                say("..", f"worker ready: http://127.0.0.1:{config.worker.web_port}/readyz; polling every "
                          f"{interval.total_seconds():g}s")
                url = web_url(config.web.host, config.web.port)
                say("..", f"starting the web app (log: {folder / 'web.log'}) ...")
                web = start_web(config_path, url, env)
                say("..", f"web app ready: {url}/ (dray, the seller without a store, signs in as {DRAY.connection}, "
                          f"password {DEMO_WEB_PASSWORD})" + ("" if port == base.web.port else
                                                              f"; port {base.web.port} was taken"))
                return asyncio.run(_show(config, stores, options, interval, url))
            finally:
                say("..", "stopping the web app, the worker and the stores ...")
                if web is not None:
                    web.stop()
                worker.stop()
    except DemoSetupError as error:
        say("!!", str(error))
        return 2
    except KeyboardInterrupt:
        return 0


def _interrupt(signum: int, frame: object) -> None:
    signal.raise_signal(signal.SIGINT)


@contextlib.contextmanager
def _stores(folder: Path) -> Iterator[dict[str, Store]]:
    say("..", f"starting the simulated stores (log: {folder / 'sandbox.log'}) ...")
    process: ChildProcess
    process, stores = start_stores(folder)
    try:
        for party in CAST:
            where = stores[party.partner].base_url if party.has_store else "no store: fulfills in the web app"
            say("..", f"{party.role:6} {party!s:24} {where}")
        for buyer, seller in ROUTES:
            say("..", f"route  {buyer.partner} -> {seller.partner}: SKUs {', '.join(seller.skus)}")
        yield stores
    finally:
        process.stop()


def _write_config(base: Config, stores: dict[str, Store], folder: Path, interval: timedelta, port: int) -> Path:
    run = datetime.now().strftime("%m%d%H%M%S")
    document = config_document(base, stores, prefix=f"{base.kafka.topic_prefix}-demo-{run}",
                               state_dir=folder / "state", interval=interval, web_port=port)
    path = folder / "config.yaml"
    path.write_text("# Written by `fulfillsync demo` on every run (README: What `make run` shows). Credentials: the\n"
                    "# FULFILLSYNC_DEMO_* variables, which the demo sets for its worker and web app (sandbox-token,\n"
                    "# ck_sandbox, cs_sandbox; the web app's session secret and dray's password hash are new on\n"
                    "# every run).\n" + yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


async def _show(config: Config, stores: dict[str, Store], options: DemoOptions, interval: timedelta,
                web_root: str) -> int:
    timeline = Timeline({party.connection: str(party) for party in CAST})
    records: queue.Queue[Outcome] = queue.Queue()
    done = threading.Event()
    names = TopicNames(config.kafka.topic_prefix)

    def read() -> None:
        for _, record in read_topics(config, names.public, from_beginning=True, stop=done.is_set):
            records.put(record)

    reader = threading.Thread(target=read, name="demo-topics", daemon=True)
    reader.start()
    seconds = interval.total_seconds()
    async with contextlib.AsyncExitStack() as clients:
        http = {partner: await clients.enter_async_context(httpx.AsyncClient(base_url=store.root, timeout=10))
                for partner, store in stores.items()}
        web = WebApp(web_root, DRAY.connection, DEMO_WEB_PASSWORD,
                     await clients.enter_async_context(httpx.AsyncClient(base_url=web_root, timeout=10)))
        stage = Stage(http=http, web=web, timeline=timeline, say=say,
                      step_timeout_s=options.step_timeout_s or 3 * seconds + 20, slow_after_s=2 * seconds + 5,
                      deadline=time.monotonic() + options.duration_s)
        background = [asyncio.create_task(_tell(timeline, records)), asyncio.create_task(watch_buyers(stage))]
        try:
            await run_script(stage)
            await asyncio.sleep(1.0)  # what the last second brought, before the summary
            print(f"\n{await seller_summary(stage)}", flush=True)
            reached = _summarise(stage, options.folder)
            if options.once:
                return 0 if reached else 1
            for order_id, intent in stage.intents.items():
                story = stage.story(order_id)
                if intent == "web" and story is not None and not story.fulfilled:
                    say("..", f"{stage.name(order_id)} waits for you in the web app: {web.where(order_id)}")
            say("..", "still telling what happens; Ctrl-C to stop")
            await asyncio.Event().wait()
            return 0
        except asyncio.CancelledError:  # Ctrl-C
            _summarise(stage, options.folder)
            raise
        finally:
            for task in background:
                task.cancel()
            done.set()
            reader.join(timeout=5)


async def _tell(timeline: Timeline, records: queue.Queue[Outcome]) -> None:
    """Forever: apply what the reader thread read to the timeline and print what changed."""
    while True:
        while not records.empty():
            for happening in timeline.apply(records.get_nowait()):
                say("<=", Timeline.line(happening))
        await asyncio.sleep(0.2)


def _summarise(stage: Stage, folder: Path) -> bool:
    """Print the summary table; True when every intended order reached its state."""
    stories = list(stage.timeline.orders.values())
    count = sum(story.reached(stage.intents[story.order_id]) for story in stories if story.order_id in stage.intents)
    reached = count == len(stage.intents)
    print(f"\n{summary(stories, stage.intents)}\n", flush=True)
    missing = len([order_id for order_id in stage.intents if order_id not in stage.timeline.orders])
    if missing:
        print(f"{missing} order(s) the script placed never reached fulfillsync's topics", flush=True)
    print(f"{'every' if reached else 'NOT every'} order reached its intended state ({count} of {len(stage.intents)})"
          + ("" if reached else f"; the worker's side of the story: {folder / 'worker.log'}") + "\n", flush=True)
    return reached

"""The operators' tools on the command line: `replay`, `offsets reset`, `dead-letters list|show|requeue`,
`order show`, `orders stuck`. Each one that acts is a dry run unless `--execute` and says what it would do first
(counts by topic, partition and type); each shows a progress bar on a terminal and prints JSON with `--json`.

Exit codes: 0 done (or planned), 1 a runtime failure (Kafka), 2 bad usage or a refusal (the message says why).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from confluent_kafka import KafkaException

from fulfillsync.ops import output
from fulfillsync.ops.dead_letters import (
    Decider,
    Filters,
    Letter,
    RequeueRefused,
    current_states,
    described,
    letters_in,
    read_requeued,
    requeued_record,
    summary,
)
from fulfillsync.ops.offsets import OffsetsReset, ResetTo
from fulfillsync.ops.order_story import find_order_ids, read_story
from fulfillsync.ops.reading import ReadError, Record, Start, TopicRange, partition_count
from fulfillsync.ops.replay import Refused, Replay, ReplayRequest
from fulfillsync.ops.stuck_orders import stuck_in
from schemas.config import Config, KafkaSettings, parse_duration
from schemas.topics import TopicNames
from streams.admin import ensure_topics
from streams.kit.producer import EventProducer
from streams.kit.records import utc_now
from streams.orders.tables import ORDERS

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
ExecuteOption = Annotated[bool, typer.Option("--execute", help="Act; without it, only say what would be done.")]
ReasonOption = Annotated[list[str] | None, typer.Option("--reason", help="Only this reason (repeatable).")]
StageOption = Annotated[list[str] | None, typer.Option("--stage", help="Only this stage (repeatable).")]
OrderOption = Annotated[list[str] | None, typer.Option("--order", help="Only this order id (repeatable).")]
ConnectionOption = Annotated[list[str] | None, typer.Option("--connection", help="Only letters whose record "
                                                                                  "names this connection.")]
SinceOption = Annotated[str | None, typer.Option(help="Only letters since this time (ISO 8601) or this long "
                                                      "ago (e.g. 3d).")]



def _time(text: str) -> datetime:
    """An ISO 8601 time; without an offset it is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time such as 2026-12-01T08:00:00Z") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _since(text: str) -> datetime:
    """`3d` (that long ago) or an ISO 8601 time."""
    try:
        return utc_now() - parse_duration(text)
    except ValueError:
        return _time(text)


def _offsets(values: list[str]) -> dict[int, int]:
    found: dict[int, int] = {}
    for value in values:
        partition, _, offset = value.partition(":")
        if not (partition.isdigit() and offset.isdigit()):
            raise typer.BadParameter(f"{value!r}: expected PARTITION:OFFSET, e.g. 0:1200")
        found[int(partition)] = int(offset)
    return found


def _said(as_json: bool, line: Any) -> None:
    """Say what is about to be done (on stderr, so `--json` output stays one document on stdout)."""
    if not as_json:
        output.stderr.print(line)


def _done(as_json: bool, document: dict[str, Any], lines: list[Any]) -> None:
    if as_json:
        output.print_json(document)
        return
    for line in lines:
        output.stdout.print(line)


def _records(span: TopicRange, what: str, quiet: bool) -> Iterator[Record]:
    """Every record of `span`, a progress bar of its offsets shown meanwhile (see `output.progress`)."""
    with output.progress(what, span.total, quiet=quiet) as advance:
        yield from span.records(advance)


def register(app: typer.Typer, config: Callable[[], Config], fail: Callable[[str, int], typer.Exit]) -> None:
    """Add the operators' tools to `app`; `config()` gives the configuration (exits on a bad one), `fail(message,
    code)` the exit to raise after saying why (the command line's own)."""
    _fail = fail

    @app.command(epilog="Example: fulfillsync replay --topic fulfillment-events --last 1d --execute")
    def replay(
        topic: Annotated[str, typer.Option(help="The topic: order-events, fulfillment-events, shipped-orders, "
                                                "or a full name (with --target).")],
        from_time: Annotated[str | None, typer.Option("--from", help="Start at this time (ISO 8601; UTC "
                                                                     "without an offset).")] = None,
        from_offset: Annotated[list[str] | None, typer.Option("--from-offset", help="Start at PARTITION:OFFSET "
                                                               "(repeatable; other partitions are not read).")] = None,
        last: Annotated[str | None, typer.Option(help="Start this long ago, e.g. 1d, 6h.")] = None,
        to: Annotated[str | None, typer.Option(help="Stop before this time (ISO 8601); default: now.")] = None,
        order: Annotated[list[str] | None, typer.Option(help="Only this order id (repeatable).")] = None,
        kind: Annotated[list[str] | None, typer.Option("--type", help="Only this record type, e.g. "
                                                                      "fulfillment.recorded (repeatable).")] = None,
        target: Annotated[str | None, typer.Option(help="Publish into this topic instead (your own; it must "
                                                        "exist with at least as many partitions).")] = None,
        rate: Annotated[float | None, typer.Option(help="At most this many records per second.", min=0.01)] = None,
        execute: ExecuteOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """Re-publish a range of a topic's records with their original keys, ids and headers (the ledger and the
        sinks drop what they already applied; consumers drop duplicates by event_id)."""
        starts = [option for option in (from_time, from_offset, last) if option]
        if len(starts) != 1:
            raise _fail("replay: give exactly one of --from, --from-offset, --last", 2)
        if from_time:
            start = Start(time=_time(from_time))
        elif from_offset:
            start = Start(offsets=_offsets(from_offset))
        else:
            start = Start(time=utc_now() - parse_duration(last))
        request = ReplayRequest(topic, start, _time(to) if to else None, frozenset(order or ()),
                                frozenset(kind or ()), target, rate)
        kafka = config().kafka
        job = Replay(kafka, request)
        try:
            job.check(functools.partial(partition_count, kafka))
            with job.range() as span:
                plan = job.plan(_records(span, "counting", as_json))
            if not execute or plan.total == 0:
                _done(as_json, {"dry_run": True, "topic": job.topic, "target": job.target, "records": plan.rows(),
                                "total": plan.total},
                      [plan.table(f"replay {job.topic} -> {job.target}: would publish"),
                       "dry run: nothing published; add --execute to publish these records" if plan.total else
                       "nothing to replay in this range"])
                return
            _said(as_json, plan.table(f"replay {job.topic} -> {job.target}: publishing"))
            with job.range() as span:
                published = job.execute(_records(span, "publishing", as_json))
        except (Refused, typer.BadParameter) as error:
            raise _fail(f"replay refused: {error}", 2) from None
        except (ReadError, KafkaException) as error:
            raise _fail(f"replay failed: {error}", 1) from None
        _done(as_json, {"dry_run": False, "topic": job.topic, "target": job.target, "records": published.rows(),
                        "total": published.total},
              [published.table(f"replay {job.topic} -> {job.target}: published")])

    offsets_app = typer.Typer(no_args_is_help=True, help="The worker's consumer group offsets.")
    app.add_typer(offsets_app, name="offsets")

    @offsets_app.command("reset", epilog="Example: fulfillsync offsets reset --topic order-events "
                                         "--by-duration 6h --execute")
    def offsets_reset(
        topic: Annotated[str, typer.Option(help="The topic, e.g. order-events.")],
        to_datetime: Annotated[str | None, typer.Option(help="To the first record at or after this time.")] = None,
        by_duration: Annotated[str | None, typer.Option(help="To this long ago, e.g. 6h.")] = None,
        to_earliest: Annotated[bool, typer.Option(help="To the beginning.")] = False,
        to_latest: Annotated[bool, typer.Option(help="To the end (skips what is unread, for good).")] = False,
        execute: ExecuteOption = False,
        as_json: JsonOption = False,
    ) -> None:
        """Move the worker's consumer group on one topic (refused while a worker is running); shows the lag each
        partition is left with."""
        if sum(bool(option) for option in (to_datetime, by_duration, to_earliest, to_latest)) != 1:
            raise _fail("offsets reset: give exactly one of --to-datetime, --by-duration, --to-earliest, "
                        "--to-latest", 2)
        moment = _time(to_datetime) if to_datetime else (
            utc_now() - parse_duration(by_duration) if by_duration else None)
        job = OffsetsReset(config().kafka, topic, ResetTo(time=moment, earliest=to_earliest, latest=to_latest))
        try:
            moves = job.plan()
            if execute:
                _said(as_json, f"moving consumer group {job.group} on {len(moves)} partition(s) of {job.topic}: "
                               + ", ".join(f"{move.partition}: {move.committed} -> {move.new}" for move in moves))
                job.execute(moves)
        except Refused as error:
            raise _fail(f"offsets reset refused: {error}", 2) from None
        except (ReadError, KafkaException) as error:
            raise _fail(f"offsets reset failed: {error}", 1) from None
        rows = [{"partition": move.partition, "committed": move.committed, "new": move.new, "end": move.end,
                 "lag_after": move.lag_after, "read_again": move.rereads} for move in moves]
        _done(as_json, {"dry_run": not execute, "group": job.group, "topic": job.topic, "partitions": rows},
              [output.rows_table(f"consumer group {job.group} on {job.topic}"
                                 f"{'' if execute else ' (dry run: add --execute to move it)'}",
                                 ("partition", "committed", "new", "end", "lag after", "read again"),
                                 ([row["partition"], row["committed"], row["new"], row["end"], row["lag_after"],
                                   row["read_again"]] for row in rows))])

    letters_app = typer.Typer(no_args_is_help=True, help="Dead letters: list, show, requeue.")
    app.add_typer(letters_app, name="dead-letters")

    def filters(ids: list[str] | None, reason: list[str] | None, stage: list[str] | None, order: list[str] | None,
                connection: list[str] | None, since: str | None) -> Filters:
        return Filters(frozenset(ids or ()), frozenset(reason or ()), frozenset(stage or ()), frozenset(order or ()),
                       frozenset(connection or ()), _since(since) if since else None)

    def collected(kafka: KafkaSettings, chosen: Filters, as_json: bool) -> list[Letter]:
        topic = TopicNames(kafka.topic_prefix).dead_letters
        try:
            with TopicRange(kafka, topic, Start(time=chosen.since)) as span:
                return list(letters_in(_records(span, "reading dead letters", as_json), chosen))
        except (ReadError, KafkaException) as error:
            raise _fail(f"dead-letters: {error}", 1) from None

    @letters_app.command("list", epilog="Example: fulfillsync dead-letters list --reason unknown_order --since 3d")
    def letters_list(reason: ReasonOption = None, stage: StageOption = None, order: OrderOption = None,
                     connection: ConnectionOption = None, since: SinceOption = None,
                     as_json: JsonOption = False) -> None:
        """List dead letters (newest last) with a summary by reason and stage."""
        found = collected(config().kafka, filters(None, reason, stage, order, connection, since), as_json)
        rows = [{"id": item.id, "at": item.letter.dead_lettered_at.isoformat(), "stage": item.letter.stage,
                 "reason": item.letter.reason, "order_id": item.letter.order_id,
                 "message": item.letter.message} for item in found]
        counted = summary(found)
        _done(as_json, {"letters": rows, "summary": counted},
              [output.rows_table("dead letters", ("id", "at", "stage", "reason", "order", "message"),
                                 ([row["id"], row["at"], row["stage"], row["reason"], row["order_id"],
                                   str(row["message"])[:80]] for row in rows)),
               output.rows_table("by reason and stage", ("reason", "stage", "letters"),
                                 ([row["reason"], row["stage"], row["letters"]] for row in counted))])

    @letters_app.command("show", epilog="Example: fulfillsync dead-letters show 3f1c...")
    def letters_show(letter_id: Annotated[str, typer.Argument(metavar="ID", help="The letter's event_id.")],
                     as_json: JsonOption = False) -> None:
        """Show one letter, its original record decoded, and what to do about its reason."""
        found = collected(config().kafka, Filters(ids=frozenset({letter_id})), as_json)
        if not found:
            raise _fail(f"no dead letter with id {letter_id} (see `fulfillsync dead-letters list`)", 2)
        document = described(found[-1])
        _done(as_json, document, [document, f"[bold]what to do:[/bold] {document['what_to_do']}"])

    @letters_app.command("requeue", epilog="Example: fulfillsync dead-letters requeue --reason unknown_order "
                                           "--execute")
    def letters_requeue(
        ids: Annotated[list[str] | None, typer.Argument(metavar="[ID]...", help="Letter ids.")] = None,
        reason: ReasonOption = None, stage: StageOption = None, order: OrderOption = None,
        connection: ConnectionOption = None, since: SinceOption = None,
        execute: ExecuteOption = False, as_json: JsonOption = False,
    ) -> None:
        """Send letters back where they can have an effect (see docs/operations.md); refuses, with the reason,
        those that would have none or were requeued before."""
        chosen = filters(ids, reason, stage, order, connection, since)
        if chosen == Filters():
            raise _fail("dead-letters requeue: name letters by id or give a filter (--reason, --stage, ...)", 2)
        settings = config()
        kafka = settings.kafka
        found = collected(kafka, chosen, as_json)
        try:
            decider = Decider(settings, read_requeued(kafka), current_states(kafka, found))
        except (ReadError, KafkaException) as error:
            raise _fail(f"dead-letters requeue: {error}", 1) from None
        planned, refused = [], []
        for item in found:
            try:
                planned.append(decider.decide(item))
            except RequeueRefused as error:
                refused.append({"id": item.id, "reason": item.letter.reason, "refused": str(error)})
        counts = output.Counts()
        for requeue in planned:
            counts.add(requeue.topic, requeue.partition, requeue.kind)
        if execute and planned:
            _said(as_json, counts.table(f"requeuing {len(planned)} letter(s) ({len(refused)} refused): publishing"))
            ensure_topics(kafka)
            names = TopicNames(kafka.topic_prefix)
            producer = EventProducer(kafka, source="/fulfillsync/dead-letters")
            for requeue in planned:
                producer.publish_raw(requeue.topic, requeue.key, requeue.value, requeue.headers,
                                     partition=requeue.partition)
            producer.flush()
            for requeue in planned:
                key, value = requeued_record(requeue, utc_now())
                producer.publish_raw(names.requeued_letters, key, value)
            producer.flush()
        rows = [{"id": item.letter_id, "order_id": item.order_id, "topic": item.topic, "partition": item.partition,
                 "what": item.what} for item in planned]
        _done(as_json, {"dry_run": not execute, "requeued" if execute else "would_requeue": rows,
                        "records": counts.rows(), "refused": refused},
              [counts.table("requeued: published" if execute else "requeue would publish"),
               output.rows_table("requeued" if execute else "would requeue (dry run: add --execute)",
                                 ("id", "order", "topic", "partition", "what"),
                                 ([row["id"], row["order_id"], row["topic"], row["partition"], row["what"]]
                                  for row in rows)),
               output.rows_table("refused", ("id", "reason", "why"),
                                 ([row["id"], row["reason"], row["refused"]] for row in refused))])

    order_app = typer.Typer(no_args_is_help=True, help="One order.")
    app.add_typer(order_app, name="order")

    @order_app.command("show", epilog="Example: fulfillsync order show --buyer shop-bc --ref 1042")
    def order_show(
        order_id: Annotated[str | None, typer.Argument(metavar="[ORDER_ID]", help="Our order id.")] = None,
        buyer: Annotated[str | None, typer.Option(help="The buyer connection (with --ref).")] = None,
        ref: Annotated[str | None, typer.Option(help="The buyer's order reference (with --buyer).")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """One order's story from the topics and the worker's changelogs (no worker needed): the stored copy, the
        seller's order, what the buyer's store was sent, dead letters, the timeline."""
        if (order_id is None) == (buyer is None or ref is None):
            raise _fail("order show: give ORDER_ID, or --buyer and --ref", 2)
        try:
            settings = config()
            order_ids = [order_id] if order_id else find_order_ids(settings, buyer or "", ref or "")
            if not order_ids:
                raise _fail(f"no order.placed for buyer {buyer} order {ref} on order-events", 2)
            stories = [read_story(settings, found) for found in order_ids]
        except (ReadError, KafkaException) as error:
            raise _fail(f"order show: {error}", 1) from None
        unknown = [story.order_id for story in stories if not story.timeline and not story.tables]
        if unknown:
            raise _fail(f"no record about order {', '.join(unknown)} on any topic or in any table: check the id "
                        "(--buyer CONNECTION --ref REF finds it from the buyer's order reference)", 2)
        documents = [story.document() for story in stories]
        if as_json:
            output.print_json(documents if len(documents) > 1 else documents[0])
            return
        for story, document in zip(stories, documents, strict=True):
            output.stdout.print(f"[bold]order {story.order_id}[/bold]: {story.status}")
            output.stdout.print(output.rows_table("lines", ("line", "sku", "ordered", "to ship", "fulfilled"), (
                [line["line_id"], line["sku"], line["ordered"], line["to_ship"], line["fulfilled"]]
                for line in document["lines"])))
            output.stdout.print(output.rows_table("fulfillments", ("fulfillment", "status", "carrier", "tracking"), (
                [item["fulfillment_id"], item["status"], item["carrier"], ", ".join(item["tracking_numbers"])]
                for item in document["fulfillments"])))
            for name, entry in document["tables"].items():
                output.stdout.print(f"{name} (changed {entry.get('at')}):", entry.get("value", entry))
            output.stdout.print(output.rows_table("timeline", ("at", "position", "type", "summary"), (
                [moment["at"], moment["position"], moment["type"], moment["summary"]]
                for moment in document["timeline"])))

    orders_app = typer.Typer(no_args_is_help=True, help="Orders in bulk.")
    app.add_typer(orders_app, name="orders")

    @orders_app.command("stuck", epilog="Example: fulfillsync orders stuck --older 3d")
    def orders_stuck(
        older: Annotated[str, typer.Option(help="Quiet for at least this long, e.g. 3d, 12h.")] = "3d",
        as_json: JsonOption = False,
    ) -> None:
        """Orders not Shipped long after their last change (no worker needed), partially shipped ones first."""
        kafka = config().kafka
        try:
            quiet_for = parse_duration(older)
            with TopicRange(kafka, ORDERS.changelog(TopicNames(kafka.topic_prefix).app_id)) as span:
                found = stuck_in(_records(span, "reading orders", as_json), quiet_for, utc_now())
        except ValueError as error:
            raise _fail(f"orders stuck: --older: {error}", 2) from None
        except (ReadError, KafkaException) as error:
            raise _fail(f"orders stuck: {error}", 1) from None
        rows = [{"order_id": order.order_id, "buyer": order.buyer, "buyer_order_ref": order.buyer_order_ref,
                 "seller": order.seller, "waiting_since": order.waiting_since.isoformat(),
                 "fulfilled": order.fulfilled, "to_ship": order.to_ship} for order in found]
        _done(as_json, {"older": older, "orders": rows},
              [output.rows_table(f"orders waiting to ship, quiet for {older} or more",
                                 ("order", "buyer", "buyer ref", "seller", "waiting since", "fulfilled of"),
                                 ([row["order_id"], row["buyer"], row["buyer_order_ref"], row["seller"],
                                   row["waiting_since"], f"{row['fulfilled']} of {row['to_ship']}"]
                                  for row in rows)),
               f"{len(rows)} order(s); `fulfillsync order show ORDER_ID` tells one's story"])


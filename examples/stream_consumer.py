"""Reference integration: score listings from a message queue, store, then acknowledge.

The consumer collects messages into a bounded batch window (it flushes when ``max_batch``
messages are in hand or ``max_wait`` seconds have passed since the first, whichever comes
first), scores the batch with one :class:`~cites_guard.Guard` call, stores every assessment in
one transaction and only THEN acknowledges the messages. A crash anywhere before the
acknowledgement means the broker delivers the messages again; the store is keyed by listing id
and content hash, so scoring them again stores nothing twice (at-least-once delivery, exactly
one stored row per listing version).

A real consumer implements :class:`MessageSource` over Kafka (commit offsets in ``ack``), SQS
(``DeleteMessage``), Pub/Sub or RabbitMQ; :class:`InProcessQueue` stands in for them here.

Run it on a JSONL file of listings (each line becomes one message)::

    python examples/stream_consumer.py examples/listings.jsonl --db assessments.sqlite3 \\
        [--max-batch 32] [--max-wait 0.5]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import queue
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pydantic import ValidationError

from cites_guard import Assessment, CitesGuardError, Guard, Listing, Reporter, Settings
from cites_guard.report import canonical_json

logger = logging.getLogger("stream_consumer")


class Message(Protocol):
    """One delivered message: the body and a way to say it has been handled."""

    @property
    def body(self) -> bytes:
        """The payload: one listing as UTF-8 JSON."""
        ...

    def ack(self) -> None:
        """Tell the broker the message is handled; it will not be delivered again."""
        ...


class MessageSource(Protocol):
    """What a broker client must offer the consumer (Kafka, SQS, Pub/Sub, RabbitMQ...)."""

    def receive(self, timeout: float, max_messages: int) -> list[Message]:
        """Wait up to ``timeout`` s for messages; return at most ``max_messages`` (maybe none).

        Kafka's ``poll(timeout_ms, max_records)`` and SQS's ``WaitTimeSeconds`` /
        ``MaxNumberOfMessages`` map onto this directly.
        """
        ...


@dataclass
class QueuedMessage:
    """A message of :class:`InProcessQueue`; ``ack`` calls back into the queue."""

    message_id: int
    body: bytes
    delivery: int
    _on_ack: Callable[[QueuedMessage], None] = field(repr=False)

    def ack(self) -> None:
        """Acknowledge this delivery."""
        self._on_ack(self)


class InProcessQueue:
    """A broker in one process, with SQS-like semantics.

    A received message is *in flight* until acknowledged. When its visibility timeout expires
    (or :meth:`redeliver_unacked` is called, as a broker does when a consumer dies), it is
    delivered again. ``events`` logs ``("deliver", id)`` and ``("ack", id)`` in order.
    """

    def __init__(self, *, visibility_timeout: float = 30.0) -> None:
        """Make an empty queue; unacknowledged messages return after ``visibility_timeout``."""
        self.visibility_timeout = visibility_timeout
        self.events: list[tuple[str, int]] = []
        self._ready: queue.Queue[tuple[int, bytes, int]] = queue.Queue()
        self._in_flight: dict[int, tuple[float, bytes, int]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def publish(self, body: bytes) -> int:
        """Append a message; return its id."""
        message_id = next(self._ids)
        self._ready.put((message_id, body, 0))
        return message_id

    def receive(self, timeout: float, max_messages: int) -> list[Message]:
        """Wait up to ``timeout`` for a first message, then take what else is ready."""
        self._requeue_expired()
        taken: list[tuple[int, bytes, int]] = []
        try:
            taken.append(self._ready.get(timeout=max(timeout, 0.0)))
            while len(taken) < max_messages:
                taken.append(self._ready.get_nowait())
        except queue.Empty:
            pass
        delivered: list[Message] = []
        with self._lock:
            deadline = time.monotonic() + self.visibility_timeout
            for message_id, body, count in taken:
                self._in_flight[message_id] = (deadline, body, count + 1)
                self.events.append(("deliver", message_id))
                delivered.append(QueuedMessage(message_id, body, count + 1, self._ack))
        return delivered

    def redeliver_unacked(self) -> int:
        """Make every in-flight message ready again (the consumer died); return how many."""
        with self._lock:
            pending = sorted(self._in_flight.items())
            self._in_flight.clear()
        for message_id, (_, body, count) in pending:
            self._ready.put((message_id, body, count))
        return len(pending)

    @property
    def unacked(self) -> int:
        """Messages ready or in flight: not yet acknowledged."""
        with self._lock:
            return self._ready.qsize() + len(self._in_flight)

    def _ack(self, message: QueuedMessage) -> None:
        with self._lock:
            if self._in_flight.pop(message.message_id, None) is not None:
                self.events.append(("ack", message.message_id))

    def _requeue_expired(self) -> None:
        now = time.monotonic()
        with self._lock:
            expired = [k for k, (deadline, _, _) in self._in_flight.items() if deadline <= now]
            moved = [(k, self._in_flight.pop(k)) for k in sorted(expired)]
        for message_id, (_, body, count) in moved:
            self._ready.put((message_id, body, count))


def content_hash(listing: Listing) -> str:
    """SHA-256 of the listing's canonical JSON: the same ad always gives the same hash."""
    return hashlib.sha256(canonical_json(listing.model_dump(mode="json"))).hexdigest()


class AssessmentStore:
    """Assessments in SQLite, one row per (listing id, content hash): storing is idempotent.

    A listing that is edited gets a new content hash and so a new row; the same version
    delivered twice is stored once. Messages that are not valid listings are kept in
    ``rejected`` (keyed by the hash of their bytes) so that they can be acknowledged instead
    of being redelivered forever.
    """

    def __init__(self, path: str | Path) -> None:
        """Open (and create) the database at ``path``."""
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(
            """
            CREATE TABLE IF NOT EXISTS assessments (
                listing_id TEXT NOT NULL,
                content_sha256 TEXT NOT NULL,
                decision TEXT NOT NULL,
                risk REAL NOT NULL,
                assessment TEXT NOT NULL,
                stored_at REAL NOT NULL,
                PRIMARY KEY (listing_id, content_sha256)
            );
            CREATE TABLE IF NOT EXISTS rejected (
                body_sha256 TEXT PRIMARY KEY,
                reason TEXT NOT NULL,
                body TEXT NOT NULL,
                stored_at REAL NOT NULL
            );
            """
        )

    def put_batch(
        self,
        assessed: Sequence[tuple[str, Assessment]],
        rejected: Sequence[tuple[bytes, str]] = (),
    ) -> int:
        """Store ``(content hash, assessment)`` pairs and rejects in one transaction.

        Returns:
            How many assessment rows were new (duplicates are ignored).
        """
        now = time.time()
        before = self._conn.total_changes
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(
                "INSERT OR IGNORE INTO assessments VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (a.listing_id, digest, a.decision, a.risk, a.model_dump_json(), now)
                    for digest, a in assessed
                ],
            )
            new_rows = self._conn.total_changes - before
            self._conn.executemany(
                "INSERT OR IGNORE INTO rejected VALUES (?, ?, ?, ?)",
                [
                    (hashlib.sha256(body).hexdigest(), reason, _text(body), now)
                    for body, reason in rejected
                ],
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        return new_rows

    def count(self, table: str = "assessments") -> int:
        """Rows in ``assessments`` or ``rejected``."""
        if table not in ("assessments", "rejected"):
            raise ValueError(f"unknown table {table!r}; use 'assessments' or 'rejected'")
        row = self._conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()  # noqa: S608 - checked
        return int(row[0])

    def decisions(self) -> dict[str, int]:
        """Stored rows per decision."""
        rows = self._conn.execute("SELECT decision, COUNT(*) FROM assessments GROUP BY decision")
        return {str(decision): int(count) for decision, count in rows}

    def close(self) -> None:
        """Close the database."""
        self._conn.close()


class Store(Protocol):
    """Where assessments go; must be idempotent on (listing id, content hash)."""

    def put_batch(
        self,
        assessed: Sequence[tuple[str, Assessment]],
        rejected: Sequence[tuple[bytes, str]] = (),
    ) -> int:
        """Store a batch atomically; return how many assessments were new."""
        ...


@dataclass
class ConsumerStats:
    """What a consumer has done so far."""

    batches: int = 0
    messages: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    reported: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class StreamConsumer:
    """Receive, batch, score, store, report, acknowledge: in that order, batch by batch.

    Args:
        source: The broker client.
        guard: The shared guard.
        store: The idempotent store.
        reporter: When given, blocked listings are queued for enforcement before the ack
            (report ids are deterministic, so a redelivery does not report twice).
        max_batch: Flush when this many messages are in hand...
        max_wait: ...or this many seconds after the first message of the batch arrived.
    """

    def __init__(
        self,
        source: MessageSource,
        guard: Guard,
        store: Store,
        *,
        reporter: Reporter | None = None,
        max_batch: int = 64,
        max_wait: float = 0.5,
    ) -> None:
        """Set up the consumer; nothing is received until :meth:`run` or :meth:`next_batch`."""
        if max_batch < 1 or max_wait <= 0:
            raise ValueError("max_batch must be >= 1 and max_wait > 0")
        self.source = source
        self.guard = guard
        self.store = store
        self.reporter = reporter
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.stats = ConsumerStats()

    def next_batch(self, first_timeout: float) -> list[Message]:
        """Wait up to ``first_timeout`` for a first message, then fill the batch window."""
        batch = self.source.receive(first_timeout, self.max_batch)
        if not batch:
            return []
        closes_at = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            remaining = closes_at - time.monotonic()
            if remaining <= 0:
                break
            batch.extend(self.source.receive(remaining, self.max_batch - len(batch)))
        return batch

    def handle(self, batch: Sequence[Message]) -> None:
        """Score and store one batch, then acknowledge it. Raises before any ack on failure."""
        listings: list[Listing] = []
        rejected: list[tuple[bytes, str]] = []
        for message in batch:
            try:
                listings.append(Listing.model_validate_json(message.body))
            except ValidationError as exc:
                reason = exc.errors(include_url=False)[0]["msg"]
                logger.warning("rejecting a message that is not a listing: %s", reason)
                rejected.append((message.body, str(reason)))
        assessments = list(self.guard.assess_many(listings, batch_size=self.max_batch))
        assessed = [(content_hash(li), a) for li, a in zip(listings, assessments, strict=True)]
        new_rows = self.store.put_batch(assessed, rejected)
        if self.reporter is not None:
            for listing, assessment in zip(listings, assessments, strict=True):
                if self.reporter.maybe_enqueue(listing, assessment) is not None:
                    self.stats.reported += 1
        # Stored (and reported): only now may the broker forget the messages.
        for message in batch:
            message.ack()
        self.stats.batches += 1
        self.stats.messages += len(batch)
        self.stats.stored += new_rows
        self.stats.duplicates += len(assessed) - new_rows
        self.stats.rejected += len(rejected)
        self.stats.batch_sizes.append(len(batch))

    def run(
        self, *, stop: threading.Event | None = None, idle_timeout: float | None = None
    ) -> ConsumerStats:
        """Consume until ``stop`` is set, or until no message came for ``idle_timeout`` s."""
        poll = 0.2 if idle_timeout is None else min(0.2, idle_timeout)
        idle_since = time.monotonic()
        while stop is None or not stop.is_set():
            batch = self.next_batch(poll)
            if batch:
                self.handle(batch)
                idle_since = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - idle_since >= idle_timeout:
                break
        return self.stats


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")[:4096]


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from (line.strip() for line in handle if line.strip())


def main(argv: list[str] | None = None) -> int:
    """Publish a JSONL file to an in-process queue and consume it; print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("listings", type=Path, help="JSONL file; each line becomes a message")
    parser.add_argument("--db", type=Path, default=Path("assessments.sqlite3"))
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--max-wait", type=float, default=0.5, help="seconds")
    parser.add_argument("--settings", help="cites-guard settings file (TOML or JSON)")
    parser.add_argument("--report", action="store_true", help="report blocked listings (env)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    try:
        guard = Guard.default(Settings.from_file(args.settings) if args.settings else None)
        reporter = Reporter.from_env() if args.report else None
    except CitesGuardError as exc:
        sys.stderr.write(f"stream_consumer: error: {exc}\n")
        return 2
    broker = InProcessQueue()
    for body in _lines(args.listings):
        broker.publish(body)
    started = time.monotonic()
    with closing(AssessmentStore(args.db)) as store:
        consumer = StreamConsumer(
            broker,
            guard,
            store,
            reporter=reporter,
            max_batch=args.max_batch,
            max_wait=args.max_wait,
        )
        stats = consumer.run(idle_timeout=1.0)
        decisions = store.decisions()
    if reporter is not None:
        reporter.close()
    elapsed = time.monotonic() - started
    print(
        json.dumps(
            {
                "messages": stats.messages,
                "batches": stats.batches,
                "stored": stats.stored,
                "duplicates": stats.duplicates,
                "rejected": stats.rejected,
                "reported": stats.reported,
                "unacked": broker.unacked,
                "decisions_in_store": decisions,
                "seconds": round(elapsed, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

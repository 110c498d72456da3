"""The stream consumer batches by size or time, stores before acking, and survives a crash."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from _load import load_example

from cites_guard import Assessment, Guard
from cites_guard.testing import capturing_reporter, guard_with_fixed_risk

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "stream_consumer.py"
SAMPLE = REPO / "examples" / "listings.jsonl"


consumer_module = load_example("stream_consumer")


class SimulatedCrashError(Exception):
    """The consumer process dies between storing a batch and acknowledging it."""


class RecordingStore:
    """Wraps the real store: logs each stored listing into the queue's event log, and times it."""

    def __init__(self, store: Any, events: list[tuple[str, int]], *, crash: bool = False) -> None:
        self.store = store
        self.events = events
        self.crash = crash
        self.stored_at: list[float] = []

    def put_batch(
        self, assessed: Sequence[tuple[str, Assessment]], rejected: Sequence[Any] = ()
    ) -> int:
        new_rows: int = self.store.put_batch(assessed, rejected)
        self.stored_at.append(time.monotonic())
        self.events.extend(("store", int(a.listing_id.split("-")[1])) for _, a in assessed)
        if self.crash:
            raise SimulatedCrashError
        return new_rows


@pytest.fixture(scope="module")
def fixed_guard() -> Guard:
    return guard_with_fixed_risk(0.01, by_id={"ad-2": 0.99, "ad-4": 0.6})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Any]:
    store = consumer_module.AssessmentStore(tmp_path / "assessments.sqlite3")
    yield store
    store.close()


def _ad(number: int, title: str = "Blue ceramic vase") -> bytes:
    if number == 2:
        title = "Carved ivory bangle, pre-ban"
    return json.dumps({"id": f"ad-{number}", "title": title}).encode()


def _publish(broker: Any, count: int) -> None:
    for number in range(1, count + 1):
        assert broker.publish(_ad(number)) == number


def test_every_message_is_acknowledged_only_after_its_assessment_is_stored(
    fixed_guard: Guard, store: Any
) -> None:
    """Each message's assessment is stored before the message is acknowledged, and all are acked."""
    broker = consumer_module.InProcessQueue()
    _publish(broker, 7)
    recording = RecordingStore(store, broker.events)
    consumer = consumer_module.StreamConsumer(
        broker, fixed_guard, recording, max_batch=3, max_wait=0.2
    )
    stats = consumer.run(idle_timeout=0.2)
    for number in range(1, 8):
        assert broker.events.index(("store", number)) < broker.events.index(("ack", number))
    assert broker.unacked == 0
    assert (stats.messages, stats.stored, stats.duplicates) == (7, 7, 0)
    assert store.count() == 7
    assert store.decisions() == {"allow": 5, "block": 1, "review": 1}


def test_batch_is_flushed_when_full(fixed_guard: Guard, store: Any) -> None:
    """With messages waiting, batches are cut at max_batch without waiting for the timer."""
    broker = consumer_module.InProcessQueue()
    _publish(broker, 5)
    consumer = consumer_module.StreamConsumer(broker, fixed_guard, store, max_batch=2, max_wait=5)
    started = time.monotonic()
    assert len(consumer.next_batch(1.0)) == 2
    assert len(consumer.next_batch(1.0)) == 2
    assert time.monotonic() - started < 2.0


def test_batch_is_flushed_when_the_window_closes(fixed_guard: Guard, store: Any) -> None:
    """A partial batch is flushed max_wait after its first message, with late arrivals inside it."""
    broker = consumer_module.InProcessQueue()
    recording = RecordingStore(store, broker.events)
    consumer = consumer_module.StreamConsumer(
        broker, fixed_guard, recording, max_batch=50, max_wait=0.4
    )
    broker.publish(_ad(1))
    threading.Timer(0.15, broker.publish, args=(_ad(2),)).start()  # inside the window
    threading.Timer(0.9, broker.publish, args=(_ad(3),)).start()  # after it closed
    started = time.monotonic()
    stats = consumer.run(idle_timeout=0.8)
    assert stats.batch_sizes == [2, 1]
    first_flush = recording.stored_at[0] - started
    assert 0.35 <= first_flush < 1.0


def test_crash_before_ack_redelivers_without_duplicate_rows(fixed_guard: Guard, store: Any) -> None:
    """A consumer dying after storing but before acking gets its batch back; no row is doubled."""
    broker = consumer_module.InProcessQueue(visibility_timeout=0.3)
    _publish(broker, 5)
    crashing = consumer_module.StreamConsumer(
        broker,
        fixed_guard,
        RecordingStore(store, broker.events, crash=True),
        max_batch=3,
        max_wait=0.1,
    )
    with pytest.raises(SimulatedCrashError):
        crashing.run(idle_timeout=0.5)
    assert store.count() == 3
    assert not [e for e in broker.events if e[0] == "ack"]
    assert broker.unacked == 5

    restarted = consumer_module.StreamConsumer(
        broker, fixed_guard, store, max_batch=3, max_wait=0.1
    )
    stats = restarted.run(idle_timeout=0.6)  # longer than the visibility timeout
    assert broker.unacked == 0
    assert (stats.messages, stats.stored, stats.duplicates) == (5, 2, 3)
    assert store.count() == 5
    assert [e for e in broker.events if e[0] == "deliver"].count(("deliver", 1)) == 2


def test_edited_listing_is_a_new_row_and_a_repeat_is_not(fixed_guard: Guard, store: Any) -> None:
    """The store keys rows by listing id and content hash: an edit adds a row, a repeat does not."""
    broker = consumer_module.InProcessQueue()
    for body in (_ad(1), _ad(1), _ad(1, title="Blue ceramic vase, now with lid")):
        broker.publish(body)
    consumer = consumer_module.StreamConsumer(
        broker, fixed_guard, store, max_batch=10, max_wait=0.1
    )
    stats = consumer.run(idle_timeout=0.2)
    assert (stats.stored, stats.duplicates) == (2, 1)
    assert store.count() == 2


def test_invalid_messages_are_set_aside_and_acknowledged(fixed_guard: Guard, store: Any) -> None:
    """A message that is not a listing is stored as rejected and acked, not redelivered forever."""
    broker = consumer_module.InProcessQueue(visibility_timeout=0.1)
    for body in (b"not json", b'{"title": "no id"}', _ad(1)):
        broker.publish(body)
    consumer = consumer_module.StreamConsumer(
        broker, fixed_guard, store, max_batch=10, max_wait=0.1
    )
    stats = consumer.run(idle_timeout=0.3)
    assert (stats.messages, stats.stored, stats.rejected) == (3, 1, 2)
    assert store.count("rejected") == 2
    assert broker.unacked == 0


def test_blocked_listing_is_reported_once_across_redeliveries(
    fixed_guard: Guard, store: Any, tmp_path: Path
) -> None:
    """A blocked listing delivered twice is stored once and queued for enforcement once."""
    reporter, endpoint = capturing_reporter(tmp_path / "outbox.sqlite3")
    broker = consumer_module.InProcessQueue()
    for body in (_ad(1), _ad(2), _ad(2)):
        broker.publish(body)
    consumer = consumer_module.StreamConsumer(
        broker, fixed_guard, store, reporter=reporter, max_batch=2, max_wait=0.1
    )
    consumer.run(idle_timeout=0.2)
    reporter.flush()
    reporter.close()
    assert [r.listing.id for r in endpoint.reports] == ["ad-2"]
    assert store.count() == 2


def test_command_line_consumes_a_file_and_is_idempotent_when_run_again(tmp_path: Path) -> None:
    """The script scores every sample line; run again on the same store it adds no rows."""
    lines = sum(1 for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip())
    command = [sys.executable, str(EXAMPLE), str(SAMPLE), "--db", str(tmp_path / "a.db")]
    first = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    assert (first["messages"], first["stored"], first["unacked"]) == (lines, lines, 0)
    again = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    assert (again["stored"], again["duplicates"]) == (0, lines)

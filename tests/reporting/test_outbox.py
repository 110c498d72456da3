import sqlite3
import threading

import pytest

from cites_guard.errors import OutboxError
from cites_guard.outbox import Outbox


@pytest.fixture
def box(tmp_path):
    b = Outbox(tmp_path / "o.db")
    yield b
    b.close()


@pytest.mark.usefixtures("box")
def test_outbox_uses_wal(tmp_path):
    """The outbox file is in write-ahead-log mode."""
    with sqlite3.connect(tmp_path / "o.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_enqueue_is_idempotent_per_report_id(box):
    """Enqueuing the same report id twice stores one row with the first body."""
    assert box.enqueue("r1", b"first") is True
    assert box.enqueue("r1", b"second") is False
    assert box.counts() == {"pending": 1, "sent": 0, "dead": 0}
    assert box.get("r1").body == b"first"


def test_failed_enqueue_writes_nothing(box, monkeypatch):
    """An enqueue interrupted inside its transaction leaves no row behind."""
    box.enqueue("r0", b"x")
    real = box._conn()

    class Exploding:
        def execute(self, sql, *args):
            if sql.startswith("INSERT"):
                real.execute(sql, *args)
                raise sqlite3.OperationalError("disk I/O error")
            return real.execute(sql, *args)

    monkeypatch.setattr(box, "_conn", Exploding)
    with pytest.raises(OutboxError, match="disk I/O"):
        box.enqueue("r1", b"y")
    monkeypatch.undo()
    assert box.get("r1") is None
    assert box.counts()["pending"] == 1


def test_sqlite_errors_become_outbox_errors(tmp_path):
    """A path that cannot hold a database raises OutboxError, not sqlite3.Error."""
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(OutboxError) as info:
        Outbox(tmp_path / "dir.db")
    assert isinstance(info.value.__cause__, sqlite3.Error)


def test_claims_are_disjoint(box):
    """Two senders claiming at once never get the same row."""
    for i in range(50):
        box.enqueue(f"r{i}", b"x", now=0)
    a = box.claim("A", limit=30, lease_seconds=60, now=1)
    b = box.claim("B", limit=30, lease_seconds=60, now=1)
    assert len(a) == 30
    assert len(b) == 20
    assert not {r.id for r in a} & {r.id for r in b}


def test_threads_claiming_concurrently_never_share_rows(tmp_path):
    """Eight threads with their own connections claim every row exactly once."""
    box = Outbox(tmp_path / "o.db")
    for i in range(200):
        box.enqueue(f"r{i}", b"x", now=0)
    taken: list[int] = []
    lock = threading.Lock()

    def work(name):
        while rows := box.claim(name, limit=7, lease_seconds=60):
            with lock:
                taken.extend(r.id for r in rows)

    threads = [threading.Thread(target=work, args=(f"t{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(taken) == sorted(set(taken))
    assert len(taken) == 200


def test_expired_lease_is_picked_up_again(box):
    """A crashed sender's rows are claimable once its lease expires, not before."""
    box.enqueue("r1", b"x", now=0)
    assert len(box.claim("dead-sender", limit=10, lease_seconds=30, now=1)) == 1
    assert box.claim("other", limit=10, lease_seconds=30, now=20) == []
    again = box.claim("other", limit=10, lease_seconds=30, now=32)
    assert [r.report_id for r in again] == ["r1"]


def test_attempts_are_counted_before_sending(box):
    """record_attempt increments the count and survives reopening."""
    box.enqueue("r1", b"x", now=0)
    (row,) = box.claim("A", limit=1, lease_seconds=30, now=0)
    assert box.record_attempt(row.id, "A", lease_seconds=30) == 1
    assert box.record_attempt(row.id, "A", lease_seconds=30) == 2
    assert Outbox(box.path).get("r1").attempts == 2


def test_states_and_receipt_are_kept(box):
    """Sent rows keep their receipt, dead rows their response and kind."""
    box.enqueue("ok", b"x", now=0)
    box.enqueue("bad", b"y", now=0)
    rows = {r.report_id: r for r in box.claim("A", limit=5, lease_seconds=30, now=0)}
    box.mark_sent(rows["ok"].id, receipt='{"id": 1}', status=201)
    box.mark_dead(rows["bad"].id, kind="rejected", error="400", status=400, response="nope")
    assert box.get("ok").receipt == '{"id": 1}'
    dead = box.get("bad")
    assert (dead.state, dead.dead_kind, dead.dead_response) == ("dead", "rejected", "nope")
    assert box.counts() == {"pending": 0, "sent": 1, "dead": 1}


def test_deferred_row_waits_for_its_next_attempt(box):
    """A deferred row is not due before next_attempt_at."""
    box.enqueue("r1", b"x", now=0)
    (row,) = box.claim("A", limit=1, lease_seconds=30, now=0)
    box.defer(row.id, error="503", status=503, next_attempt_at=100)
    assert box.claim("A", limit=1, lease_seconds=30, now=99) == []
    assert len(box.claim("A", limit=1, lease_seconds=30, now=100)) == 1


def test_retry_dead_requeues_only_exhausted_rows(box):
    """retry-dead requeues rows that ran out of attempts but leaves rejected ones dead."""
    box.enqueue("tired", b"x", now=0)
    box.enqueue("refused", b"y", now=0)
    rows = {r.report_id: r for r in box.claim("A", limit=5, lease_seconds=30, now=0)}
    box.mark_dead(rows["tired"].id, kind="exhausted", error="timeout", status=None)
    box.mark_dead(rows["refused"].id, kind="rejected", error="400", status=400, response="bad")
    assert box.retry_dead() == 1
    assert box.get("tired").state == "pending"
    assert box.get("refused").state == "dead"


def test_rejected_row_is_never_requeued_unchanged(box):
    """replace_body refuses an identical body and accepts a corrected one."""
    box.enqueue("r1", b"bad", now=0)
    (row,) = box.claim("A", limit=1, lease_seconds=30, now=0)
    box.mark_dead(row.id, kind="rejected", error="422", status=422, response="schema")
    with pytest.raises(OutboxError, match="unchanged"):
        box.replace_body("r1", b"bad")
    box.replace_body("r1", b"good")
    assert box.get("r1").state == "pending"
    assert box.get("r1").body == b"good"


def test_settled_rows_are_not_changed_by_late_senders(box):
    """A sender whose lease expired cannot turn a sent row back into pending or dead."""
    box.enqueue("r1", b"x", now=0)
    (row,) = box.claim("A", limit=1, lease_seconds=30, now=0)
    box.mark_sent(row.id, receipt="{}", status=200)
    box.defer(row.id, error="late", status=500, next_attempt_at=0)
    box.mark_dead(row.id, kind="exhausted", error="late", status=None)
    assert box.get("r1").state == "sent"


def test_repr_shows_no_body(box):
    """The outbox repr names the file only."""
    assert repr(box).startswith("Outbox(")


def test_a_sender_that_lost_its_lease_may_not_send(box):
    """After another sender re-claims an expired row, the first one's attempt is refused."""
    box.enqueue("r1", b"x", now=0)
    (row,) = box.claim("slow", limit=1, lease_seconds=10, now=0)
    assert box.claim("fast", limit=1, lease_seconds=10, now=11)
    assert box.record_attempt(row.id, "slow", lease_seconds=10) is None
    assert box.record_attempt(row.id, "fast", lease_seconds=10) == 1

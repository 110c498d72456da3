"""The durable outbox: enforcement reports wait here, in one SQLite file, until delivered.

Why SQLite: one file, no server, atomic transactions and a write-ahead log (WAL) that lets a
sender read while another process enqueues. Every state change is one transaction, so a crash
at any point leaves each row either fully enqueued or absent, and either pending or settled.

Senders take rows with a *lease* (owner + expiry) inside ``BEGIN IMMEDIATE``: two senders never
hold the same row at once, and the rows of a sender that died are taken again once its lease
runs out. Delivery is therefore at-least-once; the report id, sent as the idempotency key,
makes it effectively once at a compliant receiver.

Row states: ``pending`` (to send, when ``next_attempt_at`` has passed), ``sent`` (receipt
kept), ``dead`` (``dead_kind`` is ``rejected`` for a permanent 4xx, kept with the response,
or ``exhausted`` when the attempt or age bound ran out).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cites_guard.errors import OutboxError

__all__ = ["DeadKind", "Outbox", "OutboxRow", "RowState"]

logger = logging.getLogger("cites_guard.outbox")

RowState = Literal["pending", "sent", "dead"]
DeadKind = Literal["rejected", "exhausted"]
_STATES: tuple[RowState, ...] = ("pending", "sent", "dead")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id        TEXT NOT NULL UNIQUE,
    body             BLOB NOT NULL,
    body_sha256      TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sent', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    last_status      INTEGER,
    created_at       REAL NOT NULL,
    next_attempt_at  REAL NOT NULL,
    lease_owner      TEXT,
    lease_expires_at REAL,
    sent_at          REAL,
    receipt          TEXT,
    dead_kind        TEXT,
    dead_response    TEXT,
    dsa_state        TEXT,
    dsa_error        TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at);
"""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One report in the outbox, as stored.

    ``body`` is the exact JSON sent on every attempt: the idempotency key only works if a retry
    carries the same bytes.
    """

    id: int
    report_id: str
    body: bytes
    state: RowState
    attempts: int
    last_error: str | None
    last_status: int | None
    created_at: float
    next_attempt_at: float
    lease_owner: str | None
    sent_at: float | None
    receipt: str | None
    dead_kind: DeadKind | None
    dead_response: str | None
    dsa_state: str | None


_COLUMNS = (
    "id, report_id, body, state, attempts, last_error, last_status, created_at, "
    "next_attempt_at, lease_owner, sent_at, receipt, dead_kind, dead_response, dsa_state"
)


@contextlib.contextmanager
def _map_sqlite(action: str) -> Iterator[None]:
    """Convert sqlite3 errors, the only foreign exceptions here, into :class:`OutboxError`."""
    try:
        yield
    except sqlite3.Error as exc:
        raise OutboxError(f"outbox {action} failed: {exc}") from exc


class Outbox:
    """A durable queue of report bodies in one SQLite file.

    Thread-safe: each thread gets its own connection. Several processes may open the same file.

    Example:
        >>> import tempfile, pathlib
        >>> box = Outbox(pathlib.Path(tempfile.mkdtemp()) / "outbox.db")
        >>> box.enqueue("6f1c0a52-0000-4000-8000-000000000000", b'{"a":1}')
        True
        >>> box.counts()
        {'pending': 1, 'sent': 0, 'dead': 0}
    """

    def __init__(self, path: str | Path, *, busy_timeout: float = 30.0) -> None:
        """Open (and create if needed) the outbox at ``path``.

        Raises:
            OutboxError: The file cannot be created or is not an outbox.
        """
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        with _map_sqlite(f"open of {self.path}"):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    def __repr__(self) -> str:
        """Show the path only."""
        return f"Outbox({str(self.path)!r})"

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # Autocommit mode: every transaction below is explicit, so none is left open.
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
            conn.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
            self._local.conn = conn
        return conn

    @contextlib.contextmanager
    def _tx(self, action: str) -> Iterator[sqlite3.Connection]:
        with _map_sqlite(action):
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- producer side -------------------------------------------------------------------

    def enqueue(self, report_id: str, body: bytes, *, now: float | None = None) -> bool:
        """Store a report body atomically; return ``False`` if the id was already stored.

        An id that is already present is kept as first stored, so enqueuing the same case
        twice (a retried web request, a re-run batch) still yields one report.
        """
        ts = time.time() if now is None else now
        digest = hashlib.sha256(body).hexdigest()
        with self._tx("enqueue") as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO outbox (report_id, body, body_sha256, created_at,"
                " next_attempt_at) VALUES (?, ?, ?, ?, ?)",
                (report_id, body, digest, ts, ts),
            )
            return cur.rowcount == 1

    # -- sender side ---------------------------------------------------------------------

    def claim(
        self, owner: str, *, limit: int, lease_seconds: float, now: float | None = None
    ) -> list[OutboxRow]:
        """Lease up to ``limit`` due pending rows to ``owner``, oldest first.

        A row is due when ``next_attempt_at`` has passed and nobody holds a live lease on it.
        """
        ts = time.time() if now is None else now
        with self._tx("claim") as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?"  # noqa: S608 - constant column list
                " AND (lease_expires_at IS NULL OR lease_expires_at <= ?) ORDER BY id LIMIT ?",
                (ts, ts, limit),
            ).fetchall()
            conn.executemany(
                "UPDATE outbox SET lease_owner = ?, lease_expires_at = ? WHERE id = ?",
                [(owner, ts + lease_seconds, r[0]) for r in rows],
            )
        return [_row(r, owner=owner) for r in rows]

    def record_attempt(
        self, row_id: int, owner: str, *, lease_seconds: float, now: float | None = None
    ) -> int | None:
        """Count one attempt before it is made and extend the lease; return the new count.

        Counting first means an attempt cut short by a crash is still counted. Returns
        ``None`` when ``owner`` no longer holds the row (its lease ran out and another sender
        took it, or the row was settled): the caller must not send it.
        """
        ts = time.time() if now is None else now
        with self._tx("attempt update") as conn:
            cur = conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, lease_expires_at = ?"
                " WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                (ts + lease_seconds, row_id, owner),
            )
            if cur.rowcount != 1:
                return None
            found = conn.execute("SELECT attempts FROM outbox WHERE id = ?", (row_id,)).fetchone()
        return int(found[0])

    def mark_sent(
        self, row_id: int, *, receipt: str, status: int, now: float | None = None
    ) -> None:
        """Settle a row as delivered and keep the receiver's receipt."""
        ts = time.time() if now is None else now
        with self._tx("mark sent") as conn:
            conn.execute(
                "UPDATE outbox SET state = 'sent', sent_at = ?, receipt = ?, last_status = ?,"
                " last_error = NULL, lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND state = 'pending'",
                (ts, receipt, status, row_id),
            )

    def defer(self, row_id: int, *, error: str, status: int | None, next_attempt_at: float) -> None:
        """Release a row for a later attempt after a transient failure."""
        with self._tx("defer") as conn:
            conn.execute(
                "UPDATE outbox SET last_error = ?, last_status = ?, next_attempt_at = ?,"
                " lease_owner = NULL, lease_expires_at = NULL WHERE id = ? AND state = 'pending'",
                (error, status, next_attempt_at, row_id),
            )

    def mark_dead(
        self,
        row_id: int,
        *,
        kind: DeadKind,
        error: str,
        status: int | None,
        response: str | None = None,
    ) -> None:
        """Dead-letter a row: a permanent refusal (kept with the response) or exhausted bounds."""
        with self._tx("mark dead") as conn:
            conn.execute(
                "UPDATE outbox SET state = 'dead', dead_kind = ?, last_error = ?,"
                " last_status = ?, dead_response = ?, lease_owner = NULL,"
                " lease_expires_at = NULL WHERE id = ? AND state = 'pending'",
                (kind, error, status, response, row_id),
            )

    def release(self, row_id: int, owner: str) -> None:
        """Give a leased row back at once (used when the sender stops on an auth failure)."""
        with self._tx("release") as conn:
            conn.execute(
                "UPDATE outbox SET lease_owner = NULL, lease_expires_at = NULL"
                " WHERE id = ? AND lease_owner = ? AND state = 'pending'",
                (row_id, owner),
            )

    # -- operations ----------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Return the number of rows per state (every state present, zero if empty)."""
        with _map_sqlite("count"):
            found = dict(self._conn().execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"))
        return {state: int(found.get(state, 0)) for state in _STATES}

    def rows(self, *, state: RowState | None = None, limit: int = 1000) -> list[OutboxRow]:
        """Return rows, oldest first, optionally of one state."""
        query = f"SELECT {_COLUMNS} FROM outbox"  # noqa: S608 - constant column list
        params: tuple[object, ...] = ()
        if state is not None:
            query += " WHERE state = ?"
            params = (state,)
        query += " ORDER BY id LIMIT ?"
        with _map_sqlite("read"):
            found = self._conn().execute(query, (*params, limit)).fetchall()
        return [_row(r) for r in found]

    def get(self, report_id: str) -> OutboxRow | None:
        """Return the row of one report, or ``None``."""
        with _map_sqlite("read"):
            found = (
                self._conn()
                .execute(
                    f"SELECT {_COLUMNS} FROM outbox WHERE report_id = ?",  # noqa: S608 - constant
                    (report_id,),
                )
                .fetchone()
            )
        return _row(found) if found else None

    def next_due_at(self) -> float | None:
        """Return when the earliest pending row becomes due, or ``None`` if none is pending."""
        with _map_sqlite("read"):
            found = (
                self._conn()
                .execute(
                    "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_expires_at, 0)))"
                    " FROM outbox WHERE state = 'pending'"
                )
                .fetchone()
            )
        return float(found[0]) if found and found[0] is not None else None

    def retry_dead(self, *, now: float | None = None) -> int:
        """Requeue rows dead from exhausted bounds; return how many.

        Rows a receiver *rejected* (a permanent 4xx) are left alone: sending the same bytes
        again would be refused again. Fix the cause and :meth:`replace_body` them instead.
        """
        ts = time.time() if now is None else now
        with self._tx("retry dead") as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ?,"
                " created_at = ?, dead_kind = NULL"
                " WHERE state = 'dead' AND dead_kind = 'exhausted'",
                (ts, ts),
            )
            return cur.rowcount

    def replace_body(self, report_id: str, body: bytes, *, now: float | None = None) -> None:
        """Requeue a rejected report with a corrected body (same report id).

        Raises:
            OutboxError: The report is not a rejected dead row, or the body is unchanged.
        """
        ts = time.time() if now is None else now
        digest = hashlib.sha256(body).hexdigest()
        with self._tx("replace body") as conn:
            found = conn.execute(
                "SELECT body_sha256, state, dead_kind FROM outbox WHERE report_id = ?",
                (report_id,),
            ).fetchone()
            if found is None or found[1] != "dead" or found[2] != "rejected":
                raise OutboxError(f"report {report_id} is not a rejected dead-letter row")
            if found[0] == digest:
                raise OutboxError(
                    f"report {report_id}: the new body is unchanged; a rejected report is"
                    " never resent unchanged"
                )
            conn.execute(
                "UPDATE outbox SET body = ?, body_sha256 = ?, state = 'pending', attempts = 0,"
                " next_attempt_at = ?, created_at = ?, dead_kind = NULL, dead_response = NULL"
                " WHERE report_id = ?",
                (body, digest, ts, ts, report_id),
            )

    def set_dsa_state(self, report_id: str, state: str, error: str | None = None) -> None:
        """Record the DSA Transparency Database submission state of one report."""
        with self._tx("dsa update") as conn:
            conn.execute(
                "UPDATE outbox SET dsa_state = ?, dsa_error = ? WHERE report_id = ?",
                (state, error, report_id),
            )


def _row(r: tuple[Any, ...], *, owner: str | None = None) -> OutboxRow:
    body = r[2]
    return OutboxRow(
        id=int(r[0]),
        report_id=str(r[1]),
        body=bytes(body) if isinstance(body, bytes | memoryview) else str(body).encode(),
        state=r[3],
        attempts=int(r[4]),
        last_error=r[5],
        last_status=r[6],
        created_at=float(r[7]),
        next_attempt_at=float(r[8]),
        lease_owner=owner if owner is not None else r[9],
        sent_at=r[10],
        receipt=r[11],
        dead_kind=r[12],
        dead_response=r[13],
        dsa_state=r[14],
    )

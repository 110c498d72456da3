"""The reference receiver: a small, correct endpoint for enforcement reports.

For agencies and NGOs that need an endpoint today, and for our own integration tests. It is
the standard library's :class:`~http.server.ThreadingHTTPServer` plus SQLite, and it does what
a compliant receiver must:

* 401 unless the Standard Webhooks signature matches a configured secret and the timestamp
  is within five minutes (and the bearer token, when one is configured);
* 422 with the list of reasons unless the body is a valid report (schema and snapshot hash)
  whose ``report_id`` equals the ``Idempotency-Key``;
* stores each case once by ``report_id``: a replay answers 200 with the *first* receipt, the
  same key with a different body answers 422;
* counts every authenticated delivery attempt per ``report_id`` (``dump`` prints the count).

Run it with ``cites-guard receiver serve --port P --secret S --db FILE``. Put it behind a TLS
terminating proxy for anything but loopback: senders refuse cleartext to non-loopback hosts.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

from cites_guard._signing import verify
from cites_guard.errors import (
    OutboxError,
    ReportSignatureError,
    ReportValidationError,
)
from cites_guard.report import parse_report

__all__ = ["Fault", "ReceiverServer", "ReceiverStore", "dump", "make_server", "serve"]

logger = logging.getLogger("cites_guard.receiver")

#: Largest body accepted; a report is a few kilobytes.
MAX_BODY_BYTES = 2 * 1024 * 1024

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
    report_id   TEXT PRIMARY KEY,
    body_sha256 TEXT NOT NULL,
    body        TEXT NOT NULL,
    receipt     TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    report_id TEXT PRIMARY KEY,
    count     INTEGER NOT NULL
);
"""


@contextlib.contextmanager
def _map_sqlite(action: str) -> Iterator[None]:
    """Convert sqlite3 errors into :class:`OutboxError` (the store is the receiver's outbox)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise OutboxError(f"receiver store {action} failed: {exc}") from exc


class ReceiverStore:
    """The receiver's SQLite file: cases stored once, attempts counted."""

    def __init__(self, path: str | Path) -> None:
        """Open or create the store at ``path``."""
        self.path = Path(path)
        self._local = threading.local()
        with _map_sqlite("open"):
            conn = self._conn()
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def count_attempt(self, report_id: str) -> None:
        """Add one to the attempt count of ``report_id``."""
        with _map_sqlite("count"):
            self._conn().execute(
                "INSERT INTO attempts (report_id, count) VALUES (?, 1)"
                " ON CONFLICT (report_id) DO UPDATE SET count = count + 1",
                (report_id,),
            )

    def store(self, report_id: str, body: bytes) -> tuple[str, dict[str, Any]]:
        """Store a case once; return ``("new"|"replay"|"conflict", receipt)``."""
        digest = hashlib.sha256(body).hexdigest()
        with _map_sqlite("store"):
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                found = conn.execute(
                    "SELECT body_sha256, receipt FROM cases WHERE report_id = ?", (report_id,)
                ).fetchone()
                if found is not None:
                    conn.execute("COMMIT")
                    same = hmac.compare_digest(found[0], digest)
                    return ("replay" if same else "conflict"), json.loads(found[1])
                receipt = {
                    "receipt_id": str(uuid.uuid4()),
                    "report_id": report_id,
                    "received_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "body_sha256": digest,
                }
                conn.execute(
                    "INSERT INTO cases VALUES (?, ?, ?, ?, ?)",
                    (report_id, digest, body.decode("utf-8"), json.dumps(receipt),
                     receipt["received_at"]),
                )  # fmt: skip
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return "new", receipt

    def dump(self) -> Iterator[dict[str, Any]]:
        """Yield every stored case with its attempt count, oldest first."""
        with _map_sqlite("dump"):
            rows = (
                self._conn()
                .execute(
                    "SELECT c.report_id, c.received_at, c.receipt, c.body, COALESCE(a.count, 0)"
                    " FROM cases c LEFT JOIN attempts a USING (report_id) ORDER BY c.rowid"
                )
                .fetchall()
            )
        for report_id, received_at, receipt, body, attempts in rows:
            yield {
                "report_id": report_id,
                "attempts": int(attempts),
                "received_at": received_at,
                "receipt": json.loads(receipt),
                "report": json.loads(body),
            }

    def attempts(self) -> dict[str, int]:
        """Return the attempt count per report id (stored or not)."""
        with _map_sqlite("read"):
            return {
                str(k): int(v)
                for k, v in self._conn().execute("SELECT report_id, count FROM attempts")
            }


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault to inject into one request (tests and the fault-injection benchmark only).

    Attributes:
        status: Answer this status instead of handling the request.
        delay: Sleep this long first (a slow receiver).
        drop: Close the connection without answering.
        retry_after: ``Retry-After`` header value to send with ``status``.
        after_store: Handle and store the case first, then fail: the answer is lost.
    """

    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    retry_after: str | None = None
    after_store: bool = False


#: Called once per authenticated request with its report id; returns a fault or ``None``.
Interceptor = Callable[[str], Fault | None]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s %s", self.address_string(), format % args)

    def _answer(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload, sort_keys=True).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _apply(self, fault: Fault) -> bool:
        """Inject a fault; return True when it replaced the answer (drop or status)."""
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return True
        if fault.status is not None:
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            self._answer(fault.status, {"error": "injected_fault"}, headers)
            return True
        return False

    def do_GET(self) -> None:
        if self.path.rstrip("/") in ("/health", "/healthz"):
            self._answer(200, {"status": "ok"})
        else:
            self._answer(404, {"error": "not_found"})

    def do_POST(self) -> None:
        server = self.server
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._answer(413, {"error": "body_too_large_or_unsized"})
            return
        body = self.rfile.read(length)
        headers = dict(self.headers.items())
        if server.token is not None:
            sent = self.headers.get("Authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {server.token}".encode()):
                self._answer(401, {"error": "unauthorized", "reason": "bearer token refused"})
                return
        try:
            verify(headers, body, server.secrets)
        except ReportSignatureError as exc:
            self._answer(401, {"error": "unauthorized", "reason": str(exc)})
            return
        key = self.headers.get("Idempotency-Key", "").strip().strip('"') or headers.get(
            "webhook-id", ""
        )
        server.store.count_attempt(key)
        fault = server.interceptor(key) if server.interceptor else None
        if fault is not None and not fault.after_store:
            if self._apply(fault):
                return
            fault = None
        self._handle_report(key, body, fault)

    def _handle_report(self, key: str, body: bytes, fault: Fault | None) -> None:
        try:
            report = parse_report(body)
        except ReportValidationError as exc:
            self._answer(422, {"error": "invalid_report", "reasons": str(exc).split("; ")})
            return
        report_id = str(report.report_id)
        if key != report_id:
            self._answer(
                422,
                {"error": "invalid_report", "reasons": ["Idempotency-Key differs from report_id"]},
            )
            return
        outcome, receipt = self.server.store.store(report_id, body)
        if fault is not None and self._apply(fault):
            return
        if outcome == "new":
            self._answer(201, {"status": "stored", "receipt": receipt})
        elif outcome == "replay":
            self._answer(200, {"status": "duplicate", "duplicate": True, "receipt": receipt})
        else:
            self._answer(
                422,
                {"error": "conflict", "reasons": ["report_id already stored with another body"]},
            )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        secrets: Sequence[str],
        store: ReceiverStore,
        token: str | None,
        interceptor: Interceptor | None,
    ) -> None:
        self.secrets = list(secrets)
        self.store = store
        self.token = token
        self.interceptor = interceptor
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a broken connection instead of printing a traceback to stderr."""
        del request
        logger.debug("connection from %s ended abnormally", client_address, exc_info=True)  # noqa: LOG014 - called by socketserver inside its except block


class ReceiverServer:
    """A running (or ready) reference receiver; use as a context manager in tests.

    Example:
        >>> import tempfile, pathlib
        >>> db = pathlib.Path(tempfile.mkdtemp()) / "cases.db"
        >>> with make_server(0, ["s3cret"], db).start() as server:
        ...     server.port > 0
        True
    """

    def __init__(self, server: _Server) -> None:
        """Wrap a bound server."""
        self._server = server
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The URL senders should POST to."""
        host = self._server.server_address[0]
        name = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{name}:{self.port}/reports"

    @property
    def store(self) -> ReceiverStore:
        """The case store."""
        return self._server.store

    def start(self) -> Self:
        """Serve in a background thread; return self."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._server.serve_forever()

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        """Return self (already started or not)."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop on exit."""
        self.stop()


def make_server(
    port: int,
    secrets: Sequence[str],
    db: str | Path,
    host: str = "127.0.0.1",
    *,
    token: str | None = None,
    interceptor: Interceptor | None = None,
) -> ReceiverServer:
    """Bind a reference receiver without starting it.

    Args:
        port: TCP port; 0 picks a free one.
        secrets: Accepted signing secrets (several during a rotation).
        db: SQLite file of the cases.
        host: Interface; loopback by default.
        token: Bearer token to require, if any.
        interceptor: Fault injection for tests and benchmarks.
    """
    if not secrets:
        raise ReportSignatureError("the receiver needs at least one signing secret")
    store = ReceiverStore(db)
    server = _Server(
        (host, port), secrets=secrets, store=store, token=token, interceptor=interceptor
    )
    return ReceiverServer(server)


def serve(
    port: int,
    secrets: Sequence[str] | str,
    db: str | Path,
    host: str = "127.0.0.1",
    *,
    token: str | None = None,
) -> None:
    """Run the reference receiver in the foreground until interrupted."""
    secret_list = [secrets] if isinstance(secrets, str) else list(secrets)
    server = make_server(port, secret_list, db, host, token=token)
    logger.info("receiver listening on %s", server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("receiver stopped")
    finally:
        server.stop()


def dump(db: str | Path) -> Iterator[dict[str, Any]]:
    """Yield the stored cases of a receiver database, with ``report_id`` and ``attempts``."""
    return ReceiverStore(db).dump()

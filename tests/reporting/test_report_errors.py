import sqlite3

import pytest
import requests
from reporting_helpers import make_case, make_settings

from cites_guard.errors import CitesGuardError, OutboxError, ReportError
from cites_guard.receiver import ReceiverStore
from cites_guard.report import Reporter

FOREIGN = [
    requests.ConnectionError("refused"),
    requests.Timeout("slow"),
    requests.exceptions.SSLError("bad certificate"),
    requests.exceptions.ChunkedEncodingError("broken"),
    requests.exceptions.ContentDecodingError("gzip"),
    requests.exceptions.InvalidHeader("header"),
    requests.exceptions.RetryError("urllib3 retries"),
]


class _Raising(requests.Session):
    def __init__(self, exc):
        super().__init__()
        self.exc = exc

    def post(self, *_args, **_kwargs):
        raise self.exc


@pytest.mark.parametrize("exc", FOREIGN, ids=lambda e: type(e).__name__)
def test_no_requests_exception_escapes_a_flush(tmp_path, exc):
    """Every requests exception is converted: flush defers the row instead of raising it."""
    session = _Raising(exc)
    reporter = Reporter(make_settings("https://a.example/r", tmp_path / "o.db"),
                        session=session, sleep=lambda _s: None)  # fmt: skip
    rid = reporter.enqueue(*make_case(1))
    result = reporter.flush()
    assert result.deferred == 1
    assert reporter.outbox.get(rid).state == "pending"
    reporter.close()


def test_outbox_errors_are_report_errors(tmp_path):
    """A broken outbox raises OutboxError, part of the one error tree, chained to sqlite3."""
    reporter = Reporter(make_settings("https://a.example/r", tmp_path / "o.db"))
    reporter.outbox._conn().execute("DROP TABLE outbox")
    with pytest.raises(OutboxError) as info:
        reporter.enqueue(*make_case(1))
    assert isinstance(info.value, ReportError)
    assert isinstance(info.value, CitesGuardError)
    assert isinstance(info.value.__cause__, sqlite3.Error)


def test_receiver_store_errors_are_converted(tmp_path):
    """The receiver's SQLite failures surface as OutboxError, not sqlite3 errors."""
    (tmp_path / "d").mkdir()
    with pytest.raises(OutboxError):
        ReceiverStore(tmp_path / "d")

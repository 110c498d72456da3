import json
import logging
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests
import responses
import tenacity
from reporting_helpers import SECRET, TOKEN, make_case, make_settings
from responses import matchers

from cites_guard._delivery import (
    FlushResult,
    Sender,
    _map_requests,
    _map_retry_error,
    parse_retry_after,
)
from cites_guard._signing import verify
from cites_guard.errors import ReportAuthError, ReportDeliveryError
from cites_guard.report import Reporter

URL = "https://agency.example/reports"


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def _reporter(tmp_path, session, **overrides):
    settings = make_settings(URL, tmp_path / "o.db", **overrides)
    return Reporter(settings, session=session, sleep=lambda _s: None)


def _enqueue(reporter, n=1):
    return [reporter.enqueue(*make_case(i)) for i in range(n)]


def test_request_carries_signature_idempotency_key_and_token(tmp_path, session, mocked):
    """A delivery is JSON, signed, keyed by report id and carries the bearer token."""
    mocked.post(URL, status=201, json={"receipt": "r-1"})
    reporter = _reporter(tmp_path, session, bearer_token=TOKEN)
    (rid,) = _enqueue(reporter)
    reporter.flush()
    request = mocked.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == f'"{rid}"'
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["webhook-id"] == rid
    assert verify(dict(request.headers), request.body, [SECRET]) == rid
    assert json.loads(request.body)["report_id"] == rid


def test_2xx_is_delivered_and_receipt_kept(tmp_path, session, mocked):
    """A 201 answer settles the row as sent and stores the receipt body."""
    mocked.post(URL, status=201, json={"receipt": "abc"})
    reporter = _reporter(tmp_path, session)
    (rid,) = _enqueue(reporter)
    result = reporter.flush()
    assert (result.sent, result.attempts) == (1, 1)
    row = reporter.outbox.get(rid)
    assert row.state == "sent"
    assert json.loads(json.loads(row.receipt)["body"]) == {"receipt": "abc"}


def test_409_counts_as_delivered(tmp_path, session, mocked):
    """A 409 conflict for our key means the receiver already has the case."""
    mocked.post(URL, status=409, json={"error": "exists"})
    reporter = _reporter(tmp_path, session)
    (rid,) = _enqueue(reporter)
    assert reporter.flush().sent == 1
    assert reporter.outbox.get(rid).state == "sent"


def test_duplicate_answer_counts_as_delivered(tmp_path, session, mocked):
    """A 422 whose body says duplicate is a delivered report, not a rejection."""
    mocked.post(URL, status=422, json={"duplicate": True})
    reporter = _reporter(tmp_path, session)
    (rid,) = _enqueue(reporter)
    reporter.flush()
    assert reporter.outbox.get(rid).state == "sent"


@pytest.mark.parametrize("status", [500, 502, 504, 408])
def test_5xx_is_retried_with_backoff_then_delivered(tmp_path, session, mocked, status):
    """A transient server error is retried within the flush and then delivered."""
    mocked.post(URL, status=status)
    mocked.post(URL, status=200, json={})
    reporter = _reporter(tmp_path, session)
    (rid,) = _enqueue(reporter)
    result = reporter.flush()
    assert (result.sent, result.attempts) == (1, 2)
    assert reporter.outbox.get(rid).attempts == 2


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_is_honoured(tmp_path, session, mocked, status):
    """429 and 503 wait exactly the Retry-After the receiver asked for."""
    waits = []
    mocked.post(URL, status=status, headers={"Retry-After": "0"})
    mocked.post(URL, status=200, json={})
    settings = make_settings(URL, tmp_path / "o.db", retry_after_max=5, in_flush_wait_max=5)
    reporter = Reporter(settings, session=session, sleep=waits.append)
    _enqueue(reporter)
    assert reporter.flush().sent == 1
    assert waits == [0.0]


def test_long_retry_after_defers_the_row_and_pauses_the_flush(tmp_path, session, mocked):
    """A Retry-After beyond the in-flush limit defers the row and leaves the others untried."""
    mocked.post(URL, status=429, headers={"Retry-After": "120"})
    settings = make_settings(URL, tmp_path / "o.db", retry_after_max=3600, in_flush_wait_max=1)
    reporter = Reporter(settings, session=session, sleep=lambda _s: None)
    ids = _enqueue(reporter, 3)
    result = reporter.flush()
    assert (result.deferred, result.attempts) == (1, 1)
    first = reporter.outbox.get(ids[0])
    assert first.next_attempt_at - first.created_at >= 100
    assert [reporter.outbox.get(i).attempts for i in ids[1:]] == [0, 0]


def test_retry_after_http_date_is_understood():
    """Retry-After given as an HTTP date is turned into seconds from now."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    value = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(value, now=now.timestamp()) == 30


def test_timeouts_and_connection_errors_are_transient(tmp_path, session, mocked):
    """Timeouts and refused connections are retried, then the row is deferred."""
    mocked.post(URL, body=requests.ConnectTimeout("slow"))
    mocked.post(URL, body=requests.ConnectionError("refused"))
    mocked.post(URL, body=requests.ReadTimeout("slow"))
    reporter = _reporter(tmp_path, session)
    (rid,) = _enqueue(reporter)
    result = reporter.flush()
    assert (result.deferred, result.attempts) == (1, 3)
    row = reporter.outbox.get(rid)
    assert (row.state, row.attempts) == ("pending", 3)
    assert row.last_error.startswith("timed out")


def test_exhausted_attempts_go_dead(tmp_path, session, mocked):
    """A report that keeps failing is dead-lettered once max_attempts is reached."""
    mocked.post(URL, status=500)
    reporter = _reporter(tmp_path, session, max_attempts=2, attempts_per_flush=5)
    (rid,) = _enqueue(reporter)
    result = reporter.flush()
    assert (result.dead, result.attempts) == (1, 2)
    row = reporter.outbox.get(rid)
    assert (row.state, row.dead_kind) == ("dead", "exhausted")


def test_too_old_reports_go_dead_without_a_request(tmp_path, session, mocked):
    """A report older than max_age_seconds is dead-lettered without another attempt."""
    reporter = _reporter(tmp_path, session, max_age_seconds=10)
    rid = str(reporter.enqueue(*make_case(1)))
    reporter.outbox._conn().execute("UPDATE outbox SET created_at = created_at - 60")
    assert reporter.flush().dead == 1
    assert reporter.outbox.get(rid).dead_kind == "exhausted"
    assert len(mocked.calls) == 0


@pytest.mark.parametrize("status", [400, 404, 410, 413, 422, 301])
def test_other_4xx_is_dead_lettered_with_response_and_not_resent(tmp_path, session, mocked, status):
    """A permanent refusal is dead-lettered once, with the response, and never retried."""
    mocked.post(URL, status=status, body="schema says no")
    reporter = _reporter(tmp_path, session)
    (rid,) = _enqueue(reporter)
    assert reporter.flush().dead == 1
    assert reporter.flush().attempts == 0
    assert reporter.outbox.retry_dead() == 0
    row = reporter.outbox.get(rid)
    assert (row.state, row.dead_kind, row.dead_response) == ("dead", "rejected", "schema says no")
    assert len(mocked.calls) == 1


@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_stops_the_sender(tmp_path, session, mocked, status):
    """401/403 raises ReportAuthError, stops the sender and leaves every row pending."""
    mocked.post(URL, status=status)
    reporter = _reporter(tmp_path, session)
    ids = _enqueue(reporter, 3)
    with pytest.raises(ReportAuthError) as info:
        reporter.flush()
    assert info.value.status == status
    assert reporter.status()["stopped"] is True
    assert {reporter.outbox.get(i).state for i in ids} == {"pending"}
    assert reporter.flush().stopped is True
    assert len(mocked.calls) == 1
    # Rows are released at once so a fixed sender can take them without waiting for leases.
    assert len(reporter.outbox.claim("fixed", limit=10, lease_seconds=5)) == 3


def test_tls_verification_stays_on(tmp_path, session, mocked):
    """Requests are made with certificate verification enabled."""
    mocked.post(URL, status=200, json={})
    seen = {}
    original = session.post

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    session.post = spy
    reporter = _reporter(tmp_path, session)
    _enqueue(reporter)
    reporter.flush()
    assert seen["verify"] is True
    assert seen["timeout"] == (0.3, 0.5)
    assert seen["allow_redirects"] is False


def test_requests_exceptions_are_converted_with_cause():
    """Every requests exception leaves the mapper as a ReportDeliveryError with its cause."""
    for exc in (requests.Timeout(), requests.ConnectionError(), requests.TooManyRedirects()):
        with pytest.raises(ReportDeliveryError) as info, _map_requests("r", 1):
            raise exc
        assert info.value.__cause__ is exc


def test_tenacity_retry_error_is_converted():
    """tenacity's RetryError becomes the last ReportDeliveryError, chained."""

    def fail():
        raise requests.ConnectionError

    retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(2), wait=tenacity.wait_none())
    with pytest.raises(ReportDeliveryError) as info, _map_retry_error("r"):
        retrying(fail)
    assert isinstance(info.value.__cause__, tenacity.RetryError)


def test_same_bytes_are_sent_on_every_retry(tmp_path, session, mocked):
    """Retries send the identical body with the same webhook-id but a fresh signature."""
    mocked.post(URL, status=500)
    mocked.post(URL, status=200, json={})
    reporter = _reporter(tmp_path, session)
    _enqueue(reporter)
    reporter.flush()
    first, second = (c.request for c in mocked.calls)
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


def test_secrets_never_reach_logs_or_errors(tmp_path, session, mocked, caplog):
    """Neither the signing secret nor the token shows in logs, reprs or raised errors."""
    mocked.post(URL, status=500)
    mocked.post(URL, status=401)
    caplog.set_level(logging.DEBUG)
    reporter = _reporter(tmp_path, session, bearer_token=TOKEN, max_attempts=50)
    _enqueue(reporter)
    with pytest.raises(ReportAuthError) as info:
        reporter.flush()
    texts = [caplog.text, str(info.value), repr(reporter), repr(reporter.settings),
             repr(reporter._sender), str(reporter.settings)]  # fmt: skip
    for text in texts:
        assert SECRET not in text
        assert SECRET.removeprefix("whsec_") not in text
        assert TOKEN not in text


def test_sender_repr_has_no_secret(tmp_path, session):
    """A Sender's repr names endpoint and owner only."""
    settings = make_settings(URL, tmp_path / "o.db", bearer_token=TOKEN)
    sender = Sender(settings, Reporter(settings, session=session).outbox, session=session)
    assert TOKEN not in repr(sender)
    assert "agency.example" in repr(sender)


def test_flush_sends_json_content_type_only_once_per_row(tmp_path, session, mocked):
    """Each delivered row is one POST with the exact stored body."""
    mocked.post(
        URL, status=200, json={}, match=[matchers.header_matcher({"Accept": "application/json"})]
    )
    reporter = _reporter(tmp_path, session)
    ids = _enqueue(reporter, 5)
    assert reporter.flush().sent == 5
    assert len(mocked.calls) == 5
    assert [json.loads(c.request.body)["report_id"] for c in mocked.calls] == ids


def test_sender_skips_a_row_whose_lease_was_taken_over(tmp_path, session, mocked):
    """A sender whose lease on a row was taken by another sender does not send it."""
    mocked.post(URL, status=200, json={})
    reporter = _reporter(tmp_path, session)
    (rid,) = _enqueue(reporter)
    sender = reporter._sender
    (row,) = reporter.outbox.claim(sender.owner, limit=1, lease_seconds=5)
    reporter.outbox._conn().execute("UPDATE outbox SET lease_owner = 'other'")
    result = FlushResult()
    sender._deliver(row, result)
    assert (result.sent, result.attempts) == (0, 0)
    assert len(mocked.calls) == 0
    assert reporter.outbox.get(rid).state == "pending"

import json
import socket
import time

import pytest
import requests
from reporting_helpers import OTHER_SECRET, SECRET, make_case, make_settings

from cites_guard._signing import signature_headers
from cites_guard.errors import ReportSignatureError
from cites_guard.receiver import dump, make_server
from cites_guard.report import build_report, canonical_json


@pytest.fixture
def body(tmp_path):
    settings = make_settings("https://a.example/r", tmp_path / "o.db")
    report = build_report(*make_case(1), settings=settings)
    return str(report.report_id), report.to_json_bytes()


def _post(session, url, report_id, body, *, secrets=(SECRET,), timestamp=None, key=None):
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": f'"{key or report_id}"',
        **signature_headers(report_id, body, list(secrets), timestamp=timestamp),
    }
    return session.post(url, data=body, headers=headers, timeout=5)


def test_valid_report_is_stored_with_a_receipt(receiver, session, body):
    """A signed, valid report is stored and answered 201 with a receipt."""
    rid, data = body
    response = _post(session, receiver.url, rid, data)
    assert response.status_code == 201
    assert response.json()["receipt"]["report_id"] == rid
    (case,) = receiver.store.dump()
    assert (case["report_id"], case["attempts"]) == (rid, 1)


def test_bad_signature_is_401(receiver, session, body):
    """A delivery signed with an unknown secret is refused with 401 and not counted."""
    rid, data = body
    response = _post(session, receiver.url, rid, data, secrets=(OTHER_SECRET,))
    assert response.status_code == 401
    assert list(receiver.store.dump()) == []
    assert receiver.store.attempts() == {}


def test_tampered_body_is_401(receiver, session, body):
    """A body changed after signing is refused with 401."""
    rid, data = body
    headers = {"Idempotency-Key": rid, **signature_headers(rid, data, [SECRET])}
    response = session.post(receiver.url, data=data.replace(b"ivory", b"ivorY"), headers=headers)
    assert response.status_code == 401


def test_stale_signature_is_401(receiver, session, body):
    """A correctly signed delivery older than five minutes is refused with 401."""
    rid, data = body
    response = _post(session, receiver.url, rid, data, timestamp=int(time.time()) - 301)
    assert response.status_code == 401
    assert "300" in response.json()["reason"]


def test_schema_violation_is_422_with_reasons(receiver, session):
    """A signed body that is not a valid report is refused with 422 listing the reasons."""
    data = canonical_json({"schema_version": "1.0", "report_id": "not-a-uuid"})
    response = _post(session, receiver.url, "k1", data)
    assert response.status_code == 422
    reasons = response.json()["reasons"]
    assert any(r.startswith("report_id") for r in reasons)
    assert any(r.startswith("reporter") for r in reasons)


def test_key_must_match_report_id(receiver, session, body):
    """An Idempotency-Key that differs from report_id is refused with 422."""
    rid, data = body
    response = _post(session, receiver.url, rid, data, key="another-key")
    assert response.status_code == 422


def test_replay_answers_200_with_the_first_receipt(receiver, session, body):
    """The same report sent again is answered 200 with the original receipt, stored once."""
    rid, data = body
    first = _post(session, receiver.url, rid, data).json()["receipt"]
    again = _post(session, receiver.url, rid, data)
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["receipt"] == first
    (case,) = receiver.store.dump()
    assert case["attempts"] == 2


def test_same_key_with_different_body_is_422(receiver, session, body):
    """Reusing a report id with another body is refused with 422 and the first case kept."""
    rid, data = body
    _post(session, receiver.url, rid, data)
    changed = json.loads(data)
    changed["environment"] = "production"
    response = _post(session, receiver.url, rid, canonical_json(changed))
    assert response.status_code == 422
    assert response.json()["error"] == "conflict"
    (case,) = receiver.store.dump()
    assert case["report"]["environment"] == "test"


def test_every_attempt_is_counted(receiver, session, body):
    """The attempt count includes every authenticated delivery of a report id."""
    rid, data = body
    for _ in range(4):
        _post(session, receiver.url, rid, data)
    assert receiver.store.attempts() == {rid: 4}


def test_dump_prints_cases_with_counts(receiver, session, body, tmp_path):
    """dump(db) yields report_id, attempts and the stored report."""
    rid, data = body
    _post(session, receiver.url, rid, data)
    (case,) = list(dump(tmp_path / "cases.db"))
    assert case["report_id"] == rid
    assert case["attempts"] == 1
    assert case["report"]["report_id"] == rid


def test_bearer_token_is_enforced_when_configured(tmp_path, session, body):
    """A receiver with a token refuses deliveries without it."""
    rid, data = body
    with make_server(0, [SECRET], tmp_path / "t.db", token="tkn").start() as server:  # noqa: S106 - test value
        assert _post(session, server.url, rid, data).status_code == 401
        headers = {"Authorization": "Bearer tkn", "Idempotency-Key": rid,
                   **signature_headers(rid, data, [SECRET])}  # fmt: skip
        assert session.post(server.url, data=data, headers=headers).status_code == 201


def test_oversized_body_is_413(receiver):
    """A body over the size limit is refused before it is read."""
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as conn:
        conn.sendall(b"POST /reports HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.1 413")


def test_health_endpoint(receiver, session):
    """GET /health answers 200."""
    assert session.get(receiver.url.replace("/reports", "/health")).status_code == 200


def test_receiver_needs_a_secret(tmp_path):
    """A receiver without a secret cannot be built."""
    with pytest.raises(ReportSignatureError):
        make_server(0, [], tmp_path / "x.db")


def test_receiver_uses_loopback_by_default(receiver):
    """The receiver binds 127.0.0.1 unless told otherwise."""
    assert receiver.url.startswith("http://127.0.0.1:")
    assert requests.get(receiver.url.replace("/reports", "/health"), timeout=5).ok

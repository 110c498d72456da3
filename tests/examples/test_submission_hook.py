"""The listing-submission hook answers by decision and reports each blocked ad once."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from _load import load_example

from cites_guard import Guard, OutboxError
from cites_guard.report import Reporter
from cites_guard.testing import CapturingSession, capturing_reporter, guard_with_fixed_risk

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "submission_hook.py"

IVORY = "Carved ivory bangle, pre-ban"
NEUTRAL = "Blue ceramic vase, hand painted"
Service = tuple[str, Reporter, CapturingSession]
RISKS = {"allow-1": 0.01, "review-1": 0.6, "block-1": 0.99, "block-2": 0.99}


hook = load_example("submission_hook")


def _post(url: str, body: bytes) -> tuple[int, dict[str, Any]]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        connection.request(
            "POST", "/listings", body=body, headers={"Content-Type": "application/json"}
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _submit(url: str, ad: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    return _post(url, json.dumps(ad).encode())


@pytest.fixture(scope="module")
def fixed_guard() -> Guard:
    return guard_with_fixed_risk(0.01, by_id=RISKS)


@pytest.fixture
def service(fixed_guard: Guard, tmp_path: Path) -> Iterator[Service]:
    reporter, endpoint = capturing_reporter(tmp_path / "outbox.sqlite3")
    server = hook.make_server(fixed_guard, reporter, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.url, reporter, endpoint
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        reporter.close()


def test_allowed_ad_is_published_and_not_reported(service: Service) -> None:
    """An ad the guard allows is answered 201 published and queues no report."""
    url, reporter, _ = service
    status, body = _submit(url, {"id": "allow-1", "title": NEUTRAL, "price": 30})
    assert status == 201
    assert body["published"] is True
    assert body["decision"] == "allow"
    assert reporter.status()["pending"] == 0


def test_review_ad_is_held_and_not_reported(service: Service) -> None:
    """An ad sent to review is answered 202, held for review, and queues no report."""
    url, reporter, _ = service
    status, body = _submit(url, {"id": "review-1", "title": NEUTRAL})
    assert status == 202
    assert body["published"] is False
    assert body["held_for_review"] is True
    assert reporter.status()["pending"] == 0


def test_blocked_ad_is_refused_with_reasons_and_reported(service: Service) -> None:
    """A blocked ad is answered 403 with taxon, appendix and evidence, and one report is sent."""
    url, reporter, endpoint = service
    status, body = _submit(url, {"id": "block-1", "title": IVORY, "price": 450})
    assert status == 403
    assert body["published"] is False
    assert body["blocked"] is True
    reason = body["reasons"][0]
    assert (reason["taxon"], reason["appendix"]) == ("Elephantidae", "I")
    # Evidence quotes the longest matching spans ("Carved ivory", "ivory bangle").
    assert any("ivory" in text.lower() for text in reason["evidence"])
    assert reporter.status()["pending"] == 1
    reporter.flush()
    assert [r.listing.id for r in endpoint.reports] == ["block-1"]
    assert endpoint.reports[0].detection.decision == "block"


def test_one_report_per_blocked_ad_under_concurrent_submissions(service: Service) -> None:
    """Concurrent submissions, resubmitted blocked ads included, give one report per blocked ad."""
    url, reporter, endpoint = service
    ads = [
        {"id": "allow-1", "title": NEUTRAL},
        {"id": "review-1", "title": NEUTRAL},
        {"id": "block-1", "title": IVORY},
        {"id": "block-2", "title": "ivory netsuke, Meiji"},
    ] * 5
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = [status for status, _ in pool.map(lambda ad: _submit(url, ad), ads)]
    assert statuses == [201, 202, 403, 403] * 5
    reporter.flush()
    assert sorted(r.listing.id for r in endpoint.reports) == ["block-1", "block-2"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"title": "ivory bangle"}', "missing required field 'id'"),
        (b'{"id": "x-1", "price": "cheap"}', "price"),
    ],
)
def test_invalid_submission_is_a_clear_400(service: Service, body: bytes, message: str) -> None:
    """Invalid JSON, a non-object, a missing id or an invalid field is a 400 that says why."""
    url, reporter, _ = service
    status, answer = _post(url, body)
    assert status == 400
    assert message in answer["error"]
    assert reporter.status()["pending"] == 0


def test_command_line_runs_without_reporting_and_says_so(tmp_path: Path) -> None:
    """Started without report settings, the service warns on stderr, serves, and stops on Ctrl-C."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITES_GUARD_REPORT")}
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    watchdog = threading.Timer(30, process.kill)
    watchdog.start()
    try:
        assert process.stderr is not None
        seen: list[str] = []
        for line in process.stderr:
            seen.append(line)
            if "listening on" in line:
                break
        assert any("WITHOUT enforcement reporting" in line for line in seen)
        url = seen[-1].split("listening on ", 1)[1].strip().removesuffix("/listings")
        status, body = _submit(url, {"id": "cli-1", "title": "Budgie pair and cage"})
        assert status in (201, 202, 403)
        assert body["id"] == "cli-1"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()


def test_unwritable_outbox_keeps_the_ad_unpublished_with_a_503(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the report cannot be queued, the blocked ad is answered 503 and stays unpublished."""
    url, reporter, _ = service

    def broken(*_: object) -> str:
        raise OutboxError("disk full")

    monkeypatch.setattr(reporter, "maybe_enqueue", broken)
    status, body = _submit(url, {"id": "block-1", "title": IVORY})
    assert status == 503
    assert body["published"] is False
    assert "retry" in body["error"]

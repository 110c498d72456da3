"""End-to-end: the real sender against the real receiver on loopback, with injected faults."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from reporting_helpers import REPORTER, SECRET, make_case, make_settings

from cites_guard.receiver import Fault, dump, make_server
from cites_guard.report import Reporter

pytestmark = pytest.mark.slow


def drain(reporter, *, timeout=20.0):
    """Flush until nothing is pending (bounded), sleeping until the next row is due."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reporter.flush(max_seconds=max(0.1, deadline - time.monotonic()))
        due = reporter.outbox.next_due_at()
        if due is None:
            return
        time.sleep(min(0.2, max(0.0, due - time.time())))
    pytest.fail(f"outbox not drained in {timeout} s: {reporter.status()}")


def assert_exactly_once(reporter, receiver, ids):
    """Every enqueued report is stored once at the receiver and sent in the outbox."""
    stored = [c["report_id"] for c in receiver.store.dump()]
    assert sorted(stored) == sorted(ids), "lost or unexpected reports"
    assert len(stored) == len(set(stored)), "duplicates at the receiver"
    assert reporter.outbox.counts() == {"pending": 0, "sent": len(ids), "dead": 0}


def first(limit, fault):
    """Inject ``fault`` into the first ``limit`` requests."""
    return lambda _k, n: fault if n <= limit else None


def every(k, fault):
    """Inject ``fault`` into every k-th request."""
    return lambda _k, n: fault if n % k == 0 else None


def enqueue(reporter, n, start=0):
    return [reporter.enqueue(*make_case(i)) for i in range(start, start + n)]


@pytest.fixture
def live(tmp_path, receiver, session):
    settings = make_settings(receiver.url, tmp_path / "outbox.db", max_attempts=1000,
                             read_timeout=0.3)  # fmt: skip
    r = Reporter(settings, session=session)
    yield r
    r.close()


def test_receiver_down_then_up_loses_nothing(tmp_path, session):
    """Reports enqueued while the receiver is down are all delivered once it comes back."""
    server = make_server(0, [SECRET], tmp_path / "cases.db").start()
    port = server.port
    server.stop()
    settings = make_settings(f"http://127.0.0.1:{port}/reports", tmp_path / "o.db",
                             max_attempts=1000)  # fmt: skip
    reporter = Reporter(settings, session=session)
    ids = enqueue(reporter, 30)
    result = reporter.flush()
    assert result.sent == 0
    assert result.deferred >= 1
    assert reporter.outbox.counts()["pending"] == 30
    with make_server(port, [SECRET], tmp_path / "cases.db").start() as server:
        drain(reporter)
        assert_exactly_once(reporter, server, ids)
    reporter.close()


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("500 burst", first(25, Fault(status=500))),
        ("503 with Retry-After", first(25, Fault(status=503, retry_after="0"))),
        ("429 with Retry-After", first(10, Fault(status=429, retry_after="1"))),
        ("every third request 502", every(3, Fault(status=502))),
        ("dropped before storing", every(4, Fault(drop=True))),
        ("dropped after storing", every(4, Fault(drop=True, after_store=True))),
        ("500 after storing", every(3, Fault(status=500, after_store=True))),
        ("slow answers", every(4, Fault(delay=0.5, after_store=True))),
    ],
)  # fmt: skip
def test_faults_lose_nothing_and_duplicate_nothing(live, receiver, plan, name, rule):
    """Under each injected fault every report is stored exactly once."""
    plan.rule = rule
    ids = enqueue(live, 40)
    drain(live)
    assert_exactly_once(live, receiver, ids)
    if "after storing" in name or name == "slow answers":
        # The receiver stored these before the answer was lost: the retry was a replay.
        assert max(receiver.store.attempts().values()) >= 2


def test_slow_receiver_timeouts_are_retried_as_replays(live, receiver, plan):
    """A receiver slower than the read timeout stores once and answers the retry from its store."""
    plan.rule = lambda _k, n: Fault(delay=0.6, after_store=True) if n == 1 else None
    (rid,) = enqueue(live, 1)
    drain(live)
    assert_exactly_once(live, receiver, [rid])
    assert receiver.store.attempts()[rid] == 2
    receipt = json.loads(json.loads(live.outbox.get(rid).receipt)["body"])
    assert receipt["duplicate"] is True


def _config(tmp_path: Path, url: str, **extra) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({
        "endpoint_url": url, "secrets": [SECRET], "reporter": REPORTER,
        "outbox_path": str(tmp_path / "outbox.db"), "backoff_initial": 0.01,
        "backoff_max": 0.05, "in_flush_wait_max": 0.2, "lease_seconds": 1.0,
        "batch_size": 5, "max_attempts": 1000, "connect_timeout": 0.3, "read_timeout": 0.5,
        **extra,
    }))  # fmt: skip
    return path


def _flush_cmd(config: Path) -> list[str]:
    return [sys.executable, "-m", "cites_guard._cli_reports", "reports", "flush",
            "--config", str(config), "--wait", "--max-seconds", "30"]  # fmt: skip


def test_sigkill_mid_flush_loses_nothing(tmp_path, receiver, plan):
    """A sender killed with SIGKILL mid-flush loses nothing and the next flush completes."""
    plan.rule = lambda _k, _n: Fault(delay=0.02)
    config = _config(tmp_path, receiver.url)
    reporter = Reporter(make_settings(receiver.url, tmp_path / "outbox.db", lease_seconds=1.0))
    ids = enqueue(reporter, 120)
    proc = subprocess.Popen(_flush_cmd(config), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 15
        while len(list(receiver.store.dump())) < 20 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert 0 < reporter.outbox.counts()["sent"] < 120
    plan.rule = lambda _k, _n: None
    time.sleep(1.1)  # let the dead sender's lease expire
    drain(reporter)
    assert_exactly_once(reporter, receiver, ids)
    reporter.close()


def test_two_concurrent_sender_processes_never_double_send(tmp_path, receiver, plan):
    """Two sender processes draining one outbox send every report exactly once."""
    plan.rule = lambda _k, _n: Fault(delay=0.005)
    config = _config(tmp_path, receiver.url, lease_seconds=30.0)
    reporter = Reporter(make_settings(receiver.url, tmp_path / "outbox.db"))
    ids = enqueue(reporter, 150)
    procs = [subprocess.Popen(_flush_cmd(config), stdout=subprocess.PIPE) for _ in range(2)]
    outputs = [json.loads(p.communicate(timeout=60)[0].decode().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert all(o["this_run"]["sent"] > 0 for o in outputs), "both senders took part"
    assert sum(o["this_run"]["sent"] for o in outputs) == 150
    assert set(receiver.store.attempts().values()) == {1}, "a report was sent twice"
    assert_exactly_once(reporter, receiver, ids)
    reporter.close()


def test_two_concurrent_sender_threads_never_double_send(tmp_path, receiver, plan):
    """Two Reporters in threads on one outbox file never send the same report twice."""
    plan.rule = lambda _k, _n: Fault(delay=0.002)
    settings = make_settings(receiver.url, tmp_path / "outbox.db", batch_size=3)
    reporters = [Reporter(settings, session=requests.Session()) for _ in range(2)]
    ids = enqueue(reporters[0], 100)
    threads = [threading.Thread(target=drain, args=(r,)) for r in reporters]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(receiver.store.attempts().values()) == {1}
    assert_exactly_once(reporters[0], receiver, ids)
    for r in reporters:
        r.close()


def test_auth_failure_against_real_receiver_stops_and_keeps_rows(tmp_path, receiver, session):
    """A sender with the wrong secret is stopped by the receiver's 401 and keeps every row."""
    settings = make_settings(receiver.url, tmp_path / "o.db", secrets=["wrong"])
    reporter = Reporter(settings, session=session)
    ids = enqueue(reporter, 5)
    with pytest.raises(Exception, match="refused our credentials"):
        reporter.flush()
    assert reporter.outbox.counts()["pending"] == 5
    fixed = Reporter(make_settings(receiver.url, tmp_path / "o.db"), session=session)
    drain(fixed)
    assert_exactly_once(fixed, receiver, ids)


def test_cli_status_and_dump(tmp_path, live):
    """reports status --json and receiver dump report the same delivered cases."""
    ids = enqueue(live, 3)
    drain(live)
    env = {**os.environ}
    status = subprocess.run(
        [sys.executable, "-m", "cites_guard._cli_reports", "reports", "status", "--json",
         "--outbox", str(live.outbox.path)],
        capture_output=True, check=True, env=env,
    )  # fmt: skip
    assert json.loads(status.stdout) == {"pending": 0, "sent": 3, "dead": 0}
    dumped = subprocess.run(
        [sys.executable, "-m", "cites_guard._cli_reports", "receiver", "dump", "--db",
         str(tmp_path / "cases.db")],
        capture_output=True, check=True,
    )  # fmt: skip
    cases = [json.loads(line) for line in dumped.stdout.splitlines()]
    assert sorted(c["report_id"] for c in cases) == sorted(ids)
    assert all(c["attempts"] == 1 for c in cases)


def test_receiver_serve_command_accepts_a_delivery(tmp_path, session):
    """cites-guard receiver serve runs the receiver that a sender delivers to."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    db = tmp_path / "served.db"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cites_guard._cli_reports", "receiver", "serve",
         "--port", str(port), "--secret", SECRET, "--db", str(db)],
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/reports"
        for _ in range(100):
            try:
                session.get(url.replace("/reports", "/health"), timeout=0.5)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        reporter = Reporter(make_settings(url, tmp_path / "o.db"), session=session)
        ids = enqueue(reporter, 2)
        drain(reporter)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert sorted(c["report_id"] for c in dump(db)) == sorted(ids)

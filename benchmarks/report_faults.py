"""Fault-injection run: many reports through the real receiver on loopback, with faults.

What runs:
* the reference receiver (cites_guard.receiver) on 127.0.0.1, in this process, with an
  interceptor that injects 500/502/503/429 answers (some with Retry-After), bursts of 503,
  slow answers longer than the sender's read timeout, connections dropped before and after the
  case is stored, and 500s after the case is stored (the answer is lost, the case is not);
* down periods: the receiver is stopped (connection refused) and restarted on the same port;
* a producer thread enqueuing reports while senders drain the outbox;
* two sender *processes* (``reports flush --wait`` of the CLI) on the same outbox file, one of
  which is SIGKILLed mid-flush every few seconds and replaced.

It prints reports enqueued, sent (outbox), stored at the receiver, duplicates at the receiver
(report ids stored more than once), lost (enqueued but not stored) and what was injected.

Run: ``python benchmarks/report_faults.py --reports 10000``
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from cites_guard.assessment import Assessment, Evidence, Match
from cites_guard.listing import Listing
from cites_guard.outbox import Outbox
from cites_guard.receiver import Fault, ReceiverServer, make_server
from cites_guard.report import Reporter, ReportSettings

SECRET = "whsec_YmVuY2htYXJrLXNlY3JldC1rZXktMDEyMzQ1Njc4OQ=="  # noqa: S105 - benchmark value
REPORTER = {
    "platform_name": "Benchmark Market",
    "legal_url": "https://market.example/terms",
    "law_enforcement_contact": "le@market.example",
}


def case(i: int) -> tuple[Listing, Assessment]:
    title = f"Carved ivory figurine lot {i}"
    listing = Listing(id=f"bench-{i}", title=title, price=100 + i % 50, currency="EUR")
    ev = Evidence(field="title", start=7, end=12, text=title[7:12], term="ivory", kind="product")
    match = Match(taxon="Loxodonta africana", rank="species", group="elephants", appendix="I",
                  specimen="worked item", confidence=0.9, evidence=(ev,))  # fmt: skip
    verdict = Assessment(listing_id=listing.id, risk=0.95, decision="block", rule="r1",
                         matches=(match,), model_version="m", taxonomy_version="t")  # fmt: skip
    return listing, verdict


class Chaos:
    """Decides a fault per request; counts what it injected."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.injected: Counter[str] = Counter()
        self.burst_until = 0.0
        self.lock = threading.Lock()

    def __call__(self, _key: str) -> Fault | None:
        with self.lock:
            now = time.monotonic()
            if now < self.burst_until:
                self.injected["503 burst"] += 1
                return Fault(status=503, retry_after="1")
            r = self.rng.random()
        table: list[tuple[float, str, Fault]] = [
            (0.03, "500", Fault(status=500)),
            (0.05, "502", Fault(status=502)),
            (0.07, "503 Retry-After 0", Fault(status=503, retry_after="0")),
            (0.09, "429 Retry-After 1", Fault(status=429, retry_after="1")),
            (0.11, "drop before store", Fault(drop=True)),
            (0.13, "drop after store", Fault(drop=True, after_store=True)),
            (0.15, "500 after store", Fault(status=500, after_store=True)),
            (0.16, "slow (> read timeout) after store", Fault(delay=0.7, after_store=True)),
            (0.17, "slow (< read timeout)", Fault(delay=0.1)),
        ]
        for threshold, name, fault in table:
            if r < threshold:
                with self.lock:
                    self.injected[name] += 1
                return fault
        return None


def start_receiver(port: int, db: Path, chaos: Chaos) -> ReceiverServer:
    for _ in range(50):
        try:
            return make_server(port, [SECRET], db, interceptor=chaos).start()
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"cannot rebind receiver port {port}")


def sender_cmd(config: Path) -> list[str]:
    return [sys.executable, "-m", "cites_guard._cli_reports", "reports", "flush",
            "--config", str(config), "--wait", "--max-seconds", "900"]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=900.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cites-guard-faults-"))
    chaos = Chaos(args.seed)
    receiver = start_receiver(0, work / "cases.db", chaos)
    port = receiver.port
    url = f"http://127.0.0.1:{port}/reports"
    settings: dict[str, Any] = {
        "endpoint_url": url, "secrets": [SECRET], "reporter": REPORTER,
        "outbox_path": str(work / "outbox.db"), "connect_timeout": 0.5, "read_timeout": 0.5,
        "lease_seconds": 3.0, "backoff_initial": 0.05, "backoff_max": 0.5,
        "in_flush_wait_max": 0.5, "retry_after_max": 1.0, "attempts_per_flush": 3,
        "max_attempts": 10_000, "max_age_seconds": 86_400, "batch_size": 20,
    }  # fmt: skip
    config = work / "report.json"
    config.write_text(json.dumps(settings))
    producer = Reporter(ReportSettings.model_validate(settings))

    enqueued: list[str] = []

    def produce() -> None:
        # extend() appends as the generator yields, so the count grows while enqueuing.
        enqueued.extend(producer.enqueue(*case(i)) for i in range(args.reports))

    start = time.monotonic()
    producer_thread = threading.Thread(target=produce)
    producer_thread.start()
    senders = [subprocess.Popen(sender_cmd(config), stdout=subprocess.DEVNULL) for _ in range(2)]
    kills = downs = bursts = 0
    next_kill = time.monotonic() + 4.0
    next_down = time.monotonic() + 6.0
    next_burst = time.monotonic() + 3.0
    outbox = Outbox(work / "outbox.db")
    deadline = start + args.timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = time.monotonic()
        counts = outbox.counts()
        done = not producer_thread.is_alive() and counts["pending"] == 0
        if done:
            break
        if now >= next_kill and kills < 5:
            victim = senders[0]
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            kills += 1
            senders[0] = subprocess.Popen(sender_cmd(config), stdout=subprocess.DEVNULL)
            next_kill = now + 5.0
        if now >= next_down and downs < 4:
            receiver.stop()
            downs += 1
            time.sleep(1.5)
            receiver = start_receiver(port, work / "cases.db", chaos)
            next_down = now + 9.0
        if now >= next_burst and bursts < 6:
            with chaos.lock:
                chaos.burst_until = time.monotonic() + 1.0
            bursts += 1
            next_burst = now + 7.0
        for i, proc in enumerate(senders):
            if proc.poll() is not None:  # finished its --wait run early: start another
                senders[i] = subprocess.Popen(sender_cmd(config), stdout=subprocess.DEVNULL)
    elapsed = time.monotonic() - start
    for proc in senders:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    producer_thread.join()

    cases = list(receiver.store.dump())
    stored = [c["report_id"] for c in cases]
    per_listing = Counter(c["report"]["listing"]["id"] for c in cases)
    attempts = receiver.store.attempts()
    receiver.stop()
    stored_set = set(stored)
    counts = outbox.counts()
    duplicates = len(stored) - len(stored_set)
    lost = len(set(enqueued) - stored_set)
    figures = {
        "reports_enqueued": len(enqueued),
        "reports_sent_outbox": counts["sent"],
        "reports_pending": counts["pending"],
        "reports_dead": counts["dead"],
        "cases_stored_at_receiver": len(stored),
        "duplicates_at_receiver": duplicates,
        "listings_stored_as_more_than_one_case": sum(1 for v in per_listing.values() if v > 1),
        "lost": lost,
        "delivery_attempts_seen_by_receiver": sum(attempts.values()),
        "reports_that_needed_more_than_one_attempt": sum(1 for v in attempts.values() if v > 1),
        "sender_sigkills": kills,
        "receiver_down_periods": downs,
        "503_bursts": bursts,
        "injected_faults": dict(chaos.injected),
        "elapsed_seconds": round(elapsed, 1),
        "workdir": str(work),
    }
    print(json.dumps(figures, indent=2, sort_keys=True))
    ok = (
        lost == 0
        and duplicates == 0
        and max(per_listing.values(), default=1) == 1
        and counts["pending"] == 0
        and counts["dead"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

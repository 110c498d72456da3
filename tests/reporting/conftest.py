"""Fixtures of the enforcement-reporting tests: settings, cases, a live receiver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from reporting_helpers import SECRET, make_case, make_settings

from cites_guard.assessment import Assessment
from cites_guard.listing import Listing
from cites_guard.receiver import Fault, ReceiverServer, make_server
from cites_guard.report import Reporter, ReportSettings


@pytest.fixture
def settings(tmp_path: Path) -> ReportSettings:
    return make_settings("https://agency.example/reports", tmp_path / "outbox.db")


@pytest.fixture
def case() -> tuple[Listing, Assessment]:
    return make_case(1)


@pytest.fixture
def session() -> Iterator[requests.Session]:
    s = requests.Session()
    yield s
    s.close()


@pytest.fixture
def reporter(settings: ReportSettings, session: requests.Session) -> Iterator[Reporter]:
    r = Reporter(settings, session=session, sleep=lambda _s: None)
    yield r
    r.close()


class FaultPlan:
    """A mutable fault schedule the receiver consults on every request."""

    def __init__(self) -> None:
        self.rule: Callable[[str, int], Fault | None] = lambda _k, _n: None
        self.count = 0

    def __call__(self, key: str) -> Fault | None:
        self.count += 1
        return self.rule(key, self.count)


@pytest.fixture
def plan() -> FaultPlan:
    return FaultPlan()


@pytest.fixture
def receiver(tmp_path: Path, plan: FaultPlan) -> Iterator[ReceiverServer]:
    server = make_server(0, [SECRET], tmp_path / "cases.db", interceptor=plan).start()
    yield server
    server.stop()

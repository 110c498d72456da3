"""Helpers for testing a cites-guard integration offline and deterministically.

- :class:`FixedScorer`: a scorer that returns the risk you choose (per listing id or for
  every listing), so a marketplace can test its allow / review / block handling without
  depending on what the real model thinks of its fixtures.
- :func:`guard_with_fixed_risk`: a :class:`~cites_guard.guard.Guard` using it, with the
  bundled taxonomy (so evidence, matches and spans are real).
- :class:`CapturingSession` and :func:`capturing_reporter`: a reporter with a real outbox
  whose endpoint keeps every report it is sent, for assertions.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from pydantic import SecretStr

from cites_guard._settings import ReporterInfo, ReportSettings
from cites_guard.config import Settings
from cites_guard.guard import Guard
from cites_guard.report import Report, Reporter, parse_report
from cites_guard.scoring import Prepared, Score

__all__ = [
    "CapturedRequest",
    "CapturingSession",
    "FixedScorer",
    "capturing_reporter",
    "guard_with_fixed_risk",
]


class FixedScorer:
    """A scorer whose risk is set by the test.

    Example:
        >>> guard = guard_with_fixed_risk(0.95, by_id={"safe-1": 0.01})
        >>> guard.assess({"id": "ad-1", "title": "pangolin scales"}).decision
        'block'
        >>> guard.assess({"id": "safe-1", "title": "scales, 1 kg, dried"}).decision
        'allow'

    A taxon the ad names outright is reviewed whatever the risk (the policy's
    ``review_named_at``):

        >>> guard.assess({"id": "safe-1", "title": "pangolin scales"}).decision
        'review'
    """

    name = "fixed"
    version = "fixed-test-scorer"

    def __init__(self, risk: float = 0.0, *, by_id: Mapping[str, float] | None = None) -> None:
        """Score every listing ``risk``, or ``by_id[listing.id]`` when given."""
        self.risk = risk
        self.by_id = dict(by_id or {})
        self.calls = 0

    def score(self, batch: Sequence[Prepared]) -> list[Score]:
        """Return the configured risk for each listing."""
        self.calls += 1
        return [
            Score(self.by_id.get(item.listing.id, self.risk), {}, "fixed by test") for item in batch
        ]


def guard_with_fixed_risk(
    risk: float = 0.0, *, by_id: Mapping[str, float] | None = None, settings: Settings | None = None
) -> Guard:
    """A guard whose model stage always answers ``risk`` (taxonomy evidence stays real)."""
    return Guard(settings=settings, scorer=FixedScorer(risk, by_id=by_id))


@dataclass(frozen=True)
class CapturedRequest:
    """One POST the reporter made: where, what, and with which headers."""

    url: str
    body: bytes
    headers: dict[str, str]


class CapturingSession(requests.Session):
    """A ``requests`` session that never touches the network and keeps every report.

    It answers each POST with ``status`` (200 by default) and a JSON receipt, like a
    compliant endpoint, so the whole reporter path (outbox, signing, idempotency headers,
    delivery bookkeeping) runs for real.
    """

    def __init__(self, status: int = 200) -> None:
        """Answer every request with ``status``."""
        super().__init__()
        self.status = status
        self.requests: list[CapturedRequest] = []
        self._numbers = itertools.count(1)

    def post(
        self, url: str | bytes, data: Any = None, json: Any = None, **kwargs: Any
    ) -> requests.Response:
        """Record the request and answer it."""
        del json
        body = data if isinstance(data, bytes) else str(data or "").encode()
        headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
        self.requests.append(CapturedRequest(str(url), body, headers))
        response = requests.Response()
        response.status_code = self.status
        response.url = str(url)
        response.headers["Content-Type"] = "application/json"
        response._content = _receipt(next(self._numbers))  # noqa: SLF001 - building a reply
        return response

    @property
    def reports(self) -> list[Report]:
        """The reports received, parsed and validated against the report schema."""
        return [parse_report(request.body) for request in self.requests]


def _receipt(number: int) -> bytes:
    return json.dumps({"receipt": f"captured-{number}"}).encode()


def capturing_reporter(
    outbox_path: str | Path, *, status: int = 200, **settings: Any
) -> tuple[Reporter, CapturingSession]:
    """A :class:`Reporter` with a real outbox whose endpoint is a :class:`CapturingSession`.

    Example:
        >>> import tempfile
        >>> from cites_guard import Listing
        >>> guard = guard_with_fixed_risk(0.99)
        >>> ad = Listing(id="ad-9", title="Rhino horn cup")
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     reporter, endpoint = capturing_reporter(f"{folder}/outbox.sqlite3")
        ...     _ = reporter.maybe_enqueue(ad, guard.assess(ad))
        ...     _ = reporter.flush()
        ...     reporter.close()
        >>> [r.listing.id for r in endpoint.reports]
        ['ad-9']
    """
    session = CapturingSession(status)
    values: dict[str, Any] = {
        "endpoint_url": "https://enforcement.example.test/reports",
        "secrets": (SecretStr("whsec_" + "dGVzdC1zZWNyZXQtZm9yLXRlc3RzLW9ubHk="),),
        "reporter": ReporterInfo(
            platform_name="Test Marketplace",
            legal_url="https://marketplace.example.test/terms",
            law_enforcement_contact="le-requests@marketplace.example.test",
        ),
        "outbox_path": Path(outbox_path),
        **settings,
    }
    reporter = Reporter(ReportSettings(**values), session=session, sleep=lambda _: None)
    return reporter, session

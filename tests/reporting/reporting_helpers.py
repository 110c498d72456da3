"""Helpers shared by the enforcement-reporting tests: secrets, settings and cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cites_guard.assessment import Assessment, Evidence, Match
from cites_guard.listing import Listing
from cites_guard.report import ReportSettings

SECRET = "whsec_" + "c3VwZXItc2VjcmV0LWtleS0xMjM0NTY3ODkw"  # base64 of a test key
OTHER_SECRET = "whsec_" + "YW5vdGhlci1rZXktZm9yLXJvdGF0aW9uLTk4NzY="
TOKEN = "tok-abcdef-123456"  # noqa: S105 - test value
REPORTER = {
    "platform_name": "Test Market",
    "legal_url": "https://market.example/terms",
    "law_enforcement_contact": "le-desk@market.example",
}


def make_settings(url: str, outbox: Path, **overrides: Any) -> ReportSettings:
    """Small, fast bounds so retries finish in milliseconds."""
    data: dict[str, Any] = {
        "endpoint_url": url,
        "secrets": [SECRET],
        "reporter": REPORTER,
        "outbox_path": outbox,
        "backoff_initial": 0.01,
        "backoff_max": 0.05,
        "in_flush_wait_max": 0.2,
        "retry_after_max": 0.2,
        "connect_timeout": 0.3,
        "read_timeout": 0.5,
        "lease_seconds": 5.0,
        "batch_size": 20,
    }
    data.update(overrides)
    return ReportSettings.model_validate(data)


def make_case(i: int, *, decision: str = "block") -> tuple[Listing, Assessment]:
    """A listing offering ivory and the assessment that blocks it."""
    title = f"Carved ivory bangle no. {i}, 2 pcs"
    listing = Listing(
        id=f"ad-{i}",
        title=title,
        description="Old elephant ivory, real, no papers.",
        price=120.0 + i,
        currency="EUR",
        seller_id=f"seller-{i % 7}",
        country="FR",
        language="en",
        url=f"https://market.example/ad/{i}",
        attributes={"seller": {"country": "FR", "phone": "+33 6 00 00 00 00"}},
    )
    evidence = Evidence(
        field="title", start=7, end=12, text=title[7:12], term="ivory", kind="product"
    )
    match = Match(
        taxon="Loxodonta africana",
        rank="species",
        common_name="African elephant",
        group="elephants",
        appendix="I",
        specimen="worked item",
        confidence=0.93,
        evidence=(evidence,),
    )
    assessment = Assessment(
        listing_id=listing.id,
        risk=0.97,
        decision=decision,  # type: ignore[arg-type]
        rule="block-appendix-i-product",
        matches=(match,),
        model_version="m-1",
        taxonomy_version="t-1",
    )
    return listing, assessment

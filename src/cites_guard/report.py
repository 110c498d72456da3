"""Enforcement reports: the versioned case format, how to build one, and the Reporter.

A :class:`Report` is what a wildlife-crime unit, a CITES management authority or an NGO
intelligence desk receives when a marketplace blocks (or a moderator confirms) a listing that
offers CITES-listed wildlife. It is versioned (``schema_version``), documented field by field
in ``docs/report-format.md``, and shipped as JSON Schema (``schemas/report-v1.schema.json``).

The :class:`Reporter` turns assessments into reports and puts them in a durable outbox; its
:meth:`Reporter.flush` delivers them signed (Standard Webhooks) with the report id as the
idempotency key. Nothing is lost on a crash and a compliant receiver stores each case once.

Example:
    >>> from cites_guard.listing import Listing
    >>> from cites_guard.assessment import Assessment
    >>> settings = ReportSettings(
    ...     endpoint_url="https://agency.example/reports", secrets=["whsec_c2VjcmV0"],
    ...     reporter={"platform_name": "Shop", "legal_url": "https://shop.example/terms",
    ...               "law_enforcement_contact": "le@shop.example"})
    >>> ad = Listing(id="ad-1", title="carved ivory bangle")
    >>> verdict = Assessment(listing_id="ad-1", risk=0.97, decision="block", rule="r1",
    ...                      model_version="m1", taxonomy_version="t1")
    >>> report = build_report(ad, verdict, settings=settings)
    >>> report.schema_version, report.environment
    ('1.0', 'test')
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import requests
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from cites_guard._delivery import FlushResult, Sender
from cites_guard._settings import ReporterInfo, ReportSettings
from cites_guard._specimens import TRADE_TERM_CODES, TradeTerm, find_quantity, trade_term
from cites_guard.assessment import Appendix, Assessment, Decision, EvidenceKind
from cites_guard.errors import ReportValidationError
from cites_guard.listing import Listing
from cites_guard.outbox import Outbox

__all__ = [
    "SCHEMA_VERSION",
    "Detection",
    "EvidenceSpan",
    "FlushResult",
    "ListingSnapshot",
    "ModeratorOutcome",
    "Report",
    "ReportSettings",
    "Reporter",
    "ReporterInfo",
    "Seller",
    "SpecimenEntry",
    "TradeTerm",
    "build_report",
    "canonical_json",
    "parse_report",
    "report_json_schema",
    "snapshot_sha256",
    "write_schema",
]

logger = logging.getLogger("cites_guard.report")

#: Version of the report format. Additive, optional fields bump the minor number; anything a
#: receiver could misread (renamed, removed, retyped or newly required fields) bumps the major.
SCHEMA_VERSION: Literal["1.0"] = "1.0"

#: Namespace of the deterministic report ids (so the same case enqueued twice is one case).
_REPORT_NAMESPACE = uuid.UUID("7b0c4c57-3f0e-5d4c-9a51-c17e5a9d0f11")

_FROZEN = ConfigDict(frozen=True, extra="forbid")
_SEP = "\x1f"  # unit separator: cannot occur in the joined identifiers by accident


def canonical_json(value: Any) -> bytes:
    r"""Serialise JSON-ready data canonically: sorted keys, no spaces, UTF-8.

    The same data always gives the same bytes, which is what a hash or signature needs.

    Example:
        >>> canonical_json({"b": 1, "a": "é"})
        b'{"a":"\xc3\xa9","b":1}'
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


class ListingSnapshot(BaseModel):
    """The listing as seen when the decision was taken.

    ``snapshot_sha256`` is the SHA-256 of the canonical JSON of every other field here, so
    anyone holding the report can prove later that the evidence was not altered.
    """

    model_config = _FROZEN

    id: str = Field(min_length=1, max_length=512)
    url: str | None = Field(default=None, max_length=4096)
    title: str | None = None
    description: str | None = None
    language: str | None = Field(default=None, max_length=16)
    country: str | None = Field(default=None, max_length=64)
    price: float | None = Field(default=None, allow_inf_nan=False)
    currency: str | None = Field(default=None, max_length=16)
    content_date: date | None = Field(default=None, description="When the ad was posted.")
    image_hashes: tuple[str, ...] = Field(default=(), description="Hashes of the ad's images.")
    snapshot_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class SpecimenEntry(BaseModel):
    """One CITES-listed taxon the ad offers, in CITES trade vocabulary."""

    model_config = _FROZEN

    scientific_name: str
    rank: str
    cites_appendix: Appendix
    common_name: str | None = None
    specimen_type: TradeTerm = Field(description="CITES trade term (tusk, carving, skin...).")
    trade_term_code: str | None = Field(default=None, description="CITES code, e.g. TUS.")
    quantity: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    unit: str | None = Field(default=None, description="kg, g, m3, l, ml, pairs or number.")
    confidence: float = Field(ge=0.0, le=1.0)


class EvidenceSpan(BaseModel):
    """A span of the ad that supports the detection (``text`` is the original slice)."""

    model_config = _FROZEN

    field: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    text: str
    term: str
    kind: EvidenceKind
    language: str | None = None
    obfuscated: bool = False


class ModeratorOutcome(BaseModel):
    """What a human moderator decided about the automated flag."""

    model_config = _FROZEN

    outcome: Literal["confirmed", "overturned", "escalated"]
    decided_at: AwareDatetime | None = None
    note: str | None = Field(default=None, max_length=2000)


class Detection(BaseModel):
    """How the case was found and decided."""

    model_config = _FROZEN

    model_version: str
    taxonomy_version: str
    risk: float = Field(ge=0.0, le=1.0)
    decision: Decision
    rule: str
    evidence: tuple[EvidenceSpan, ...] = ()
    automated_detection: bool = True
    automated_decision: Literal["fully", "partially", "not_automated"]
    moderator_outcome: ModeratorOutcome | None = None


class Seller(BaseModel):
    """A keyed pseudonym of the seller and only the fields the platform allowed."""

    model_config = _FROZEN

    pseudonym: str = Field(pattern=r"^hmac-sha256:[0-9a-f]{64}$")
    fields: dict[str, str] = Field(default_factory=dict)


class Report(BaseModel):
    """One enforcement case, version 1.0 of the report format."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="CitesGuardReport")

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    report_id: uuid.UUID = Field(description="Created once; the idempotency key of every retry.")
    created_at: AwareDatetime = Field(description="RFC 3339, UTC.")
    environment: Literal["test", "production"]
    reporter: ReporterInfo
    listing: ListingSnapshot
    specimens: tuple[SpecimenEntry, ...] = ()
    detection: Detection
    seller: Seller | None = None

    def to_json_bytes(self) -> bytes:
        """Return the canonical JSON body that is stored, signed and sent."""
        return canonical_json(self.model_dump(mode="json"))


def snapshot_sha256(snapshot: dict[str, Any]) -> str:
    """Return the SHA-256 (hex) of a listing snapshot, ignoring its ``snapshot_sha256`` key."""
    data = {k: v for k, v in snapshot.items() if k != "snapshot_sha256"}
    return hashlib.sha256(canonical_json(data)).hexdigest()


def parse_report(body: bytes | str) -> Report:
    """Validate a report body against the format and check its snapshot hash.

    Raises:
        ReportValidationError: The body is not a valid report; the message lists each problem.
    """
    try:
        report = Report.model_validate_json(body)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(body)'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise ReportValidationError("; ".join(problems)) from None
    listing = report.listing.model_dump(mode="json")
    if snapshot_sha256(listing) != report.listing.snapshot_sha256:
        raise ReportValidationError("listing.snapshot_sha256: does not match the snapshot")
    return report


def report_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of :class:`Report` (what ``schemas/report-v1.schema.json`` holds)."""
    schema = Report.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://cites-guard.org/schemas/report-v1.schema.json",
        **schema,
    }


def _content_date(listing: Listing) -> date | None:
    for key in ("content_date", "posted_at", "created_at", "published_at"):
        value = listing.attributes.get(key)
        if isinstance(value, str) and value:
            try:
                return datetime.fromisoformat(value).date()
            except ValueError:
                continue
    return None


def _snapshot(listing: Listing) -> ListingSnapshot:
    hashes = listing.attributes.get("image_hashes", ())
    data: dict[str, Any] = {
        "id": listing.id,
        "url": listing.url,
        "title": listing.title,
        "description": listing.description,
        "language": listing.language,
        "country": listing.country,
        "price": listing.price,
        "currency": listing.currency,
        "content_date": (d.isoformat() if (d := _content_date(listing)) else None),
        "image_hashes": [str(h) for h in hashes] if isinstance(hashes, list | tuple) else [],
    }
    return ListingSnapshot.model_validate({**data, "snapshot_sha256": snapshot_sha256(data)})


def _seller(listing: Listing, settings: ReportSettings) -> Seller | None:
    if not settings.seller_enabled or settings.seller_key is None or not listing.seller_id:
        return None
    key = settings.seller_key.get_secret_value().encode("utf-8")
    digest = hmac.new(key, listing.seller_id.encode("utf-8"), hashlib.sha256).hexdigest()
    raw = listing.attributes.get("seller")
    allowed = set(settings.seller_fields)
    fields = (
        {k: str(v) for k, v in raw.items() if k in allowed and v is not None}
        if isinstance(raw, dict)
        else {}
    )
    return Seller(pseudonym=f"hmac-sha256:{digest}", fields=fields)


def build_report(
    listing: Listing,
    assessment: Assessment,
    *,
    settings: ReportSettings,
    moderator_outcome: ModeratorOutcome | None = None,
    now: datetime | None = None,
) -> Report:
    """Build the enforcement report of one decided listing.

    The report id is derived from the platform, environment, listing snapshot and moderator
    outcome, so building the same case twice gives the same id and the outbox keeps one.

    Args:
        listing: The ad as seen when decided.
        assessment: cites-guard's verdict on it.
        settings: Reporter identity, environment and seller policy.
        moderator_outcome: The human decision, when there was one.
        now: Creation time (UTC); now by default.

    Raises:
        ReportValidationError: The listing and assessment do not belong together.
    """
    if assessment.listing_id != listing.id:
        raise ReportValidationError(
            f"assessment is for listing {assessment.listing_id!r}, not {listing.id!r}"
        )
    created = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    snapshot = _snapshot(listing)
    text = " ".join(t for t in (listing.title, listing.description) if t)
    quantity, unit = find_quantity(text)
    specimens = []
    for match in assessment.matches:
        evidence_text = " ".join(e.text for e in match.evidence)
        term = trade_term(f"{text} {evidence_text}", match.specimen)
        specimens.append(
            SpecimenEntry(
                scientific_name=match.taxon,
                rank=match.rank,
                cites_appendix=match.appendix,
                common_name=match.common_name,
                specimen_type=term,
                trade_term_code=TRADE_TERM_CODES[term],
                quantity=quantity,
                unit=unit,
                confidence=match.confidence,
            )
        )
    evidence = tuple(
        EvidenceSpan.model_validate(e.model_dump()) for m in assessment.matches for e in m.evidence
    )
    outcome_key = moderator_outcome.outcome if moderator_outcome else "none"
    report_id = uuid.uuid5(
        _REPORT_NAMESPACE,
        _SEP.join(
            (settings.reporter.platform_name, settings.environment, listing.id,
             snapshot.snapshot_sha256, assessment.decision, outcome_key)
        ),
    )  # fmt: skip
    detection = Detection(
        model_version=assessment.model_version,
        taxonomy_version=assessment.taxonomy_version,
        risk=assessment.risk,
        decision=assessment.decision,
        rule=assessment.rule,
        evidence=evidence,
        automated_detection=True,
        automated_decision="partially" if moderator_outcome else "fully",
        moderator_outcome=moderator_outcome,
    )
    return Report(
        report_id=report_id,
        created_at=created,
        environment=settings.environment,
        reporter=settings.reporter,
        listing=snapshot,
        specimens=tuple(specimens),
        detection=detection,
        seller=_seller(listing, settings),
    )


class Reporter:
    """Enqueues enforcement reports in the durable outbox and delivers them.

    Args:
        settings: Endpoint, secrets, reporter identity, outbox path and bounds.
        outbox: An open outbox; one at ``settings.outbox_path`` by default.
        session: A requests session for delivery (tests pass one).
        sleep: Used for in-flush waits (tests pass a fake).

    Example:
        >>> import tempfile, pathlib
        >>> from cites_guard.listing import Listing
        >>> from cites_guard.assessment import Assessment
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> reporter = Reporter(ReportSettings(
        ...     endpoint_url="https://agency.example/reports", secrets=["s3cret"],
        ...     outbox_path=tmp / "outbox.db",
        ...     reporter={"platform_name": "Shop", "legal_url": "https://shop.example/terms",
        ...               "law_enforcement_contact": "le@shop.example"}))
        >>> verdict = Assessment(listing_id="1", risk=0.9, decision="block", rule="r",
        ...                      model_version="m", taxonomy_version="t")
        >>> reporter.maybe_enqueue(Listing(id="1", title="ivory"), verdict) is not None
        True
        >>> reporter.status()["pending"]
        1
    """

    def __init__(
        self,
        settings: ReportSettings,
        *,
        outbox: Outbox | None = None,
        session: requests.Session | None = None,
        sleep: Any = time.sleep,
    ) -> None:
        """Open the outbox; nothing is sent until :meth:`flush`."""
        self.settings = settings
        self.outbox = outbox or Outbox(settings.outbox_path)
        self._sender = Sender(settings, self.outbox, session=session, sleep=sleep)

    @classmethod
    def from_env(cls) -> Self:
        """Build a reporter from the ``CITES_GUARD_REPORT_*`` environment variables."""
        return cls(ReportSettings.from_env())

    def __repr__(self) -> str:
        """Show endpoint and outbox, never a secret."""
        return f"Reporter(endpoint={self.settings.endpoint_url!r}, outbox={self.outbox!r})"

    def __enter__(self) -> Self:
        """Use as a context manager that closes the sender and outbox."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on exit."""
        self.close()

    def close(self) -> None:
        """Close the HTTP session and this thread's outbox connection."""
        self._sender.close()
        self.outbox.close()

    def should_report(self, assessment: Assessment) -> bool:
        """Policy hook: whether an assessment becomes a report. Override to change it.

        By default only blocked listings are reported; review decisions wait for a moderator,
        who reports through :meth:`enqueue` with a :class:`ModeratorOutcome`.
        """
        return assessment.decision == "block"

    def enqueue(
        self,
        listing: Listing,
        assessment: Assessment,
        *,
        moderator_outcome: ModeratorOutcome | None = None,
    ) -> str:
        """Build a report and store it in the outbox atomically; return its report id.

        Enqueuing the same case again returns the same id and stores nothing new.

        Raises:
            ReportValidationError: Listing and assessment do not match.
            OutboxError: The outbox cannot be written; nothing was stored.
        """
        report = build_report(
            listing, assessment, settings=self.settings, moderator_outcome=moderator_outcome
        )
        return self.enqueue_report(report)

    def enqueue_report(self, report: Report) -> str:
        """Store an already built report; return its id."""
        report_id = str(report.report_id)
        if self.outbox.enqueue(report_id, report.to_json_bytes()):
            logger.info("report %s enqueued for listing %s", report_id, report.listing.id)
        return report_id

    def maybe_enqueue(self, listing: Listing, assessment: Assessment) -> str | None:
        """Enqueue when :meth:`should_report` says so; return the id or ``None``."""
        if not self.should_report(assessment):
            return None
        return self.enqueue(listing, assessment)

    def flush(self, *, max_seconds: float | None = None) -> FlushResult:
        """Deliver every due report; see :class:`FlushResult`.

        Raises:
            ReportAuthError: The endpoint refused our credentials (the sender stops).
        """
        return self._sender.flush(max_seconds=max_seconds)

    def status(self) -> dict[str, int | bool]:
        """Return counts per outbox state and whether the sender was stopped by a 401/403."""
        return {**self.outbox.counts(), "stopped": self._sender.stopped}


def write_schema(path: str | Path) -> None:
    """Write the JSON Schema of the report format to ``path`` (canonical, indented)."""
    text = json.dumps(report_json_schema(), indent=2, sort_keys=True, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")

"""Statements of reasons for the EU DSA Transparency Database.

Online platforms in the EU must submit every content-moderation decision to the Commission's
DSA Transparency Database (Article 24(5) DSA) *without personal data*. This module maps a
report to a statement of reasons that passes the database's validation rules, and submits
statements in batches of at most 100 to ``POST {base}/api/v1/statements`` with bearer auth.

What goes in, and what never does: the statement carries the decision, the legal ground, the
CITES taxa and appendices, the trade terms and how automated the decision was. It never
carries the listing's title, description, URL, seller or price: those may hold personal data.
The ``puid`` is ``cites-guard-<report_id>``: unique, never reused, and not personal.

A 422 answer that says a puid already exists means an earlier submission got through: it
counts as delivered. Other validation errors are mapped back to the rows they belong to.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date
from typing import Any, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field, model_validator

from cites_guard._settings import ReportSettings
from cites_guard.errors import ReportAuthError, ReportDeliveryError
from cites_guard.report import Report

__all__ = [
    "MAX_BATCH",
    "PUID_PATTERN",
    "DsaBatchResult",
    "DsaClient",
    "StatementOfReasons",
    "statement_from_report",
]

logger = logging.getLogger("cites_guard.dsa")

#: Most statements the database accepts in one call.
MAX_BATCH = 100
#: The database's rule for platform unique identifiers.
PUID_PATTERN = r"^[A-Za-z0-9_-]{1,500}$"

_EEA_CODES = frozenset(
    [
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IS",
        "IT",
        "LI",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "NO",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    ]
)

DecisionVisibility = Literal[
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
]
ContentType = Literal[
    "CONTENT_TYPE_APP", "CONTENT_TYPE_AUDIO", "CONTENT_TYPE_IMAGE", "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA", "CONTENT_TYPE_TEXT", "CONTENT_TYPE_VIDEO",
]  # fmt: skip
Category = Literal[
    "STATEMENT_CATEGORY_ANIMAL_WELFARE", "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS"
]
Keyword = Literal["KEYWORD_UNLAWFUL_SALE_ANIMALS", "KEYWORD_PROHIBITED_PRODUCTS"]
_KEYWORD_OF: dict[str, Keyword] = {
    "STATEMENT_CATEGORY_ANIMAL_WELFARE": "KEYWORD_UNLAWFUL_SALE_ANIMALS",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS": "KEYWORD_PROHIBITED_PRODUCTS",
}


class StatementOfReasons(BaseModel):
    """One statement of reasons, restricted to the values cites-guard emits.

    Field names, values and length limits are the database's; validation here catches what
    the database would refuse before anything is sent.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    decision_visibility: tuple[DecisionVisibility, ...] = Field(min_length=1)
    decision_ground: Literal["DECISION_GROUND_ILLEGAL_CONTENT"] = "DECISION_GROUND_ILLEGAL_CONTENT"
    illegal_content_legal_ground: str = Field(min_length=1, max_length=500)
    illegal_content_explanation: str = Field(min_length=1, max_length=2000)
    decision_facts: str = Field(min_length=1, max_length=5000)
    category: Category
    category_specification: tuple[Keyword, ...] = Field(min_length=1)
    content_type: tuple[ContentType, ...] = Field(min_length=1)
    content_language: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    content_date: date
    application_date: date
    territorial_scope: tuple[str, ...] = Field(min_length=1)
    source_type: Literal[
        "SOURCE_ARTICLE_16",
        "SOURCE_TRUSTED_FLAGGER",
        "SOURCE_TYPE_OTHER_NOTIFICATION",
        "SOURCE_VOLUNTARY",
    ] = "SOURCE_VOLUNTARY"
    automated_detection: Literal["Yes", "No"]
    automated_decision: Literal[
        "AUTOMATED_DECISION_FULLY",
        "AUTOMATED_DECISION_PARTIALLY",
        "AUTOMATED_DECISION_NOT_AUTOMATED",
    ]
    puid: str = Field(pattern=PUID_PATTERN)

    @model_validator(mode="after")
    def _database_rules(self) -> StatementOfReasons:
        """Apply the cross-field rules of the database."""
        unknown = [c for c in self.territorial_scope if c not in _EEA_CODES]
        if unknown:
            raise ValueError(f"territorial_scope: not EEA country codes: {unknown}")
        if self.content_date < date(2000, 1, 1):
            raise ValueError("content_date: must be on or after 2000-01-01")
        if self.application_date < self.content_date:
            raise ValueError("application_date: must not precede content_date")
        if _KEYWORD_OF[self.category] not in self.category_specification:
            raise ValueError("category_specification: keyword does not belong to the category")
        return self

    def payload(self) -> dict[str, Any]:
        """Return the JSON the API expects (dates as ``YYYY-MM-DD``, no null fields)."""
        return self.model_dump(mode="json", exclude_none=True)


def _facts(report: Report) -> str:
    """Describe the facts without personal data: taxa, appendices, trade terms, automation."""
    parts = []
    for s in report.specimens:
        qty = f", {s.quantity:g} {s.unit}" if s.quantity is not None and s.unit else ""
        parts.append(
            f"{s.scientific_name} (CITES Appendix {s.cites_appendix}), {s.specimen_type}{qty}"
        )
    offered = "; ".join(parts) if parts else "a specimen of a CITES-listed species"
    d = report.detection
    how = (
        "Detected and decided automatically"
        if d.automated_decision == "fully"
        else "Detected automatically and confirmed by a human moderator"
    )
    return (
        f"The listing offered {offered}. {how} (risk {d.risk:.2f}, policy rule {d.rule},"
        f" model {d.model_version}, taxonomy {d.taxonomy_version})."
    )[:5000]


def statement_from_report(
    report: Report, *, settings: ReportSettings, application_date: date | None = None
) -> StatementOfReasons:
    """Map a report to a statement of reasons for the DSA Transparency Database.

    Args:
        report: The enforcement report (its seller part is never used).
        settings: Category, legal ground and territorial scope.
        application_date: When the removal applied; the report's creation date by default.

    Raises:
        pydantic.ValidationError: Never for reports built by cites-guard; raised for values
            the database would refuse (kept as is so callers see the exact field).
    """
    created = report.created_at.astimezone(UTC).date()
    applied = application_date or created
    content_date = report.listing.content_date or created
    language = report.listing.language
    automated = {
        "fully": "AUTOMATED_DECISION_FULLY",
        "partially": "AUTOMATED_DECISION_PARTIALLY",
        "not_automated": "AUTOMATED_DECISION_NOT_AUTOMATED",
    }[report.detection.automated_decision]
    appendices: list[str] = sorted({s.cites_appendix for s in report.specimens}) or ["I-III"]
    return StatementOfReasons.model_validate(
        {
            "decision_visibility": ["DECISION_VISIBILITY_CONTENT_REMOVED"],
            "illegal_content_legal_ground": settings.dsa_legal_ground,
            "illegal_content_explanation": (
                "Commercial offer of specimens of species listed in CITES Appendix "
                + ", ".join(appendices)
                + " without evidence of the permits or certificates that trade requires."
            ),
            "decision_facts": _facts(report),
            "category": settings.dsa_category,
            "category_specification": [_KEYWORD_OF[settings.dsa_category]],
            "content_type": ["CONTENT_TYPE_PRODUCT", "CONTENT_TYPE_TEXT"],
            "content_language": (
                language[:2].upper()
                if language and re.fullmatch(r"[a-zA-Z]{2}", language[:2])
                else None
            ),
            "content_date": min(content_date, applied).isoformat(),
            "application_date": applied.isoformat(),
            "territorial_scope": list(settings.dsa_territorial_scope),
            "automated_detection": "Yes" if report.detection.automated_detection else "No",
            "automated_decision": automated,
            "puid": f"cites-guard-{report.report_id}",
        }
    )


@dataclass(slots=True)
class DsaBatchResult:
    """Outcome of :meth:`DsaClient.submit`, per puid.

    Attributes:
        delivered: Puids the database now holds (created now or already there).
        duplicates: Puids among ``delivered`` that the database already had.
        rejected: Puid to the validation messages the database gave for it.
    """

    delivered: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    rejected: dict[str, list[str]] = field(default_factory=dict)


@contextlib.contextmanager
def _map_requests() -> Iterator[None]:
    """Convert requests exceptions into :class:`ReportDeliveryError`."""
    try:
        yield
    except requests.RequestException as exc:
        raise ReportDeliveryError(
            f"DSA database unreachable ({type(exc).__name__})", report_id="dsa-batch", attempts=1
        ) from exc


_ROW_KEY = re.compile(r"^statements?[._](\d+)(?:\.(.+))?$")


def _is_duplicate(field_name: str | None, messages: Sequence[str]) -> bool:
    if field_name != "puid":
        return False
    text = " ".join(messages).lower()
    return any(w in text for w in ("unique", "already", "taken", "duplicate", "exists"))


class DsaClient:
    """Submits statements of reasons to the DSA Transparency Database API.

    Args:
        base_url: ``https://transparency.dsa.ec.europa.eu`` or the sandbox you were given.
        token: Your API token (kept out of reprs and logs).
        session: A requests session to reuse.
        timeout: Connect and read timeout, seconds.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 60.0),
    ) -> None:
        """Prepare the client; nothing is sent yet."""
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._session = session or requests.Session()
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: ReportSettings, **kwargs: Any) -> DsaClient:
        """Build a client from report settings (``dsa_base_url``, ``dsa_token``)."""
        if settings.dsa_token is None:
            msg = "dsa_token is not configured (set it in the config or CITES_GUARD_DSA_TOKEN)"
            raise ReportAuthError(msg, report_id="dsa-batch", attempts=0)
        return cls(settings.dsa_base_url, settings.dsa_token.get_secret_value(), **kwargs)

    def __repr__(self) -> str:
        """Show the base URL only."""
        return f"DsaClient(base_url={self.base_url!r})"

    def submit(self, statements: Sequence[StatementOfReasons]) -> DsaBatchResult:
        """Submit statements in batches of at most :data:`MAX_BATCH`.

        Raises:
            ReportAuthError: The token was refused (401/403).
            ReportDeliveryError: The database is unreachable or answered 429/5xx; statements
                of batches already answered are in the exception's ``partial`` attribute.
        """
        result = DsaBatchResult()
        for start in range(0, len(statements), MAX_BATCH):
            try:
                self._submit_batch(list(statements[start : start + MAX_BATCH]), result)
            except ReportDeliveryError as exc:
                exc.partial = result  # type: ignore[attr-defined]
                raise
        return result

    def _post(self, batch: list[StatementOfReasons]) -> requests.Response:
        with _map_requests():
            return self._session.post(
                f"{self.base_url}/api/v1/statements",
                json={"statements": [s.payload() for s in batch]},
                headers={
                    "Authorization": f"Bearer {self._token}",
                    "Accept": "application/json",
                    "Content-Type": "application/json",
                },
                timeout=self._timeout,
            )

    def _submit_batch(self, batch: list[StatementOfReasons], result: DsaBatchResult) -> None:
        # A batch with refused rows is not stored at all: resubmit the others, at most once
        # per row refused, so the loop is bounded by the batch size.
        for _ in range(len(batch) + 1):
            if not batch:
                return
            response = self._post(batch)
            status = response.status_code
            if 200 <= status < 300:
                result.delivered.extend(s.puid for s in batch)
                return
            if status in (401, 403):
                raise ReportAuthError(
                    "the DSA database refused the token", report_id="dsa-batch",
                    attempts=1, status=status,
                )  # fmt: skip
            if status != 422:
                raise ReportDeliveryError(
                    "the DSA database did not accept the batch; retry later",
                    report_id="dsa-batch", attempts=1, status=status,
                )  # fmt: skip
            errors = self._row_errors(response, len(batch))
            if not errors:
                raise ReportDeliveryError(
                    "422 from the DSA database without per-statement errors",
                    report_id="dsa-batch", attempts=1, status=status,
                )  # fmt: skip
            keep: list[StatementOfReasons] = []
            for index, statement in enumerate(batch):
                row = errors.get(index)
                if row is None:
                    keep.append(statement)
                elif all(_is_duplicate(f, m) for f, m in row.items()):
                    result.delivered.append(statement.puid)
                    result.duplicates.append(statement.puid)
                else:
                    result.rejected[statement.puid] = [
                        f"{f}: {' '.join(m)}" for f, m in row.items()
                    ]
            batch = keep

    @staticmethod
    def _row_errors(response: requests.Response, size: int) -> dict[int, dict[str, list[str]]]:
        """Map a 422 body to ``{row index: {field: [messages]}}``.

        Understands Laravel-style keys (``statements.3.puid``) and nested objects keyed by
        ``statement_3`` / ``statements.3``; a single-statement batch also accepts plain keys.
        """
        try:
            body = response.json()
        except ValueError:
            return {}
        raw = body.get("errors") if isinstance(body, dict) else None
        if not isinstance(raw, dict):
            return {}
        out: dict[int, dict[str, list[str]]] = {}
        for key, value in raw.items():
            found = _ROW_KEY.match(str(key))
            if found:
                index, name = int(found.group(1)), found.group(2)
            elif size == 1:
                index, name = 0, str(key)
            else:
                continue
            if index >= size:
                continue
            if isinstance(value, dict):
                for sub, msgs in value.items():
                    out.setdefault(index, {})[str(sub)] = _messages(msgs)
            else:
                out.setdefault(index, {})[name or "statement"] = _messages(value)
        return out


def _messages(value: object) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]

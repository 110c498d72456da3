"""cites-guard: find marketplace listings that offer CITES-listed wildlife, and say why.

Typical use::

    from cites_guard import Guard
    guard = Guard.default()
    assessment = guard.assess({"id": "ad-1", "title": "Old carved ivory bangle"})
    assessment.decision, assessment.matches[0].taxon

The library logs to the ``cites_guard`` logger and never configures logging itself.
"""

from __future__ import annotations

import logging
from importlib import metadata as _metadata
from typing import TYPE_CHECKING

from cites_guard.assessment import Assessment, Evidence, Match, ScoringStep
from cites_guard.config import ExtraTerm, ModelSettings, PolicySettings, Settings, TaxonomySettings
from cites_guard.detectors import Detector, DetectorRegistry, Hit, TermDetector, TermEntry
from cites_guard.errors import (
    CitesGuardError,
    ConfigError,
    DetectorError,
    InputError,
    ModelError,
    ModelIntegrityError,
    OutboxError,
    ReportAuthError,
    ReportDeliveryError,
    ReportError,
    ReportSignatureError,
    ReportValidationError,
    TaxonomyError,
    TrainingError,
)
from cites_guard.guard import Guard
from cites_guard.listing import Listing
from cites_guard.normalize import NormalizedText, normalize
from cites_guard.scoring import EvidenceScorer, Scorer
from cites_guard.taxonomy import Lookalike, Taxon, Taxonomy, load_taxonomy

if TYPE_CHECKING:
    from cites_guard.report import (
        ModeratorOutcome,
        Report,
        Reporter,
        ReporterInfo,
        ReportSettings,
    )

#: Imported on first use: reporting pulls in ``requests``, which a process that only scores
#: (a batch worker, a submission hook) never needs; that is a tenth of a second of start-up.
_REPORTING = frozenset({"ModeratorOutcome", "Report", "Reporter", "ReporterInfo", "ReportSettings"})


def __getattr__(name: str) -> object:
    if name in _REPORTING:
        from cites_guard import report  # noqa: PLC0415

        value = getattr(report, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'cites_guard' has no attribute {name!r}")


try:
    __version__ = _metadata.version("cites-guard")
except _metadata.PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

logging.getLogger("cites_guard").addHandler(logging.NullHandler())

__all__ = [
    "Assessment",
    "CitesGuardError",
    "ConfigError",
    "Detector",
    "DetectorError",
    "DetectorRegistry",
    "Evidence",
    "EvidenceScorer",
    "ExtraTerm",
    "Guard",
    "Hit",
    "InputError",
    "Listing",
    "Lookalike",
    "Match",
    "ModelError",
    "ModelIntegrityError",
    "ModelSettings",
    "ModeratorOutcome",
    "NormalizedText",
    "OutboxError",
    "PolicySettings",
    "Report",
    "ReportAuthError",
    "ReportDeliveryError",
    "ReportError",
    "ReportSettings",
    "ReportSignatureError",
    "ReportValidationError",
    "Reporter",
    "ReporterInfo",
    "Scorer",
    "ScoringStep",
    "Settings",
    "Taxon",
    "Taxonomy",
    "TaxonomyError",
    "TaxonomySettings",
    "TermDetector",
    "TermEntry",
    "TrainingError",
    "__version__",
    "load_taxonomy",
    "normalize",
]

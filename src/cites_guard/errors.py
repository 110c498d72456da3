"""The one exception tree of cites-guard.

Every error the library raises on purpose derives from :class:`CitesGuardError`, so an
integrator can catch the whole family in one place. Foreign exceptions (onnxruntime,
requests, tenacity, sqlite3, pydantic) are converted at the boundary where they arise, with
``raise ... from exc`` so the original stays in the traceback::

    CitesGuardError
    ├── ConfigError                 settings or a config file are invalid
    ├── TaxonomyError               the taxonomy data (bundled or extra) is invalid
    ├── InputError                  one input record is unusable (carries record and field)
    ├── DetectorError               a detector added to the registry returned an invalid hit
    ├── ModelError                  the model cannot be loaded or run
    │   └── ModelIntegrityError     a model file does not match its manifest checksum
    ├── TrainingError               the training pipeline cannot run (missing extra, bad data)
    └── ReportError                 building, storing or sending an enforcement report failed
        ├── ReportValidationError   a report does not match the report schema
        ├── OutboxError             the durable outbox cannot be opened or written
        ├── ReportSignatureError    a delivery's signature or timestamp is invalid (receiver side)
        └── ReportDeliveryError     the endpoint refused a report (carries id, attempts, status)
            └── ReportAuthError     the endpoint refused our credentials (401/403): stop

Each class says when it is raised and what the caller should do about it.
"""

from __future__ import annotations

__all__ = [
    "CitesGuardError",
    "ConfigError",
    "DetectorError",
    "InputError",
    "ModelError",
    "ModelIntegrityError",
    "OutboxError",
    "ReportAuthError",
    "ReportDeliveryError",
    "ReportError",
    "ReportSignatureError",
    "ReportValidationError",
    "TaxonomyError",
    "TrainingError",
]


class CitesGuardError(Exception):
    """Base class of every error cites-guard raises on purpose.

    Catch this to handle any cites-guard failure; the subclass says which part failed.
    """


class ConfigError(CitesGuardError):
    """Settings are invalid: a config file cannot be read or a value is out of range.

    Fix the value the message names; the message lists the valid choices where there are any.
    """


class TaxonomyError(CitesGuardError):
    """Taxonomy data is invalid: a bundled or user-supplied taxon, term or look-alike entry.

    The message names the file, line and field. Correct the entry, or drop the extra file.
    """


class InputError(CitesGuardError):
    """One input record cannot be assessed.

    Raised for records that are not JSON, lack an ``id``, or have a field of the wrong type.
    Batch entry points never let it stop the batch: they collect it and go on.

    Attributes:
        record: 1-based line (or row) number of the record in its input, when known.
        field: The offending field, when one field is to blame.
        reason: What is wrong, in words.
    """

    @classmethod
    def from_validation(cls, exc: Exception, *, record: int | None = None) -> InputError:
        """The first problem of a pydantic ``ValidationError``, naming its field.

        Kept duck-typed (``exc.errors()``) so this module imports nothing but the stdlib.
        """
        errors = getattr(exc, "errors", None)
        problems = errors() if callable(errors) else []
        if not problems:
            return cls(str(exc), record=record)
        first = problems[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        return cls(str(first.get("msg", exc)), record=record, field=field)

    def __init__(self, reason: str, *, record: int | None = None, field: str | None = None) -> None:
        """Build the error from its reason, record number and field."""
        self.reason = reason
        self.record = record
        self.field = field
        where = []
        if record is not None:
            where.append(f"record {record}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + reason)


class DetectorError(CitesGuardError):
    """A detector added to the registry returned a hit that is not valid evidence.

    A negative or non-integer offset, a kind that is not an evidence kind, text that is
    not a string: :meth:`~cites_guard.detectors.DetectorRegistry.detect` checks the hits of
    every detector but the built-in one as they come.

    Fix the detector named in the message; the built-in term detector never raises this.
    """


class ModelError(CitesGuardError):
    """The scoring model cannot be loaded or run.

    Check the model directory named in the message (``model.onnx``, ``tokenizer.json``,
    ``manifest.json``), or reinstall cites-guard to restore the bundled model.
    """


class ModelIntegrityError(ModelError):
    """A model file's SHA-256 differs from the one recorded in its manifest.

    The file was altered or corrupted after release. Never score with it: reinstall the
    package, or retrain and re-export so that a fresh manifest is written.
    """


class TrainingError(CitesGuardError):
    """The training pipeline cannot run.

    Usually the ``train`` extra is missing (``pip install 'cites-guard[train]'``) or a
    ``--data`` file is unusable; the message says which.
    """


class ReportError(CitesGuardError):
    """Building, storing or sending an enforcement report failed."""


class ReportValidationError(ReportError):
    """A report does not satisfy the report schema; the message lists each violation."""


class OutboxError(ReportError):
    """The durable outbox (SQLite) cannot be opened or written.

    Check the path and its permissions; nothing was lost, since a failed enqueue writes nothing.
    """


class ReportSignatureError(ReportError):
    """A delivery's Standard Webhooks signature or timestamp failed verification.

    Raised by the receiver side (:func:`cites_guard.receiver.serve` answers 401). Check that
    sender and receiver share a signing secret and that both clocks are within five minutes.
    The message never contains a secret or a signature.
    """


class ReportDeliveryError(ReportError):
    """The reporting endpoint refused a report, or it could not be delivered in time.

    Attributes:
        report_id: The report's UUID (the idempotency key).
        attempts: How many delivery attempts were made.
        status: The last HTTP status received, or ``None`` for network failures.
    """

    def __init__(
        self,
        message: str,
        *,
        report_id: str,
        attempts: int,
        status: int | None = None,
    ) -> None:
        """Build the error from the report id, attempt count and last status."""
        self.report_id = report_id
        self.attempts = attempts
        self.status = status
        super().__init__(f"{message} (report {report_id}, attempts {attempts}, status {status})")


class ReportAuthError(ReportDeliveryError):
    """The endpoint answered 401 or 403: our credentials or signature were refused.

    The sender stops at once instead of burning retries. Check the bearer token and the
    signing secret configured for the endpoint, then run ``cites-guard reports flush``.
    """

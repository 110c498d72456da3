"""The sender: drains the outbox to the enforcement endpoint, signed, idempotent, bounded.

Status handling (the contract documented in ``docs/reporting.md``):

* 2xx, 409, or an answer whose JSON says ``"duplicate": true``: delivered, receipt kept.
* 401, 403: our credentials were refused. The sender stops and raises
  :class:`~cites_guard.errors.ReportAuthError`; no row is dead-lettered for it.
* 429, 503: the receiver asks us to wait. ``Retry-After`` (seconds or HTTP date) is honoured
  and the rest of the flush pauses too, since the next request would be refused alike.
* Other 5xx, 408, timeouts, connection errors: exponential backoff with jitter, a few times
  within the flush (tenacity), then the row is deferred; it goes dead ("exhausted") once its
  attempts or age pass the configured bounds.
* Any other status (4xx, unexpected 3xx): permanent. The row is dead-lettered ("rejected")
  with the response, and never resent unchanged.

Foreign exceptions are converted at one point each: :func:`_map_requests` for requests and
:func:`_map_retry_error` for tenacity; the outbox converts sqlite3 itself.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from importlib import metadata
from typing import Any

import requests
import tenacity

from cites_guard._settings import ReportSettings
from cites_guard._signing import signature_headers
from cites_guard.errors import ReportAuthError, ReportDeliveryError
from cites_guard.outbox import Outbox, OutboxRow

__all__ = ["FlushResult", "Sender", "describe_receipt", "parse_retry_after"]

logger = logging.getLogger("cites_guard.report.delivery")

_MAX_KEPT_RESPONSE = 65_536


def _user_agent() -> str:
    try:
        version = metadata.version("cites-guard")
    except metadata.PackageNotFoundError:  # running from a source tree
        version = "0"
    return f"cites-guard/{version} (+enforcement-reporting)"


class _TransientError(ReportDeliveryError):
    """A failure worth retrying: 5xx, 408, 429, timeouts, connection errors."""

    def __init__(
        self,
        message: str,
        *,
        report_id: str,
        attempts: int,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, report_id=report_id, attempts=attempts, status=status)
        self.retry_after = retry_after


class _RejectedError(ReportDeliveryError):
    """A permanent refusal; ``response`` keeps what the receiver said."""

    def __init__(
        self, message: str, *, report_id: str, attempts: int, status: int, response: str
    ) -> None:
        super().__init__(message, report_id=report_id, attempts=attempts, status=status)
        self.response = response


class _LeaseLostError(ReportDeliveryError):
    """Another sender took the row (our lease ran out): leave it to them, send nothing."""


@dataclass(frozen=True, slots=True)
class _Delivered:
    status: int
    receipt: str


@dataclass(slots=True)
class FlushResult:
    """What one :meth:`Sender.flush` did.

    Attributes:
        sent: Reports delivered (including those the receiver already had).
        deferred: Reports that failed transiently and wait for a later flush.
        dead: Reports dead-lettered during this flush.
        attempts: HTTP requests made.
        stopped: True when the flush stopped on a 401/403.
    """

    sent: int = 0
    deferred: int = 0
    dead: int = 0
    attempts: int = 0
    stopped: bool = False
    report_ids_sent: list[str] = field(default_factory=list)


class _StopWhen(tenacity.stop.stop_base):
    """A tenacity stop condition from a predicate (combinable with ``|``)."""

    def __init__(self, predicate: Callable[[tenacity.RetryCallState], bool]) -> None:
        self._predicate = predicate

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self._predicate(retry_state)


@contextlib.contextmanager
def _map_requests(report_id: str, attempts: int) -> Iterator[None]:
    """Turn every requests exception into a transient delivery error, keeping the cause."""
    try:
        yield
    except requests.Timeout as exc:
        raise _TransientError("timed out", report_id=report_id, attempts=attempts) from exc
    except requests.ConnectionError as exc:
        raise _TransientError("connection failed", report_id=report_id, attempts=attempts) from exc
    except requests.RequestException as exc:
        raise _TransientError(
            f"request failed ({type(exc).__name__})", report_id=report_id, attempts=attempts
        ) from exc


@contextlib.contextmanager
def _map_retry_error(report_id: str) -> Iterator[None]:
    """Turn tenacity's ``RetryError`` into the last delivery error, keeping the cause."""
    try:
        yield
    except tenacity.RetryError as exc:
        last = exc.last_attempt.exception()
        if isinstance(last, ReportDeliveryError):
            raise last from exc
        raise ReportDeliveryError(
            "delivery gave up", report_id=report_id, attempts=exc.last_attempt.attempt_number
        ) from exc


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Return the wait ``Retry-After`` asks for, in seconds, or ``None`` if absent or invalid.

    Example:
        >>> parse_retry_after("7", now=0.0)
        7.0
        >>> parse_retry_after("soon", now=0.0) is None
        True
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def _says_duplicate(response: requests.Response) -> bool:
    try:
        data = response.json()
    except ValueError:
        return False
    return isinstance(data, dict) and (
        data.get("duplicate") is True or data.get("status") == "duplicate"
    )


def _receipt(response: requests.Response) -> str:
    kept = {k: response.headers[k] for k in ("Date", "Location") if k in response.headers}
    return json.dumps(
        {
            "status": response.status_code,
            "headers": kept,
            "body": response.text[:_MAX_KEPT_RESPONSE],
        },
        ensure_ascii=False,
        sort_keys=True,
    )


class Sender:
    """Delivers outbox rows to the configured endpoint.

    Several senders (threads or processes) may drain one outbox; leases keep them apart.

    Args:
        settings: Endpoint, secrets, timeouts and bounds.
        outbox: The outbox to drain.
        session: A requests session to reuse (tests pass one); a new one by default.
        owner: Lease owner name; unique per sender by default.
        sleep: Called for in-flush waits (tests pass a fake).
    """

    def __init__(
        self,
        settings: ReportSettings,
        outbox: Outbox,
        *,
        session: requests.Session | None = None,
        owner: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """Build a sender; nothing is sent until :meth:`flush`."""
        self.settings = settings
        self.outbox = outbox
        self.owner = owner or f"sender-{uuid.uuid4()}"
        self._session = session or requests.Session()
        self._verify: bool | str = str(settings.ca_bundle) if settings.ca_bundle else True
        self._sleep = sleep
        self._paused_until = 0.0
        self._stopped = threading.Event()
        self._user_agent = _user_agent()

    def __repr__(self) -> str:
        """Show the endpoint and owner, never a secret."""
        return f"Sender(endpoint={self.settings.endpoint_url!r}, owner={self.owner!r})"

    @property
    def stopped(self) -> bool:
        """True after a 401/403 stopped this sender."""
        return self._stopped.is_set()

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    # -- one request ---------------------------------------------------------------------

    def _headers(self, row: OutboxRow) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": self._user_agent,
            "Idempotency-Key": f'"{row.report_id}"',
            **signature_headers(row.report_id, row.body, self.settings.secret_values()),
        }
        if self.settings.bearer_token is not None:
            headers["Authorization"] = f"Bearer {self.settings.bearer_token.get_secret_value()}"
        return headers

    def _classify(self, response: requests.Response, report_id: str, attempts: int) -> _Delivered:
        status = response.status_code
        if 200 <= status < 300 or status == 409 or (status == 422 and _says_duplicate(response)):
            return _Delivered(status=status, receipt=_receipt(response))
        if status in (401, 403):
            raise ReportAuthError(
                "the endpoint refused our credentials; check the bearer token and signing"
                " secret, then flush again",
                report_id=report_id,
                attempts=attempts,
                status=status,
            )
        if status in (429, 503):
            wait = parse_retry_after(response.headers.get("Retry-After"), now=time.time())
            if wait is not None:
                wait = min(wait, self.settings.retry_after_max)
            raise _TransientError(
                "receiver asked to retry later", report_id=report_id, attempts=attempts,
                status=status, retry_after=wait,
            )  # fmt: skip
        if status >= 500 or status == 408:
            raise _TransientError(
                "receiver error", report_id=report_id, attempts=attempts, status=status
            )
        raise _RejectedError(
            "receiver rejected the report",
            report_id=report_id,
            attempts=attempts,
            status=status,
            response=response.text[:_MAX_KEPT_RESPONSE],
        )

    def _post_once(self, row: OutboxRow, counter: list[int]) -> _Delivered:
        attempts = self.outbox.record_attempt(
            row.id, self.owner, lease_seconds=self.settings.lease_seconds
        )
        if attempts is None:
            raise _LeaseLostError(
                "lease lost to another sender", report_id=row.report_id, attempts=counter[0]
            )
        counter[0] = attempts
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        with _map_requests(row.report_id, attempts):
            response = self._session.post(
                self.settings.endpoint_url,
                data=row.body,
                headers=self._headers(row),
                timeout=timeout,
                verify=self._verify,
                allow_redirects=False,
            )
        with response:
            return self._classify(response, row.report_id, attempts)

    # -- one row -------------------------------------------------------------------------

    def _in_flush_wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _TransientError) and exc.retry_after is not None:
            return float(exc.retry_after)
        base = self.settings.backoff_initial * 2.0 ** (state.attempt_number - 1)
        return min(self.settings.backoff_max, base) * random.uniform(0.5, 1.0)

    def _deliver(self, row: OutboxRow, result: FlushResult) -> None:
        counter = [row.attempts]
        settings = self.settings
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_TransientError),
            wait=self._in_flush_wait,
            stop=(
                tenacity.stop_after_attempt(settings.attempts_per_flush)
                | _StopWhen(lambda s: (s.upcoming_sleep or 0.0) > settings.in_flush_wait_max)
                | _StopWhen(lambda _s: counter[0] >= settings.max_attempts)
            ),
            sleep=self._sleep,
            reraise=False,
        )
        before = counter[0]
        try:
            with _map_retry_error(row.report_id):
                delivered = retrying(self._post_once, row, counter)
        except ReportAuthError:
            result.attempts += counter[0] - before
            self.outbox.release(row.id, self.owner)
            raise
        except _LeaseLostError:
            result.attempts += counter[0] - before
            logger.info("report %s: lease lost to another sender, skipped", row.report_id)
            return
        except _RejectedError as exc:
            result.attempts += counter[0] - before
            logger.warning(
                "report %s rejected with status %s: dead-lettered", row.report_id, exc.status
            )
            self.outbox.mark_dead(
                row.id, kind="rejected", error=str(exc), status=exc.status, response=exc.response
            )
            result.dead += 1
            return
        except ReportDeliveryError as exc:
            result.attempts += counter[0] - before
            self._defer_or_bury(row, exc, counter[0], result)
            return
        result.attempts += counter[0] - before
        self.outbox.mark_sent(row.id, receipt=delivered.receipt, status=delivered.status)
        result.sent += 1
        result.report_ids_sent.append(row.report_id)
        logger.info("report %s delivered (status %s)", row.report_id, delivered.status)

    def _defer_or_bury(
        self, row: OutboxRow, exc: ReportDeliveryError, attempts: int, result: FlushResult
    ) -> None:
        now = time.time()
        settings = self.settings
        if attempts >= settings.max_attempts or now - row.created_at >= settings.max_age_seconds:
            logger.error("report %s dead after %s attempts: %s", row.report_id, attempts, exc)
            self.outbox.mark_dead(row.id, kind="exhausted", error=str(exc), status=exc.status)
            result.dead += 1
            return
        retry_after = exc.retry_after if isinstance(exc, _TransientError) else None
        if retry_after is not None:
            wait = retry_after
        else:
            base = settings.backoff_initial * 2.0 ** max(0, attempts - 1)
            wait = min(settings.backoff_max, base) * random.uniform(0.5, 1.0)
        # The endpoint is unwell: pause this flush rather than hammer it row after row.
        self._paused_until = max(self._paused_until, now + wait)
        self.outbox.defer(row.id, error=str(exc), status=exc.status, next_attempt_at=now + wait)
        result.deferred += 1
        logger.info("report %s deferred %.1f s: %s", row.report_id, wait, exc)

    # -- the drain loop ------------------------------------------------------------------

    def flush(self, *, max_seconds: float | None = None) -> FlushResult:
        """Send every due report once (with in-flush retries) and return what happened.

        Stops early when the endpoint fails (rows are deferred with backoff), after
        ``max_seconds``, or on 401/403.

        Raises:
            ReportAuthError: The endpoint refused our credentials; the sender is stopped.
            OutboxError: The outbox cannot be read or written.
        """
        result = FlushResult()
        if self._stopped.is_set():
            result.stopped = True
            return result
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        self._paused_until = 0.0
        while deadline is None or time.monotonic() < deadline:
            rows = self.outbox.claim(
                self.owner,
                limit=self.settings.batch_size,
                lease_seconds=self.settings.lease_seconds,
            )
            if not rows:
                break
            for index, row in enumerate(rows):
                over_time = deadline is not None and time.monotonic() >= deadline
                if over_time or self._paused_until > time.time():
                    for rest in rows[index:]:
                        self.outbox.release(rest.id, self.owner)
                    return result
                if self._bury_if_too_old(row, result):
                    continue
                try:
                    self._deliver(row, result)
                except ReportAuthError:
                    self._stopped.set()
                    result.stopped = True
                    for rest in rows[index + 1 :]:
                        self.outbox.release(rest.id, self.owner)
                    logger.error("sender stopped: the endpoint refused our credentials")  # noqa: TRY400 - expected stop, no traceback wanted
                    raise
                except BaseException:
                    for rest in rows[index:]:
                        self.outbox.release(rest.id, self.owner)
                    raise
        return result

    def _bury_if_too_old(self, row: OutboxRow, result: FlushResult) -> bool:
        if time.time() - row.created_at < self.settings.max_age_seconds:
            return False
        self.outbox.mark_dead(
            row.id, kind="exhausted", error="older than max_age_seconds", status=row.last_status
        )
        result.dead += 1
        return True


def describe_receipt(receipt: str | None) -> dict[str, Any] | None:
    """Decode a stored receipt for display."""
    if receipt is None:
        return None
    try:
        value = json.loads(receipt)
    except ValueError:
        return {"raw": receipt}
    return value if isinstance(value, dict) else {"raw": value}

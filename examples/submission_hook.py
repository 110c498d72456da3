"""Reference integration: check every new ad with cites-guard before it is published.

A minimal marketplace-side web service. ``POST /listings`` takes one ad as JSON, validates it,
asks one shared :class:`~cites_guard.Guard` for a verdict (synchronously, a millisecond or
two) and answers:

* ``201 {"published": true, ...}`` when the guard allows the ad;
* ``202 {"published": false, "held_for_review": true, ...}`` when a moderator must look first;
* ``403 {"published": false, "blocked": true, "reasons": [...]}`` when it is blocked; the
  reasons name the taxon, its CITES Appendix and the words of the ad that gave it away, and
  an enforcement report is queued in the durable outbox (``Reporter.maybe_enqueue``; it never
  waits on the network);
* ``400`` for a body that is not a JSON object, lacks an ``id`` or is not a valid listing.

Run it::

    python examples/submission_hook.py --port 8080 [--outbox FILE]

Reporting is configured by the ``CITES_GUARD_REPORT_*`` environment variables (see
``docs/reporting.md``); without them the service runs without reporting and says so. Reports
are delivered by a background thread (``--flush-every``) or by ``cites-guard reports flush``.
Tests build the server with :func:`make_server`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cites_guard import (
    Assessment,
    CitesGuardError,
    Guard,
    InputError,
    Listing,
    Reporter,
    ReportSettings,
    Settings,
)

logger = logging.getLogger("submission_hook")

#: Ads are small; a larger body is refused before it is read (a cheap denial-of-service guard).
MAX_BODY_BYTES = 1_000_000
_REPORT_ENV_PREFIXES = ("CITES_GUARD_REPORT_", "CITES_GUARD_REPORTER_")


class SubmissionServer(ThreadingHTTPServer):
    """The HTTP server: one thread per request, all sharing one guard and one reporter."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], guard: Guard, reporter: Reporter | None) -> None:
        """Bind to ``address``; ``reporter`` may be ``None`` to run without reporting."""
        self.guard = guard
        self.reporter = reporter
        super().__init__(address, SubmissionHandler)

    @property
    def url(self) -> str:
        """Base URL of the running server (useful with port 0)."""
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class SubmissionHandler(BaseHTTPRequestHandler):
    """Handles ``POST /listings``; everything else is 404 or 405."""

    server: SubmissionServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        """Validate, assess, queue a report if the policy says so, answer by decision."""
        if self.path.rstrip("/") != "/listings":
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {self.path}"})
            return
        data = self._read_json()
        if data is None:
            return
        try:
            listing = Listing.model_validate(data)
        except ValidationError as exc:
            problem = InputError.from_validation(exc)
            self._answer(HTTPStatus.BAD_REQUEST, {"error": f"invalid listing: {problem}"})
            return
        try:
            assessment = self.server.guard.assess(listing)
        except CitesGuardError:
            # Fail closed: an ad nobody could check is not published.
            logger.exception("assessment failed for listing %s", listing.id)
            self._answer(
                HTTPStatus.SERVICE_UNAVAILABLE,
                {"published": False, "error": "the listing could not be checked; retry later"},
            )
            return
        if not self._report(listing, assessment):
            return
        if assessment.decision == "allow":
            # Your marketplace publishes the ad here...
            self._answer(HTTPStatus.CREATED, _verdict(assessment, published=True))
        elif assessment.decision == "review":
            # ...or puts it in the moderation queue here.
            body = {**_verdict(assessment, published=False), "held_for_review": True}
            self._answer(HTTPStatus.ACCEPTED, body)
        else:
            body = {
                **_verdict(assessment, published=False),
                "blocked": True,
                "reasons": _reasons(assessment),
            }
            self._answer(HTTPStatus.FORBIDDEN, body)

    def do_GET(self) -> None:
        """A health check for load balancers: ``GET /healthz``."""
        if self.path.rstrip("/") == "/healthz":
            self._answer(HTTPStatus.OK, {"ok": True, "model": self.server.guard.model_version})
        else:
            self._answer(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: {self.path}"})

    def _report(self, listing: Listing, assessment: Assessment) -> bool:
        """Queue a report when the reporter's policy says so (default: blocked ads).

        Returns ``False`` after answering 503 when the outbox could not be written: the ad is
        not published, the client retries, and the deterministic report id makes the retry
        queue the same case once.
        """
        reporter = self.server.reporter
        if reporter is None:
            return True
        try:
            report_id = reporter.maybe_enqueue(listing, assessment)
        except CitesGuardError:
            logger.exception("could not queue the report of listing %s", listing.id)
            self._answer(
                HTTPStatus.SERVICE_UNAVAILABLE,
                {"published": False, "error": "could not record the decision; retry later"},
            )
            return False
        finally:
            reporter.outbox.close()  # this request thread's SQLite connection
        if report_id is not None:
            # The report id goes to your logs, never to the seller.
            logger.info("listing %s: report %s queued", listing.id, report_id)
        return True

    def _read_json(self) -> dict[str, Any] | None:
        """The request body as a JSON object with an ``id``, or ``None`` after a 4xx."""
        length_header = self.headers.get("Content-Length")
        if length_header is None or not length_header.isdigit():
            self._answer(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length is required"})
            return None
        length = int(length_header)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            self._answer(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                {"error": f"body larger than {MAX_BODY_BYTES} bytes"},
            )
            return None
        raw = self.rfile.read(length)
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._answer(HTTPStatus.BAD_REQUEST, {"error": f"body is not valid JSON: {exc}"})
            return None
        if not isinstance(data, dict):
            self._answer(HTTPStatus.BAD_REQUEST, {"error": "body must be a JSON object (one ad)"})
            return None
        if data.get("id") in (None, ""):
            self._answer(HTTPStatus.BAD_REQUEST, {"error": "missing required field 'id'"})
            return None
        return data

    def _answer(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Route access logs through :mod:`logging` instead of raw stderr."""
        logger.debug("%s - %s", self.address_string(), format % args)


def _verdict(assessment: Assessment, *, published: bool) -> dict[str, Any]:
    return {
        "published": published,
        "id": assessment.listing_id,
        "decision": assessment.decision,
        "risk": assessment.risk,
    }


def _reasons(assessment: Assessment) -> list[dict[str, Any]]:
    """What the seller (or your moderators) is told: taxon, Appendix, the words that matched."""
    return [
        {
            "taxon": match.taxon,
            "common_name": match.common_name,
            "appendix": match.appendix,
            "evidence": sorted({e.text for e in match.evidence}),
        }
        for match in assessment.matches
    ]


def make_server(
    guard: Guard, reporter: Reporter | None, host: str = "127.0.0.1", port: int = 0
) -> SubmissionServer:
    """Build (and bind) the service; call ``serve_forever()`` on it, ``shutdown()`` to stop.

    Args:
        guard: The shared guard (build it once: loading the model is the slow part).
        reporter: Where blocked ads are reported, or ``None`` to run without reporting.
        host: Interface to bind; loopback by default.
        port: TCP port; 0 picks a free one (see :attr:`SubmissionServer.url`).
    """
    return SubmissionServer((host, port), guard, reporter)


def _flush_forever(settings: ReportSettings, every: float, stop: threading.Event) -> None:
    """Deliver queued reports every ``every`` seconds with this thread's own Reporter."""
    with Reporter(settings) as flusher:
        while not stop.wait(every):
            try:
                result = flusher.flush(max_seconds=every)
            except CitesGuardError:
                logger.exception("report delivery stopped; fix the credentials and restart")
                return
            logger.info("report flush: %s", result)


def _report_settings(outbox: str | None) -> ReportSettings | None:
    """Settings from the environment, or ``None`` (with a note) when reporting is not set up."""
    if not any(name.startswith(_REPORT_ENV_PREFIXES) for name in os.environ):
        sys.stderr.write(
            "submission_hook: CITES_GUARD_REPORT_* not set: running WITHOUT enforcement "
            "reporting (blocked ads are refused but not reported)\n"
        )
        if outbox:
            sys.stderr.write("submission_hook: --outbox ignored without reporting settings\n")
        return None
    settings = ReportSettings.from_env()  # half-configured reporting is an error, not a no-op
    if outbox:
        settings = settings.model_copy(update={"outbox_path": Path(outbox)})
    return settings


def main(argv: list[str] | None = None) -> int:
    """Run the service until Ctrl-C; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: loopback)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (0: any free port)")
    parser.add_argument("--outbox", help="report outbox file (overrides the environment)")
    parser.add_argument("--settings", help="cites-guard settings file (TOML or JSON)")
    parser.add_argument(
        "--flush-every", type=float, default=30.0, help="seconds between report deliveries"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        guard = Guard.default(Settings.from_file(args.settings) if args.settings else None)
        report_settings = _report_settings(args.outbox)
    except CitesGuardError as exc:
        sys.stderr.write(f"submission_hook: error: {exc}\n")
        return 2
    reporter = Reporter(report_settings) if report_settings else None
    stop = threading.Event()
    if report_settings is not None:
        flusher = threading.Thread(
            target=_flush_forever, args=(report_settings, args.flush_every, stop), daemon=True
        )
        flusher.start()
    server = make_server(guard, reporter, args.host, args.port)
    sys.stderr.write(f"submission_hook: listening on {server.url}/listings\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
        if reporter is not None:
            reporter.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

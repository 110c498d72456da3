"""Standard Webhooks signatures, shared by the sender and the reference receiver.

A delivery is signed over ``<webhook-id>.<webhook-timestamp>.<raw body>`` with HMAC-SHA256 and
sent as ``webhook-signature: v1,<base64>``. During a secret rotation the sender signs with every
active secret (space-separated entries) and the receiver accepts any one that matches, so the
two sides can switch secrets without a flag day. Secrets of the form ``whsec_<base64>`` are
decoded as the Standard Webhooks libraries do; any other string is used as its UTF-8 bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence

from cites_guard.errors import ReportSignatureError

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "secret_key", "sign", "signature_headers", "verify"]

#: How far a timestamp may be from the receiver's clock; the Standard Webhooks recommendation.
DEFAULT_TOLERANCE_SECONDS = 300

_PREFIX = "whsec_"
_VERSION = "v1"


def secret_key(secret: str) -> bytes:
    """Return the HMAC key bytes of a signing secret.

    Args:
        secret: ``whsec_<base64>`` or any other non-empty string.

    Returns:
        The decoded key for ``whsec_`` secrets, else the UTF-8 bytes of the string.

    Raises:
        ReportSignatureError: The secret is empty or its ``whsec_`` part is not base64.

    Example:
        >>> secret_key("whsec_c2VjcmV0")
        b'secret'
    """
    if not secret:
        raise ReportSignatureError("empty signing secret: configure a non-empty secret")
    if secret.startswith(_PREFIX):
        try:
            return base64.b64decode(secret[len(_PREFIX) :], validate=True)
        except (binascii.Error, ValueError) as exc:
            # The message must not echo the secret itself.
            raise ReportSignatureError(
                "a whsec_ signing secret is not valid base64: regenerate it"
            ) from exc
    return secret.encode("utf-8")


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = msg_id.encode("utf-8") + b"." + str(timestamp).encode("ascii") + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def sign(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> str:
    """Return the ``webhook-signature`` header value: one ``v1,<base64>`` entry per secret.

    Example:
        >>> sign("msg_1", 1700000000, b"{}", ["whsec_c2VjcmV0"])[:3]
        'v1,'
    """
    if not secrets:
        raise ReportSignatureError("no signing secret configured: set at least one secret")
    return " ".join(
        f"{_VERSION},{_digest(secret_key(s), msg_id, timestamp, body)}" for s in secrets
    )


def signature_headers(
    msg_id: str, body: bytes, secrets: Sequence[str], *, timestamp: int | None = None
) -> dict[str, str]:
    """Return the three Standard Webhooks headers for one delivery attempt.

    The timestamp is taken now (each attempt is signed afresh, so a retry hours later is not
    refused as stale); the id stays the same across retries, as the specification asks.
    """
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": sign(msg_id, ts, body, secrets),
    }


def verify(
    headers: Mapping[str, str],
    body: bytes,
    secrets: Sequence[str],
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> str:
    """Check a delivery's signature and timestamp; return its ``webhook-id``.

    Header names are matched case-insensitively. Every ``v1`` entry is compared with every
    secret in constant time, so rotation works in both directions.

    Raises:
        ReportSignatureError: A header is missing, the timestamp is outside ``tolerance``
            seconds of ``now``, or no signature matches. The message names the reason only.
    """
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id")
    raw_ts = lower.get("webhook-timestamp")
    raw_sig = lower.get("webhook-signature")
    if not msg_id or not raw_ts or not raw_sig:
        raise ReportSignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(raw_ts)
    except ValueError as exc:
        raise ReportSignatureError("webhook-timestamp is not integer Unix seconds") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise ReportSignatureError(
            f"webhook-timestamp is more than {tolerance} s from the receiver clock"
        )
    offered = [
        entry.partition(",")[2] for entry in raw_sig.split() if entry.partition(",")[0] == _VERSION
    ]
    for secret in secrets:
        expected = _digest(secret_key(secret), msg_id, timestamp, body)
        # Compare with every entry, not just until the first match, to keep timing flat.
        matched = False
        for candidate in offered:
            matched |= hmac.compare_digest(expected.encode(), candidate.encode())
        if matched:
            return msg_id
    raise ReportSignatureError("no webhook-signature entry matches a configured secret")

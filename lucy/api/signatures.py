"""Signed event requests: HMAC-SHA256 over the timestamp and the exact body (pure).

The header is ``X-Lucy-Signature: t=<unix seconds>,v1=<hex digest>`` where the digest is
``HMAC-SHA256(secret, f"{t}." + body)``. A request is accepted within ``tolerance`` seconds of
its timestamp (either side: clocks drift), so a captured request cannot be replayed later; an
event id seen twice is applied once anyway.
"""

from __future__ import annotations

import hashlib
import hmac

from lucy.errors import AuthenticationError

SIGNATURE_HEADER = "X-Lucy-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify(
    secret: bytes,
    header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Raise ``AuthenticationError`` saying why, unless ``header`` signs ``body`` in time."""
    if not header:
        raise AuthenticationError(f"missing {SIGNATURE_HEADER} header")
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, []).append(value)
    try:
        timestamp = int(fields["t"][0])
    except (KeyError, ValueError):
        raise AuthenticationError(f"{SIGNATURE_HEADER} has no valid t=<unix seconds>") from None
    if abs(now - timestamp) > tolerance:
        raise AuthenticationError(
            f"the signature's timestamp is {abs(now - timestamp):.0f}s away from now; "
            f"the limit is {tolerance:.0f}s"
        )
    expected = _digest(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, given) for given in fields.get("v1", [])):
        raise AuthenticationError("the signature does not match the body")


def _digest(secret: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()

"""PagerDuty v3 webhooks: signatures and incident events (pure; no HTTP).

PagerDuty signs the raw request body with each active subscription secret and
sends ``X-PagerDuty-Signature: v1=<hex HMAC-SHA256>[,v1=<hex>...]`` (several
while a secret rotates). A delivery carries one event: ``{"event": {...}}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slaengine.errors import InvalidEventError

SIGNATURE_HEADER = "X-PagerDuty-Signature"
SIGNATURE_VERSION = "v1"
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
MAX_SIGNATURES = 16
TRACKED_EVENT_TYPES = frozenset(
    {
        "incident.triggered",
        "incident.acknowledged",
        "incident.unacknowledged",
        "incident.escalated",
        "incident.reassigned",
        "incident.reopened",
        "incident.resolved",
    }
)


def sign_body(body: bytes, secret: str) -> str:
    """The header value PagerDuty would send for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def verify_signature(body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """True when any v1 signature in ``header`` matches the body under any secret; a malformed
    header (not hex, non-ASCII, too many parts) is simply not a match."""
    if not header:
        return False
    offered = []
    for part in header.split(",")[:MAX_SIGNATURES]:
        version, _, digest = part.strip().partition("=")
        digest = digest.strip().lower()
        if version == SIGNATURE_VERSION and _HEX_DIGEST.fullmatch(digest):
            offered.append(digest)
    for secret in secrets:
        if not secret:
            continue
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if any(hmac.compare_digest(expected, digest) for digest in offered):
            return True
    return False


@dataclass(frozen=True)
class IncidentEvent:
    """One incident transition reported by a webhook."""

    event_id: str
    event_type: str
    occurred_at: datetime
    incident_id: str
    incident_key: str
    incident_number: int | None = None
    title: str = ""
    status: str = ""
    urgency: str = ""
    service_id: str = ""
    service_name: str = ""


def _parse_time(value: Any, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as err:
        raise InvalidEventError(
            "bad_timestamp", f"{field} is not an ISO 8601 time: {value!r}"
        ) from err
    if parsed.tzinfo is None:
        raise InvalidEventError("bad_timestamp", f"{field} lacks a UTC offset: {value!r}")
    return parsed


def parse_webhook(body: bytes) -> IncidentEvent | None:
    """The incident event in a v3 delivery; None for event types we do not track."""
    try:
        document = json.loads(body)
    except RecursionError as err:
        raise InvalidEventError("bad_json", "body is JSON nested too deeply") from err
    except ValueError as err:  # not JSON, not UTF-8, an integer of thousands of digits
        raise InvalidEventError("bad_json", f"body is not JSON: {err}") from err
    event = document.get("event") if isinstance(document, dict) else None
    if not isinstance(event, dict):
        raise InvalidEventError("no_event", "body has no 'event' object")
    for key in ("id", "event_type", "occurred_at"):
        if not isinstance(event.get(key), str) or not event[key]:
            raise InvalidEventError("missing_field", f"event.{key} is missing")
    if event["event_type"] not in TRACKED_EVENT_TYPES:
        return None
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise InvalidEventError("missing_field", "event.data.id is missing")
    service: dict[str, Any] = data["service"] if isinstance(data.get("service"), dict) else {}
    number = data.get("number")
    return IncidentEvent(
        event_id=event["id"],
        event_type=event["event_type"],
        occurred_at=_parse_time(event["occurred_at"], "event.occurred_at"),
        incident_id=data["id"],
        incident_key=str(data.get("incident_key") or ""),
        incident_number=number if isinstance(number, int) else None,
        title=str(data.get("title") or ""),
        status=str(data.get("status") or ""),
        urgency=str(data.get("urgency") or ""),
        service_id=str(service.get("id") or ""),
        service_name=str(service.get("summary") or ""),
    )

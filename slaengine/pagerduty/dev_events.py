"""Events API v2 semantics for the local contract server (pure state; no HTTP).

Follows PagerDuty's documented contract: validation errors in the
``invalid event`` shape, about 120 events per minute per routing key over a
look-back window, and de-duplication: a trigger on an open ``dedup_key``
updates its alert, acknowledge/resolve act on it, and a trigger after resolve
opens a new alert and incident. Acknowledge/resolve for unknown or resolved
keys are accepted and dropped, as PagerDuty does.
"""

from __future__ import annotations

import math
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
ROUTING_KEY_LENGTH = 32
SUMMARY_LIMIT = 1024
DEDUP_KEY_LIMIT = 255
RATE_LIMIT_PER_MINUTE = 120
RATE_WINDOW_SECONDS = 60.0


class InvalidEnqueue(Exception):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


class EnqueueThrottled(Exception):
    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"retry after {retry_after:g}s")


@dataclass
class DevAlert:
    id: str
    routing_key: str
    dedup_key: str
    status: str  # triggered | acknowledged | resolved
    summary: str
    severity: str
    source: str
    created_at: datetime
    updated_at: datetime
    incident_id: str
    count: int = 1  # trigger events applied to this alert
    payload: dict[str, Any] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class DevIncident:
    id: str
    number: int
    incident_key: str
    title: str
    status: str  # triggered | acknowledged | resolved
    urgency: str
    service_id: str
    created_at: datetime
    updated_at: datetime
    alert_id: str
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    escalation_level: int = 1


@dataclass(frozen=True)
class IncidentChange:
    """An incident transition, the thing a v3 webhook reports."""

    event_type: str  # incident.triggered | .acknowledged | .escalated | .resolved
    incident: DevIncident
    occurred_at: datetime


def validate_event(body: Any) -> list[str]:
    """PagerDuty-style error strings; empty when the event is valid."""
    if not isinstance(body, dict):
        return ["Event object is not a JSON object"]
    errors = []
    key = body.get("routing_key")
    if not isinstance(key, str) or not key.strip():
        errors.append("'routing_key' is missing or blank")
    elif len(key) != ROUTING_KEY_LENGTH:
        errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    action = body.get("event_action")
    if action not in ACTIONS:
        errors.append(
            "'event_action' is invalid (must be one of the following: "
            "'trigger', 'acknowledge' or 'resolve')"
        )
    dedup = body.get("dedup_key")
    if dedup is not None and (not isinstance(dedup, str) or len(dedup) > DEDUP_KEY_LIMIT):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not dedup:
        errors.append("'dedup_key' is missing or blank")
    if action == "trigger":
        errors.extend(_validate_payload(body.get("payload")))
    links = body.get("links", [])
    if not isinstance(links, list) or any(
        not isinstance(x, dict) or "href" not in x for x in links
    ):
        errors.append("'links' must be a list of objects with 'href'")
    return errors


def _validate_payload(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > SUMMARY_LIMIT:
        errors.append("Length of 'payload.summary' is too long (maximum is 1024 characters)")
    source = payload.get("source")
    if not isinstance(source, str) or not source.strip():
        errors.append("'payload.source' is missing or blank")
    if payload.get("severity") not in SEVERITIES:
        errors.append(
            "'payload.severity' is invalid (must be one of the following: "
            "'critical', 'warning', 'error' or 'info')"
        )
    stamp = payload.get("timestamp")
    if stamp is not None:
        try:
            datetime.fromisoformat(str(stamp))
        except ValueError:
            errors.append("'payload.timestamp' is not a valid ISO 8601 timestamp")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict | str):
        errors.append("'payload.custom_details' must be an object")
    return errors


class RateWindow:
    """Accepted events per routing key over a look-back window of RATE_WINDOW_SECONDS."""

    def __init__(self, limit: int = RATE_LIMIT_PER_MINUTE) -> None:
        self.limit = limit
        self._seen: dict[str, deque[float]] = {}

    def admit(self, key: str, now: float) -> None:
        times = self._seen.setdefault(key, deque())
        while times and times[0] <= now - RATE_WINDOW_SECONDS:
            times.popleft()
        if len(times) >= self.limit:
            raise EnqueueThrottled(max(1.0, math.ceil(times[0] + RATE_WINDOW_SECONDS - now)))
        times.append(now)


def urgency_for(severity: str, rule: dict[str, Any] | None) -> str:
    urgency = (rule or {}).get("urgency", "severity_based")
    if urgency == "severity_based":
        return "high" if severity in ("critical", "error") else "low"
    return str(urgency)


@dataclass(frozen=True)
class ServiceRoute:
    service_id: str
    urgency_rule: dict[str, Any] | None


class EventsLedger:
    """Alerts and incidents created by Events API v2 traffic."""

    def __init__(
        self,
        clock: Callable[[], datetime],
        route_for_key: Callable[[str], ServiceRoute | None] = lambda key: None,
        rate_limit: int = RATE_LIMIT_PER_MINUTE,
    ) -> None:
        self.clock = clock
        self.route_for_key = route_for_key
        self.rate = RateWindow(rate_limit)
        self.alerts: dict[str, DevAlert] = {}
        self.incidents: dict[str, DevIncident] = {}
        self._open: dict[tuple[str, str], str] = {}  # (routing key, dedup key) -> alert id
        self._numbers = 0

    def enqueue(self, body: Any) -> tuple[str, list[IncidentChange]]:
        """Apply one event; returns its dedup_key and the incident transitions it caused."""
        errors = validate_event(body)
        if errors:
            raise InvalidEnqueue(errors)
        now = self.clock()
        self.rate.admit(body["routing_key"], now.timestamp())
        dedup_key = body.get("dedup_key") or uuid.uuid4().hex
        open_id = self._open.get((body["routing_key"], dedup_key))
        if body["event_action"] == "trigger":
            return dedup_key, self._trigger(body, dedup_key, open_id, now)
        if open_id is None:
            return dedup_key, []  # dropped: nothing open under this key
        incident = self.incidents[self.alerts[open_id].incident_id]
        if body["event_action"] == "acknowledge":
            return dedup_key, self.transition(incident.id, "acknowledge")
        return dedup_key, self.transition(incident.id, "resolve")

    def _trigger(
        self, body: dict[str, Any], dedup_key: str, open_id: str | None, now: datetime
    ) -> list[IncidentChange]:
        payload = body["payload"]
        if open_id is not None:
            alert = self.alerts[open_id]
            alert.count += 1
            alert.summary, alert.severity = payload["summary"], payload["severity"]
            alert.payload, alert.updated_at = payload, now
            return []
        route = self.route_for_key(body["routing_key"]) or ServiceRoute("PDEFAULT", None)
        self._numbers += 1
        alert_id, incident_id = f"Q{self._numbers:06d}", f"PI{self._numbers:05d}"
        self.alerts[alert_id] = DevAlert(
            id=alert_id,
            routing_key=body["routing_key"],
            dedup_key=dedup_key,
            status="triggered",
            summary=payload["summary"],
            severity=payload["severity"],
            source=payload["source"],
            created_at=now,
            updated_at=now,
            incident_id=incident_id,
            payload=payload,
            links=list(body.get("links", [])),
        )
        incident = DevIncident(
            id=incident_id,
            number=self._numbers,
            incident_key=dedup_key,
            title=payload["summary"],
            status="triggered",
            urgency=urgency_for(payload["severity"], route.urgency_rule),
            service_id=route.service_id,
            created_at=now,
            updated_at=now,
            alert_id=alert_id,
        )
        self.incidents[incident_id] = incident
        self._open[(body["routing_key"], dedup_key)] = alert_id
        return [IncidentChange("incident.triggered", incident, now)]

    def transition(self, incident_id: str, action: str) -> list[IncidentChange]:
        """Acknowledge, escalate or resolve an incident (also used by the /_dev endpoints)."""
        incident = self.incidents[incident_id]
        if incident.status == "resolved":
            return []
        now = self.clock()
        alert = self.alerts[incident.alert_id]
        incident.updated_at = alert.updated_at = now
        if action == "acknowledge":
            if incident.status == "acknowledged":
                return []
            incident.status = alert.status = "acknowledged"
            incident.acknowledged_at = now
            return [IncidentChange("incident.acknowledged", incident, now)]
        if action == "escalate":
            incident.escalation_level += 1
            incident.status = alert.status = "triggered"  # escalation re-notifies the next level
            return [IncidentChange("incident.escalated", incident, now)]
        if action == "resolve":
            incident.status = alert.status = "resolved"
            incident.resolved_at = now
            self._open.pop((alert.routing_key, alert.dedup_key), None)
            return [IncidentChange("incident.resolved", incident, now)]
        raise ValueError(f"unknown incident action {action!r}")

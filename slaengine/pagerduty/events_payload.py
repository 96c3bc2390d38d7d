"""Turn a Notification into a PagerDuty Events API v2 event (pure; no I/O).

One alert group is one PagerDuty alert: its ``dedup_key`` is the group key, so
re-fires update the open alert and a resolve closes it. The routing key is not
part of the event built here; the client adds it to the body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from slaengine.alerts import Alert, Notification

SUMMARY_LIMIT = 1024  # PagerDuty rejects longer payload.summary values
DEDUP_KEY_LIMIT = 255
MAX_DETAILED_ALERTS = 20  # keeps custom_details far below the 512 KB event limit
ELLIPSIS = "…"

# Our alert severities (plus "page") onto PagerDuty's four; a service whose
# urgency rule is severity_based turns critical/error into high urgency.
SEVERITY_TO_PAGERDUTY = {
    "critical": "critical",
    "page": "critical",
    "error": "error",
    "warning": "warning",
    "info": "info",
}
FALLBACK_SEVERITY = "warning"
_RANK = {"info": 0, "warning": 1, "error": 2, "critical": 3}


def map_severity(severity: str) -> str:
    return SEVERITY_TO_PAGERDUTY.get(severity.strip().lower(), FALLBACK_SEVERITY)


def truncate_summary(text: str, limit: int = SUMMARY_LIMIT) -> str:
    """Fit ``text`` into ``limit`` characters, marking a cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def dedup_key_for(group_key: str) -> str:
    """The group key, or a stable hash of it when it exceeds PagerDuty's 255 characters."""
    if len(group_key) <= DEDUP_KEY_LIMIT:
        return group_key
    return "sha256:" + hashlib.sha256(group_key.encode()).hexdigest()


def highest_severity(alerts: tuple[Alert, ...]) -> str:
    mapped = [map_severity(a.severity) for a in alerts] or [FALLBACK_SEVERITY]
    return max(mapped, key=_RANK.__getitem__)


def _first(key: str, common: Mapping[str, str], alerts: tuple[Alert, ...]) -> str:
    """A value from the common annotations, else from the first alert that has it."""
    if common.get(key):
        return common[key]
    return next((a.annotations[key] for a in alerts if a.annotations.get(key)), "")


def _label(key: str, notification: Notification) -> str:
    if notification.common_labels.get(key):
        return notification.common_labels[key]
    if notification.group_labels.get(key):
        return notification.group_labels[key]
    return next((a.labels[key] for a in notification.alerts if a.labels.get(key)), "")


def build_summary(notification: Notification) -> str:
    alertname = _label("alertname", notification) or "alert"
    text = _first("summary", notification.common_annotations, notification.alerts)
    if not text:
        scope = ", ".join(
            f"{k}={v}" for k, v in sorted(notification.group_labels.items()) if k != "alertname"
        )
        text = f"{len(notification.alerts)} alert(s) firing" + (f" ({scope})" if scope else "")
    return truncate_summary(f"[{alertname}] {text}")


def build_links(notification: Notification) -> list[dict[str, str]]:
    links = []
    for key, text in (("runbook_url", "Runbook"), ("dashboard_url", "Dashboard")):
        href = _first(key, notification.common_annotations, notification.alerts)
        if href:
            links.append({"href": href, "text": text})
    return links


def build_custom_details(notification: Notification) -> dict[str, Any]:
    alerts = notification.alerts
    return {
        "labels": dict(notification.common_labels),
        "group_labels": dict(notification.group_labels),
        "annotations": dict(notification.common_annotations),
        "values": {a.fingerprint: a.value for a in alerts if a.value is not None},
        "occurrences": notification.occurrences,
        "alert_count": len(alerts),
        "sequence": notification.sequence,
        "receiver": notification.receiver,
        "alerts": [
            {"labels": dict(a.labels), "starts_at": a.starts_at.isoformat(), "value": a.value}
            for a in alerts[:MAX_DETAILED_ALERTS]
        ],
    }


def build_trigger_event(notification: Notification) -> dict[str, Any]:
    alerts = notification.alerts
    service = _label("service", notification)
    generator = alerts[0].generator if alerts else "slaengine"
    alertname = _label("alertname", notification)
    payload: dict[str, Any] = {
        "summary": build_summary(notification),
        "source": f"{generator}/{service}" if service else generator,
        "severity": highest_severity(alerts),
        "class": alertname or "alert",
        "group": _label("slo", notification) or alertname or "alert",
        "custom_details": build_custom_details(notification),
    }
    if service:
        payload["component"] = service
    if alerts:
        payload["timestamp"] = min(a.starts_at for a in alerts).isoformat()
    event: dict[str, Any] = {
        "event_action": "trigger",
        "dedup_key": dedup_key_for(notification.group_key),
        "payload": payload,
        "client": "slaengine",
    }
    links = build_links(notification)
    if links:
        event["links"] = links
    return event


def build_event(notification: Notification) -> dict[str, Any]:
    """The Events v2 body (minus routing_key) for a firing or resolved notification."""
    if notification.status == "resolved":
        return {"event_action": "resolve", "dedup_key": dedup_key_for(notification.group_key)}
    return build_trigger_event(notification)

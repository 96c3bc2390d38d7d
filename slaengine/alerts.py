"""Alerts and notifications as they travel between the evaluator, Kafka and the router.

Plain data only. The evaluator (and the capacity forecaster) emit ``Alert``
transitions to the ``sla.alerts`` topic; Alertmanager webhooks are converted to
the same type; the router turns groups of alerts into ``Notification`` objects
for receivers (PagerDuty, e-mail, chat).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

AlertStatus = Literal["pending", "firing", "resolved"]
SEVERITIES = ("critical", "error", "warning", "info")


def fingerprint_of(labels: Mapping[str, str]) -> str:
    """Stable identity of an alert: a hash of its sorted labels (like Alertmanager's)."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Alert:
    labels: Mapping[str, str]  # must include alertname and severity
    status: AlertStatus
    starts_at: datetime
    annotations: Mapping[str, str] = field(
        default_factory=dict
    )  # summary, description, runbook_url, dashboard_url
    ends_at: datetime | None = None
    value: float | None = None
    generator: str = "slaengine"

    @property
    def fingerprint(self) -> str:
        return fingerprint_of(self.labels)

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "warning")

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "value": self.value,
            "generator": self.generator,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Alert:
        return cls(
            labels=dict(data["labels"]),
            status=data["status"],
            starts_at=datetime.fromisoformat(data["starts_at"]),
            annotations=dict(data.get("annotations") or {}),
            ends_at=datetime.fromisoformat(data["ends_at"]) if data.get("ends_at") else None,
            value=data.get("value"),
            generator=data.get("generator", "slaengine"),
        )


@dataclass(frozen=True)
class Notification:
    """One message for one receiver about one alert group."""

    receiver: str  # receiver name from the routing config
    group_key: str  # stable per route + group labels; PagerDuty's dedup_key
    status: Literal["firing", "resolved"]
    alerts: tuple[Alert, ...]
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    occurrences: int  # how often the group (re)fired within the dedup interval
    sequence: int  # increases per group_key; orders deliveries and makes them idempotent
    created_at: datetime

    @property
    def notification_id(self) -> str:
        return f"{self.group_key}:{self.sequence}"

    def to_json(self) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "group_key": self.group_key,
            "status": self.status,
            "alerts": [a.to_json() for a in self.alerts],
            "group_labels": dict(self.group_labels),
            "common_labels": dict(self.common_labels),
            "common_annotations": dict(self.common_annotations),
            "occurrences": self.occurrences,
            "sequence": self.sequence,
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Notification:
        return cls(
            receiver=data["receiver"],
            group_key=data["group_key"],
            status=data["status"],
            alerts=tuple(Alert.from_json(a) for a in data["alerts"]),
            group_labels=data["group_labels"],
            common_labels=data["common_labels"],
            common_annotations=data["common_annotations"],
            occurrences=data["occurrences"],
            sequence=data["sequence"],
            created_at=datetime.fromisoformat(data["created_at"]),
        )

"""Escalation as code, the pure half: desired REST payloads and their diffs.

Each resource kind has a ``desired_*`` builder (config + resolved ids → the
body to POST/PUT) and a ``normalize_*`` view holding only the fields sync
manages, in a form where PagerDuty's echo (expanded references, re-formatted
timestamps, extra read-only fields) compares equal to what we asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from slaengine.pagerduty.config import EscalationPolicySpec, ScheduleSpec, ServiceSpec, UserSpec

EVENTS_V2_INTEGRATION = "events_api_v2_inbound_integration"
Action = Literal["created", "updated", "unchanged"]
Normalized = dict[str, Any]


@dataclass(frozen=True)
class ResourceChange:
    kind: str  # user | schedule | escalation_policy | service | integration
    name: str
    action: Action
    fields: tuple[str, ...] = ()  # changed fields, for updates


@dataclass
class SyncReport:
    changes: list[ResourceChange] = field(default_factory=list)
    service_id: str | None = None
    routing_key: str | None = field(default=None, repr=False)  # the integration key: a secret

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def changed(self) -> int:
        return self.count("created") + self.count("updated")


def diff_fields(desired: Normalized, actual: Normalized) -> tuple[str, ...]:
    return tuple(key for key in desired if desired[key] != actual.get(key))


def _ref_id(ref: Any) -> str | None:
    return ref.get("id") if isinstance(ref, Mapping) else None


def _ref_kind(ref: Mapping[str, Any]) -> str:
    return str(ref.get("type", "")).removesuffix("_reference")


def _instant(value: Any) -> datetime | str:
    """Timestamps compare as instants: PagerDuty may echo them in another offset."""
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)


# --- users -------------------------------------------------------------------


def desired_user(spec: UserSpec) -> dict[str, Any]:
    return {
        "type": "user",
        "name": spec.name,
        "email": spec.email,
        "time_zone": spec.time_zone,
        "role": spec.role,
    }


def normalize_user(obj: Mapping[str, Any]) -> Normalized:
    return {
        "name": obj.get("name"),
        "email": str(obj.get("email", "")).lower(),
        "time_zone": obj.get("time_zone"),
        "role": obj.get("role"),
    }


# --- schedules -----------------------------------------------------------------


def desired_schedule(
    spec: ScheduleSpec, user_ids: Mapping[str, str], current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    start = spec.start.isoformat()
    layer: dict[str, Any] = {
        "name": f"{spec.rotation.capitalize()} rotation",
        "start": start,
        "rotation_virtual_start": start,
        "rotation_turn_length_seconds": spec.turn_length_seconds,
        "users": [
            {"user": {"id": user_ids[email.lower()], "type": "user_reference"}}
            for email in spec.users
        ],
    }
    existing_layers = (current or {}).get("schedule_layers") or []
    if existing_layers and existing_layers[0].get("id"):
        layer["id"] = existing_layers[0]["id"]  # edit the layer in place, keep its history
    return {
        "type": "schedule",
        "name": spec.name,
        "description": spec.description,
        "time_zone": spec.time_zone,
        "schedule_layers": [layer],
    }


def normalize_schedule(obj: Mapping[str, Any]) -> Normalized:
    layers = [
        (
            layer.get("name"),
            _instant(layer.get("start")),
            _instant(layer.get("rotation_virtual_start")),
            layer.get("rotation_turn_length_seconds"),
            tuple(_ref_id(u.get("user")) for u in layer.get("users") or []),
        )
        for layer in obj.get("schedule_layers") or []
        if not layer.get("end")
    ]
    return {
        "name": obj.get("name"),
        "description": obj.get("description") or "",
        "time_zone": obj.get("time_zone"),
        "schedule_layers": layers,
    }


# --- escalation policy ---------------------------------------------------------


def desired_escalation_policy(
    spec: EscalationPolicySpec, user_ids: Mapping[str, str], schedule_ids: Mapping[str, str]
) -> dict[str, Any]:
    rules = []
    for level in spec.levels:
        targets = [
            {"id": schedule_ids[t.schedule], "type": "schedule_reference"}
            if t.schedule
            else {"id": user_ids[str(t.user)], "type": "user_reference"}
            for t in level.targets
        ]
        rules.append({"escalation_delay_in_minutes": level.delay_minutes, "targets": targets})
    return {
        "type": "escalation_policy",
        "name": spec.name,
        "description": spec.description,
        "num_loops": spec.num_loops,
        "escalation_rules": rules,
    }


def normalize_escalation_policy(obj: Mapping[str, Any]) -> Normalized:
    rules = [
        (
            rule.get("escalation_delay_in_minutes"),
            tuple((_ref_kind(t), t.get("id")) for t in rule.get("targets") or []),
        )
        for rule in obj.get("escalation_rules") or []
    ]
    return {
        "name": obj.get("name"),
        "description": obj.get("description") or "",
        "num_loops": obj.get("num_loops", 0),
        "escalation_rules": rules,
    }


# --- service ---------------------------------------------------------------------


def _seconds(minutes: int | None) -> int | None:
    return minutes * 60 if minutes is not None else None


def desired_service(spec: ServiceSpec, escalation_policy_id: str) -> dict[str, Any]:
    return {
        "type": "service",
        "name": spec.name,
        "description": spec.description,
        "escalation_policy": {"id": escalation_policy_id, "type": "escalation_policy_reference"},
        # severity_based: critical/error events page with high urgency, warning/info low
        "incident_urgency_rule": {"type": "constant", "urgency": spec.urgency},
        "acknowledgement_timeout": _seconds(spec.acknowledgement_timeout_minutes),
        "auto_resolve_timeout": _seconds(spec.auto_resolve_timeout_minutes),
        "alert_creation": "create_alerts_and_incidents",
    }


def normalize_service(obj: Mapping[str, Any]) -> Normalized:
    rule = obj.get("incident_urgency_rule") or {}
    return {
        "name": obj.get("name"),
        "description": obj.get("description") or "",
        "escalation_policy": _ref_id(obj.get("escalation_policy")),
        "incident_urgency_rule": (rule.get("type"), rule.get("urgency")),
        "acknowledgement_timeout": obj.get("acknowledgement_timeout"),
        "auto_resolve_timeout": obj.get("auto_resolve_timeout"),
        "alert_creation": obj.get("alert_creation", "create_alerts_and_incidents"),
    }

"""Alertmanager webhook payloads (version 4) as slaengine alerts.

Lets an existing Prometheus/Alertmanager setup feed the router: Alertmanager posts groups, we
take the alerts out and route them again with our own tree. A missing ``severity`` label
becomes ``warning`` (the Alert contract needs one); a zero ``endsAt`` means "not ended".
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from slaengine.alerts import Alert
from slaengine.errors import SlaEngineError

ZERO_TIME_YEAR = 1  # Go's zero time, 0001-01-01T00:00:00Z


class InvalidAlertmanagerPayloadError(SlaEngineError, ValueError):
    """The webhook body is not an Alertmanager version 4 payload: check the sender's config."""


class _WebhookAlert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime  # camelCase: Alertmanager's field names
    endsAt: datetime | None = None
    generatorURL: str = ""

    @field_validator("labels")
    @classmethod
    def _named(cls, labels: dict[str, str]) -> dict[str, str]:
        if not labels.get("alertname"):
            raise ValueError("an alert needs an alertname label")
        return labels

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps need a timezone (RFC 3339)")
        return value


class _WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    alerts: list[Any]  # validated one by one below
    receiver: str = ""
    groupKey: str = ""


def parse_alertmanager_payload(body: Any) -> list[Alert]:
    """The alerts of a decoded webhook body; raises InvalidAlertmanagerPayloadError saying why."""
    if not isinstance(body, dict):
        raise InvalidAlertmanagerPayloadError("payload must be a JSON object")
    try:
        payload = _WebhookPayload.model_validate(body)
    except ValidationError as err:
        raise InvalidAlertmanagerPayloadError(_describe(err)) from err
    alerts = []
    # one alert per call: a validation call holds the GIL throughout, and a batch of 1,000 in
    # one call would keep the event loop thread from running for as long
    for index, item in enumerate(payload.alerts):
        try:
            alerts.append(_to_alert(_WebhookAlert.model_validate(item)))
        except ValidationError as err:
            raise InvalidAlertmanagerPayloadError(_describe(err, f"alerts.{index}.")) from err
    return alerts


def _describe(err: ValidationError, prefix: str = "") -> str:
    first = err.errors()[0]
    where = prefix + (".".join(str(part) for part in first["loc"]) or "payload")
    more = f" (and {len(err.errors()) - 1} more error(s))" if len(err.errors()) > 1 else ""
    return f"{where.rstrip('.')}: {first['msg']}{more}"


def _to_alert(item: _WebhookAlert) -> Alert:
    labels = dict(item.labels)
    labels.setdefault("severity", "warning")
    ends_at = item.endsAt if item.endsAt and item.endsAt.year > ZERO_TIME_YEAR else None
    return Alert(
        labels=labels,
        status=item.status,
        starts_at=item.startsAt,
        annotations=dict(item.annotations),
        ends_at=ends_at,
        generator=item.generatorURL or "alertmanager",
    )

"""``pagerduty.yaml``: Events v2 delivery settings and escalation as code.

Validated through slaengine.yamlconfig, so every mistake is reported as
``file:line: field: message``. Secrets (routing key, REST token) are not meant
to live in this file: they come from the environment or a token file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from slaengine.pagerduty.env import (
    DEFAULT_EVENTS_URL,
    DEFAULT_REST_URL,
    DEFAULT_TIMEOUT_SECONDS,
    EVENTS_URL_ENV,
    ROUTING_KEY_ENV,
)
from slaengine.yamlconfig import load_model

WEEK_SECONDS = 7 * 24 * 3600
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventsSettings(_Strict):
    url: str = DEFAULT_EVENTS_URL
    routing_key: SecretStr | None = None  # prefer SLAENGINE_PAGERDUTY_ROUTING_KEY
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=120)

    def resolved(self, env: Mapping[str, str] | None = None) -> tuple[str | None, str]:
        """(routing key, events URL) after the environment overrides."""
        env = os.environ if env is None else env
        key = env.get(ROUTING_KEY_ENV) or (
            self.routing_key.get_secret_value() if self.routing_key else None
        )
        return key, env.get(EVENTS_URL_ENV) or self.url


class RestSettings(_Strict):
    url: str = DEFAULT_REST_URL
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0, le=120)


class UserSpec(_Strict):
    name: str = Field(min_length=1)
    email: str
    time_zone: str = "UTC"
    role: str = "user"

    @field_validator("email")
    @classmethod
    def _check_email(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"not an e-mail address: {value!r}")
        return value.lower()


class ScheduleSpec(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    time_zone: str = "UTC"
    rotation: Literal["weekly"] = "weekly"
    start: datetime  # first hand-off; must carry a UTC offset
    users: list[str] = Field(min_length=1)  # e-mails, in rotation order

    @field_validator("start")
    @classmethod
    def _check_aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("start needs a UTC offset, e.g. 2025-01-06T09:00:00+01:00")
        return value

    @property
    def turn_length_seconds(self) -> int:
        return WEEK_SECONDS


class EscalationTarget(_Strict):
    schedule: str | None = None  # schedule name
    user: str | None = None  # user e-mail

    @model_validator(mode="after")
    def _exactly_one(self) -> EscalationTarget:
        if (self.schedule is None) == (self.user is None):
            raise ValueError("a target names exactly one of schedule or user")
        if self.user:
            self.user = self.user.lower()
        return self


class EscalationLevel(_Strict):
    name: str = Field(min_length=1)
    delay_minutes: int = Field(ge=1, le=1440)  # minutes before escalating away from this level
    targets: list[EscalationTarget] = Field(min_length=1)


class EscalationPolicySpec(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    num_loops: int = Field(default=0, ge=0, le=9)
    levels: list[EscalationLevel] = Field(min_length=1, max_length=10)


class ServiceSpec(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    urgency: Literal["severity_based", "high", "low"] = "severity_based"
    acknowledgement_timeout_minutes: int | None = Field(default=30, ge=1)
    auto_resolve_timeout_minutes: int | None = Field(default=240, ge=1)
    integration_name: str = "slaengine (Events API v2)"


class PagerDutyConfig(_Strict):
    events: EventsSettings = EventsSettings()
    rest: RestSettings = RestSettings()
    users: list[UserSpec] = Field(default_factory=list)
    schedules: list[ScheduleSpec] = Field(default_factory=list)
    escalation_policy: EscalationPolicySpec
    service: ServiceSpec

    @model_validator(mode="after")
    def _check_references(self) -> PagerDutyConfig:
        emails = {u.email for u in self.users}
        schedules = {s.name for s in self.schedules}
        for schedule in self.schedules:
            unknown = [e for e in schedule.users if e.lower() not in emails]
            if unknown:
                raise ValueError(f"schedule {schedule.name!r} names unknown users {unknown}")
        for level in self.escalation_policy.levels:
            for target in level.targets:
                if target.schedule and target.schedule not in schedules:
                    raise ValueError(
                        f"level {level.name!r} names unknown schedule {target.schedule!r}"
                    )
                if target.user and target.user not in emails:
                    raise ValueError(f"level {level.name!r} names unknown user {target.user!r}")
        return self


def load_pagerduty_config(path: str | Path) -> PagerDutyConfig:
    return load_model(path, PagerDutyConfig)

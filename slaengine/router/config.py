"""The routing configuration (``alert_rules/routing.yaml``): receivers, route tree, inhibit rules,
silences/maintenance windows and delivery settings, validated with file/line/field errors.

Secrets (PagerDuty routing keys, SMTP passwords, chat webhook URLs) come from environment
variables or files; pydantic's SecretStr keeps them out of repr() and error messages.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, model_validator

from slaengine.durations import TimedeltaField
from slaengine.errors import ConfigError
from slaengine.resources import data_path
from slaengine.router.matchers import parse_matchers
from slaengine.yamlconfig import field_path, line_of, read_yaml, validate_document

DEFAULT_ROUTING_FILE = data_path("alert_rules/routing.yaml")


def _check_matchers(values: list[str]) -> list[str]:
    parse_matchers(values)  # raises InvalidMatcherError (a ValueError) with the reason
    return values


MatcherList = Annotated[list[str], AfterValidator(_check_matchers)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PagerDutyIntegration(_Strict):
    routing_key: SecretStr | None = None
    routing_key_file: Path | None = None
    events_url: str | None = None  # default: env SLAENGINE_PAGERDUTY_EVENTS_URL, then PagerDuty's
    # high: event severity follows the alert (critical/error page with high urgency under the
    # service's severity_based urgency rule); low: severity capped at warning -> low urgency
    urgency: Literal["high", "low"] = "high"


class EmailIntegration(_Strict):
    to: list[str] = Field(min_length=1)
    sender: str = Field(alias="from")
    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    use_tls: bool = False  # implicit TLS (port 465)
    username: str | None = None
    password_file: Path | None = None  # or env SLAENGINE_SMTP_PASSWORD
    timeout: TimedeltaField = timedelta(seconds=10)


class ChatIntegration(_Strict):
    webhook_url: SecretStr | None = None  # or webhook_url_file, or env SLAENGINE_CHAT_WEBHOOK_URL
    webhook_url_file: Path | None = None
    timeout: TimedeltaField = timedelta(seconds=10)


class ReceiverConfig(_Strict):
    """A named destination with one or more integrations (each gets its own delivery queue)."""

    name: str = Field(min_length=1)
    pagerduty: PagerDutyIntegration | None = None
    email: EmailIntegration | None = None
    chat: ChatIntegration | None = None

    @model_validator(mode="after")
    def _has_integration(self) -> ReceiverConfig:
        if self.pagerduty is None and self.email is None and self.chat is None:
            raise ValueError("a receiver needs at least one of pagerduty, email, chat")
        return self

    def integrations(self) -> dict[str, PagerDutyIntegration | EmailIntegration | ChatIntegration]:
        found = {"pagerduty": self.pagerduty, "email": self.email, "chat": self.chat}
        return {kind: integration for kind, integration in found.items() if integration is not None}


class RouteConfig(_Strict):
    """A node of the routing tree; unset group settings and receiver inherit from the parent."""

    receiver: str | None = None
    matchers: MatcherList = Field(default_factory=list)
    group_by: list[str] | None = None  # ["..."] groups by all labels
    group_wait: TimedeltaField | None = None
    group_interval: TimedeltaField | None = None
    repeat_interval: TimedeltaField | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: list[RouteConfig] = Field(default_factory=list)


class InhibitRuleConfig(_Strict):
    source_matchers: MatcherList = Field(min_length=1)
    target_matchers: MatcherList = Field(min_length=1)
    equal: list[str] = Field(default_factory=list)


class SilenceConfig(_Strict):
    """A maintenance window declared in the config (API silences live in the silence store)."""

    matchers: MatcherList = Field(min_length=1)
    starts_at: datetime
    ends_at: datetime
    created_by: str = "routing.yaml"
    comment: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> SilenceConfig:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at need a timezone, e.g. 2025-01-01T02:00:00Z")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class DeliverySettings(_Strict):
    initial_backoff: TimedeltaField = timedelta(seconds=1)
    max_backoff: TimedeltaField = timedelta(minutes=2)
    max_age: TimedeltaField = timedelta(hours=1)  # after this a delivery is declared dead


class GlobalSettings(_Strict):
    refire_window: TimedeltaField = timedelta(
        minutes=5
    )  # re-fire within this of resolving = same incident


class RoutingConfig(_Strict):
    global_: GlobalSettings = Field(default_factory=GlobalSettings, alias="global")
    delivery: DeliverySettings = Field(default_factory=DeliverySettings)
    route: RouteConfig
    receivers: list[ReceiverConfig] = Field(min_length=1)
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    silences: list[SilenceConfig] = Field(default_factory=list)

    def receiver(self, name: str) -> ReceiverConfig:
        return next(receiver for receiver in self.receivers if receiver.name == name)


def load_routing_config(path: str | Path = DEFAULT_ROUTING_FILE) -> RoutingConfig:
    document = read_yaml(path)
    config = validate_document(document, RoutingConfig, str(path))
    check_references(config, document, str(path))
    return config


def check_references(config: RoutingConfig, document: Any, source: str) -> None:
    """Receiver names unique, the root route has a receiver, every route names a known receiver."""

    def fail(message: str, loc: tuple[str | int, ...]) -> None:
        raise ConfigError(message, file=source, line=line_of(document, loc), field=field_path(loc))

    names: set[str] = set()
    for index, receiver in enumerate(config.receivers):
        if receiver.name in names:
            fail(f"duplicate receiver name {receiver.name!r}", ("receivers", index, "name"))
        names.add(receiver.name)
    if not config.route.receiver:
        fail("the root route needs a receiver", ("route",))
    if config.route.matchers:
        fail(
            "the root route matches every alert; move matchers to a child route",
            ("route", "matchers"),
        )

    def walk(route: RouteConfig, loc: tuple[str | int, ...]) -> None:
        if route.receiver is not None and route.receiver not in names:
            fail(
                f"unknown receiver {route.receiver!r} (known: {', '.join(sorted(names))})",
                (*loc, "receiver"),
            )
        for index, child in enumerate(route.routes):
            walk(child, (*loc, "routes", index))

    walk(config.route, ("route",))

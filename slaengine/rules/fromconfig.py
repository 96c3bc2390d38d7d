"""slaengine's own SLO config (``SloSpec``) -> Sloth-style ``SloDefinition``.

The queries read the counters slaengine exports, so a team can alert from
Prometheus with the same windows the in-service evaluator uses.
``SloAlertingOverrides`` is the ``alerting:`` block of an SLO in that config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from slaengine.durations import DurationField, parse_duration
from slaengine.errors import ConfigError
from slaengine.rules.model import AlertMeta, EventsSli, SloDefinition, SloGroup
from slaengine.rules.sloth import check_labels
from slaengine.rules.windows import AlertWindows, BurnRateWindow, check_window

RUNBOOK_BASE = "docs/operations.md"
DEFAULT_BURN_ALERT = "SloErrorBudgetBurn"
CALENDAR_MONTH = "calendar-month"
EVENTS_TOTAL = "slaengine_slo_events_total"
GOOD_EVENTS_TOTAL = "slaengine_slo_good_events_total"


def runbook_anchor(alert_name: str) -> str:
    """``SloErrorBudgetBurn`` -> ``slo-error-budget-burn`` (anchors in docs/operations.md)."""
    dashed = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|[_\s]+", "-", alert_name)
    return dashed.lower().strip("-")


def runbook_url(alert_name: str, base: str = RUNBOOK_BASE) -> str:
    return f"{base}#{runbook_anchor(alert_name)}"


class SloSpecLike(Protocol):
    """The fields of ``slaengine.config.SloSpec`` this adapter reads."""

    @property
    def name(self) -> str: ...
    @property
    def service(self) -> str | None: ...
    @property
    def sli(self) -> str: ...
    @property
    def target(self) -> float: ...
    @property
    def window(self) -> str: ...
    @property
    def description(self) -> str | None: ...
    @property
    def labels(self) -> Mapping[str, str] | None: ...
    @property
    def alerting(self) -> Any: ...


class WindowOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error_budget_percent: float = Field(gt=0, le=100)
    short_window: DurationField
    long_window: DurationField

    @model_validator(mode="after")
    def _short_before_long(self) -> WindowOverride:
        if self.short_window.delta >= self.long_window.delta:
            raise ValueError(
                f"short_window {self.short_window} must be shorter than "
                f"long_window {self.long_window}"
            )
        return self

    def to_window(self) -> BurnRateWindow:
        return BurnRateWindow(
            self.error_budget_percent, self.short_window.delta, self.long_window.delta
        )


class SeverityOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")
    disable: bool = False
    severity: Literal["critical", "error", "warning", "info"] | None = None  # default per kind
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class SloAlertingOverrides(BaseModel):
    """Per-SLO alerting: names, severities, windows/burn factors, no-data time."""

    model_config = ConfigDict(extra="forbid")
    name: str = DEFAULT_BURN_ALERT
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page: SeverityOverride = Field(default_factory=SeverityOverride)  # severity critical
    ticket: SeverityOverride = Field(default_factory=SeverityOverride)  # severity warning
    page_quick: WindowOverride | None = None
    page_slow: WindowOverride | None = None
    ticket_quick: WindowOverride | None = None
    ticket_slow: WindowOverride | None = None
    no_data_after: DurationField | None = None  # overrides the no-data rule's time for this SLO

    _labels = field_validator("labels")(check_labels)

    def windows(self, base: AlertWindows) -> AlertWindows | None:
        chosen = {
            key: getattr(self, key)
            for key in ("page_quick", "page_slow", "ticket_quick", "ticket_slow")
        }
        if not any(chosen.values()):
            return None
        replaced = {
            key: value.to_window() if value else getattr(base, key) for key, value in chosen.items()
        }
        for key, value in chosen.items():
            if value is not None:
                try:
                    check_window(replaced[key], base.period)
                except ValueError as err:
                    raise ValueError(f"{key}: {err}") from None
        return AlertWindows(period=base.period, **replaced)


def period_of(window: str) -> timedelta:
    # Prometheus cannot follow calendar months; alerting uses 30 days, the report the calendar.
    return timedelta(days=30) if window == CALENDAR_MONTH else parse_duration(window)


def _overrides(spec: SloSpecLike) -> SloAlertingOverrides:
    raw = getattr(spec, "alerting", None)
    if raw is None:
        return SloAlertingOverrides()
    if isinstance(raw, SloAlertingOverrides):
        return raw
    return SloAlertingOverrides.model_validate(raw)


def slo_definition(spec: SloSpecLike, base_windows: AlertWindows) -> SloDefinition:
    overrides = _overrides(spec)
    service = spec.service or "slaengine"
    selector = f'{{slo="{spec.name}"}}'
    error = (
        f"(sum(rate({EVENTS_TOTAL}{selector}[{{{{.window}}}}])) - "
        f"sum(rate({GOOD_EVENTS_TOTAL}{selector}[{{{{.window}}}}])))"
    )
    total = f"sum(rate({EVENTS_TOTAL}{selector}[{{{{.window}}}}]))"
    labels = {**(spec.labels or {}), "slo": spec.name, "sli": spec.sli}
    if spec.service:
        labels["service"] = spec.service
    annotations = {
        "description": "SLO {{$labels.sloth_slo}} of {{$labels.sloth_service}} is consuming its "
        "error budget faster than its target allows.",
        "runbook_url": runbook_url(overrides.name),
        **overrides.annotations,
    }

    def meta(override: SeverityOverride, default: str) -> AlertMeta | None:
        if override.disable:
            return None
        severity = override.severity or default
        return AlertMeta(
            overrides.name,
            {**overrides.labels, "severity": severity, **override.labels},
            {**annotations, **override.annotations},
        )

    period = period_of(spec.window)
    return SloDefinition(
        id=f"{service}-{spec.name}",
        name=spec.name,
        service=service,
        objective=spec.target,
        period=period,
        sli=EventsSli(error, total),
        labels=labels,
        page_alert=meta(overrides.page, "critical"),
        ticket_alert=meta(overrides.ticket, "warning"),
        windows=overrides.windows(base_windows.for_period(period)),
        description=spec.description or "",
        no_data_after=overrides.no_data_after.delta if overrides.no_data_after else None,
    )


def slo_group(specs: list[SloSpecLike], base_windows: AlertWindows) -> SloGroup:
    return SloGroup(
        tuple(slo_definition(spec, base_windows) for spec in specs),
        spec="slaengine/v1",
        mode="cli-gen-slaengine",
    )


def load_config_group(path: str | Path, base_windows: AlertWindows) -> SloGroup:
    """Read slaengine's SLO config through ``slaengine.config.load_sla_config``."""
    try:
        from slaengine.config import load_sla_config  # type: ignore[import-not-found,unused-ignore]
    except ImportError as err:
        raise ConfigError(
            "reading slaengine SLO configs needs slaengine.config", file=str(path)
        ) from err
    config = load_sla_config(path)
    _validate_overrides(path, config.slos)
    return slo_group(list(config.slos), base_windows)


def _validate_overrides(path: str | Path, specs: list[Any]) -> None:
    """Check each ``alerting:`` block with the file's line numbers (the config keeps it raw)."""
    from slaengine.yamlconfig import read_yaml, validate_document

    document = read_yaml(path)
    for index, spec in enumerate(specs):
        if getattr(spec, "alerting", None) is None:
            continue
        node = document["slos"][index]["alerting"]
        try:
            validate_document(node, SloAlertingOverrides, str(path))
        except ConfigError as err:
            field = f"slos[{index}].alerting" + (f".{err.field}" if err.field else "")
            raise ConfigError(err.reason, file=err.file, line=err.line, field=field) from err

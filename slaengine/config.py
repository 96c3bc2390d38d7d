"""The SLO configuration (``slo.yaml``): what each SLO measures and its objective.

Validated in one place through slaengine.yamlconfig, so every mistake is
reported as ``file:line: field: message``.
"""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from forecasting.config import CapacityConfig
from slaengine.calendar import zone_of
from slaengine.durations import Duration, DurationField, parse_duration
from slaengine.errors import ConfigError
from slaengine.report.config import ReportConfig
from slaengine.rules.fromconfig import SloAlertingOverrides, period_of
from slaengine.rules.windows import AlertWindows, WindowsCatalog
from slaengine.yamlconfig import line_of, read_yaml, validate_document

SliKind = Literal["availability", "latency", "uptime", "fulfillment", "lag", "projection_lag"]
CALENDAR_MONTH = "calendar-month"
REQUEST_SLIS = ("availability", "latency", "uptime")
SKETCH_SLIS = ("latency", "projection_lag")  # SLIs whose buckets keep a DDSketch of their values


class StatusRange(BaseModel):
    low: int
    high: int


@cache  # a handful of distinct values, asked for at every evaluation
def exact(value: float) -> Fraction:
    """The decimal a user wrote (99.9, 0.56) as an exact fraction, free of float artefacts."""
    return Fraction(repr(value))


@cache
def exact_percent(value: float) -> Fraction:
    """A percentage as an exact fraction of 1 (99.9 → 999/1000)."""
    return exact(value) / 100


@cache
def builtin_windows() -> WindowsCatalog:
    return WindowsCatalog.builtin()


def alert_windows(window: str) -> AlertWindows:
    """The burn-rate windows of an SLO window; ValueError for a period they make no sense for."""
    try:
        return builtin_windows().for_period(period_of(window))
    except ConfigError as err:
        raise ValueError(err.reason) from None


def parse_status_ranges(items: list[str]) -> list[tuple[int, int]]:
    """``["200-499", "304"]`` → ``[(200, 499), (304, 304)]``."""
    ranges = []
    for item in items:
        low, _, high = str(item).partition("-")
        try:
            lo, hi = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"status range {item!r} must look like 500 or 200-499") from None
        if not 100 <= lo <= hi <= 599:
            raise ValueError(f"status range {item!r} must lie within 100-599")
        ranges.append((lo, hi))
    return ranges


class SloSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    sli: SliKind
    # strict numbers: YAML's `true` is not 1 %
    target: float = Field(gt=0, le=100, strict=True, description="objective in percent")
    service: str | None = None
    window: str = "30d"
    display_name: str = Field(default="", description="label in reports, e.g. Uptime or API")
    description: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    # availability / uptime: which statuses are good (default: < 500 and not 429)
    good_status: list[str] = Field(default_factory=lambda: ["100-499"])
    bad_status: list[str] = Field(default_factory=lambda: ["429"])
    # latency
    threshold_ms: float | None = Field(default=None, gt=0, strict=True)
    # uptime
    slice_good_ratio: float = Field(default=0.95, gt=0, le=1, strict=True)
    no_traffic: Literal["ignore", "good", "bad"] = "ignore"
    # fulfillment
    within: DurationField = Field(default_factory=lambda: Duration.parse("24h"))
    # lag / projection_lag
    threshold_s: float | None = Field(default=None, gt=0, strict=True)
    topic: str | None = None  # lag: only this topic's events
    projection: str | None = Field(
        default=None, min_length=1
    )  # projection_lag: only this projection
    # burn-rate alert overrides (slaengine.rules.fromconfig), checked against the period below
    alerting: SloAlertingOverrides | None = None
    _window_delta: timedelta | None = PrivateAttr(default=None)  # parsed once, at load

    @field_validator("window")
    @classmethod
    def _check_window(cls, value: str) -> str:
        if value != CALENDAR_MONTH:
            parse_duration(value)
        alert_windows(value)
        return value

    @field_validator("alerting")
    @classmethod
    def _check_alerting(
        cls, value: SloAlertingOverrides | None, info: ValidationInfo
    ) -> SloAlertingOverrides | None:
        window = info.data.get("window")
        if value is not None and window is not None:
            value.windows(alert_windows(window))  # ValueError naming the override and the reason
        return value

    @field_validator("good_status", "bad_status", mode="before")
    @classmethod
    def _check_status(cls, value: Any) -> Any:
        if not isinstance(value, list):
            return value  # pydantic reports the wrong type
        if any(isinstance(item, bool) or not isinstance(item, (str, int)) for item in value):
            raise ValueError('status ranges are numbers or strings like 500 or "200-499"')
        items = [str(item) for item in value]  # [429, 503] as well as ["429", "500-599"]
        parse_status_ranges(items)
        return items

    @model_validator(mode="after")
    def _check_kind_fields(self) -> SloSpec:
        if self.sli in REQUEST_SLIS and not self.service:
            raise ValueError(f"an {self.sli} SLO needs 'service'")
        if self.sli == "latency" and self.threshold_ms is None:
            raise ValueError("a latency SLO needs 'threshold_ms'")
        if self.sli in ("lag", "projection_lag") and self.threshold_s is None:
            raise ValueError(f"a {self.sli} SLO needs 'threshold_s'")
        if self.projection is not None and self.sli != "projection_lag":
            raise ValueError("'projection' applies to projection_lag SLOs only")
        if self.no_traffic != "ignore" and self.sli != "uptime":
            raise ValueError("'no_traffic' applies to uptime SLOs only (minutes without requests)")
        self._window_delta = None if self.window == CALENDAR_MONTH else parse_duration(self.window)
        return self

    @property
    def exact_objective(self) -> Fraction:
        """Target as an exact fraction (99.9 → 999/1000)."""
        return exact_percent(self.target)

    @property
    def slice_ratio(self) -> Fraction:
        return exact(self.slice_good_ratio)

    @property
    def objective(self) -> float:
        """Target as a fraction (99.9 → 0.999)."""
        return self.target / 100.0

    @property
    def within_ms(self) -> int:
        return self.within.ms

    @property
    def window_delta(self) -> timedelta | None:
        """The rolling window, or None for a calendar month."""
        return self._window_delta

    def is_good_status(self, status: int) -> bool:
        good = any(lo <= status <= hi for lo, hi in parse_status_ranges(self.good_status))
        return good and not any(
            lo <= status <= hi for lo, hi in parse_status_ranges(self.bad_status)
        )


class LimitsSpec(BaseModel):
    """Cardinality limits (``limits:``): names one worker holds in state and exports.

    Events beyond them are dead-lettered ``too_many_series`` (docs/operations.md).
    """

    model_config = ConfigDict(extra="forbid")

    services: int = Field(default=1_000, gt=0)
    endpoints: int = Field(default=10_000, gt=0, description="service and endpoint pairs")
    resources: int = Field(default=1_000, gt=0)
    projections: int = Field(default=1_000, gt=0)


class SlaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    organisation: str = "slaengine"
    grace: DurationField = Field(
        default_factory=lambda: Duration.parse("10m"),
        description="slack for late events: an open order counts as missed "
        "once its deadline plus grace has passed",
    )
    slos: list[SloSpec] = Field(min_length=1)
    # None: no section (reports without e-mail, the packaged capacity rules)
    report: ReportConfig | None = None
    forecasting: CapacityConfig | None = None
    limits: LimitsSpec = Field(default_factory=LimitsSpec)

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        zone_of(value)
        return value

    @field_validator("report", mode="before")
    @classmethod
    def _report_in_slo_timezone(cls, value: Any, info: ValidationInfo) -> Any:
        # the report's months and days are the SLIs' calendar months: one timezone for both
        if isinstance(value, dict) and "timezone" not in value and "timezone" in info.data:
            return {**value, "timezone": info.data["timezone"]}
        return value

    @model_validator(mode="after")
    def _check_unique_names(self) -> SlaConfig:
        seen: set[str] = set()
        for slo in self.slos:
            if slo.name in seen:
                raise ValueError(f"SLO name {slo.name!r} is used twice")
            seen.add(slo.name)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return zone_of(self.timezone)

    @property
    def grace_ms(self) -> int:
        return self.grace.ms

    def slo(self, name: str) -> SloSpec:
        for slo in self.slos:
            if slo.name == name:
                return slo
        raise KeyError(name)


def load_sla_config(path: str | Path) -> SlaConfig:
    """Load and validate an SLO config file, every section; ConfigError with file/line/field."""
    document = read_yaml(path)
    config = validate_document(document, SlaConfig, str(path))
    if config.report is not None and config.report.timezone != config.timezone:
        raise ConfigError(
            f"{config.report.timezone!r} differs from timezone {config.timezone!r}: "
            "the report's months and days are the SLIs' calendar months, so set one "
            "timezone",
            file=str(path),
            line=line_of(document, ("report", "timezone")),
            field="report.timezone",
        )
    return config

"""The capacity report of every resource, and a service that caches it for HTTP and metrics.

Forecasting a resource costs tens of milliseconds (a backtest refits every candidate), so the
service recomputes only when the history changed and the last report is old enough.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from forecasting.capacity_alerts import capacity_alerts
from forecasting.config import CapacityConfig
from forecasting.forecast import CapacityForecast, forecast_series
from forecasting.recommend import Recommendation, recommend
from forecasting.series import ResourceHistory
from slaengine.alerts import Alert

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class ResourceReport:
    forecast: CapacityForecast
    recommendation: Recommendation
    alerts: tuple[Alert, ...] = ()

    def to_json(self, include_rows: bool = False) -> dict[str, Any]:
        out = self.forecast.to_json(include_rows=include_rows)
        out["recommendation"] = self.recommendation.to_json()
        out["alerts"] = [alert.to_json() for alert in self.alerts]
        return out


@dataclass(frozen=True)
class CapacityReport:
    generated_at: datetime
    horizon_days: int
    resources: dict[str, ResourceReport] = field(default_factory=dict)

    @property
    def alerts(self) -> list[Alert]:
        return [alert for report in self.resources.values() for alert in report.alerts]

    def to_json(self, include_rows: bool = False) -> dict[str, Any]:
        return {
            "generated_at": self.generated_at.isoformat(),
            "horizon_days": self.horizon_days,
            "resources": {
                name: report.to_json(include_rows) for name, report in self.resources.items()
            },
        }


def report_resource(
    history: ResourceHistory, resource: str, config: CapacityConfig, now: datetime
) -> ResourceReport:
    spec = config.spec_for(resource)
    days = history.days(resource)
    series = days.series(spec.daily_value)
    forecast = forecast_series(
        series, resource=resource, horizon_days=config.horizon_days, bounded=spec.is_bounded
    )
    recent = series.filled().values[-config.kinds.api_instances.sustained_days :].tolist()
    recommendation = recommend(forecast, spec, config.kinds, recent, days.labels)
    alerts = capacity_alerts(forecast, config.alerts, now)
    return ResourceReport(forecast, recommendation, tuple(alerts))


def build_report(history: ResourceHistory, config: CapacityConfig, now: datetime) -> CapacityReport:
    return CapacityReport(
        now,
        config.horizon_days,
        {name: report_resource(history, name, config, now) for name in history},
    )


def history_version(history: ResourceHistory) -> tuple[Any, ...]:
    return tuple(
        (
            name,
            history.days(name).newest_day,
            history.days(name).newest_ts,
            history.days(name).capacity,
        )
        for name in history
    )


class CapacityService:
    """Builds and caches the capacity report; safe to call from several threads."""

    def __init__(
        self,
        history: ResourceHistory | Callable[[], ResourceHistory],
        config: CapacityConfig,
        clock: Clock = lambda: datetime.now(UTC),
        min_refresh_seconds: float = 60.0,
    ) -> None:
        self._history = history
        self.config = config
        self.clock = clock
        self.min_refresh_seconds = min_refresh_seconds
        self._lock = threading.Lock()
        self._cached: CapacityReport | None = None
        self._version: tuple[Any, ...] | None = None

    def history(self) -> ResourceHistory:
        return self._history if isinstance(self._history, ResourceHistory) else self._history()

    def report(self) -> CapacityReport:
        with self._lock:
            history, now = self.history(), self.clock()
            version = history_version(history)
            cached = self._cached
            fresh = cached is not None and (
                version == self._version
                or (now - cached.generated_at).total_seconds() < self.min_refresh_seconds
            )
            if cached is not None and fresh:
                return cached
            self._cached, self._version = build_report(history, self.config, now), version
            return self._cached

    def cached_report(self) -> CapacityReport | None:
        """The last report without recomputing (for scrapes that must stay fast)."""
        return self._cached

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

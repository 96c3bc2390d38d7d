"""The report's capacity sections, from resource events through the forecasting package.

Pure apart from reading the packaged default capacity rules: resource events in,
``CapacitySection``s out. The forecast is made as of the report month's end, so a
report of a past month shows what could have been known then.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import numpy as np

from forecasting.config import CapacityConfig, load_capacity_config
from forecasting.forecast import THRESHOLDS_PERCENT
from forecasting.series import ResourceHistory
from forecasting.service import ResourceReport, report_resource
from slaengine.config import SlaConfig
from slaengine.events import ResourceEvent
from slaengine.report.model import CapacitySection, ForecastRow


def capacity_sections(
    resources: Iterable[ResourceEvent],
    config: SlaConfig,
    month_end_ms: int,
    capacity_config: CapacityConfig | None = None,
) -> list[CapacitySection] | None:
    """One section per resource with a known capacity; None when there are no resource events.

    History is every event before ``month_end_ms`` (days in the SLO timezone); the
    forecast covers ``horizon_days`` (180 by default) after the last observed day.
    """
    events = [event for event in resources if event.ts_ms < month_end_ms]
    if not events:
        return None
    rules = capacity_config or config.forecasting or load_capacity_config()
    history = ResourceHistory(config.timezone)
    for event in sorted(events, key=lambda e: e.ts_ms):
        history.observe(
            event.resource,
            datetime.fromtimestamp(event.ts_ms / 1000, UTC),
            event.value,
            event.capacity,
            event.unit,
            event.labels,
        )
    as_of = datetime.fromtimestamp(month_end_ms / 1000, UTC)
    sections = []
    for name in history:
        if history.days(name).capacity is None:
            continue  # without a capacity there is no 80/90/100 % to project against
        report = report_resource(history, name, rules, as_of)
        sections.append(section_of(history, name, report, rules))
    return sections


def section_of(
    history: ResourceHistory, name: str, report: ResourceReport, rules: CapacityConfig
) -> CapacitySection:
    forecast = report.forecast
    series = history.series(name, rules.spec_for(name).daily_value)
    observed = [
        (day, float(value))
        for day, value in zip(series.dates(), series.values, strict=True)
        if not np.isnan(value)
    ]
    rows: list[ForecastRow] = []
    if forecast.projection is not None and forecast.last_day is not None:
        p = forecast.projection
        rows = [
            ForecastRow(
                forecast.last_day + timedelta(days=i + 1),
                float(p.mean[i]),
                float(p.lower80[i]),
                float(p.upper80[i]),
                float(p.lower95[i]),
                float(p.upper95[i]),
            )
            for i in range(len(p))
        ]
    days_to: dict[int, float | None] = {}
    for percent in THRESHOLDS_PERCENT:
        likely = forecast.likely_days_to(percent)
        days_to[percent] = None if likely is None else float(likely)
    capacity = history.days(name).capacity
    assert capacity is not None
    return CapacitySection(
        resource=name,
        unit=forecast.unit or series.unit,
        capacity=float(capacity),
        model_name=forecast.model or forecast.status.replace("_", " "),
        history=tuple(observed),
        forecast=tuple(rows),
        days_to=days_to,
        growth_per_month=forecast.growth_per_month or 0.0,
        recommendation=report.recommendation.message,
    )

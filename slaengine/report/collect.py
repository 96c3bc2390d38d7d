"""SLI engine state -> ``MonthReport``: the data behind the monthly SLA report.

``month_report_from_engine`` is pure and serves both modes: the worker passes its
live engine, ``build_month_report`` (the CLI) an engine filled from an events file
by ``slaengine.batch``. Either way each SLO's month is ``results.evaluate_month``
evaluated at the month's end (or now, for the current month), so the report shows
exactly what ``slaengine compute`` shows for ``month:YYYY-MM``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from slaengine.batch import helper_process, resource_events, run_batch
from slaengine.calendar import month_range
from slaengine.config import SlaConfig, load_sla_config
from slaengine.report.collect_definitions import describe_all
from slaengine.report.collect_slo import (
    MonthContext,
    collect_slo_month,
    collect_trend,
    month_context,
)
from slaengine.report.errors import ReportRequestError
from slaengine.report.model import (
    CapacitySection,
    DayRatio,
    IncidentRow,
    LagSummary,
    MonthReport,
    ProjectionLag,
    SloMonth,
)
from slaengine.sli import query
from slaengine.sli.engine import SliEngine

if TYPE_CHECKING:
    from slaengine.pagerduty.incidents import IncidentTimeline

__all__ = ["build_month_report", "incident_rows", "month_report_from_engine"]

log = logging.getLogger(__name__)


def month_report_from_engine(
    engine: SliEngine,
    config: SlaConfig,
    month: date,
    now_ms: int,
    *,
    incidents: list[IncidentRow] | None = None,
    capacity: list[CapacitySection] | None = None,
) -> MonthReport:
    """The report of ``month`` (any day of it) as of ``now_ms``.

    ``incidents`` / ``capacity`` None mean "no such data source" and the PDF says so.
    A month without events gives SLOs with status "no-data"; a month that has not
    started in the SLO timezone is a ReportRequestError.
    """
    month = date(month.year, month.month, 1)
    ctx = month_context(engine, month, now_ms)
    ensure_started(month, ctx.start_ms, now_ms, config.timezone)
    slos = tuple(collect_slo_month(ctx, slo) for slo in config.slos)
    organisation, service_name = report_identity(config)
    return MonthReport(
        organisation=organisation,
        service_name=service_name,
        month=month,
        timezone=config.timezone,
        generated_at=datetime.fromtimestamp(now_ms / 1000, UTC),
        slos=slos,
        incidents=None if incidents is None else tuple(incidents),
        fulfillment_by_day=_fulfillment_by_day(slos),
        lag_summary=_lag_summary(ctx, config, slos),
        capacity=None if capacity is None else tuple(capacity),
        trend=tuple(point for slo in config.slos for point in collect_trend(ctx, slo)),
        definitions=describe_all(config),
    )


def ensure_started(month: date, start_ms: int, now_ms: int, timezone: str) -> None:
    if now_ms < start_ms:
        raise ReportRequestError(f"month {month:%Y-%m} has not started yet in {timezone}")


def report_identity(config: SlaConfig) -> tuple[str, str]:
    """(organisation, service name): the ``report:`` section's, else the SLO config's."""
    section = config.report
    organisation = (section.organisation if section else "") or config.organisation
    services = ", ".join(dict.fromkeys(slo.service for slo in config.slos if slo.service))
    return organisation, (section.service_name if section else "") or services or organisation


def _fulfillment_by_day(slos: tuple[SloMonth, ...]) -> tuple[DayRatio, ...] | None:
    """Orders per creation day of the first fulfillment SLO; None when none is configured."""
    slo = next((s for s in slos if s.sli == "fulfillment"), None)
    if slo is None:
        return None
    return tuple(DayRatio(p.day, int(p.good), int(p.total)) for p in slo.daily)


def _lag_summary(
    ctx: MonthContext, config: SlaConfig, slos: tuple[SloMonth, ...]
) -> LagSummary | None:
    """The month's lag of the first projection_lag SLO; None without one or without samples."""
    spec = next((s for s in config.slos if s.sli == "projection_lag"), None)
    if spec is None or spec.threshold_s is None:
        return None
    month = next(s for s in slos if s.name == spec.name)
    sketch = query.merged_sketch(ctx.engine, spec, ctx.start_ms, ctx.end_ms)
    if month.attained is None or month.p50_ms is None or month.p95_ms is None or not sketch.count:
        return None
    return LagSummary(
        spec.threshold_s,
        (
            ProjectionLag(
                projection=spec.projection or "all projections",
                p50_seconds=month.p50_ms / 1000,
                p95_seconds=month.p95_ms / 1000,
                max_seconds=(sketch.quantile(1.0) or 0.0) / 1000,
                percent_within_threshold=month.attained,
            ),
        ),
    )


def incident_rows(timelines: Iterable[IncidentTimeline]) -> list[IncidentRow]:
    """PagerDuty incident timelines as report rows (incidents never triggered are skipped)."""
    return [
        IncidentRow(
            title=timeline.title or timeline.incident_id,
            severity=timeline.urgency or "unknown",
            start=timeline.triggered_at,
            end=timeline.resolved_at,
            time_to_acknowledge=timeline.time_to_acknowledge,
            time_to_resolve=timeline.time_to_resolve,
        )
        for timeline in timelines
        if timeline.triggered_at is not None
    ]


# ---- the batch adapter (CLI) ------------------------------------------------------------


def build_month_report(
    events_path: str | Path, config_path: str | Path, month: date, *, now: datetime | None = None
) -> MonthReport:
    """The report of ``month`` computed from an events file (``slaengine report``).

    The whole file goes through ``slaengine.batch`` (events of other months feed
    the trend and the previous-month comparison); incidents are None (no PagerDuty
    source in batch mode); capacity comes from the file's resource events.

    The capacity forecasts run in a second process while this one computes the SLIs: they
    share no state, and the forecasting libraries' imports (~1.3 s of CPU) and fits then
    cost no wall time on a machine with two cores. The same process then applies the
    orders, projections and resources (``run_batch``'s helper) while this one applies the
    requests.
    """
    config = load_sla_config(config_path)  # every section, the report's and forecasting's too
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    start_ms, end_ms = month_range(month.year, month.month, config.zone)
    ensure_started(month, start_ms, now_ms, config.timezone)  # before the slow part
    with helper_process() as helper:
        capacity = helper.submit(capacity_of_log, events_path, config, now_ms, end_ms)
        batch = run_batch(events_path, config, now_ms, keep_resources=False, helper=helper)
        if batch.invalid_total:
            log.warning(
                "%s: %d invalid events skipped (%s)",
                events_path,
                batch.invalid_total,
                ", ".join(f"{reason}: {n}" for reason, n in sorted(batch.invalid.items())),
            )
        return month_report_from_engine(
            batch.engine, config, month, now_ms, capacity=capacity.result()
        )


def capacity_of_log(
    events_path: str | Path, config: SlaConfig, now_ms: int, month_end_ms: int
) -> list[CapacitySection] | None:
    """The capacity sections of an events file's resource events (the config's ``forecasting:``
    rules, else the packaged ones)."""
    from slaengine.report.collect_capacity import capacity_sections  # the forecasting libraries

    return capacity_sections(resource_events(events_path, now_ms), config, month_end_ms)

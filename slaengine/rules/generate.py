"""SLO -> Prometheus rule groups, in Sloth's conventions.

Per SLO three groups: SLI error-ratio recordings per alert window (plus the
period, averaged from the shortest window), meta recordings (objective, budget,
burn rates, info) and the page/ticket multi-window multi-burn-rate alerts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from slaengine.durations import format_duration
from slaengine.rules.model import (
    AlertingRule,
    AlertMeta,
    EventsSli,
    RawSli,
    RecordingRule,
    RuleGroup,
    SloDefinition,
    SloGroup,
)
from slaengine.rules.promql import format_number, label_filter, render_window
from slaengine.rules.windows import AlertWindows, BurnRateWindow, WindowsCatalog

WINDOW_LABEL = "sloth_window"
SEVERITY_LABEL = "sloth_severity"


@dataclass(frozen=True)
class GenerateOptions:
    version: str
    extra_labels: Mapping[str, str] = field(default_factory=dict)
    disable_recordings: bool = False
    disable_alerts: bool = False


def sli_error_metric(window: timedelta) -> str:
    return f"slo:sli_error:ratio_rate{format_duration(window)}"


def windows_of(slo: SloDefinition, catalog: WindowsCatalog) -> AlertWindows:
    return slo.windows.for_period(slo.period) if slo.windows else catalog.for_period(slo.period)


def generate_group_rules(
    group: SloGroup, catalog: WindowsCatalog, options: GenerateOptions
) -> list[RuleGroup]:
    groups: list[RuleGroup] = []
    for slo in group.slos:
        groups.extend(
            generate_slo_rules(
                slo, windows_of(slo, catalog), options, spec=group.spec, mode=group.mode
            )
        )
    return groups


def generate_slo_rules(
    slo: SloDefinition, windows: AlertWindows, options: GenerateOptions, *, spec: str, mode: str
) -> list[RuleGroup]:
    labels = {**slo.labels, **options.extra_labels}
    groups = []
    if not options.disable_recordings:
        groups.append(
            RuleGroup(
                f"sloth-slo-sli-recordings-{slo.id}", tuple(_sli_recordings(slo, windows, labels))
            )
        )
        groups.append(
            RuleGroup(
                f"sloth-slo-meta-recordings-{slo.id}",
                tuple(_meta_recordings(slo, windows, labels, options.version, spec, mode)),
            )
        )
    if not options.disable_alerts:
        alerts = []
        if slo.page_alert:
            alerts.append(
                _burn_rate_alert(
                    slo,
                    slo.page_alert,
                    "page",
                    windows.page_quick,
                    windows.page_slow,
                    windows.period,
                )
            )
        if slo.ticket_alert:
            alerts.append(
                _burn_rate_alert(
                    slo,
                    slo.ticket_alert,
                    "ticket",
                    windows.ticket_quick,
                    windows.ticket_slow,
                    windows.period,
                )
            )
        if alerts:
            groups.append(RuleGroup(f"sloth-slo-alerts-{slo.id}", tuple(alerts)))
    return groups


def _sli_expr(slo: SloDefinition, window: str) -> str:
    if isinstance(slo.sli, EventsSli):
        return render_window(f"({slo.sli.error_query})\n/\n({slo.sli.total_query})\n", window)
    assert isinstance(slo.sli, RawSli)
    return render_window(f"({slo.sli.error_ratio_query})", window)


def _sli_recordings(
    slo: SloDefinition, windows: AlertWindows, labels: Mapping[str, str]
) -> list[RecordingRule]:
    rules = []
    for window in windows.distinct_windows():
        text = format_duration(window)
        rules.append(
            RecordingRule(
                sli_error_metric(window),
                _sli_expr(slo, text),
                {**slo.id_labels(), WINDOW_LABEL: text, **labels},
            )
        )
    # The period ratio averages the shortest window's ratio: far cheaper than a
    # 30-day rate() over raw series, and exact when traffic is steady.
    period = format_duration(windows.period)
    short = f"{sli_error_metric(windows.page_quick.short_window)}{label_filter(slo.id_labels())}"
    expr = (
        f"sum_over_time({short}[{period}])\n/ ignoring ({WINDOW_LABEL})\n"
        f"count_over_time({short}[{period}])\n"
    )
    rules.append(
        RecordingRule(
            sli_error_metric(windows.period),
            expr,
            {**slo.id_labels(), WINDOW_LABEL: period, **labels},
        )
    )
    return rules


def _meta_recordings(
    slo: SloDefinition,
    windows: AlertWindows,
    labels: Mapping[str, str],
    version: str,
    spec: str,
    mode: str,
) -> list[RecordingRule]:
    meta_labels = {**slo.id_labels(), **labels}
    selector = label_filter(slo.id_labels())
    ratio = format_number(slo.objective / 100)
    days = format_number(windows.period.total_seconds() / 86400)

    def burn_rate_expr(window: timedelta) -> str:
        return (
            f"{sli_error_metric(window)}{selector}\n"
            f"/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
            f"slo:error_budget:ratio{selector}\n"
        )

    rules = [
        RecordingRule("slo:objective:ratio", f"vector({ratio})", meta_labels),
        RecordingRule("slo:error_budget:ratio", f"vector(1-{ratio})", meta_labels),
        RecordingRule("slo:time_period:days", f"vector({days})", meta_labels),
    ]
    # A 100 % objective has no budget: burn rates would be x/0 (Inf or NaN), so they are omitted.
    if slo.objective < 100:
        rules += [
            RecordingRule(
                "slo:current_burn_rate:ratio",
                burn_rate_expr(windows.page_quick.short_window),
                meta_labels,
            ),
            RecordingRule(
                "slo:period_burn_rate:ratio", burn_rate_expr(windows.period), meta_labels
            ),
            RecordingRule(
                "slo:period_error_budget_remaining:ratio",
                f"1 - slo:period_burn_rate:ratio{selector}",
                meta_labels,
            ),
        ]
    info = {
        **meta_labels,
        "sloth_version": version,
        "sloth_mode": mode,
        "sloth_spec": spec,
        "sloth_objective": format_number(slo.objective),
    }
    rules.append(RecordingRule("sloth_slo_info", "vector(1)", info))
    return rules


def burn_rate_threshold(
    slo: SloDefinition, window: BurnRateWindow, period: timedelta
) -> tuple[str, str]:
    """The (factor, budget ratio) pair of an alert condition, printed as Sloth does."""
    return format_number(window.burn_factor(period)), format_number(slo.error_budget_percent / 100)


def _burn_rate_alert(
    slo: SloDefinition,
    meta: AlertMeta,
    severity: str,
    quick: BurnRateWindow,
    slow: BurnRateWindow,
    period: timedelta,
) -> AlertingRule:
    selector = label_filter(slo.id_labels())

    def condition(window: timedelta, rate: BurnRateWindow) -> str:
        factor, budget = burn_rate_threshold(slo, rate, period)
        return (
            f"    max({sli_error_metric(window)}{selector} > ({factor} * {budget}))"
            f" without ({WINDOW_LABEL})\n"
        )

    expr = (
        "(\n"
        + condition(quick.short_window, quick)
        + "    and\n"
        + condition(quick.long_window, quick)
        + ")\nor\n(\n"
        + condition(slow.short_window, slow)
        + "    and\n"
        + condition(slow.long_window, slow)
        + ")\n"
    )
    return AlertingRule(
        meta.name,
        expr,
        {SEVERITY_LABEL: severity, **meta.labels},
        burn_rate_annotations(severity, meta),
    )


def burn_rate_annotations(severity: str, meta: AlertMeta) -> dict[str, str]:
    """Sloth's title and summary, overridable by the SLO's own annotations."""
    return {
        "title": f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} "
        "SLO error budget burn rate is too fast.",
        "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} "
        "SLO error budget burn rate is over expected.",
        **meta.annotations,
    }

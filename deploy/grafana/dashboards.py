"""slaengine's Grafana dashboards as code: ``python deploy/grafana/dashboards.py`` rewrites
deploy/grafana/dashboards/*.json (Grafana provisions those files; never edit them by hand).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from builder import (
    BUDGET_REMAINING,
    BUDGET_STEPS,
    OBJECTIVE,
    SLI,
    SLO_VARIABLE,
    cell_colours,
    dashboard,
    of_kind,
    render,
    stat,
    table,
    target,
    timeseries,
    variable_query,
    variable_window,
)

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
Panel = dict[str, Any]
RATE = "$__rate_interval"
BURN_WINDOWS = "5m|30m|1h|2h|6h|1d|3d"


def by_window(metric: str, windows: str = BURN_WINDOWS) -> str:
    return f'sum by (slo, window) ({metric}{{slo=~"$slo", window=~"{windows}"}})'


BURN_RATE_BY_WINDOW = (
    f"(1 - {by_window('slaengine_slo_window_good_events')}"
    f" / {by_window('slaengine_slo_window_events')})"
    ' / on (slo) group_left () (1 - max by (slo) (slaengine_slo_objective_ratio{slo=~"$slo"}))'
)


def overview_panels() -> list[Panel]:
    status = table(
        "SLOs over $window",
        [
            target("A", SLI, instant=True),
            target("B", OBJECTIVE, instant=True),
            target("C", BUDGET_REMAINING, instant=True),
            target("D", f"({SLI}) < bool on (slo, service) ({OBJECTIVE})", instant=True),
        ],
        {
            "slo": "SLO",
            "service": "Service",
            "Value #A": "SLI",
            "Value #B": "Objective",
            "Value #C": "Budget left",
            "Value #D": "Breached",
        },
        description="Green: more than half the budget left; red: the SLO is breached.",
        overrides=[
            cell_colours("Budget left", "percentunit", BUDGET_STEPS),
            cell_colours("SLI", "percentunit", [("text", None)]),
            cell_colours("Objective", "percentunit", [("text", None)]),
            cell_colours("Breached", "bool_yes_no", [("green", None), ("red", 1)]),
        ],
        width=24,
        height=9,
    )
    return [
        status,
        stat(
            "Uptime (30d)",
            [target("A", 'min by (slo) (sla_uptime_percentage{window="30d"})', "{{slo}}")],
            unit="percent",
            decimals=3,
            steps=[("red", None), ("orange", 99), ("green", 99.9)],
        ),
        stat(
            "API p95 latency (1h)",
            [
                target(
                    "A", 'max by (service) (sla_api_response_time_p95{window="1h"})', "{{service}}"
                )
            ],
            unit="ms",
            steps=[("green", None), ("orange", 300), ("red", 500)],
        ),
        stat(
            "Order fulfillment (7d)",
            [target("A", 'min by (slo) (sla_order_fulfillment_rate{window="7d"})', "{{slo}}")],
            unit="percentunit",
            decimals=2,
            steps=[("red", None), ("green", 0.95)],
        ),
        stat(
            "Projection lag (newest sample)",
            [
                target(
                    "A",
                    'max by (projection) (sla_projection_lag_seconds{window="latest"})',
                    "{{projection}}",
                )
            ],
            unit="s",
            steps=[("green", None), ("orange", 1), ("red", 5)],
        ),
        timeseries(
            "Error budget left over $window",
            [target("A", BUDGET_REMAINING, "{{slo}}")],
            unit="percentunit",
            steps=BUDGET_STEPS,
            width=24,
        ),
    ]


def error_budget_panels() -> list[Panel]:
    return [
        table(
            "Burn rate by window (1 = spending exactly the budget)",
            [target("A", BURN_RATE_BY_WINDOW, instant=True)],
            {},
            transformations=[
                {"id": "labelsToFields", "options": {"mode": "columns"}},
                {
                    "id": "groupingToMatrix",
                    "options": {"columnField": "window", "rowField": "slo", "valueField": "Value"},
                },
            ],
            overrides=[
                {
                    "matcher": {"id": "byType", "options": "number"},
                    "properties": [
                        {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                        {
                            "id": "thresholds",
                            "value": {
                                "mode": "absolute",
                                "steps": [
                                    {"color": "green", "value": None},
                                    {"color": "yellow", "value": 1},
                                    {"color": "orange", "value": 6},
                                    {"color": "red", "value": 14.4},
                                ],
                            },
                        },
                    ],
                }
            ],
            decimals=2,
            width=24,
            height=9,
        ),
        timeseries(
            "Error budget left over $window",
            [target("A", BUDGET_REMAINING, "{{slo}}")],
            unit="percentunit",
            steps=BUDGET_STEPS,
        ),
        timeseries(
            "Burn rate, short windows",
            [target("A", BURN_RATE_BY_WINDOW.replace(BURN_WINDOWS, "5m|1h"), "{{slo}} {{window}}")],
            steps=[("green", None), ("red", 14.4)],
        ),
        timeseries(
            "Burn rate, long windows",
            [target("A", BURN_RATE_BY_WINDOW.replace(BURN_WINDOWS, "6h|3d"), "{{slo}} {{window}}")],
            steps=[("green", None), ("orange", 1), ("red", 6)],
        ),
        table(
            "Active alerts (in-service evaluator)",
            [
                target(
                    "A",
                    "sum by (alertname, severity, slo, alertstate) (slaengine_alerts)",
                    instant=True,
                )
            ],
            {"Value": "Count"},
            width=12,
        ),
    ]


def latency_panels() -> list[Panel]:
    quantiles = (
        "max by (slo, service, quantile) "
        '(slaengine_slo_latency_seconds{slo=~"$slo", window="$window"})'
    )
    return [
        timeseries(
            "Latency quantiles over $window",
            [target("A", quantiles, "{{slo}} p{{quantile}}")],
            unit="s",
            width=24,
        ),
        stat(
            "p95 by service (1h)",
            [
                target(
                    "A", 'max by (service) (sla_api_response_time_p95{window="1h"})', "{{service}}"
                )
            ],
            unit="ms",
            steps=[("green", None), ("orange", 300), ("red", 500)],
            width=8,
        ),
        stat(
            "Requests under the threshold ($window)",
            [target("A", of_kind(SLI, "latency"), "{{slo}}")],
            unit="percentunit",
            decimals=2,
            steps=[("red", None), ("green", 0.95)],
            width=8,
        ),
        stat(
            "Latency budget left ($window)",
            [target("A", of_kind(BUDGET_REMAINING, "latency"), "{{slo}}")],
            unit="percentunit",
            steps=BUDGET_STEPS,
            width=8,
        ),
        timeseries(
            "p95 by window",
            [
                target(
                    "A",
                    "max by (service, window) "
                    '(sla_api_response_time_p95{window=~"5m|1h|1d|7d|30d"})',
                    "{{service}} {{window}}",
                )
            ],
            unit="ms",
            width=24,
        ),
    ]


def fulfillment_panels() -> list[Panel]:
    good = 'sum by (slo, window) (slaengine_slo_window_good_events{slo=~"$slo"})'
    valid = 'sum by (slo, window) (slaengine_slo_window_events{slo=~"$slo"})'
    return [
        table(
            "Fulfillment by window",
            [target("A", of_kind(f"{good} / {valid}", "fulfillment"), instant=True)],
            {},
            transformations=[
                {"id": "labelsToFields", "options": {"mode": "columns"}},
                {
                    "id": "groupingToMatrix",
                    "options": {"columnField": "window", "rowField": "slo", "valueField": "Value"},
                },
            ],
            unit="percentunit",
            decimals=2,
            width=24,
            height=6,
        ),
        stat(
            "Fulfilled in time ($window)",
            [target("A", of_kind(SLI, "fulfillment"), "{{slo}}")],
            unit="percentunit",
            decimals=2,
            steps=[("red", None), ("green", 0.95)],
            width=8,
        ),
        stat(
            "Orders counted ($window)",
            [
                target(
                    "A",
                    of_kind(
                        'sum by (slo) (slaengine_slo_window_events{slo=~"$slo", window="$window"})',
                        "fulfillment",
                    ),
                    "{{slo}}",
                )
            ],
            width=8,
        ),
        stat(
            "Late orders ($window)",
            [
                target(
                    "A",
                    of_kind(
                        'sum by (slo) (slaengine_slo_window_events{slo=~"$slo", '
                        'window="$window"}) - sum by (slo) (slaengine_slo_window_good_events'
                        '{slo=~"$slo", window="$window"})',
                        "fulfillment",
                    ),
                    "{{slo}}",
                )
            ],
            steps=[("green", None), ("orange", 1)],
            width=8,
        ),
        timeseries(
            "Fulfillment rate per worker",
            [
                target(
                    "A",
                    'sla_order_fulfillment_rate{slo=~"$slo", window=~"1d|7d|30d"}',
                    "{{slo}} {{window}} {{instance}}",
                )
            ],
            unit="percentunit",
            width=24,
        ),
    ]


def capacity_panels() -> list[Panel]:
    res = '{resource=~"$resource"}'
    return [
        stat(
            "Utilization",
            [
                target(
                    "A",
                    f"max by (resource) (slaengine_capacity_utilization_percent{res})",
                    "{{resource}}",
                )
            ],
            unit="percent",
            steps=[("green", None), ("orange", 80), ("red", 90)],
            width=24,
        ),
        timeseries(
            "Forecast (likely and upper 95 %)",
            [
                target(
                    "A",
                    f"max by (resource, horizon_days, bound) (slaengine_capacity_forecast{res})",
                    "{{resource}} +{{horizon_days}}d {{bound}}",
                )
            ],
        ),
        table(
            "Days until threshold",
            [
                target(
                    "A",
                    f"max by (resource, threshold) (slaengine_capacity_days_to_threshold{res})",
                    instant=True,
                ),
                target(
                    "B",
                    f"max by (resource, threshold) "
                    f"(slaengine_capacity_earliest_days_to_threshold{res})",
                    instant=True,
                ),
            ],
            {
                "resource": "Resource",
                "threshold": "Threshold %",
                "Value #A": "Likely (days)",
                "Value #B": "Earliest (days)",
            },
            overrides=[
                cell_colours(
                    "Earliest (days)", "short", [("red", None), ("orange", 30), ("green", 90)]
                )
            ],
        ),
        timeseries(
            "Current value and capacity",
            [
                target(
                    "A",
                    f"max by (resource) (slaengine_capacity_current{res})",
                    "{{resource}} current",
                ),
                target(
                    "B",
                    f"max by (resource) (slaengine_capacity_limit{res})",
                    "{{resource}} capacity",
                ),
            ],
        ),
        stat(
            "Growth per month",
            [
                target(
                    "A",
                    f"max by (resource) (slaengine_capacity_growth_per_month{res})",
                    "{{resource}}",
                )
            ],
            width=12,
        ),
        stat(
            "Database size",
            [target("A", "max(capacity_database_size_gb)", "GB")],
            unit="decgbytes",
            width=4,
        ),
        stat("Event store", [target("A", "max(capacity_event_count)", "events")], width=4),
        stat(
            "Storage locations used",
            [target("A", "max(capacity_location_utilization_percent)", "used")],
            unit="percent",
            steps=[("green", None), ("orange", 85)],
            width=4,
        ),
        table(
            "Backtest MASE (< 1 beats the naive forecast)",
            [
                target(
                    "A",
                    f"max by (resource, model) (slaengine_capacity_backtest_mase{res})",
                    instant=True,
                )
            ],
            {"resource": "Resource", "model": "Model", "Value": "MASE"},
            decimals=3,
            width=12,
        ),
    ]


def pipeline_panels() -> list[Panel]:
    per_channel = "receiver, integration"
    return [
        stat(
            "Workers up",
            [target("A", 'count(up{job="slaengine"} == 1)', "workers")],
            steps=[("red", None), ("green", 1)],
            width=6,
        ),
        stat(
            "Events per second",
            [target("A", f"sum(rate(slaengine_events_processed_total[{RATE}]))", "events/s")],
            unit="ops",
            width=6,
        ),
        stat(
            "Consumer lag (messages)",
            [target("A", "sum(slaengine_kafka_consumer_lag)", "behind")],
            steps=[("green", None), ("orange", 1000), ("red", 10000)],
            width=6,
        ),
        stat(
            "Dead letters (total)",
            [target("A", "sum(slaengine_events_invalid_total)", "dead letters")],
            steps=[("green", None), ("orange", 1)],
            width=6,
        ),
        timeseries(
            "Throughput by topic",
            [
                target(
                    "A",
                    f"sum by (topic) (rate(slaengine_events_processed_total[{RATE}]))",
                    "{{topic}}",
                )
            ],
            unit="ops",
        ),
        timeseries(
            "Consumer lag by topic",
            [target("A", "sum by (topic) (slaengine_kafka_consumer_lag)", "{{topic}}")],
        ),
        timeseries(
            "Invalid events by reason (dead-lettered)",
            [
                target(
                    "A",
                    f"sum by (topic, reason) (increase(slaengine_events_invalid_total[{RATE}]))",
                    "{{topic}} {{reason}}",
                )
            ],
        ),
        timeseries(
            "slaengine pipeline lag (processing behind Kafka append)",
            [target("A", "max by (topic) (slaengine_pipeline_lag_seconds)", "{{topic}}")],
            unit="s",
            description="slaengine's own delay, not the monitored system's: SLIs and alerts "
            "trail reality by this much. SlaenginePipelineLagHigh opens a ticket "
            "above 60 s.",
        ),
        timeseries(
            "Alert deliveries",
            [
                target(
                    "A",
                    f"sum by ({per_channel}) (increase(slaengine_alert_deliveries_total[{RATE}]))",
                    "delivered {{receiver}}/{{integration}}",
                ),
                target(
                    "B",
                    f"sum by ({per_channel}) "
                    f"(increase(slaengine_alert_deliveries_retried_total[{RATE}]))",
                    "retried {{receiver}}/{{integration}}",
                ),
                target(
                    "C",
                    f"sum by ({per_channel}) "
                    f"(increase(slaengine_alert_deliveries_failed_total[{RATE}]))",
                    "dead {{receiver}}/{{integration}}",
                ),
            ],
        ),
        timeseries(
            "Alert outbox",
            [
                target(
                    "A",
                    f"sum by ({per_channel}) (slaengine_alert_outbox_depth)",
                    "waiting {{receiver}}/{{integration}}",
                ),
                target(
                    "B",
                    f"max by ({per_channel}) (slaengine_alert_outbox_oldest_pending_age_seconds)",
                    "oldest {{receiver}}/{{integration}} (s)",
                ),
            ],
        ),
        table(
            "Delivery totals",
            [
                target(
                    "A", f"sum by ({per_channel}) (slaengine_alert_deliveries_total)", instant=True
                ),
                target(
                    "B",
                    f"sum by ({per_channel}) (slaengine_alert_deliveries_retried_total)",
                    instant=True,
                ),
                target(
                    "C",
                    f"sum by ({per_channel}) (slaengine_alert_deliveries_failed_total)",
                    instant=True,
                ),
            ],
            {
                "receiver": "Receiver",
                "integration": "Integration",
                "Value #A": "Delivered",
                "Value #B": "Retried",
                "Value #C": "Dead",
            },
            overrides=[cell_colours("Dead", "short", [("green", None), ("red", 1)])],
            width=24,
            height=6,
        ),
    ]


def build_all() -> dict[str, dict[str, Any]]:
    resource = variable_query(
        "resource", "Resource", "label_values(slaengine_capacity_current, resource)"
    )
    return {
        "sla-overview": dashboard(
            "slaengine-sla-overview",
            "SLA overview",
            "Every SLO: SLI, objective, error budget left and status over the selected window.",
            overview_panels(),
            [SLO_VARIABLE, variable_window()],
        ),
        "error-budgets": dashboard(
            "slaengine-error-budgets",
            "Error budgets and burn rates",
            "Budget left and multi-window burn rates per SLO; alerts of the in-service evaluator.",
            error_budget_panels(),
            [SLO_VARIABLE, variable_window()],
        ),
        "latency": dashboard(
            "slaengine-latency",
            "Latency percentiles",
            "p50/p95/p99 per latency SLO and the share of requests under the threshold.",
            latency_panels(),
            [SLO_VARIABLE, variable_window("1h")],
            "now-6h",
        ),
        "order-fulfillment": dashboard(
            "slaengine-order-fulfillment",
            "Order fulfillment",
            "Orders shipped within their deadline, per fulfillment SLO and window.",
            fulfillment_panels(),
            [SLO_VARIABLE, variable_window("7d")],
            "now-7d",
        ),
        "capacity": dashboard(
            "slaengine-capacity",
            "Capacity forecast",
            "Current use, forecasts with 95 % bounds, days to thresholds and model accuracy.",
            capacity_panels(),
            [resource],
            "now-7d",
        ),
        "pipeline-health": dashboard(
            "slaengine-pipeline-health",
            "Pipeline health",
            "Throughput, consumer lag, invalid events and dead letters, alert deliveries.",
            pipeline_panels(),
            [],
            "now-6h",
        ),
    }


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name, board in build_all().items():
        path = OUT_DIR / f"{name}.json"
        path.write_text(render(board), encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

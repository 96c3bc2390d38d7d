"""Building blocks of slaengine's Grafana dashboards (JSON model, schemaVersion 39).

Every query reads series a slaengine worker exports (slaengine/metrics.py, evaluator/metrics.py,
router/metrics.py, forecasting/metrics.py). SLIs are summed good/valid counts by SLO, so a
dashboard stays right when an SLO's partitions are spread over several workers;
tests/deploy/test_dashboards.py runs every expression against a real Prometheus.
"""

from __future__ import annotations

import json
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "7d", "30d", "calendar-month")
BUDGET_STEPS = [("red", None), ("orange", 0), ("yellow", 0.25), ("green", 0.5)]

# Summed counts by SLO: right however many workers hold an SLO's partitions.
GOOD = 'sum by (slo, service) (slaengine_slo_window_good_events{slo=~"$slo", window="$window"})'
VALID = 'sum by (slo, service) (slaengine_slo_window_events{slo=~"$slo", window="$window"})'
OBJECTIVE = 'max by (slo, service) (slaengine_slo_objective_ratio{slo=~"$slo"})'
SLI = f"({GOOD} / {VALID})"
BUDGET_REMAINING = f"1 - (1 - {SLI}) / on (slo, service) (1 - {OBJECTIVE})"


def of_kind(expr: str, sli: str) -> str:
    """Keep only series of SLOs whose SLI kind is ``sli`` (the objective carries the kind)."""
    return f'({expr}) and on (slo) slaengine_slo_objective_ratio{{sli="{sli}"}}'


def target(ref: str, expr: str, legend: str = "", instant: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "refId": ref,
        "datasource": DATASOURCE,
        "expr": expr,
        "legendFormat": legend or "__auto",
    }
    if instant:
        out.update(instant=True, range=False, format="table")
    return out


def thresholds(steps: list[tuple[str, float | None]]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def panel(
    kind: str,
    title: str,
    targets: list[dict[str, Any]],
    *,
    unit: str = "short",
    steps: list[tuple[str, float | None]] | None = None,
    description: str = "",
    options: dict[str, Any] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    transformations: list[dict[str, Any]] | None = None,
    decimals: int | None = None,
    width: int = 12,
    height: int = 8,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit, "thresholds": thresholds(steps or [("green", None)])}
    if decimals is not None:
        defaults["decimals"] = decimals
    if steps:
        defaults["color"] = {"mode": "thresholds"}
    out: dict[str, Any] = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
        "gridPos": {"w": width, "h": height},
    }
    if transformations:
        out["transformations"] = transformations
    return out


def timeseries(title: str, targets: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault(
        "options",
        {
            "legend": {"displayMode": "table", "placement": "right", "calcs": ["lastNotNull"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )
    return panel("timeseries", title, targets, **kwargs)


def stat(title: str, targets: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault(
        "options",
        {
            "colorMode": "background",
            "graphMode": "area",
            "reduceOptions": {"calcs": ["lastNotNull"]},
            "textMode": "auto",
        },
    )
    kwargs.setdefault("width", 6)
    kwargs.setdefault("height", 5)
    return panel("stat", title, targets, **kwargs)


def table(
    title: str, targets: list[dict[str, Any]], names: dict[str, str], **kwargs: Any
) -> dict[str, Any]:
    """Instant queries merged into one row per label set; ``names`` renames 'Value #A' etc."""
    kwargs.setdefault(
        "transformations",
        [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}, "renameByName": names}},
        ],
    )
    kwargs.setdefault(
        "options", {"showHeader": True, "cellHeight": "sm", "footer": {"show": False}}
    )
    return panel("table", title, targets, **kwargs)


def cell_colours(field: str, unit: str, steps: list[tuple[str, float | None]]) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [
            {"id": "unit", "value": unit},
            {"id": "custom.cellOptions", "value": {"type": "color-background", "mode": "basic"}},
            {"id": "thresholds", "value": thresholds(steps)},
        ],
    }


def variable_query(name: str, label: str, query: str, all_value: str = ".+") -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": all_value,
        "current": {"text": "All", "value": "$__all"},
    }


def variable_window(default: str = "30d") -> dict[str, Any]:
    return {
        "name": "window",
        "label": "Window",
        "type": "custom",
        "query": ",".join(WINDOWS),
        "multi": False,
        "includeAll": False,
        "current": {"text": default, "value": default},
        "options": [{"text": w, "value": w, "selected": w == default} for w in WINDOWS],
    }


SLO_VARIABLE = variable_query("slo", "SLO", "label_values(slaengine_slo_objective_ratio, slo)")


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[dict[str, Any]],
    variables: list[dict[str, Any]],
    time_from: str = "now-24h",
) -> dict[str, Any]:
    x = y = row_height = 0
    for number, item in enumerate(panels, start=1):  # flow panels left to right, 24 columns
        grid = item["gridPos"]
        if x + grid["w"] > 24:
            x, y, row_height = 0, y + row_height, 0
        grid.update(x=x, y=y)
        x, row_height = x + grid["w"], max(row_height, grid["h"])
        item["id"] = number
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["slaengine"],
        "editable": False,
        "graphTooltip": 1,
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": time_from, "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [
            {"title": "slaengine", "type": "dashboards", "tags": ["slaengine"], "asDropdown": True}
        ],
        "panels": panels,
    }


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2) + "\n"

"""What to do about a resource, per kind, from its forecast and the configured thresholds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from forecasting.config import (
    ApiInstancesRule,
    DatabaseRule,
    EventStoreRule,
    KindRules,
    ResourceSpec,
    StorageLocationsRule,
)
from forecasting.forecast import DAYS_PER_MONTH, CapacityForecast, first_day_at_or_above


@dataclass(frozen=True)
class Recommendation:
    resource: str
    kind: str
    action: str  # upgrade_tier, add_instances, add_locations, reduce_event_rate, plan_expansion,
    #              none, wait_for_data
    message: str
    amount: float | None = None  # the tier in GB, or how many instances / locations to add
    due_in_months: int | None = None
    due_date: date | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "kind": self.kind,
            "action": self.action,
            "message": self.message,
            "amount": self.amount,
            "due_in_months": self.due_in_months,
            "due_date": self.due_date.isoformat() if self.due_date else None,
        }


def recommend(
    forecast: CapacityForecast,
    spec: ResourceSpec,
    rules: KindRules,
    recent_values: Sequence[float] = (),
    labels: Mapping[str, str] | None = None,
) -> Recommendation:
    """``recent_values``: the latest daily values, newest last (for "stays above" rules)."""
    if forecast.current is None:
        return Recommendation(forecast.resource, spec.kind, "wait_for_data", forecast.message)
    if spec.kind == "database":
        return recommend_database(forecast, rules.database)
    if spec.kind == "api_instances":
        return recommend_api_instances(forecast, rules.api_instances, recent_values, labels or {})
    if spec.kind == "storage_locations":
        return recommend_storage_locations(forecast, rules.storage_locations)
    if spec.kind == "event_store":
        return recommend_event_store(forecast, rules.event_store)
    return recommend_generic(forecast)


def days_until(forecast: CapacityForecast, level: float) -> int | None:
    """Days until the likely forecast reaches ``level``: 0 if already there, None if never."""
    assert forecast.current is not None
    if forecast.current >= level:
        return 0
    if forecast.status != "ok" or forecast.projection is None:
        return None
    return first_day_at_or_above(forecast.projection.mean, level)


def _peak_mean(forecast: CapacityForecast, days: int | None = None) -> float:
    assert forecast.current is not None
    if forecast.projection is None or forecast.status != "ok":
        return forecast.current
    return max(forecast.current, float(np.max(forecast.projection.mean[:days])))


def _due(forecast: CapacityForecast, days: int) -> tuple[int, date | None]:
    due = forecast.last_day + timedelta(days=days) if forecast.last_day else None
    return int(days // DAYS_PER_MONTH), due


def recommend_database(forecast: CapacityForecast, rule: DatabaseRule) -> Recommendation:
    name, capacity = forecast.resource, forecast.capacity
    if not capacity:
        return Recommendation(name, "database", "none", "no capacity known for the database")
    if forecast.status == "insufficient_data":
        return Recommendation(name, "database", "wait_for_data", forecast.message)
    days = days_until(forecast, capacity * rule.threshold_percent / 100)
    if days is None:
        return Recommendation(
            name,
            "database",
            "none",
            f"projected to stay below {rule.threshold_percent:g} % of "
            f"{capacity:g} GB for {len(forecast.projection or ())} days",
        )
    peak = _peak_mean(forecast)
    larger = [t for t in rule.tiers_gb if t > capacity]
    fitting = [t for t in larger if peak <= t * rule.threshold_percent / 100]
    tier = (fitting or larger or [rule.tiers_gb[-1]])[0]
    months, due = _due(forecast, days)
    when = "now" if months == 0 else f"in {months} month{'s' if months != 1 else ''}"
    return Recommendation(
        name,
        "database",
        "upgrade_tier",
        f"upgrade to the next tier ({tier:g} GB) {when}: projected to reach "
        f"{rule.threshold_percent:g} % of {capacity:g} GB on {due}",
        amount=tier,
        due_in_months=months,
        due_date=due,
    )


def recommend_api_instances(
    forecast: CapacityForecast,
    rule: ApiInstancesRule,
    recent_values: Sequence[float],
    labels: Mapping[str, str],
) -> Recommendation:
    name = forecast.resource
    try:
        instances = int(labels.get(rule.instances_label, rule.default_instances))
    except ValueError:
        instances = rule.default_instances
    recent = list(recent_values)[-rule.sustained_days :]
    if len(recent) == rule.sustained_days and min(recent) > rule.cpu_threshold_percent:
        mean_cpu = float(np.mean(recent))
        needed = math.ceil(instances * mean_cpu / rule.target_cpu_percent)
        add = max(1, needed - instances)
        return Recommendation(
            name,
            "api_instances",
            "add_instances",
            f"add {add} instance{'s' if add != 1 else ''}: CPU stayed above "
            f"{rule.cpu_threshold_percent:g} % for {rule.sustained_days} days (mean "
            f"{mean_cpu:.0f} % on {instances}); {needed} bring it to about "
            f"{rule.target_cpu_percent:g} %",
            amount=add,
            due_in_months=0,
            due_date=forecast.last_day,
        )
    days = days_until(forecast, rule.cpu_threshold_percent)
    if days:
        months, due = _due(forecast, days)
        return Recommendation(
            name,
            "api_instances",
            "plan_expansion",
            f"CPU projected to exceed {rule.cpu_threshold_percent:g} % on "
            f"{due}: plan more instances",
            due_in_months=months,
            due_date=due,
        )
    return Recommendation(
        name,
        "api_instances",
        "none",
        f"CPU below {rule.cpu_threshold_percent:g} % or not sustained",
    )


def recommend_storage_locations(
    forecast: CapacityForecast, rule: StorageLocationsRule
) -> Recommendation:
    name, capacity = forecast.resource, forecast.capacity
    if not capacity:
        return Recommendation(name, "storage_locations", "none", "no location count known")
    peak = _peak_mean(forecast, rule.lookahead_days)
    utilization = 100.0 * peak / capacity
    if utilization <= rule.utilization_threshold_percent:
        return Recommendation(
            name,
            "storage_locations",
            "none",
            f"utilization {utilization:.0f} % within {rule.lookahead_days} "
            f"days, below {rule.utilization_threshold_percent:g} %",
        )
    needed = math.ceil(peak / (rule.target_utilization_percent / 100) - 1e-9)
    add = max(1, needed - math.ceil(capacity))
    days = days_until(forecast, capacity * rule.utilization_threshold_percent / 100) or 0
    months, due = _due(forecast, days)
    return Recommendation(
        name,
        "storage_locations",
        "add_locations",
        f"add {add} storage locations: {peak:.0f} of {capacity:g} occupied at the projected peak "
        f"within {rule.lookahead_days} days ({utilization:.0f} %); {needed} keep it at "
        f"{rule.target_utilization_percent:g} %",
        amount=add,
        due_in_months=months,
        due_date=due,
    )


def recommend_event_store(forecast: CapacityForecast, rule: EventStoreRule) -> Recommendation:
    name = forecast.resource
    if forecast.growth_per_month is None or forecast.projection is None:
        return Recommendation(name, "event_store", "wait_for_data", forecast.message)
    rate = max(0.0, forecast.growth_per_month / DAYS_PER_MONTH)
    if rate > rule.max_events_per_day:
        return Recommendation(
            name,
            "event_store",
            "reduce_event_rate",
            f"event store grows {rate:,.0f} events/day, above the "
            f"{rule.max_events_per_day:,.0f}/day limit: archive or compact",
            amount=rate,
            due_in_months=0,
            due_date=forecast.last_day,
        )
    return Recommendation(
        name,
        "event_store",
        "none",
        f"event store grows {rate:,.0f} events/day, below the "
        f"{rule.max_events_per_day:,.0f}/day limit",
    )


def recommend_generic(forecast: CapacityForecast) -> Recommendation:
    name = forecast.resource
    if forecast.status == "insufficient_data":
        return Recommendation(name, "generic", "wait_for_data", forecast.message)
    for percent in sorted(forecast.crossings):
        days = forecast.likely_days_to(percent)
        if days is not None:
            months, due = _due(forecast, days)
            return Recommendation(
                name,
                "generic",
                "plan_expansion",
                f"reaches {percent} % of capacity on {due}: plan expansion",
                due_in_months=months,
                due_date=due,
            )
    return Recommendation(name, "generic", "none", forecast.message)

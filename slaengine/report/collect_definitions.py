"""The appendix: how each SLO's numbers are computed, in words, from its config.

The wording follows the engine's own semantics (slaengine.sli.engine, query,
fulfillment, sketch and slaengine.slo); keep it in step when those change.
"""

from __future__ import annotations

from slaengine.config import SlaConfig, SloSpec
from slaengine.sli.sketch import RELATIVE_ACCURACY
from slaengine.slo import AT_RISK_BUDGET_REMAINING

NO_TRAFFIC_WORDS = {
    "ignore": "are not counted",
    "good": "count as up",
    "bad": "count as down",
}


def describe_slo(slo: SloSpec, config: SlaConfig) -> str:
    """One paragraph: what is good, what is counted, and how the month's figures follow."""
    return f"{_describe_sli(slo, config)} {_describe_month(slo, config)}"


def describe_all(config: SlaConfig) -> dict[str, str]:
    return {slo.name: describe_slo(slo, config) for slo in config.slos}


def _statuses(slo: SloSpec) -> str:
    good = ", ".join(slo.good_status)
    bad = ", ".join(slo.bad_status)
    return f"status is in {good}" + (f" and not {bad}" if bad else "")


def _describe_sli(slo: SloSpec, config: SlaConfig) -> str:
    grace = config.grace
    if slo.sli == "availability":
        return (
            f"Requests of {slo.service}: a request is good when its {_statuses(slo)}. "
            f"Attained = good requests / all requests with an event time in the month. "
            f"A request that arrives late still counts in its own minute, in the month and in "
            f"every rolling window."
        )
    if slo.sli == "latency":
        return (
            f"Requests of {slo.service}: a request is good when it took at most "
            f"{slo.threshold_ms:g} ms, whatever its status. Attained = good / all requests. "
            f"p50, p95 and p99 come from DDSketch latency sketches with "
            f"{RELATIVE_ACCURACY:.0%} relative accuracy (one per minute for the last two days, "
            f"one per hour before), merged over exactly the day or the month; the headline shows "
            f"p95."
        )
    if slo.sli == "uptime":
        return (
            f"One-minute slices of {slo.service}: a minute with requests is up when at least "
            f"{slo.slice_good_ratio:.0%} of its requests are good ({_statuses(slo)}); minutes "
            f"without requests {NO_TRAFFIC_WORDS[slo.no_traffic]}. Attained = up minutes / "
            f"counted minutes. A request that arrives late still counts in its own minute."
        )
    if slo.sli == "fulfillment":
        return (
            f"An order created at t is good when it is shipped by t + {slo.within}. Orders "
            f"cancelled before that deadline are excluded; cancelled later, they count as "
            f"missed. An order without a shipment counts as missed once event time has passed "
            f"its deadline plus the grace period ({grace}). Each order counts on the day and in "
            f"the month it was created."
        )
    if slo.sli == "projection_lag":
        which = f"the {slo.projection} projection" if slo.projection else "every projection"
        return (
            f"Lag samples of {which}: how far the read model trailed its event store when "
            f"sampled. A sample is good when the lag is at most {slo.threshold_s:g} s. "
            f"Attained = good samples / all samples with a sample time in the month. The "
            f"headline shows the month's p99 lag (DDSketch, {RELATIVE_ACCURACY:.0%} relative "
            f"accuracy); met or breached is decided by the share of good samples."
        )
    topic = f"on {slo.topic}" if slo.topic else "on every topic"
    return (
        f"Processing lag of the events {topic}: processing time minus event time; an event is "
        f"good when its lag is at most {slo.threshold_s:g} s. Only the streaming workers see "
        f"processing times, so a report computed from an events file shows no data here."
    )


def _describe_month(slo: SloSpec, config: SlaConfig) -> str:
    unit = "minutes" if slo.sli == "uptime" else "events"
    window = "days" if slo.sli == "fulfillment" else "clock hours"
    return (
        f"Target {slo.target:g}%. Month and days are calendar ones in {config.timezone} (a day "
        f"has 23 or 25 hours when the clock changes). Error budget = (1 - target) x counted "
        f"{unit}; budget used = bad {unit} / budget. Breached below the target; at risk when "
        f"met with under {AT_RISK_BUDGET_REMAINING:.0%} of the budget left and the last day "
        f"burning it faster than 1x (rolling alert windows are exact to the minute). Worst "
        f"windows: the {window} with the lowest value."
    )

"""How SLA numbers are written — the one place, used by the PDF, the e-mail and the CLI.

Headline forms (one per SLO)::

    Uptime: 99.95%        uptime / availability / lag: percent, 2 decimals
    Fulfillment: 96.0%    fulfillment: percent, 1 decimal
    API p95: 420 ms       latency: the SLO's percentile, whole milliseconds
    Projection lag: 0.8s (SLA met)   projection_lag: the month's p99 lag, seconds rounded up
    Checkout: no data     a month without data
    Uptime (orders-api): 99.62%   no display name: the SLI kind and the service, as written

Other numbers: thousands separators, never scientific notation, counts as whole
numbers, units always named (``format_quantity``), durations in words (``3 h 12 min``),
an overspent error budget in words (``overspent by 2×``).

Rounding is conservative — a number is never shown better than it was measured:
percentages are rounded down, latencies up. So 99.949% is shown as 99.94% and
cannot look like it met a 99.95% target, and an imperfect month never shows
100.00%. Values are first rounded to 9 decimals to absorb float noise
(9995/10000*100 must stay 99.95, not become 99.94).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from zoneinfo import ZoneInfo

from slaengine.report.model import SloMonth, SloStatus

NO_DATA = "no data"
STATUS_LABELS: dict[SloStatus, str] = {
    "met": "Met",
    "at-risk": "At risk",
    "breached": "Breached",
    "no-data": "No data",
}
_PERCENT_DECIMALS = {
    "uptime": 2,
    "availability": 2,
    "lag": 2,
    "latency": 2,
    "fulfillment": 1,
    "projection_lag": 2,
}
_NOISE = Decimal("1e-9")
ROUNDING_NOTE = (
    "Availability, uptime and lag percentages are shown with 2 decimals, fulfillment with 1 "
    "decimal, latencies in whole milliseconds. Rounding is conservative: percentages are rounded "
    "down and latencies up, so a figure is never shown better than measured (99.949% is shown as "
    "99.94%, an imperfect month never as 100.00%). Error-budget figures are rounded to the nearest "
    "0.1%; an overspent budget is stated as a multiple of the budget, rounded up. Counts are "
    "whole numbers; days until a capacity threshold are rounded down. Status (met, at risk, "
    "breached) is decided on the unrounded values."
)
# What a headline calls an SLI kind when the SLO has no display name.
SLI_KIND_LABELS: dict[str, str] = {
    "availability": "Availability",
    "latency": "Latency",
    "uptime": "Uptime",
    "fulfillment": "Fulfillment",
    "lag": "Processing lag",
    "projection_lag": "Projection lag",
}
PERCENT_UNITS = frozenset({"%", "percent"})
# Units whose amounts are counts of things: never shown with fractions.
COUNT_UNITS = frozenset(
    {"events", "requests", "orders", "messages", "instances", "locations", "items", "bytes"}
)


def _quantize(value: float, decimals: int, rounding: str) -> Decimal:
    exact = Decimal(repr(float(value))).quantize(_NOISE, rounding=ROUND_HALF_EVEN)
    return exact.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)


def format_percent(value: float | None, decimals: int = 2) -> str:
    """``99.95%``; rounded down (see module docstring)."""
    if value is None:
        return NO_DATA
    return f"{_quantize(value, decimals, ROUND_FLOOR)}%"


def format_trend_cell(value: float | None, decimals: int) -> str:
    """A cell of the trend table, whose header says "%": ``99.95``, or ``-`` without data."""
    return "-" if value is None else format_percent(value, decimals).removesuffix("%")


def format_ms(value: float | None) -> str:
    """``420 ms``; rounded up (see module docstring)."""
    if value is None:
        return NO_DATA
    return f"{_quantize(value, 0, ROUND_CEILING)} ms"


def percent_decimals(slo: SloMonth) -> int:
    return _PERCENT_DECIMALS[slo.sli]


def slo_label(slo: SloMonth) -> str:
    """The SLO as people call it: its display name, else ``Uptime (orders-api)``."""
    return _label(slo, "")


def headline_label(slo: SloMonth) -> str:
    """The label before the colon: ``slo_label`` plus ``pNN`` for latency SLIs.

    Names are shown as written (never re-cased): ``API p95``, ``Uptime (orders-api)``,
    ``Latency p95 (orders-api)``.
    """
    return _label(slo, f" p{slo.latency_percentile}" if slo.sli == "latency" else "")


def _label(slo: SloMonth, suffix: str) -> str:
    display_name = slo.display_name.strip()
    if display_name:
        return f"{display_name}{suffix}"
    kind = SLI_KIND_LABELS.get(slo.sli, slo.sli)
    return f"{kind}{suffix} ({slo.service or slo.name})"


def _percent_value(slo: SloMonth) -> str:
    return format_percent(slo.attained, percent_decimals(slo))


def _latency_value(slo: SloMonth) -> str:
    return format_ms(slo.headline_latency_ms)


def format_lag(seconds: float | None) -> str:
    """``0.8s``: a lag, rounded up to a tenth of a second (never shown better than measured)."""
    if seconds is None:
        return NO_DATA
    return f"{_quantize(seconds, 1, ROUND_CEILING)}s"


def _projection_lag_value(slo: SloMonth) -> str:
    """``0.8s (SLA met)``: the month's p99 lag and the verdict the SLA reader looks for."""
    if slo.p99_ms is None:
        return NO_DATA
    return f"{format_lag(slo.p99_ms / 1000)} (SLA {STATUS_LABELS[slo.status].lower()})"


# The value after the colon, per SLI kind; a new kind adds its function here.
HEADLINE_VALUES: dict[str, Callable[[SloMonth], str]] = {
    "availability": _percent_value,
    "uptime": _percent_value,
    "lag": _percent_value,
    "fulfillment": _percent_value,
    "latency": _latency_value,
    "projection_lag": _projection_lag_value,
}


def format_headline(slo: SloMonth) -> str:
    """``Uptime: 99.95%``, ``API p95: 420 ms``, ``Fulfillment: 96.0%``,
    ``Projection lag: 0.8s (SLA met)`` or ``X: no data``."""
    value = NO_DATA if slo.status == "no-data" else HEADLINE_VALUES[slo.sli](slo)
    return f"{headline_label(slo)}: {value}"


def format_attained(slo: SloMonth) -> str:
    return format_percent(slo.attained, percent_decimals(slo))


def format_target_percent(value: float) -> str:
    """A set percentage as written, no trailing zeros: ``99.9%``, ``95%``, ``97.5%``."""
    return f"{Decimal(repr(float(value))).normalize():f}%"


def format_target(slo: SloMonth) -> str:
    """``99.9%``, or ``99% < 500 ms`` for latency SLIs (share of requests under the threshold)."""
    target = format_target_percent(slo.target)
    if slo.sli == "latency" and slo.latency_threshold_ms is not None:
        return f"{target} < {format_ms(slo.latency_threshold_ms)}"
    return target


def format_budget(fraction: float | None) -> str:
    """Error budget as a percent of the month's budget, 1 decimal, e.g. ``42.5%``."""
    if fraction is None:
        return NO_DATA
    return f"{Decimal(repr(fraction * 100)).quantize(Decimal('0.1'), rounding=ROUND_HALF_EVEN)}%"


def format_budget_left(fraction: float | None) -> str:
    """``6.9%`` while budget is left; ``overspent by 45.0%`` / ``overspent by 2×`` once it is not.

    The overspend is measured in budgets (remaining -1.99 -> 1.99 budgets over) and a
    multiple is rounded up to 0.1, so it never looks smaller than it was.
    """
    if fraction is None or fraction >= 0:
        return format_budget(fraction)
    overspend = -fraction
    if overspend < 1:
        return f"overspent by {format_budget(overspend)}"
    return f"overspent by {format_multiple(overspend)}"


def format_budget_use(consumed: float | None, remaining: float | None) -> str:
    """``93.1% used, 6.9% left`` or ``299.0% used, overspent by 2×``; ``no data``."""
    if consumed is None or remaining is None:
        return NO_DATA
    left = format_budget_left(remaining)
    return f"{format_budget(consumed)} used, " + (left if remaining < 0 else f"{left} left")


def format_multiple(value: float) -> str:
    """``2×``, ``2.5×``: a factor rounded up to 0.1, without a trailing ``.0``."""
    return f"{_quantize(value, 1, ROUND_CEILING).normalize():f}×"


def format_change(current: float | None, previous: float | None, decimals: int = 2) -> str:
    """Change vs the previous month in percentage points, e.g. ``+0.02 pp``; ``n/a`` if unknown."""
    if current is None or previous is None:
        return "n/a"
    delta = Decimal(repr(current)) - Decimal(repr(previous))
    delta = delta.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
    if delta == 0:
        return f"{abs(delta)} pp"
    return f"{'+' if delta > 0 else '-'}{abs(delta)} pp"


def format_number(value: float, decimals: int = 0) -> str:
    """``12,400``, ``1,234.5``: thousands separators, fixed point (never ``1e+07``)."""
    rounded = _quantize(value, decimals, ROUND_HALF_EVEN)
    return f"{abs(rounded) if rounded == 0 else rounded:,f}"  # no "-0"


def format_count(value: float) -> str:
    """A count of things as a whole number: ``12,400``."""
    return format_number(value, 0)


def quantity_decimals(value: float, unit: str) -> int:
    """Counts are whole; otherwise 0 decimals from 100 up, 1 from 10 up, 2 below."""
    if unit in COUNT_UNITS or abs(value) >= 100:
        return 0
    return 1 if abs(value) >= 10 else 2


def format_quantity(value: float, unit: str, *, signed: bool = False) -> str:
    """``10,000,000 events``, ``+456,169 events``, ``812 GiB``, ``+3.25 GiB``, ``100%``.

    The unit is always named; a percent unit is written ``%``.
    """
    text = format_number(value, quantity_decimals(value, unit))
    if signed and not text.startswith("-") and text.strip("0.,") != "":
        text = "+" + text
    if unit in PERCENT_UNITS:
        return f"{text}%"
    return f"{text} {unit}".strip()


def format_model_name(name: str) -> str:
    """A forecasting model's identifier for people: ``seasonal_damped_holt`` -> ``seasonal damped
    holt`` (also lets a narrow table cell wrap between words)."""
    return name.replace("_", " ")


def format_days(value: float | None) -> str:
    """Days until a capacity threshold, rounded down (a warning never comes late): ``41 days``.

    ``already reached`` at 0, ``not within the forecast`` when the forecast never gets there.
    """
    if value is None:
        return "not within the forecast"
    if value <= 0:
        return "already reached"
    days = int(_quantize(value, 0, ROUND_FLOOR))
    return f"{days:,} day" if days == 1 else f"{days:,} days"


def format_day(day: date) -> str:
    """``13 Oct 2026``."""
    return day.strftime("%d %b %Y")


def format_month(month: date) -> str:
    """``October 2026``."""
    return month.strftime("%B %Y")


def format_timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def format_local_time(moment: datetime, timezone: str) -> str:
    """``07 Oct 14:03`` on the report's wall clock (tables name the timezone in their header)."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%d %b %H:%M")


def format_seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 100 else f"{value:,.0f} s"

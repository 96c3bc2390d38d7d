"""How SLA numbers are written — the one place, used by the PDF, the e-mail and the CLI.

Headline forms (one per SLO)::

    Uptime: 99.95%        uptime / availability / lag: percent, 2 decimals
    Fulfillment: 96.0%    fulfillment: percent, 1 decimal
    API p95: 420 ms       latency: the SLO's percentile, whole milliseconds
    Projection lag: 0.8s (SLA met)   projection_lag: the month's p99 lag, seconds rounded up
    Checkout: no data     a month without data

Rounding is conservative — a number is never shown better than it was measured:
percentages are rounded down, latencies up. So 99.949% is shown as 99.94% and
cannot look like it met a 99.95% target, and an imperfect month never shows
100.00%. Values are first rounded to 9 decimals to absorb float noise
(9995/10000*100 must stay 99.95, not become 99.94).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
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
_PERCENT_DECIMALS = {"uptime": 2, "availability": 2, "lag": 2, "latency": 2, "fulfillment": 1,
                     "projection_lag": 2}
_NOISE = Decimal("1e-9")
ROUNDING_NOTE = (
    "Availability, uptime and lag percentages are shown with 2 decimals, fulfillment with 1 "
    "decimal, latencies in whole milliseconds. Rounding is conservative: percentages are rounded "
    "down and latencies up, so a figure is never shown better than measured (99.949% is shown as "
    "99.94%, an imperfect month never as 100.00%). Error-budget figures are rounded to the nearest "
    "0.1%. Status (met, at risk, breached) is decided on the unrounded values."
)


def _quantize(value: float, decimals: int, rounding: str) -> Decimal:
    exact = Decimal(repr(value)).quantize(_NOISE, rounding=ROUND_HALF_EVEN)
    return exact.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)


def format_percent(value: float | None, decimals: int = 2) -> str:
    """``99.95%``; rounded down (see module docstring)."""
    if value is None:
        return NO_DATA
    return f"{_quantize(value, decimals, ROUND_FLOOR)}%"


def format_ms(value: float | None) -> str:
    """``420 ms``; rounded up (see module docstring)."""
    if value is None:
        return NO_DATA
    return f"{_quantize(value, 0, ROUND_CEILING)} ms"


def percent_decimals(slo: SloMonth) -> int:
    return _PERCENT_DECIMALS[slo.sli]


def headline_label(slo: SloMonth) -> str:
    """The label before the colon: the SLO's display name, plus ``pNN`` for latency SLIs."""
    label = slo.display_name.strip() or slo.name.replace("-", " ").replace("_", " ").title()
    if slo.sli == "latency":
        return f"{label} p{slo.latency_percentile}"
    return label


def format_lag(seconds: float | None) -> str:
    """``0.8s``: a lag, rounded up to a tenth of a second (never shown better than measured)."""
    if seconds is None:
        return NO_DATA
    return f"{_quantize(seconds, 1, ROUND_CEILING)}s"


def format_headline(slo: SloMonth) -> str:
    """``Uptime: 99.95%``, ``API p95: 420 ms``, ``Fulfillment: 96.0%``,
    ``Projection lag: 0.8s (SLA met)`` or ``X: no data``."""
    if slo.sli == "projection_lag":
        if slo.status == "no-data" or slo.p99_ms is None:
            return f"{headline_label(slo)}: {NO_DATA}"
        return (f"{headline_label(slo)}: {format_lag(slo.p99_ms / 1000)} "
                f"(SLA {STATUS_LABELS[slo.status].lower()})")
    if slo.sli == "latency":
        value = format_ms(slo.headline_latency_ms if slo.status != "no-data" else None)
    else:
        value = format_percent(
            slo.attained if slo.status != "no-data" else None, percent_decimals(slo)
        )
    return f"{headline_label(slo)}: {value}"


def format_attained(slo: SloMonth) -> str:
    return format_percent(slo.attained, percent_decimals(slo))


def format_target(slo: SloMonth) -> str:
    """``99.9%``, or ``99% < 500 ms`` for latency SLIs (share of requests under the threshold)."""
    target = f"{Decimal(repr(slo.target)).normalize():f}%"
    if slo.sli == "latency" and slo.latency_threshold_ms is not None:
        return f"{target} < {format_ms(slo.latency_threshold_ms)}"
    return target


def format_budget(fraction: float | None) -> str:
    """Error budget as a percent of the month's budget, 1 decimal, e.g. ``42.5%``."""
    if fraction is None:
        return NO_DATA
    return f"{Decimal(repr(fraction * 100)).quantize(Decimal('0.1'), rounding=ROUND_HALF_EVEN)}%"


def format_change(current: float | None, previous: float | None, decimals: int = 2) -> str:
    """Change vs the previous month in percentage points, e.g. ``+0.02 pp``; ``n/a`` if unknown."""
    if current is None or previous is None:
        return "n/a"
    delta = Decimal(repr(current)) - Decimal(repr(previous))
    delta = delta.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN)
    if delta == 0:
        return f"{abs(delta)} pp"
    return f"{'+' if delta > 0 else '-'}{abs(delta)} pp"


def format_duration(value: timedelta | None) -> str:
    """``2h 05m``, ``14m 30s`` or ``45s``; ``-`` when unknown."""
    if value is None:
        return "-"
    seconds = int(value.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"


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

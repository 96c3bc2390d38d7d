"""The projection lag headline: ``Projection lag: 0.8s (SLA met)``."""

from __future__ import annotations

import pytest

from slaengine.report.formatting import format_headline
from slaengine.report.model import SloMonth


def lag_month(p99_ms: float | None, status: str, attained: float | None = 99.5) -> SloMonth:
    return SloMonth(
        name="projection-lag",
        display_name="Projection lag",
        sli="projection_lag",
        service="all projections",
        target=99,
        attained=attained,
        status=status,  # type: ignore[arg-type]
        budget_consumed=None,
        budget_remaining=None,
        p99_ms=p99_ms,
    )


@pytest.mark.parametrize(
    ("p99_ms", "status", "headline"),
    [
        (800.0, "met", "Projection lag: 0.8s (SLA met)"),
        (800.0000000001, "met", "Projection lag: 0.8s (SLA met)"),  # float noise is not a tenth
        (801.0, "met", "Projection lag: 0.9s (SLA met)"),  # rounded up: never shown better
        (4210.0, "breached", "Projection lag: 4.3s (SLA breached)"),
        (950.0, "at-risk", "Projection lag: 1.0s (SLA at risk)"),
    ],
)
def test_headline_shows_the_p99_and_the_verdict(p99_ms: float, status: str, headline: str) -> None:
    assert format_headline(lag_month(p99_ms, status)) == headline


def test_a_month_without_samples_has_no_data() -> None:
    assert format_headline(lag_month(None, "no-data", None)) == "Projection lag: no data"

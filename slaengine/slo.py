"""Error budgets, burn rates and SLO status: pure math on (good, total) counts.

Guards keep every number finite: no traffic gives "no-data" instead of a
division by zero, and a 100 % objective has a zero budget that is either
intact (no bad events) or exhausted — never NaN or Inf.
"""

from __future__ import annotations

from dataclasses import dataclass

AT_RISK_BUDGET_REMAINING = 0.25  # below a quarter of the budget left, a met SLO is "at-risk"
MAX_BURN_RATE = 1e6  # the burn rate of a 100 % objective with errors (finite on purpose)


@dataclass(frozen=True, slots=True)
class ErrorBudget:
    objective: float  # 0.999 for 99.9 %
    good: float
    total: float

    @property
    def has_data(self) -> bool:
        return self.total > 0

    @property
    def sli(self) -> float | None:
        """Good fraction, or None without data."""
        return self.good / self.total if self.total > 0 else None

    @property
    def error_ratio(self) -> float:
        return (self.total - self.good) / self.total if self.total > 0 else 0.0

    @property
    def burn_rate(self) -> float:
        """How fast the budget burns: 1.0 spends exactly the budget over the SLO period."""
        allowed = 1.0 - self.objective
        if allowed <= 0:
            return 0.0 if self.error_ratio == 0 else MAX_BURN_RATE
        return min(self.error_ratio / allowed, MAX_BURN_RATE)

    @property
    def consumed(self) -> float:
        """Fraction of the budget spent (may exceed 1.0 when breached)."""
        return self.burn_rate if self.has_data else 0.0

    @property
    def remaining(self) -> float:
        """Fraction of the budget left; negative when overspent, 1.0 without data."""
        if not self.has_data:
            return 1.0
        if self.objective >= 1.0:
            return 1.0 if self.error_ratio == 0 else 0.0
        return 1.0 - self.consumed

    def status(self, recent_burn_rate: float = 0.0) -> str:
        """met / at-risk / breached / no-data.

        At-risk: still met, but less than a quarter of the budget is left and
        the recent burn rate (last day) would spend the rest before the period ends.
        """
        sli = self.sli
        if sli is None:
            return "no-data"
        if sli < self.objective - 1e-12:
            return "breached"
        if self.remaining < AT_RISK_BUDGET_REMAINING and recent_burn_rate > 1.0:
            return "at-risk"
        return "met"

"""Error budgets, burn rates and SLO status: pure, exact math on (good, total) counts.

Statuses are decided with exact fractions, never floats: 999 good of 1000 against
99.9 % is met with a budget of exactly 0, whatever float rounding would say.
Guards keep every number finite: no traffic gives "no-data" instead of a
division by zero, and a 100 % objective has a zero budget that is either
intact (no bad events) or exhausted — never NaN or Inf.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

AT_RISK_BUDGET_REMAINING = 0.25  # below a quarter of the budget left, a met SLO is "at-risk"
MAX_BURN_RATE = 1e6  # the burn rate of a 100 % objective with errors (finite on purpose)
MAX_DENOMINATOR = 10**9  # a float objective (0.999) is read back as the decimal it was written as


def as_fraction(value: float | Fraction) -> Fraction:
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    return Fraction(value).limit_denominator(MAX_DENOMINATOR)


@dataclass(frozen=True, slots=True)
class ErrorBudget:
    objective: float | Fraction  # 0.999 (or Fraction(999, 1000)) for 99.9 %
    good: float
    total: float

    @property
    def _objective(self) -> Fraction:
        return as_fraction(self.objective)

    @property
    def _error_ratio(self) -> Fraction:
        return (
            Fraction(self.total - self.good) / Fraction(self.total)
            if self.total > 0
            else Fraction(0)
        )

    @property
    def _burn(self) -> Fraction | None:
        """Exact burn rate, or None for a 100 % objective with errors (infinite)."""
        allowed = 1 - self._objective
        if allowed <= 0:
            return Fraction(0) if self._error_ratio == 0 else None
        return self._error_ratio / allowed

    @property
    def has_data(self) -> bool:
        return self.total > 0

    @property
    def sli(self) -> float | None:
        """Good fraction, or None without data."""
        return self.good / self.total if self.total > 0 else None

    @property
    def error_ratio(self) -> float:
        return float(self._error_ratio)

    @property
    def burn_rate(self) -> float:
        """How fast the budget burns: 1.0 spends exactly the budget over the SLO period."""
        burn = self._burn
        return MAX_BURN_RATE if burn is None else min(float(burn), MAX_BURN_RATE)

    @property
    def consumed(self) -> float:
        """Fraction of the budget spent (may exceed 1.0 when breached)."""
        return self.burn_rate if self.has_data else 0.0

    @property
    def _remaining(self) -> Fraction:
        if not self.has_data:
            return Fraction(1)
        burn = self._burn
        if self._objective >= 1:
            return Fraction(1) if burn == 0 else Fraction(0)
        assert burn is not None
        return 1 - burn

    @property
    def remaining(self) -> float:
        """Fraction of the budget left; negative when overspent, 1.0 without data."""
        return float(self._remaining)

    @property
    def met(self) -> bool:
        """Good fraction at or above the objective (exactly); False without data."""
        return self.total > 0 and Fraction(self.good) >= self._objective * Fraction(self.total)

    def status(self, recent_burn_rate: float = 0.0) -> str:
        """met / at-risk / breached / no-data.

        At-risk: still met, but less than a quarter of the budget is left and
        the recent burn rate (last day) would spend the rest before the period ends.
        """
        if not self.has_data:
            return "no-data"
        if not self.met:
            return "breached"
        if self._remaining < AT_RISK_BUDGET_REMAINING and recent_burn_rate > 1.0:
            return "at-risk"
        return "met"

    def final_status(self) -> str:
        """A closed period is met or breached, judged on its own numbers only."""
        return "met" if self.met else "breached"

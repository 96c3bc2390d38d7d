"""Error budgets, burn rates and SLO status: pure, exact math on (good, total) counts.

Statuses are decided with exact fractions, never floats: 999 good of 1000 against
99.9 % is met with a budget of exactly 0, whatever float rounding would say.
Guards keep every number finite: no traffic gives "no-data" instead of a
division by zero, and a 100 % objective has a zero budget that is either
intact (no bad events) or exhausted — never NaN or Inf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

AT_RISK_BUDGET_REMAINING = 0.25  # below a quarter of the budget left, a met SLO is "at-risk"
MAX_BURN_RATE = 1e6  # the burn rate of a 100 % objective with errors (finite on purpose)
MAX_DENOMINATOR = 10**9  # a float objective (0.999) is read back as the decimal it was written as


def as_fraction(value: float | Fraction) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(value).limit_denominator(MAX_DENOMINATOR)


def _rational(value: float | Fraction) -> tuple[int, int]:
    """(numerator, denominator > 0) of a count, exactly (a float is the binary value it holds)."""
    if isinstance(value, int):
        return value, 1
    exact = value if isinstance(value, Fraction) else Fraction(value)
    return exact.numerator, exact.denominator


@dataclass(frozen=True, slots=True)
class ErrorBudget:
    """Exact rationals as (numerator, denominator) pairs of ints, unreduced: a float of one is
    ``numerator / denominator``, which Python rounds correctly (the float a ``Fraction`` gives)
    at a fraction of the cost (/metrics computes ~1,500 budgets per render)."""

    objective: float | Fraction  # 0.999 (or Fraction(999, 1000)) for 99.9 %
    good: float
    total: float

    @property
    def _objective(self) -> Fraction:
        return as_fraction(self.objective)

    @property
    def _error_ratio(self) -> tuple[int, int]:
        if self.total <= 0:
            return 0, 1
        errors, errors_den = _rational(self.total - self.good)
        total, total_den = _rational(self.total)
        return errors * total_den, errors_den * total

    @property
    def _burn(self) -> tuple[int, int] | None:
        """Exact burn rate, or None for a 100 % objective with errors (infinite)."""
        objective = self._objective
        allowed = objective.denominator - objective.numerator  # 1 - objective, over its denominator
        errors, valid = self._error_ratio
        if allowed <= 0:
            return (0, 1) if errors == 0 else None
        return errors * objective.denominator, valid * allowed

    @property
    def has_data(self) -> bool:
        return self.total > 0

    @property
    def sli(self) -> float | None:
        """Good fraction, or None without data."""
        return self.good / self.total if self.total > 0 else None

    @property
    def error_ratio(self) -> float:
        errors, valid = self._error_ratio
        return errors / valid

    @property
    def burn_rate(self) -> float:
        """How fast the budget burns: 1.0 spends exactly the budget over the SLO period."""
        burn = self._burn
        return MAX_BURN_RATE if burn is None else min(burn[0] / burn[1], MAX_BURN_RATE)

    @property
    def consumed(self) -> float:
        """Fraction of the budget spent (may exceed 1.0 when breached)."""
        return self.burn_rate if self.has_data else 0.0

    @property
    def _remaining(self) -> tuple[int, int]:
        if not self.has_data:
            return 1, 1
        burn = self._burn
        if self._objective >= 1:
            return (1, 1) if burn is not None and burn[0] == 0 else (0, 1)
        assert burn is not None
        spent, of = burn
        return of - spent, of

    @property
    def remaining(self) -> float:
        """Fraction of the budget left; negative when overspent, 1.0 without data."""
        left, of = self._remaining
        return left / of

    @property
    def met(self) -> bool:
        """Good fraction at or above the objective (exactly); False without data."""
        if self.total <= 0:
            return False
        good, good_den = _rational(self.good)
        total, total_den = _rational(self.total)
        objective = self._objective
        return good * total_den * objective.denominator >= objective.numerator * total * good_den

    def status(self, recent_burn_rate: float | Callable[[], float] = 0.0) -> str:
        """met / at-risk / breached / no-data.

        At-risk: still met, but less than a quarter of the budget is left and
        the recent burn rate (last day) would spend the rest before the period ends.
        A callable ``recent_burn_rate`` is asked only then (it costs a query).
        """
        if not self.has_data:
            return "no-data"
        if not self.met:
            return "breached"
        left, of = self._remaining
        if Fraction(left, of) < AT_RISK_BUDGET_REMAINING:
            recent = recent_burn_rate() if callable(recent_burn_rate) else recent_burn_rate
            if recent > 1.0:
                return "at-risk"
        return "met"

    def final_status(self) -> str:
        """A closed period is met or breached, judged on its own numbers only."""
        return "met" if self.met else "breached"

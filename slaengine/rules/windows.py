"""Multi-window multi-burn-rate parameters: ``BurnRateWindow`` and its catalogue.

The numbers are data (``slaengine/data/windows/*.yaml``, Sloth's ``AlertWindows``
format); only the burn factor is computed: the speed at which ``budget %`` of
the error budget is consumed within the long window.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from slaengine.durations import format_duration, hours_of, parse_duration
from slaengine.errors import ConfigError
from slaengine.yamlconfig import parse_yaml_text, validate_document

DEFAULT_PERIOD = timedelta(days=30)
MIN_WINDOW = timedelta(minutes=1)  # the SLI engine's resolution


@dataclass(frozen=True)
class BurnRateWindow:
    """Alert when ``error_budget_percent`` of the period's budget burns within ``long_window``;
    ``short_window`` must agree so the alert resets soon after the problem is gone."""

    error_budget_percent: float
    short_window: timedelta
    long_window: timedelta

    def burn_factor(self, period: timedelta) -> float:
        # same operation order as Sloth so the printed floats are identical
        hours_to_consume = self.error_budget_percent * hours_of(period) / 100
        return hours_to_consume / hours_of(self.long_window)


@dataclass(frozen=True)
class AlertWindows:
    """The four windows of one SLO period: page quick/slow and ticket quick/slow."""

    period: timedelta
    page_quick: BurnRateWindow
    page_slow: BurnRateWindow
    ticket_quick: BurnRateWindow
    ticket_slow: BurnRateWindow

    def all(self) -> tuple[BurnRateWindow, ...]:
        return (self.page_quick, self.page_slow, self.ticket_quick, self.ticket_slow)

    def distinct_windows(self) -> list[timedelta]:
        """Every short and long window once, shortest first (the SLI recording rules)."""
        return sorted({w for rate in self.all() for w in (rate.short_window, rate.long_window)})

    def for_period(self, period: timedelta) -> AlertWindows:
        """The same windows and budget percentages applied to another period."""
        return dataclasses.replace(self, period=period)


def check_window(rate: BurnRateWindow, period: timedelta) -> None:
    """Refuse windows that make no sense for ``period`` (ValueError with the reason)."""
    short, long = format_duration(rate.short_window), format_duration(rate.long_window)
    if rate.short_window < MIN_WINDOW:
        raise ValueError(f"short window {short} is shorter than one minute")
    if rate.short_window >= rate.long_window:
        raise ValueError(f"short window {short} must be shorter than the long window {long}")
    if rate.long_window > period:
        raise ValueError(
            f"long window {long} is longer than the SLO period {format_duration(period)}"
        )
    factor = rate.burn_factor(period)
    if factor < 1:
        raise ValueError(
            f"{rate.error_budget_percent:g} % of the budget in {long} is a burn factor of "
            f"{factor:.3g} < 1: the alert would fire while the SLO is still met"
        )


def derive_windows(base: AlertWindows, period: timedelta) -> AlertWindows:
    """Windows for a period without a catalogue file, derived from the 30-day ones.

    Periods at least as long as the base keep its windows (factors grow with the period).
    Shorter periods scale every window by ``period / base period``, rounded down to the
    minute, so the factors stay those of the base (14.4, 6, 3, 1) and never drop below 1;
    a period whose shortest scaled window is under a minute is refused, as Sloth refuses
    periods it has no windows for.
    """
    if period >= base.period:
        return base.for_period(period)

    def scaled(rate: BurnRateWindow) -> BurnRateWindow:
        def scale(window: timedelta) -> timedelta:
            return window * (period / base.period) // MIN_WINDOW * MIN_WINDOW

        return BurnRateWindow(
            rate.error_budget_percent, scale(rate.short_window), scale(rate.long_window)
        )

    derived = AlertWindows(period, *(scaled(rate) for rate in base.all()))
    for rate in derived.all():
        try:
            check_window(rate, period)
        except ValueError:
            shortest = base.period * (MIN_WINDOW / min(base.distinct_windows()))
            raise ConfigError(
                f"an SLO period of {format_duration(period)} is too short for multi-window "
                "burn-rate "
                f"alerts (the scaled windows would be under a minute; use a period of at least "
                f"{format_duration(shortest)})"
            ) from None
    return derived


class _WindowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    errorBudgetPercent: float = Field(gt=0, le=100)
    shortWindow: str
    longWindow: str

    @field_validator("shortWindow", "longWindow")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value

    def to_window(self) -> BurnRateWindow:
        short, long = parse_duration(self.shortWindow), parse_duration(self.longWindow)
        if short >= long:
            raise ValueError("shortWindow must be shorter than longWindow")
        return BurnRateWindow(self.errorBudgetPercent, short, long)


class _QuickSlow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    quick: _WindowSpec
    slow: _WindowSpec


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sloPeriod: str
    page: _QuickSlow
    ticket: _QuickSlow

    @field_validator("sloPeriod")
    @classmethod
    def _period(cls, value: str) -> str:
        parse_duration(value)
        return value


class AlertWindowsFile(BaseModel):
    """``apiVersion: sloth.slok.dev/v1``, ``kind: AlertWindows`` documents."""

    model_config = ConfigDict(extra="forbid")
    apiVersion: Literal["sloth.slok.dev/v1"]
    kind: Literal["AlertWindows"]
    spec: _Spec

    def to_windows(self, source: str) -> AlertWindows:
        spec = self.spec
        try:
            return AlertWindows(
                period=parse_duration(spec.sloPeriod),
                page_quick=spec.page.quick.to_window(),
                page_slow=spec.page.slow.to_window(),
                ticket_quick=spec.ticket.quick.to_window(),
                ticket_slow=spec.ticket.slow.to_window(),
            )
        except ValueError as err:
            raise ConfigError(str(err), file=source, field="spec") from err


def parse_windows_text(text: str, source: str) -> AlertWindows:
    document = parse_yaml_text(text, source=source)
    return validate_document(document, AlertWindowsFile, source).to_windows(source)


class WindowsCatalog:
    """Alert windows by SLO period; the built-in one derives periods it has no file for."""

    def __init__(
        self,
        windows: Iterable[AlertWindows],
        *,
        derive_from: AlertWindows | None = None,
        origin: str = "built-in windows",
    ) -> None:
        self._by_period = {w.period: w for w in windows}
        self._derive_from = derive_from
        self.origin = origin

    @classmethod
    def builtin(cls) -> WindowsCatalog:
        folder = resources.files("slaengine") / "data" / "windows"
        loaded = [
            parse_windows_text(
                entry.read_text(encoding="utf-8"), f"slaengine/data/windows/{entry.name}"
            )
            for entry in folder.iterdir()
            if entry.name.endswith((".yaml", ".yml"))
        ]
        base = next(w for w in loaded if w.period == DEFAULT_PERIOD)
        return cls(loaded, derive_from=base)

    @classmethod
    def from_directory(cls, directory: str | Path) -> WindowsCatalog:
        """A custom catalogue replaces the built-in one, like Sloth's
        ``--slo-period-windows-path``."""
        folder = Path(directory)
        if not folder.is_dir():
            raise ConfigError("not a directory of AlertWindows files", file=str(folder))
        loaded = []
        for path in sorted(folder.rglob("*")):
            if path.suffix in (".yaml", ".yml") and path.is_file():
                loaded.append(parse_windows_text(path.read_text(encoding="utf-8"), str(path)))
        if not loaded:
            raise ConfigError("no AlertWindows *.yaml files found", file=str(folder))
        return cls(loaded, origin=str(folder))

    def periods(self) -> list[timedelta]:
        return sorted(self._by_period)

    def for_period(self, period: timedelta) -> AlertWindows:
        if period in self._by_period:
            return self._by_period[period]
        if self._derive_from is not None:
            return derive_windows(self._derive_from, period)
        known = ", ".join(format_duration(p) for p in self.periods())
        raise ConfigError(
            f"no alert windows for the SLO period {format_duration(period)} (available: {known})",
            file=self.origin,
        )

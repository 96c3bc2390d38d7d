"""Rolling-origin backtests, sMAPE, MASE against naive, calibration, model selection."""

from __future__ import annotations

import math

import numpy as np
import pytest

from forecasting.backtest import backtest_model, plan_origins, smape
from forecasting.calibrate import MAX_FACTOR, width_factor
from forecasting.models import NaiveModel
from forecasting.regression import LinearTrendModel
from forecasting.select import select_model


@pytest.mark.parametrize(
    ("actual", "forecast", "expected"),
    [
        ([100.0], [100.0], 0.0),
        ([100.0], [50.0], 200 * 50 / 150),
        ([0.0], [0.0], 0.0),
        ([0.0], [5.0], 200.0),
        ([10.0, 20.0], [20.0, 10.0], 200 * (10 / 30)),
    ],
    ids=["exact hit", "half", "zero over zero", "zero actual", "two points"],
)
def test_smape(actual: list[float], forecast: list[float], expected: float) -> None:
    assert smape(np.array(actual), np.array(forecast)) == pytest.approx(expected)


def test_origins_step_back_from_the_end_and_respect_the_minimum_training_length() -> None:
    assert plan_origins(100, 20, 5, min_train=30) == [40, 50, 60, 70, 80]
    assert plan_origins(100, 20, 2, min_train=30) == [70, 80]
    assert plan_origins(30, 20, 3, min_train=14) == []


def test_naive_scores_mase_one_and_a_trend_model_beats_it_on_a_trend() -> None:
    y = 5.0 + 0.3 * np.arange(120) + np.random.default_rng(5).normal(0, 0.2, 120)
    origins = plan_origins(y.size, 30, 3, min_train=40)
    naive = backtest_model(y, NaiveModel(), 30, origins)
    linear = backtest_model(y, LinearTrendModel(), 30, origins)
    assert naive is not None and linear is not None
    assert naive.mase == pytest.approx(1.0)
    assert linear.mase < 0.1
    assert linear.origins == 3 and linear.points == 90
    assert linear.smape < naive.smape


def test_scores_add_up_across_runs() -> None:
    y = np.arange(60, dtype=float) ** 1.1
    a = backtest_model(y, LinearTrendModel(), 10, [30])
    b = backtest_model(y, LinearTrendModel(), 10, [40])
    both = backtest_model(y, LinearTrendModel(), 10, [30, 40])
    assert a is not None and b is not None and both is not None
    assert (a + b).mase == pytest.approx(both.mase)
    assert (a + b).coverage80 == pytest.approx(both.coverage80)


def test_a_flat_series_makes_mase_a_tie_not_a_division_by_zero() -> None:
    score = backtest_model(np.full(40, 7.0), NaiveModel(), 10, [20, 30])
    assert score is not None and score.mase == 1.0 and not math.isnan(score.smape)


def test_selection_prefers_naive_on_a_random_walk_and_a_trend_on_a_line() -> None:
    rng = np.random.default_rng(8)
    walk = 100 + np.cumsum(rng.normal(0, 1, 300))
    line = 100 + 2 * np.arange(300) + rng.normal(0, 1, 300)
    assert select_model(line, 90).model.name in {"linear", "robust_linear", "holt", "drift"}
    walk_choice = select_model(walk, 90)
    assert walk_choice.score is not None
    assert walk_choice.score.mase <= 1.0  # naive is a candidate, so nothing worse is chosen


def test_width_factor_widens_intervals_that_were_too_narrow_out_of_sample() -> None:
    rng = np.random.default_rng(9)
    assert width_factor([rng.normal(0, 2.0, 500)]) == pytest.approx(2.0, rel=0.15)
    assert width_factor([rng.normal(0, 1.0, 500)]) == pytest.approx(1.0, rel=0.15)
    assert width_factor([rng.normal(0, 50.0, 500)]) == MAX_FACTOR
    assert width_factor([np.array([5.0, 5.0])]) == 1.0  # too little evidence

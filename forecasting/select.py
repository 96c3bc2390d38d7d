"""Pick one model per series by a rolling-origin backtest on its own history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from forecasting.backtest import FIT_ERRORS, BacktestScore, backtest_model, plan_origins
from forecasting.calibrate import CalibratedModel, WidthCalibration
from forecasting.models import CandidateModel, FittedModel, candidate_models

SELECTION_ORIGINS = 3  # each origin refits every candidate: the main cost of a forecast
MIN_TRAIN_DAYS = 7
# Backtests of a few origins are noisy: a MASE within 2 % of the best is a tie, and ties go to
# the earlier, simpler candidate (a regression before an ETS that re-estimates its trend).
TIE_TOLERANCE = 0.02


@dataclass(frozen=True)
class ModelSelection:
    model: CandidateModel
    fitted: FittedModel  # the chosen model refitted on the whole series
    score: BacktestScore | None  # its backtest; None when the history is too short for one
    scores: dict[str, BacktestScore] = field(default_factory=dict)
    calibration: WidthCalibration = field(default_factory=WidthCalibration)


def min_train_days(n: int) -> int:
    return max(MIN_TRAIN_DAYS, n // 3)


def selection_horizon(n: int, horizon: int) -> int:
    """Backtest horizon: the forecast horizon itself, unless the history is too short for it
    (then all but the first third of the history, so that models still train on some days)."""
    return max(1, min(horizon, n - min_train_days(n)))


def rank_key(score: BacktestScore) -> tuple[float, float]:
    mase = score.mase if math.isfinite(score.mase) else math.inf
    smape = score.smape if math.isfinite(score.smape) else math.inf
    return (mase, smape)


def rank(
    candidates: Sequence[CandidateModel], scores: dict[str, BacktestScore]
) -> list[CandidateModel]:
    """Best first: scored before unscored, then MASE, with near-ties to the simpler model."""
    scored = [m for m in candidates if m.name in scores]
    ranked = sorted(scored, key=lambda m: rank_key(scores[m.name]))
    if ranked:
        best = rank_key(scores[ranked[0].name])[0]
        if math.isfinite(best):
            tied = [m for m in scored if rank_key(scores[m.name])[0] <= best * (1 + TIE_TOLERANCE)]
            ranked.remove(tied[0])
            ranked.insert(0, tied[0])
    return ranked + [m for m in candidates if m.name not in scores]


def select_model(
    y: np.ndarray,
    horizon: int,
    candidates: Sequence[CandidateModel] | None = None,
    max_origins: int = SELECTION_ORIGINS,
) -> ModelSelection:
    """Lowest MASE wins (sMAPE breaks ties); within 2 % of it, the earlier, simpler candidate.

    The backtest projects as far as the forecast will (``horizon``; 30, 90 or 180 days) from
    up to ``max_origins`` rolling origins, a third of that horizon apart.
    """
    candidates = list(candidates) if candidates is not None else candidate_models(y)
    bt_horizon = selection_horizon(y.size, horizon)
    # Every candidate is scored on the same origins: a model that needs more history than the
    # latest origin leaves is not selectable at this horizon.
    candidates = [m for m in candidates if m.min_history <= y.size - bt_horizon]
    if not candidates:
        raise ValueError(f"no candidate model can fit a series of {y.size} days")
    min_train = max([min_train_days(y.size)] + [m.min_history for m in candidates])
    origins = plan_origins(y.size, bt_horizon, max_origins, min_train, step=max(1, bt_horizon // 3))
    scores: dict[str, BacktestScore] = {}
    errors: dict[str, list[np.ndarray]] = {}
    for model in candidates:
        errors[model.name] = []
        score = (
            backtest_model(y, model, bt_horizon, origins, None, errors[model.name])
            if origins
            else None
        )
        if score is not None:
            scores[model.name] = score
    ranked = rank(candidates, scores)
    for model in ranked:
        try:
            fitted = model.fit(y)
        except FIT_ERRORS:
            continue
        calibration = (
            WidthCalibration.from_errors(errors[model.name], bt_horizon)
            if model.name in scores
            else WidthCalibration()
        )
        return ModelSelection(
            model, CalibratedModel(fitted, calibration), scores.get(model.name), scores, calibration
        )
    raise ValueError("no candidate model could be fitted")

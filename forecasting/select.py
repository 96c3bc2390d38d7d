"""Pick one model per series by a rolling-origin backtest on its own history."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from forecasting.backtest import FIT_ERRORS, BacktestScore, backtest_model, plan_origins
from forecasting.calibrate import CalibratedModel, WidthCalibration
from forecasting.models import CandidateModel, FittedModel, candidate_models

SELECTION_ORIGINS = 2  # each origin refits every candidate: the main cost of a forecast


@dataclass(frozen=True)
class ModelSelection:
    model: CandidateModel
    fitted: FittedModel  # the chosen model refitted on the whole series
    score: BacktestScore | None  # its backtest; None when the history is too short for one
    scores: dict[str, BacktestScore] = field(default_factory=dict)
    calibration: WidthCalibration = field(default_factory=WidthCalibration)


def selection_horizon(n: int, horizon: int) -> int:
    """Backtest horizon: the forecast horizon, but at most a third of the history."""
    return max(1, min(horizon, n // 3))


def rank_key(score: BacktestScore) -> tuple[float, float]:
    mase = score.mase if math.isfinite(score.mase) else math.inf
    smape = score.smape if math.isfinite(score.smape) else math.inf
    return (mase, smape)


def select_model(y: np.ndarray, horizon: int,
                 candidates: Sequence[CandidateModel] | None = None,
                 max_origins: int = SELECTION_ORIGINS) -> ModelSelection:
    """Lowest MASE wins (sMAPE breaks ties); among equals the earlier, simpler candidate."""
    candidates = list(candidates) if candidates is not None else candidate_models(y)
    if not candidates:
        raise ValueError(f"no candidate model can fit a series of {y.size} days")
    bt_horizon = selection_horizon(y.size, horizon)
    origins = plan_origins(y.size, bt_horizon, max_origins, min_train=max(7, y.size // 2))
    scores: dict[str, BacktestScore] = {}
    errors: dict[str, list[np.ndarray]] = {}
    for model in candidates:
        errors[model.name] = []
        score = backtest_model(y, model, bt_horizon, origins, None, errors[model.name]) \
            if origins else None
        if score is not None:
            scores[model.name] = score
    ranked = sorted(candidates, key=lambda m: (
        (0, *rank_key(scores[m.name])) if m.name in scores else (1, math.inf, math.inf)))
    for model in ranked:
        try:
            fitted = model.fit(y)
        except FIT_ERRORS:
            continue
        calibration = WidthCalibration.from_errors(errors[model.name], bt_horizon) \
            if model.name in scores else WidthCalibration()
        return ModelSelection(model, CalibratedModel(fitted, calibration),
                              scores.get(model.name), scores, calibration)
    raise ValueError("no candidate model could be fitted")

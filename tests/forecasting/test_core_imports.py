"""The forecasting core stays pure: no Faust, aiokafka or aiohttp."""

from __future__ import annotations

import subprocess
import sys

CORE = [
    "forecasting.series",
    "forecasting.models",
    "forecasting.regression",
    "forecasting.ets",
    "forecasting.backtest",
    "forecasting.select",
    "forecasting.forecast",
    "forecasting.recommend",
    "forecasting.capacity_alerts",
    "forecasting.service",
    "forecasting.csvinput",
    "forecasting.calibrate",
    "forecasting.metrics",
    "forecasting.seasonal",
    "forecasting.changes",
]


def test_core_modules_import_no_io_frameworks() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in CORE)
        + "print(sorted(m for m in ('faust', 'aiokafka', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"

"""Capacity forecasting: daily resource series, model selection by backtest, projections,
recommendations and capacity alerts.

The core (series, models, backtest, select, forecast, recommend, alerts) is pure: it imports
no Faust, aiokafka or aiohttp. ``http`` and ``metrics`` are the thin adapters.
"""

from forecasting.exceptions import ForecastInputError
from forecasting.series import DailySeries, ResourceDays, ResourceHistory

__all__ = ["DailySeries", "ForecastInputError", "ResourceDays", "ResourceHistory"]

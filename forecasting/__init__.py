"""Capacity forecasting: daily resource series, model selection by backtest, projections,
recommendations and capacity alerts.

The core (series, models, backtest, select, forecast, recommend, alerts) is pure: it imports
no Faust, aiokafka or aiohttp. ``http`` and ``metrics`` are the thin adapters. This package
module imports nothing, so ``slaengine.config`` can read the ``forecasting:`` section's schema
(``forecasting.config``) without loading numpy.
"""

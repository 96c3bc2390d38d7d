"""Errors of the capacity forecaster; each docstring says what the operator should do."""

from __future__ import annotations

from slaengine.errors import SlaEngineError


class ForecastInputError(SlaEngineError):
    """The input series is malformed: fix the file, row or column named in the message."""

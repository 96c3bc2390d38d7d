"""Errors of the monthly report; each docstring says what to do about it."""

from __future__ import annotations

from slaengine.errors import SlaEngineError


class ReportRequestError(SlaEngineError):
    """The requested report is invalid (malformed or future month, unknown SLO): fix the request."""


class ReportDataError(SlaEngineError):
    """The report data could not be collected: check the events file and the SLO config named."""

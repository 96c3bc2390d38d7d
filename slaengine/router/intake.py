"""Checking alerts before the router takes them: from ``sla.alerts`` records and the HTTP intake.

Records on ``sla.alerts`` come from any producer with write access to Kafka, so nothing in them
is trusted: labels must be a flat string-to-string map of bounded size, timestamps within a sane
range, the value a finite number. A bad record is logged and counted, never raised: one
record must not stop the alerts agent.
"""

from __future__ import annotations

import json
import logging
import math
import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from slaengine.alerts import Alert
from slaengine.errors import SlaEngineError

log = logging.getLogger(__name__)

MAX_RECORD_BYTES = 1024 * 1024
MAX_LABELS = 64
MAX_LABEL_VALUE = 1024
MAX_ANNOTATION_VALUE = 16 * 1024
MIN_YEAR, MAX_YEAR = 1970, 2999
STATUSES = ("pending", "firing", "resolved")
_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")
LOG_EVERY_SECONDS = 60.0


class InvalidAlertError(SlaEngineError, ValueError):
    """An alert (a record on sla.alerts or an intake alert) is malformed: fix its producer."""


def _check_text(value: Any, where: str, limit: int) -> None:
    if not isinstance(value, str):
        raise InvalidAlertError(f"{where} must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise InvalidAlertError(f"{where} is longer than {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidAlertError(f"{where} is not valid UTF-8 (lone surrogate)") from err


def _check_map(values: Any, what: str, limit: int) -> None:
    if not isinstance(values, Mapping):
        raise InvalidAlertError(f"{what} must be an object of strings")
    if len(values) > MAX_LABELS:
        raise InvalidAlertError(f"{what} has {len(values)} entries; at most {MAX_LABELS}")
    for name, value in values.items():
        if not isinstance(name, str) or not _LABEL_NAME.fullmatch(name):
            raise InvalidAlertError(f"{what} name {str(name)[:60]!r} is not [A-Za-z_][A-Za-z0-9_]*")
        _check_text(value, f"{what}.{name}", limit)


def check_time(value: datetime | None, where: str) -> None:
    if value is None:
        return
    if value.tzinfo is None:
        raise InvalidAlertError(f"{where} needs a timezone")
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise InvalidAlertError(f"{where} {value.isoformat()} is outside {MIN_YEAR}..{MAX_YEAR}")


def validate_alert(alert: Alert) -> Alert:
    """``alert`` unchanged if the router can take it; InvalidAlertError saying why not."""
    _check_map(alert.labels, "labels", MAX_LABEL_VALUE)
    if not alert.labels.get("alertname"):
        raise InvalidAlertError("labels.alertname is required")
    _check_map(alert.annotations, "annotations", MAX_ANNOTATION_VALUE)
    if alert.status not in STATUSES:
        raise InvalidAlertError(
            f"status must be one of {', '.join(STATUSES)}, not {str(alert.status)[:40]!r}"
        )
    check_time(alert.starts_at, "starts_at")
    check_time(alert.ends_at, "ends_at")
    value = alert.value
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    ):
        raise InvalidAlertError(f"value must be a finite number, not {str(value)[:40]!r}")
    _check_text(alert.generator, "generator", MAX_LABEL_VALUE)
    return alert


def alert_from_record(value: bytes | str) -> Alert:
    """The alert of one ``sla.alerts`` record; InvalidAlertError for anything malformed."""
    if len(value) > MAX_RECORD_BYTES:
        raise InvalidAlertError(f"record of {len(value)} bytes is over {MAX_RECORD_BYTES}")
    try:
        data = json.loads(value)
        if not isinstance(data, dict):
            raise InvalidAlertError("record must be a JSON object")
        alert = Alert.from_json(data)
    except InvalidAlertError:
        raise
    except (ValueError, KeyError, TypeError, OverflowError, RecursionError) as err:
        raise InvalidAlertError(f"{type(err).__name__}: {str(err)[:200]}") from err
    return validate_alert(alert)


class Receiver(Protocol):
    async def receive(self, alert: Alert) -> list[str]: ...

    def count_error(self, kind: str) -> None: ...


class RateLimitedLog:
    """Logs one line per reason and interval, so a flood of bad records cannot flood the log."""

    def __init__(self, every: float = LOG_EVERY_SECONDS) -> None:
        self.every = every
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def error(self, reason: str, message: str, *args: Any) -> None:
        now = time.monotonic()
        last = self._last.get(reason)
        if last is not None and now - last < self.every:
            self._suppressed[reason] = self._suppressed.get(reason, 0) + 1
            return
        self._last[reason] = now
        suppressed = self._suppressed.pop(reason, 0)
        suffix = f" ({suppressed} similar suppressed)" if suppressed else ""
        log.error(message + suffix, *args)


_RECORD_LOG = RateLimitedLog()


async def route_alert_record(router: Receiver, value: bytes | str) -> bool:
    """Give one ``sla.alerts`` record to the router; False (logged, counted) when it could not.

    Never raises: the alerts agent must live on after any record."""
    try:
        alert = alert_from_record(value)
    except InvalidAlertError as err:
        router.count_error("invalid_alert")
        _RECORD_LOG.error("invalid_alert", "ignoring a malformed record on sla.alerts: %s", err)
        return False
    try:
        await router.receive(alert)
    except Exception as err:  # noqa: BLE001 - the agent must survive any router failure
        router.count_error("internal_error")
        _RECORD_LOG.error(
            "internal_error",
            "router could not take alert %s: %s: %s",
            alert.name,
            type(err).__name__,
            err,
        )
        return False
    return True

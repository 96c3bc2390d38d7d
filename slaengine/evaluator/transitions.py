"""Transitions between two evaluations of rules that hold or not (capacity alerts): what fires
anew and what resolved. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from slaengine.alerts import Alert


def transitions(
    active: Mapping[str, Alert], current: Iterable[Alert], now: datetime
) -> tuple[dict[str, Alert], list[Alert]]:
    """New active set by fingerprint, and the alerts to publish (new firing, and resolved).

    A continuing alert keeps its original ``starts_at`` and is not published again.
    """
    still: dict[str, Alert] = {}
    publish: list[Alert] = []
    for alert in current:
        previous = active.get(alert.fingerprint)
        if previous is not None:
            still[alert.fingerprint] = replace(alert, starts_at=previous.starts_at)
        else:
            still[alert.fingerprint] = alert
            publish.append(alert)
    for fingerprint, alert in active.items():
        if fingerprint not in still:
            publish.append(replace(alert, status="resolved", ends_at=now))
    return still, publish

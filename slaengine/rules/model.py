"""Plain data behind rule generation: one SLO as the generator sees it, and rule groups.

Every input format (Sloth ``prometheus/v1``, OpenSLO, slaengine's own SLO
config) is mapped to ``SloDefinition``; the generator knows nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from slaengine.rules.windows import AlertWindows


@dataclass(frozen=True)
class EventsSli:
    """Error and total event queries, each with a ``{{.window}}`` placeholder."""

    error_query: str
    total_query: str


@dataclass(frozen=True)
class RawSli:
    """A query that already yields the error ratio, with a ``{{.window}}`` placeholder."""

    error_ratio_query: str


@dataclass(frozen=True)
class AlertMeta:
    """Name, labels and annotations of one burn-rate alert (page or ticket)."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SloDefinition:
    id: str  # "<service>-<name>", the sloth_id label
    name: str
    service: str
    objective: float  # percent, 0 < objective <= 100
    period: timedelta
    sli: EventsSli | RawSli
    labels: Mapping[str, str] = field(default_factory=dict)
    page_alert: AlertMeta | None = None  # None: disabled
    ticket_alert: AlertMeta | None = None
    windows: AlertWindows | None = None  # per-SLO override of the catalogue's windows
    description: str = ""
    no_data_after: timedelta | None = None  # per-SLO override of the no-data rules' time

    @property
    def error_budget_percent(self) -> float:
        return 100 - self.objective

    def id_labels(self) -> dict[str, str]:
        return {"sloth_id": self.id, "sloth_service": self.service, "sloth_slo": self.name}


@dataclass(frozen=True)
class SloGroup:
    """The SLOs of one input document, with the provenance Sloth records in ``sloth_slo_info``."""

    slos: tuple[SloDefinition, ...]
    spec: str  # e.g. "prometheus/v1", "openslo/v1alpha", "slaengine/v1"
    mode: str  # e.g. "cli-gen-prom"


@dataclass(frozen=True)
class RecordingRule:
    record: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertingRule:
    alert: str
    expr: str
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    for_: timedelta | None = None


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[RecordingRule | AlertingRule, ...]
    interval: timedelta | None = None

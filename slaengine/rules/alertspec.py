"""The ``alert_rules/*.yaml`` files: threshold rules on gauges and no-data rules on SLOs.

``slo_threshold_rules`` are templates: each becomes one threshold rule per SLO of
its SLI kind, reading that SLO's own series with that SLO's own target (or
threshold), so an uptime rule never fires for an availability SLO and a 99.5 %
SLO is not judged against 99.9 %. Burn-rate alerts are not listed here: every
SLO gets them, tuned per SLO by ``SloAlertingOverrides`` in the SLO config.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from slaengine.config import SliKind
from slaengine.durations import Duration, DurationField, parse_duration
from slaengine.errors import ConfigError
from slaengine.rules.fromconfig import runbook_url
from slaengine.rules.sloth import check_labels
from slaengine.yamlconfig import read_yaml, validate_document

Severity = Literal["critical", "error", "warning", "info"]
Operator = Literal["<", "<=", ">", ">=", "==", "!="]
_ALERT_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"
_METRIC_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"
_OPERATORS = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def _duration(value: str) -> str:
    parse_duration(value)
    return value


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    alert: str = Field(pattern=_ALERT_NAME)
    severity: Severity
    for_: str = Field(default="0s", alias="for")
    labels: dict[str, str] = Field(default_factory=dict)
    summary: str
    description: str = ""
    runbook_url: str | None = None  # default: docs/operations.md#<alert-name-with-dashes>
    dashboard_url: str | None = None
    _hold: timedelta = PrivateAttr(default_factory=timedelta)  # ``for``, parsed once

    _labels = field_validator("labels")(check_labels)

    @field_validator("for_")
    @classmethod
    def _for(cls, value: str) -> str:
        return value if value in ("0", "0s") else _duration(value)

    @model_validator(mode="after")
    def _parse_for(self) -> _Rule:
        self._hold = timedelta(0) if self.for_ in ("0", "0s") else parse_duration(self.for_)
        return self

    @property
    def hold(self) -> timedelta:
        return self._hold

    def rule_labels(self) -> dict[str, str]:
        return {**self.labels, "severity": self.severity}

    def annotations(self) -> dict[str, str]:
        out = {"summary": self.summary, "runbook_url": self.runbook_url or runbook_url(self.alert)}
        if self.description:
            out["description"] = self.description
        if self.dashboard_url:
            out["dashboard_url"] = self.dashboard_url
        return out


class ThresholdRule(_Rule):
    """``metric{matchers} op threshold`` held for ``for``."""

    metric: str = Field(pattern=_METRIC_NAME)
    matchers: dict[str, str] = Field(default_factory=dict)  # label equality filters
    op: Operator
    threshold: float

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("threshold must be a finite number")
        return value

    def holds(self, value: float) -> bool:
        # NaN compares false in PromQL too, except for != which we keep quiet on purpose
        return not math.isnan(value) and _OPERATORS[self.op](value, self.threshold)


# thresholds taken from each SLO's config: its target in percent or as a ratio, its latency
# or lag threshold; a number is used as it is
SloValue = Literal["target", "target_ratio", "threshold_ms", "threshold_s"]
_SLO_VALUE_SLIS: dict[str, tuple[str, ...]] = {
    "threshold_ms": ("latency",),
    "threshold_s": ("lag", "projection_lag"),
}


class SloThresholdRule(_Rule):
    """``metric{slo=<name>, window=<window>} op threshold`` for every SLO of kind ``sli``.

    ``window`` defaults to the SLO's own window; ``threshold`` is a number or one of
    ``target`` (percent), ``target_ratio`` (0-1), ``threshold_ms``, ``threshold_s``.
    Summary and description may use ``${slo}``, ``${service}``, ``${display_name}``,
    ``${window}`` and ``${threshold}``, filled in per SLO.
    """

    sli: SliKind
    metric: str = Field(pattern=_METRIC_NAME)
    window: str | None = None
    matchers: dict[str, str] = Field(default_factory=dict)
    op: Operator
    threshold: float | SloValue

    @field_validator("threshold")
    @classmethod
    def _finite(cls, value: float | str) -> float | str:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("threshold must be a finite number")
        return value

    @model_validator(mode="after")
    def _threshold_fits_sli(self) -> SloThresholdRule:
        kinds = _SLO_VALUE_SLIS.get(str(self.threshold))
        if kinds is not None and self.sli not in kinds:
            raise ValueError(f"threshold {self.threshold} is not defined for {self.sli} SLOs")
        return self

    def for_slo(self, slo: Any) -> ThresholdRule:
        """The concrete rule of one SLO (``slaengine.config.SloSpec`` or alike)."""
        threshold = self.threshold
        if threshold == "target":
            value = float(slo.target)
        elif threshold == "target_ratio":
            value = float(slo.target) / 100
        elif isinstance(threshold, str):
            value = float(getattr(slo, threshold))
        else:
            value = threshold
        window = self.window or slo.window
        # the placeholders a template's summary and description may use
        fills = {
            "slo": slo.name,
            "service": slo.service or "",
            "window": window,
            "display_name": slo.display_name or slo.name,
            "threshold": f"{value:g}",
        }

        def fill(text: str) -> str:
            for key, filled in fills.items():
                text = text.replace("${" + key + "}", filled)
            return text

        return ThresholdRule.model_validate(
            {
                "alert": self.alert,
                "severity": self.severity,
                "for": self.for_,
                "labels": dict(self.labels),
                "summary": fill(self.summary),
                "description": fill(self.description),
                "runbook_url": self.runbook_url,
                "dashboard_url": self.dashboard_url,
                "metric": self.metric,
                "matchers": {**self.matchers, "slo": slo.name, "window": window},
                "op": self.op,
                "threshold": value,
            }
        )


class NoDataRule(_Rule):
    """An SLO whose counters saw no event for ``after`` (a stopped producer, a broken agent)."""

    alert: str = Field(default="SloNoData", pattern=_ALERT_NAME)
    after: DurationField = Field(default_factory=lambda: Duration.parse("30m"))
    slos: list[str] = Field(default_factory=list)  # empty: every SLO

    @property
    def after_delta(self) -> timedelta:
        return self.after.delta


class AlertRuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # how often the in-service evaluator runs
    evaluation_interval: DurationField = Field(default_factory=lambda: Duration.parse("30s"))
    threshold_rules: list[ThresholdRule] = Field(default_factory=list)
    slo_threshold_rules: list[SloThresholdRule] = Field(default_factory=list)
    no_data_rules: list[NoDataRule] = Field(default_factory=list)

    @property
    def interval(self) -> timedelta:
        return self.evaluation_interval.delta

    def merged(self, other: AlertRuleSet) -> AlertRuleSet:
        return AlertRuleSet(
            evaluation_interval=self.evaluation_interval,
            threshold_rules=self.threshold_rules + other.threshold_rules,
            slo_threshold_rules=self.slo_threshold_rules + other.slo_threshold_rules,
            no_data_rules=self.no_data_rules + other.no_data_rules,
        )

    def for_slos(self, slos: Sequence[Any]) -> AlertRuleSet:
        """The rule set with each SLO template expanded for the SLOs of its kind, in SLO order."""
        expanded = [
            template.for_slo(slo)
            for template in self.slo_threshold_rules
            for slo in slos
            if slo.sli == template.sli
        ]
        return AlertRuleSet(
            evaluation_interval=self.evaluation_interval,
            threshold_rules=self.threshold_rules + expanded,
            no_data_rules=self.no_data_rules,
        )


def load_alert_rules(path: str | Path) -> AlertRuleSet:
    """One alert_rules file, or every alert_rules file of a directory (others are skipped)."""
    from slaengine.rules.specfile import document_kind

    path = Path(path)
    if not path.is_dir():
        return validate_document(read_yaml(path), AlertRuleSet, str(path))
    ruleset: AlertRuleSet | None = None
    for file in sorted(path.glob("*.y*ml")):
        document = read_yaml(file)
        if document_kind(document) != "alert-rules":
            continue  # e.g. routing.yaml lives in the same folder
        loaded = validate_document(document, AlertRuleSet, str(file))
        ruleset = loaded if ruleset is None else ruleset.merged(loaded)
    if ruleset is None:
        raise ConfigError(
            "no alert rules files (with threshold_rules, slo_threshold_rules or "
            "no_data_rules) found",
            file=str(path),
        )
    return ruleset

"""OpenSLO ``v1alpha`` SLOs (ratio metrics on Prometheus) mapped to ``SloDefinition``.

Each objective becomes one SLO named ``<name>-<index>``. OpenSLO counts good
events, so the error ratio is ``1 - good/total``. OpenSLO has no alerting
section, so no alerts are generated for these SLOs.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from slaengine.durations import format_duration
from slaengine.rules.model import RawSli, SloDefinition, SloGroup
from slaengine.rules.promql import check_query_template
from slaengine.rules.sloth import check_name

API_VERSION = "openslo/v1alpha"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class OpenSloQuery(_Lenient):
    source: str
    queryType: str
    query: str

    @model_validator(mode="after")
    def _promql(self) -> OpenSloQuery:
        if self.source not in ("prometheus", "sloth"):
            raise ValueError(f"source {self.source!r} is not supported: use prometheus")
        if self.queryType != "promql":
            raise ValueError(f"queryType {self.queryType!r} is not supported: use promql")
        check_query_template(self.query)
        return self


class OpenSloRatio(_Lenient):
    good: OpenSloQuery
    total: OpenSloQuery


class OpenSloObjective(_Lenient):
    ratioMetrics: OpenSloRatio | None = None
    target: float = Field(gt=0, le=1)

    @field_validator("ratioMetrics")
    @classmethod
    def _required(cls, value: OpenSloRatio | None) -> OpenSloRatio:
        if value is None:
            raise ValueError("ratioMetrics is required: only ratio objectives are supported")
        return value


class OpenSloTimeWindow(_Lenient):
    count: int = Field(gt=0)
    unit: str

    @field_validator("unit")
    @classmethod
    def _days(cls, value: str) -> str:
        if value.lower() != "day":
            raise ValueError("only Day based time windows are supported")
        return value


class OpenSloSpec(_Lenient):
    service: str
    description: str = ""
    objectives: list[OpenSloObjective] = Field(min_length=1)
    timeWindows: list[OpenSloTimeWindow] = Field(default_factory=list, max_length=1)

    _service = field_validator("service")(check_name)


class OpenSloMetadata(_Lenient):
    name: str
    _name = field_validator("name")(check_name)


class OpenSloDocument(_Lenient):
    apiVersion: str
    kind: str
    metadata: OpenSloMetadata
    spec: OpenSloSpec

    def period_mismatch(self, period: timedelta) -> str | None:
        """Why the document's time window can't be used in a run for ``period``, if it can't."""
        if not self.spec.timeWindows:
            return None
        days = self.spec.timeWindows[0].count
        if timedelta(days=days) != period:
            return (
                f"a {days} day time window does not match this run's SLO period "
                f"{format_duration(period)}: run with --default-slo-period {days}d"
            )
        return None

    def to_group(self, period: timedelta) -> SloGroup:
        slos = []
        for index, objective in enumerate(self.spec.objectives):
            assert objective.ratioMetrics is not None
            good, total = objective.ratioMetrics.good.query, objective.ratioMetrics.total.query
            query = (
                f"\n  1 - (\n    (\n      {good}\n    )\n    /\n    (\n      {total}\n    )\n  )\n"
            )
            name = f"{self.metadata.name}-{index}"
            slos.append(
                SloDefinition(
                    id=f"{self.spec.service}-{name}",
                    name=name,
                    service=self.spec.service,
                    objective=objective.target * 100,
                    period=period,
                    sli=RawSli(query),
                    description=self.spec.description,
                )
            )
        return SloGroup(tuple(slos), spec=API_VERSION, mode="cli-gen-openslo")

"""The capacity configuration (forecasting/data/capacity.yaml), validated with file/line/field.

Which resource is which kind, each kind's recommendation thresholds, the capacity alert
thresholds and the gauge of each resource's current value are data, tuned in YAML.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from slaengine.yamlconfig import load_model, parse_yaml_text, validate_document

ResourceKind = Literal["database", "api_instances", "storage_locations", "event_store", "generic"]
DEFAULT_CONFIG = "capacity.yaml"
BOUNDED_KINDS = ("storage_locations", "api_instances")


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResourceSpec(StrictModel):
    kind: ResourceKind = "generic"
    gauge: str | None = Field(default=None, pattern=r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    gauge_value: Literal["current", "utilization_percent"] = "current"
    daily_value: Literal["max", "last"] = "max"  # which daily aggregate is forecast
    # The value cannot exceed the capacity (locations in use, CPU %): forecasts saturate there.
    # Unset: bounded for the storage_locations and api_instances kinds.
    bounded: bool | None = None

    @property
    def is_bounded(self) -> bool:
        return self.bounded if self.bounded is not None else self.kind in BOUNDED_KINDS


class DatabaseRule(StrictModel):
    threshold_percent: float = Field(default=80, gt=0, le=100)
    tiers_gb: list[float] = Field(
        default=[10, 25, 50, 100, 150, 250, 500, 1000, 2000, 4000], min_length=1
    )

    @field_validator("tiers_gb")
    @classmethod
    def ascending(cls, tiers: list[float]) -> list[float]:
        if any(t <= 0 for t in tiers) or tiers != sorted(set(tiers)):
            raise ValueError("tiers must be positive and strictly ascending")
        return tiers


class ApiInstancesRule(StrictModel):
    cpu_threshold_percent: float = Field(default=70, gt=0, le=100)
    sustained_days: int = Field(default=3, ge=1, le=60)
    target_cpu_percent: float = Field(default=60, gt=0, le=100)
    instances_label: str = "instances"
    default_instances: int = Field(default=2, ge=1)


class StorageLocationsRule(StrictModel):
    utilization_threshold_percent: float = Field(default=85, gt=0, le=100)
    target_utilization_percent: float = Field(default=70, gt=0, le=100)
    lookahead_days: int = Field(default=90, ge=1, le=1000)


class EventStoreRule(StrictModel):
    max_events_per_day: float = Field(default=1_000_000, gt=0)


class KindRules(StrictModel):
    database: DatabaseRule = DatabaseRule()
    api_instances: ApiInstancesRule = ApiInstancesRule()
    storage_locations: StorageLocationsRule = StorageLocationsRule()
    event_store: EventStoreRule = EventStoreRule()


class AlertThresholds(StrictModel):
    warning_percent: float = Field(default=80, gt=0)
    critical_percent: float = Field(default=90, gt=0)
    projected_percent: float = Field(default=90, gt=0)
    projected_within_days: int = Field(default=30, ge=1)
    runbook_base: str = "docs/operations.md"


class CapacityConfig(StrictModel):
    horizon_days: int = Field(default=180, ge=7, le=1000)
    resources: dict[str, ResourceSpec] = {}
    kinds: KindRules = KindRules()
    alerts: AlertThresholds = AlertThresholds()

    def spec_for(self, resource: str) -> ResourceSpec:
        return self.resources.get(resource) or ResourceSpec()


def load_capacity_config(path: str | Path | None = None) -> CapacityConfig:
    """Load ``path``, or the packaged default when None; raises ConfigError on bad input."""
    if path is not None:
        return load_model(path, CapacityConfig)
    text = resources.files("forecasting").joinpath("data", DEFAULT_CONFIG).read_text("utf-8")
    return validate_document(parse_yaml_text(text, DEFAULT_CONFIG), CapacityConfig, DEFAULT_CONFIG)

"""Sloth's ``prometheus/v1`` SLO spec: validation model and mapping to ``SloDefinition``.

Unknown keys are ignored, as Sloth ignores them; everything Sloth validates
(names, objective range, exactly one SLI, ``{{.window}}`` queries, alert name
and label syntax) is validated here and reported with file, line and field.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from slaengine.rules.model import AlertMeta, EventsSli, RawSli, SloDefinition, SloGroup
from slaengine.rules.promql import check_query_template, is_label_name

SPEC_VERSION = "prometheus/v1"
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


def check_name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(
            "must start and end with a letter or digit and contain only "
            "letters, digits, '.', '_' and '-'"
        )
    return value


def check_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        if not is_label_name(key):
            raise ValueError(f"invalid label name {key!r}")
        if value == "":
            raise ValueError(f"label {key!r} needs a value")
    return labels


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class SlothAlert(_Lenient):
    disable: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    _labels = field_validator("labels")(check_labels)


class SlothAlerting(_Lenient):
    name: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    page_alert: SlothAlert = Field(default_factory=SlothAlert)
    ticket_alert: SlothAlert = Field(default_factory=SlothAlert)

    _labels = field_validator("labels")(check_labels)

    @model_validator(mode="after")
    def _name_when_enabled(self) -> SlothAlerting:
        enabled = not (self.page_alert.disable and self.ticket_alert.disable)
        if enabled and not self.name:
            raise ValueError(
                "alerting.name is required unless page_alert and ticket_alert are disabled"
            )
        return self


class SlothEvents(_Lenient):
    error_query: str
    total_query: str

    @field_validator("error_query", "total_query")
    @classmethod
    def _template(cls, value: str) -> str:
        check_query_template(value)
        return value

    @model_validator(mode="after")
    def _different(self) -> SlothEvents:
        if self.error_query == self.total_query:
            raise ValueError("error_query and total_query can't be the same")
        return self


class SlothRaw(_Lenient):
    error_ratio_query: str

    @field_validator("error_ratio_query")
    @classmethod
    def _template(cls, value: str) -> str:
        check_query_template(value)
        return value


class SlothSli(_Lenient):
    raw: SlothRaw | None = None
    events: SlothEvents | None = None
    plugin: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SlothSli:
        if self.plugin is not None:
            raise ValueError("SLI plugins are not supported by slaengine; use events or raw")
        if self.raw is None and self.events is None:
            raise ValueError("one SLI type is required: events (error_query, total_query) or raw")
        if self.raw is not None and self.events is not None:
            raise ValueError("only one SLI type is allowed: events or raw")
        return self


class SlothSlo(_Lenient):
    name: str
    objective: float = Field(gt=0, le=100)
    description: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    sli: SlothSli
    alerting: SlothAlerting = Field(default_factory=SlothAlerting)

    _name = field_validator("name")(check_name)
    _labels = field_validator("labels")(check_labels)


class SlothSpec(_Lenient):
    version: str
    service: str
    labels: dict[str, str] = Field(default_factory=dict)
    slos: list[SlothSlo] = Field(min_length=1)

    _service = field_validator("service")(check_name)
    _labels = field_validator("labels")(check_labels)

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value != SPEC_VERSION:
            raise ValueError(f"unsupported spec version {value!r}: expected {SPEC_VERSION!r}")
        return value

    def to_group(self, period: timedelta) -> SloGroup:
        return SloGroup(
            tuple(self._to_slo(slo, period) for slo in self.slos),
            spec=SPEC_VERSION,
            mode="cli-gen-prom",
        )

    def _to_slo(self, slo: SlothSlo, period: timedelta) -> SloDefinition:
        sli: EventsSli | RawSli
        if slo.sli.events:
            sli = EventsSli(slo.sli.events.error_query, slo.sli.events.total_query)
        else:
            assert slo.sli.raw is not None
            sli = RawSli(slo.sli.raw.error_ratio_query)
        alerting = slo.alerting

        def meta(alert: SlothAlert) -> AlertMeta | None:
            if alert.disable:
                return None
            return AlertMeta(
                alerting.name,
                {**alerting.labels, **alert.labels},
                {**alerting.annotations, **alert.annotations},
            )

        return SloDefinition(
            id=f"{self.service}-{slo.name}",
            name=slo.name,
            service=self.service,
            objective=slo.objective,
            period=period,
            sli=sli,
            labels={**self.labels, **slo.labels},
            page_alert=meta(alerting.page_alert),
            ticket_alert=meta(alerting.ticket_alert),
            description=slo.description,
        )

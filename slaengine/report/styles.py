"""The report's look, loaded from ``templates/report_style.yaml`` through yamlconfig.

Colours stay hex strings here; the PDF modules turn them into reportlab colours.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from slaengine.resources import data_path
from slaengine.yamlconfig import load_model

TEMPLATES_DIR = data_path("templates")
DEFAULT_STYLE_PATH = TEMPLATES_DIR / "report_style.yaml"
_HEX = re.compile(r"#[0-9A-Fa-f]{6}")


def _check_hex(value: str) -> str:
    if not _HEX.fullmatch(value):
        raise ValueError(f"colour must be #RRGGBB, got {value!r}")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fonts(_Strict):
    regular: str
    bold: str
    base_size: float = Field(gt=5, lt=20)


class Colours(_Strict):
    primary: str
    accent: str
    text: str
    muted: str
    grid: str
    table_stripe: str
    target: str
    series: list[str] = Field(min_length=3)

    @field_validator("primary", "accent", "text", "muted", "grid", "table_stripe", "target")
    @classmethod
    def _hex(cls, value: str) -> str:
        return _check_hex(value)

    @field_validator("series")
    @classmethod
    def _hex_list(cls, value: list[str]) -> list[str]:
        return [_check_hex(item) for item in value]


class StatusColours(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    met: str
    at_risk: str = Field(alias="at-risk")
    breached: str
    no_data: str = Field(alias="no-data")

    @field_validator("met", "at_risk", "breached", "no_data")
    @classmethod
    def _hex(cls, value: str) -> str:
        return _check_hex(value)

    def of(self, status: str) -> str:
        return str(getattr(self, status.replace("-", "_")))


class Page(_Strict):
    size: Literal["A4", "letter"]
    margin_mm: float = Field(ge=5, le=40)


class Charts(_Strict):
    width_mm: float = Field(gt=20)
    height_mm: float = Field(gt=20)
    wide_width_mm: float = Field(gt=20)


class ReportStyle(_Strict):
    fonts: Fonts
    colours: Colours
    status: StatusColours
    page: Page
    charts: Charts


@lru_cache(maxsize=8)
def load_report_style(path: str | Path = DEFAULT_STYLE_PATH) -> ReportStyle:
    """Validated style; raises ConfigError with file/line/field on a bad file."""
    return load_model(path, ReportStyle)

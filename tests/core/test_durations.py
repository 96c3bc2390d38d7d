"""Durations are parsed once, when the config loads, and spelled the same everywhere."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from slaengine.config import load_sla_config
from slaengine.durations import Duration
from slaengine.errors import ConfigError

CONFIG = """\
grace: 15m
slos:
  - name: orders-shipped
    sli: fulfillment
    target: 99
    within: 1h30m
"""


def test_grace_and_within_are_parsed_once_at_load(tmp_path: Path) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(CONFIG)
    config = load_sla_config(path)
    slo = config.slos[0]
    assert config.grace == Duration("15m", timedelta(minutes=15))
    assert slo.within == Duration("1h30m", timedelta(minutes=90))
    assert (config.grace_ms, slo.within_ms) == (900_000, 5_400_000)
    assert f"{config.grace} / {slo.within}" == "15m / 1h30m"  # as written, for the report's words


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("grace: 10 minutes", "invalid duration '10 minutes'"),
        ("grace: 10", "invalid duration 10"),
        ("grace: 0s", "duration '0s' must be positive"),
    ],
)
def test_a_bad_duration_names_its_line_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(CONFIG.replace("grace: 15m", text))
    with pytest.raises(ConfigError) as caught:
        load_sla_config(path)
    assert f"{path}:1: grace: " in str(caught.value)
    assert message in str(caught.value)

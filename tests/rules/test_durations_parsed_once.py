"""Durations in the SLO config and the alert rule files are parsed once, when they load: the
evaluator, which reads them every evaluation interval for every SLO and gauge, parses none."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import slaengine.config
import slaengine.rules.alertspec
import slaengine.rules.fromconfig
from slaengine.config import load_sla_config
from slaengine.resources import data_path
from slaengine.rules.alertspec import load_alert_rules
from slaengine.rules.fromconfig import slo_definition
from slaengine.rules.windows import WindowsCatalog

CONFIG = """\
slos:
  - name: api
    sli: availability
    service: orders-api
    target: 99.9
    alerting:
      no_data_after: 45m
      page_quick: {error_budget_percent: 2, short_window: 5m, long_window: 1h}
"""


def test_the_evaluators_durations_are_read_without_parsing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "slo.yaml"
    path.write_text(CONFIG)
    config = load_sla_config(path)
    rules = load_alert_rules(data_path("alert_rules")).for_slos(config.slos)
    catalog = WindowsCatalog.builtin()
    base = catalog.for_period(timedelta(days=30))

    def refuse(text: str) -> timedelta:
        raise AssertionError(f"{text!r} parsed again after loading")

    for module in (slaengine.config, slaengine.rules.alertspec, slaengine.rules.fromconfig):
        monkeypatch.setattr(module, "parse_duration", refuse, raising=False)
    assert rules.interval == timedelta(seconds=30)
    assert [rule.hold for rule in rules.threshold_rules]  # every rule's ``for``, as a timedelta
    assert all(rule.after_delta > timedelta(0) for rule in rules.no_data_rules)
    spec = config.slo("api")
    assert spec.window_delta == timedelta(days=30)
    overrides = spec.alerting
    assert overrides is not None and overrides.no_data_after is not None
    assert overrides.no_data_after.delta == timedelta(minutes=45)
    windows = overrides.windows(base)
    assert windows is not None
    assert (windows.page_quick.short_window, windows.page_quick.long_window) == (
        timedelta(minutes=5),
        timedelta(hours=1),
    )
    monkeypatch.undo()  # building a definition reads the period from the window text once
    assert slo_definition(spec, catalog).no_data_after == timedelta(minutes=45)

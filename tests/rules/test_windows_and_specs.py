"""Window math, alert_rules validation and slaengine's own SLO config through the CLI."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from slaengine.durations import format_duration
from slaengine.errors import ConfigError
from slaengine.rules.alertspec import load_alert_rules
from slaengine.rules.fromconfig import runbook_anchor
from slaengine.rules.templating import expand_template
from slaengine.rules.windows import WindowsCatalog

REPO = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("days", "factors"),
    [
        pytest.param(30, [14.4, 6, 3, 1], id="30 days gives the SRE Workbook factors"),
        pytest.param(28, [13.44, 5.6, 2.8, 0.9333], id="28 days are Sloth's google-28d windows"),
        pytest.param(60, [28.8, 12, 6, 2], id="longer periods keep the 30-day windows"),
    ],
)
def test_builtin_burn_factors(days: int, factors: list[float]) -> None:
    windows = WindowsCatalog.builtin().for_period(timedelta(days=days))
    got = [w.burn_factor(windows.period) for w in windows.all()]
    assert got == pytest.approx(factors, rel=1e-3)
    assert [format_duration(w) for w in windows.distinct_windows()] == [
        "5m",
        "30m",
        "1h",
        "2h",
        "6h",
        "1d",
        "3d",
    ]


def test_a_7_day_period_scales_the_windows_so_no_factor_drops_below_1() -> None:
    windows = WindowsCatalog.builtin().for_period(timedelta(days=7))
    assert [w.burn_factor(windows.period) for w in windows.all()] == pytest.approx([14.4, 6, 3, 1])
    assert [format_duration(w) for w in windows.distinct_windows()] == [
        "1m",
        "7m",
        "14m",
        "28m",
        "1h24m",
        "5h36m",
        "16h48m",
    ]
    assert max(windows.distinct_windows()) <= windows.period


def test_a_period_too_short_for_burn_rate_windows_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"SLO period of 1h is too short .* at least 6d"):
        WindowsCatalog.builtin().for_period(timedelta(hours=1))


def test_custom_catalogue_without_the_period_is_a_clear_error(
    sloth_fixtures: Path, tmp_path: Path
) -> None:
    shutil.copy(sloth_fixtures / "windows" / "7d.yaml", tmp_path)
    catalog = WindowsCatalog.from_directory(tmp_path)
    with pytest.raises(
        ConfigError, match=r"no alert windows for the SLO period 30d \(available: 1w\)"
    ):
        catalog.for_period(timedelta(days=30))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(days=30), "30d"),
        (timedelta(days=28), "4w"),
        (timedelta(hours=72), "3d"),
        (timedelta(minutes=90), "1h30m"),
        (timedelta(days=365), "1y"),
    ],
)
def test_durations_are_spelled_like_prometheus(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


def test_anchor_and_templates() -> None:
    assert runbook_anchor("SlaUptimeBelowTarget") == "sla-uptime-below-target"
    assert runbook_anchor("SLOBurn_rate") == "slo-burn-rate"
    text = 'x {{ $labels.a }} {{ $value }} {{ printf "%.1f" $value }} {{ humanize $value }}'
    assert expand_template(text, {"a": "b"}, 2.25) == "x b 2.25 2.2 {{ humanize $value }}"


def test_shipped_alert_rules_load() -> None:
    rules = load_alert_rules(REPO / "alert_rules")  # routing.yaml in the folder is skipped
    by_name = {r.alert: r for r in rules.threshold_rules + rules.slo_threshold_rules}
    assert by_name["SlaUptimeBelowTarget"].severity == "critical"
    assert by_name["CapacityUtilizationCritical"].threshold == 90
    assert rules.interval == timedelta(seconds=30)
    assert [r.alert for r in rules.no_data_rules] == ["SloNoData"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            "threshold_rules:\n  - alert: X\n    metric: m\n    op: '=>'\n    threshold: 1\n"
            "    severity: warning\n    summary: s\n",
            ":4: threshold_rules[0].op:",
            id="an unknown operator names its line",
        ),
        pytest.param(
            "threshold_rules:\n  - alert: X\n    metric: m\n    op: '>'\n    threshold: 1\n"
            "    severity: page\n    summary: s\n",
            ":6: threshold_rules[0].severity:",
            id="severity must be critical, error, warning or info",
        ),
        pytest.param(
            "no_data_rules:\n  - after: soon\n    severity: info\n    summary: s\n",
            ":2: no_data_rules[0].after: Value error, invalid duration",
            id="a bad duration names its field",
        ),
    ],
)
def test_bad_alert_rules_fail_with_file_line_field(
    run_cli, tmp_path: Path, capsys, body: str, expected: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(body, encoding="utf-8")
    assert run_cli("validate", str(path)) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"rules.yaml{expected}" in err


SLA_CONFIG = """\
timezone: UTC
slos:
  - name: checkout-availability
    sli: availability
    service: checkout
    target: 99.9
    alerting:
      page: {severity: critical, labels: {team: payments}}
      ticket: {severity: warning}
  - name: projection-lag
    sli: lag
    threshold_s: 5
    target: 99
    window: calendar-month
"""


def test_slaengine_config_generates_rules_over_exported_counters(run_cli, tmp_path: Path) -> None:
    config = tmp_path / "slo.yaml"
    config.write_text(SLA_CONFIG, encoding="utf-8")
    out = tmp_path / "rules.yaml"
    assert (
        run_cli(
            "rules",
            "generate",
            "-i",
            str(config),
            "-o",
            str(out),
            "--alert-rules",
            str(REPO / "alert_rules"),
        )
        == 0
    )
    text = out.read_text(encoding="utf-8")
    assert (
        '(sum(rate(slaengine_slo_events_total{slo="checkout-availability"}[5m])) - '
        'sum(rate(slaengine_slo_good_events_total{slo="checkout-availability"}[5m])))'
    ) in text
    assert "- alert: SloErrorBudgetBurn" in text and "team: payments" in text
    assert "sloth_service: slaengine" in text  # lag SLOs have no service
    assert "slaengine-threshold-rules" in text and "absent(slaengine_slo_events_total" in text
    promtool = shutil.which("promtool")
    if promtool:  # the promtool marker tests require it; here it is a bonus check
        result = subprocess.run(
            [promtool, "check", "rules", str(out)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_bad_alerting_override_in_slo_config_is_a_one_line_error(
    run_cli, tmp_path: Path, capsys
) -> None:
    config = tmp_path / "slo.yaml"
    config.write_text(
        SLA_CONFIG.replace("page: {severity: critical", "page: {severty: critical"),
        encoding="utf-8",
    )
    assert run_cli("rules", "generate", "-i", str(config), "-o", str(tmp_path / "r.yaml")) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "slo.yaml:8: slos[0].alerting.page.severty: Extra inputs are not permitted" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["-l", "novalue"], "invalid label 'novalue'", id="labels need key=value"),
        pytest.param(
            ["--default-slo-period", "month"], "invalid duration", id="periods are durations"
        ),
    ],
)
def test_bad_options_are_one_line_usage_errors(
    run_cli, tmp_path: Path, capsys, argv: list[str], message: str
) -> None:
    code = run_cli("rules", "generate", "-i", "x.yaml", "-o", str(tmp_path / "o.yaml"), *argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and message in err

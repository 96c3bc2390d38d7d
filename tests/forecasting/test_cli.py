"""``slaengine forecast`` through the real CLI entry point."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pytest

from slaengine import cli


@pytest.fixture(autouse=True)
def only_forecast_command(monkeypatch) -> None:
    # Other command modules are wired by the lead; this test needs only its own.
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["slaengine.commands.forecast"])


def write_csv(path, rows: list[str], header: str = "ds,y") -> str:
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def database_rows(hourly: bool = False) -> list[str]:
    rng = np.random.default_rng(6)
    start = date(2026, 9, 1)
    rows = []
    for day in range(31):
        base = 45 + 5 * day / 30
        stamps = range(0, 24, 6) if hourly else [None]
        for hour in stamps:
            stamp = (start + timedelta(days=day)).isoformat()
            if hour is not None:
                stamp += f"T{hour:02d}:00:00Z"
            rows.append(f"{stamp},{base + rng.normal(0, 0.05):.4f}")
    return rows


@pytest.mark.parametrize("hourly", [False, True], ids=["daily rows", "6-hourly rows resampled"])
def test_json_forecast_of_a_growing_database(tmp_path, capsys, hourly: bool) -> None:
    path = write_csv(tmp_path / "database_size.csv", database_rows(hourly))
    code = cli.main(["forecast", "--csv", path, "--capacity", "100", "--horizon-days", "365"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["history_days"] == 31
    assert out["growth_per_month"] == pytest.approx(5.0, rel=0.08)
    assert len(out["forecast"]) == 365
    assert out["forecast"][179]["yhat"] == pytest.approx(80, abs=2)
    assert set(out["days_to"]) == {"80", "90", "100"}
    assert out["days_to"]["80"] == pytest.approx(180, abs=10)
    assert set(out["backtest"]) >= {"smape", "mase"}
    assert out["recommendation"]["action"] == "upgrade_tier"  # kind from the file name
    assert out["recommendation"]["amount"] == 150


def test_text_format_and_null_days_when_not_projected(tmp_path, capsys) -> None:
    rows = [f"{date(2026, 9, 1) + timedelta(days=i)},{70.0}" for i in range(20)]
    path = write_csv(tmp_path / "flat.csv", rows)
    assert cli.main(["forecast", "--csv", path, "--capacity", "100", "--format", "text"]) == 0
    text = capsys.readouterr().out
    assert "not projected to reach capacity" in text and "recommendation:" in text
    assert cli.main(["forecast", "--csv", path, "--capacity", "100"]) == 0
    assert json.loads(capsys.readouterr().out)["days_to"] == {"80": None, "90": None, "100": None}


@pytest.mark.parametrize(
    ("header", "rows", "message"),
    [
        ("ds,value", ["2026-01-01,1"], "missing column 'y' (header has: ds, value)"),
        ("ds,y", ["2026-01-01,1", "2026-13-01,2"], ":3: column ds: cannot parse '2026-13-01'"),
        ("ds,y", ["2026-01-01,1", "2026-01-02,lots"], ":3: column y: 'lots' is not a number"),
        ("ds,y", ["2026-01-01,nan"], ":2: column y: 'nan' is not a finite number"),
        ("ds,y", [], "no data rows after the header"),
        (
            "ds,y",
            ["2026-01-01,1", "2026-01-02,2", "2026-01-03,-0.5"],
            ":4: column y: '-0.5' is negative",
        ),
    ],
    ids=["a missing column", "a bad date", "a bad number", "a NaN", "no rows", "a negative value"],
)
def test_bad_csv_is_a_one_line_error_with_exit_1(tmp_path, capsys, header, rows, message) -> None:
    path = write_csv(tmp_path / "bad.csv", rows, header)
    assert cli.main(["forecast", "--csv", path]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert err.startswith("slaengine forecast: error: ")


def test_missing_file_and_bad_options(tmp_path, capsys) -> None:
    assert cli.main(["forecast", "--csv", str(tmp_path / "none.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["forecast", "--csv", "x.csv", "--capacity", "-1"])
    assert exit_info.value.code == 2
    assert "must be a positive number" in capsys.readouterr().err


def test_storage_locations_saturate_at_capacity_unless_told_otherwise(tmp_path, capsys) -> None:
    start = date(2026, 1, 1)
    rows = [f"{start + timedelta(days=i)},{min(700 + 3 * i, 1000)}" for i in range(90)]
    path = write_csv(tmp_path / "storage_locations.csv", rows)
    assert cli.main(["forecast", "--csv", path, "--capacity", "1000"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bounded"] is True and out["reference_model"] == "linear"
    assert max(max(r["upper95"], r["yhat"], r["linear"]) for r in out["forecast"]) <= 1000
    assert (
        cli.main(
            ["forecast", "--csv", path, "--capacity", "1000", "--no-bounded", "--format", "text"]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "linear (ref)" in text
    assert (
        max(float(line.split()[5]) for line in text.splitlines() if line[:4] == "2026") > 1000
    )  # upper95 column, unbounded

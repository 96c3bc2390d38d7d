"""A worker's flags and environment variables are read in one place, into typed Settings; a bad
value is a one-line error of the command that reads it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from slaengine.cli import build_parser
from slaengine.errors import ConfigError
from slaengine.settings import settings_from_args

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slaengine.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=False,
        env={**os.environ, **env},
    )


def test_the_worker_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLAENGINE_ROUTING_CONFIG", str(tmp_path / "routing.yaml"))
    monkeypatch.setenv("SLAENGINE_CAPACITY_CONFIG", str(tmp_path / "capacity.yaml"))
    monkeypatch.setenv("SLAENGINE_CAPACITY_REFRESH_S", "5")
    monkeypatch.setenv("SLAENGINE_WORKER_ID", "w7")
    monkeypatch.setenv("SLAENGINE_PARTITIONS", "8")
    settings = settings_from_args(build_parser().parse_args(["worker"]))
    assert settings.routing_config == tmp_path / "routing.yaml"
    assert settings.capacity_config == tmp_path / "capacity.yaml"
    assert (settings.capacity_refresh_s, settings.worker_id, settings.partitions) == (5.0, "w7", 8)


def test_flags_win_over_the_environment_and_unset_paths_mean_the_packaged_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SLAENGINE_ROUTING_CONFIG", raising=False)
    monkeypatch.delenv("SLAENGINE_CAPACITY_CONFIG", raising=False)
    monkeypatch.setenv("SLAENGINE_CAPACITY_REFRESH_S", "5")
    args = build_parser().parse_args(
        ["worker", "--capacity-refresh", "2.5", "--flush-interval", "0.2"]
    )
    settings = settings_from_args(args)
    assert settings.routing_config is None and settings.capacity_config is None
    assert (settings.capacity_refresh_s, settings.flush_interval_s) == (2.5, 0.2)


@pytest.mark.parametrize("command", ["generate", "produce"])
def test_a_bad_variable_does_not_break_commands_that_do_not_read_it(command: str) -> None:
    result = run(command, "--help", SLAENGINE_HTTP_PORT="abc", SLAENGINE_PARTITIONS="x")
    assert result.returncode == 0, result.stderr  # it used to be a traceback of every command


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SLAENGINE_PARTITIONS", "x", "argument --partitions: invalid int value: 'x'"),
        ("SLAENGINE_HTTP_PORT", "abc", "argument --http-port: invalid int value: 'abc'"),
        ("SLAENGINE_CAPACITY_REFRESH_S", "0", "argument --capacity-refresh: '0' must be positive"),
        ("SLAENGINE_HTTP_WORK_TIMEOUT_S", "soon", "argument --http-work-timeout: "),
        (
            "SLAENGINE_API_TOKEN_FILE",
            "/no/such/token",
            "/no/such/token: SLAENGINE_API_TOKEN_FILE: cannot read the API token",
        ),
    ],
)
def test_a_bad_variable_is_a_one_line_error_of_the_worker(
    variable: str, value: str, message: str
) -> None:
    result = run("worker", "--bootstrap", "127.0.0.1:1", **{variable: value})
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_an_unreadable_token_file_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SLAENGINE_API_TOKEN", raising=False)
    monkeypatch.setenv("SLAENGINE_API_TOKEN_FILE", "/no/such/token")
    with pytest.raises(ConfigError, match="cannot read the API token"):
        settings_from_args(build_parser().parse_args(["worker"]))


def test_the_heavy_work_timeout_is_a_worker_setting_that_overrides_every_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client import CollectorRegistry

    from slaengine.http.app import create_app
    from slaengine.http.limits import heavy_work

    monkeypatch.setenv("SLAENGINE_HTTP_WORK_TIMEOUT_S", "5")
    assert settings_from_args(build_parser().parse_args(["worker"])).http_work_timeout_s == 5.0
    monkeypatch.delenv("SLAENGINE_HTTP_WORK_TIMEOUT_S")
    assert settings_from_args(build_parser().parse_args(["worker"])).http_work_timeout_s is None
    # the setting reaches every kind of heavy work through the app; without it each keeps its own
    overridden = create_app(CollectorRegistry(), work_timeout_s=5.0)
    assert heavy_work(overridden, "report", timeout=300).timeout == 5.0
    assert heavy_work(create_app(CollectorRegistry()), "report", timeout=300).timeout == 300

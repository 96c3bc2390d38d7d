"""scripts/prometheus-local: a real Prometheus on 127.0.0.1, started idempotently."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import Prometheus, free_port, http_json

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.skipif(
        shutil.which("prometheus") is None,
        reason="prometheus not installed (scripts/prometheus-local --install start)",
    ),
]


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Prometheus]:
    server = Prometheus(free_port(), tmp_path / "state")
    yield server
    server.run("stop")


def config(tmp_path: Path, name: str, interval: str) -> Path:
    path = tmp_path / name
    path.write_text(f"global: {{scrape_interval: {interval}}}\nscrape_configs: []\n")
    return path


def test_start_is_idempotent_and_status_follows_the_server(
    prometheus: Prometheus, tmp_path: Path
) -> None:
    first = config(tmp_path, "a.yml", "7s")
    assert prometheus.run("status").returncode == 3
    started = prometheus.run("start", config=first)
    assert started.returncode == 0, started.stderr
    again = prometheus.run("start", config=first)
    assert again.returncode == 0 and "already running" in again.stdout
    status = prometheus.run("status")
    assert status.returncode == 0 and "ready" in status.stdout
    loaded = http_json(prometheus.url + "/api/v1/status/config")["data"]["yaml"]
    assert "scrape_interval: 7s" in loaded
    assert (prometheus.state_dir / ".gitignore").read_text() == "*\n"
    assert prometheus.run("stop").returncode == 0
    assert prometheus.run("status").returncode == 3
    assert prometheus.run("stop").returncode == 0  # stopping twice is fine


def test_reload_picks_up_an_edited_config(prometheus: Prometheus, tmp_path: Path) -> None:
    path = config(tmp_path, "a.yml", "7s")
    assert prometheus.run("start", config=path).returncode == 0
    path.write_text("global: {scrape_interval: 3s}\nscrape_configs: []\n")
    reloaded = prometheus.run("reload")
    assert reloaded.returncode == 0, reloaded.stderr
    loaded = http_json(prometheus.url + "/api/v1/status/config")["data"]["yaml"]
    assert "scrape_interval: 3s" in loaded


def test_a_running_server_with_another_config_is_left_alone(
    prometheus: Prometheus, tmp_path: Path
) -> None:
    assert prometheus.run("start", config=config(tmp_path, "a.yml", "7s")).returncode == 0
    other = prometheus.run("start", config=config(tmp_path, "b.yml", "9s"))
    assert other.returncode == 1 and "stop it first" in other.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("global: [", "invalid config"),
        ("global: {scrape_interval: soon}\n", "invalid config"),
    ],
    ids=["broken YAML is refused before starting", "a bad duration is refused before starting"],
)
def test_a_bad_config_fails_with_promtools_message(
    prometheus: Prometheus, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(content)
    failed = prometheus.run("start", config=path)
    assert failed.returncode == 1
    assert message in failed.stderr and "\n" not in failed.stderr.split(":", 1)[0]
    assert prometheus.run("status").returncode == 3


def test_usage_errors_exit_non_zero(prometheus: Prometheus) -> None:
    assert prometheus.run("bogus").returncode == 1
    assert prometheus.run("start", "stop").returncode == 1


def test_a_slow_exec_is_waited_for_not_taken_for_an_exit(tmp_path: Path) -> None:
    """On a loaded machine the started process is not prometheus yet for a moment (setsid has
    not exec'd it); start took that for an exit, failed, and left the server running unowned."""
    slow = tmp_path / "slow-prometheus"  # for a second a process whose command line is not
    slow.write_text(  # prometheus's (its arguments wait in a file), then prometheus
        "#!/bin/sh\n"
        'printf "%s\\n" "$@" > "$0.args"\n'
        "exec sh -c 'f=$1; sleep 1; set --; "
        'while IFS= read -r a; do set -- "$@" "$a"; done < "$f"; '
        f'exec {shutil.which("prometheus")} "$@"\' - "$0.args"\n'
    )
    slow.chmod(0o755)
    server = Prometheus(free_port(), tmp_path / "state", env={"PROMETHEUS_BIN": str(slow)})
    try:
        started = server.run("start", config=config(tmp_path, "a.yml", "7s"))
        assert started.returncode == 0, started.stderr
        assert server.run("status").returncode == 0
    finally:
        assert server.run("stop").returncode == 0
    assert server.run("status").returncode == 3  # stopped: nothing left running

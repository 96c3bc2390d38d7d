"""docker-compose.yml against the Compose specification, and the stack's files against each other.

Validation uses Debian's docker-compose (`config -q`), which needs no Docker engine; CI installs
it with `apt-get install -y docker-compose`. The consistency checks read the file as
docker-compose normalises it (or as plain YAML where the tool is missing).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from ruamel.yaml import YAML

from .conftest import DEPLOY, REPO_ROOT

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKER_COMPOSE = shutil.which("docker-compose")
needs_docker_compose = pytest.mark.skipif(
    DOCKER_COMPOSE is None,
    reason="docker-compose not installed (apt-get install -y docker-compose validates without "
    "an engine)",
)
yaml = YAML(typ="safe")


def compose(*args: str, file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess[str]:
    assert DOCKER_COMPOSE is not None
    return subprocess.run(
        [
            DOCKER_COMPOSE,
            "--project-directory",
            str(REPO_ROOT),
            "-f",
            str(file),
            "--profile",
            "demo",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO_ROOT,
    )


@pytest.fixture(scope="module")
def stack() -> dict[str, Any]:
    """The compose model, every profile included, normalised by docker-compose when present."""
    if DOCKER_COMPOSE is None:
        return yaml.load(COMPOSE_FILE.read_text())
    rendered = compose("config")
    assert rendered.returncode == 0, rendered.stderr
    return yaml.load(rendered.stdout)


@needs_docker_compose
def test_compose_file_validates_against_the_compose_specification() -> None:
    checked = compose("config", "-q")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == ""


@needs_docker_compose
def test_the_validator_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    expose:\n", "    exposes:\n", 1))
    checked = compose("config", "-q", file=broken)
    assert checked.returncode != 0
    assert "exposes" in checked.stderr


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_services_of_the_stack(stack: dict[str, Any]) -> None:
    services = stack["services"]
    expected = {"kafka", "worker", "prometheus", "alertmanager", "grafana", "pagerduty"}
    assert expected <= set(services)
    assert services["pagerduty"]["profiles"] == ["demo"]
    assert "profiles" not in services["worker"]
    assert services["kafka"]["image"].startswith("apache/kafka:")


def test_workers_scale_without_host_ports_and_listen_on_all_interfaces(
    stack: dict[str, Any],
) -> None:
    worker = stack["services"]["worker"]
    assert "ports" not in worker, "fixed host ports break `docker compose up --scale worker=N`"
    assert "container_name" not in worker
    env = environment(worker)
    assert env["SLAENGINE_HTTP_HOST"] == "0.0.0.0"
    assert env["SLAENGINE_KAFKA_BOOTSTRAP"].split(":")[0] == "kafka"


def test_prometheus_discovers_workers_by_dns_on_the_service_name_and_port(
    stack: dict[str, Any],
) -> None:
    config = yaml.load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "slaengine")
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["worker"] and discovery["type"] == "A"
    assert str(discovery["port"]) == environment(stack["services"]["worker"])["SLAENGINE_HTTP_PORT"]
    assert config["rule_files"] == ["rules/*.yml"]
    mounts = stack["services"]["prometheus"]["volumes"]
    assert any(
        str(m).startswith(f"{DEPLOY / 'prometheus'}:/etc/prometheus")
        or (isinstance(m, dict) and m.get("target") == "/etc/prometheus")
        for m in mounts
    )


def test_alertmanager_posts_to_the_workers_webhook_with_the_workers_token(
    stack: dict[str, Any],
) -> None:
    config = yaml.load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    (webhook,) = [w for r in config["receivers"] for w in r.get("webhook_configs", [])]
    url = urlparse(webhook["url"])
    worker_env = environment(stack["services"]["worker"])
    assert (url.hostname, str(url.port), url.path) == (
        "worker",
        worker_env["SLAENGINE_HTTP_PORT"],
        "/api/v1/alertmanager",
    )
    authorization = webhook["http_config"]["authorization"]
    assert authorization["type"] == "Bearer"
    assert authorization["credentials_file"] == worker_env["SLAENGINE_API_TOKEN_FILE"]
    token_dir = str(Path(authorization["credentials_file"]).parent)
    for name in ("worker", "alertmanager", "api-token"):
        volumes = [str(v) for v in stack["services"][name]["volumes"]]
        assert any(re.match(rf"api-token:{re.escape(token_dir)}(:r[ow])?$", v) for v in volumes), (
            f"{name} does not mount the api-token volume at {token_dir}: {volumes}"
        )


def test_grafana_datasource_points_at_the_prometheus_service(stack: dict[str, Any]) -> None:
    datasources = yaml.load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    (source,) = datasources["datasources"]
    url = urlparse(source["url"])
    assert url.hostname == "prometheus" and url.port == 9090
    assert "prometheus" in stack["services"]
    providers = yaml.load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "slaengine.yaml").read_text()
    )
    path = providers["providers"][0]["options"]["path"]
    volumes = [str(v) for v in stack["services"]["grafana"]["volumes"]]
    assert any(
        v.split(":")[1] == path and Path(v.split(":")[0]) == DEPLOY / "grafana" / "dashboards"
        for v in volumes
        if v.startswith("/")
    ), volumes


def test_every_bind_mount_source_exists(stack: dict[str, Any]) -> None:
    sources = [
        str(v).split(":")[0]
        for s in stack["services"].values()
        for v in s.get("volumes", [])
        if str(v).startswith(("/", "."))
    ]
    assert sources
    missing = [s for s in sources if not (REPO_ROOT / s).exists()]
    assert missing == []


def test_kafka_image_is_the_version_the_test_broker_runs() -> None:
    pom = (REPO_ROOT / "scripts" / "kafka" / "pom.xml").read_text()
    version = re.search(r"<kafka.version>(.+?)</kafka.version>", pom)
    assert version is not None
    assert f"apache/kafka:{version.group(1)}" in COMPOSE_FILE.read_text()


@pytest.mark.prometheus
@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_prometheus_config_passes_promtool() -> None:
    checked = subprocess.run(
        ["promtool", "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.skipif(
    shutil.which("amtool") is None,
    reason="amtool not installed (apt-get install -y prometheus-alertmanager)",
)
def test_alertmanager_config_passes_amtool() -> None:
    checked = subprocess.run(
        ["amtool", "check-config", str(DEPLOY / "alertmanager" / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout

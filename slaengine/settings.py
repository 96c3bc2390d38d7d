"""Runtime settings of a worker: flags with environment variables as defaults (see README).

The one place a worker's settings and environment variables are read; everything else is handed
a ``Settings``. (Secrets that a config file names, such as ``password_env``, are read by the
sender that uses them, when it starts.)
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

from slaengine.errors import ConfigError

DEFAULT_CONFIG = Path(__file__).resolve().parent / "data" / "slo.yaml"


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = "127.0.0.1:9092"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    data_dir: Path = Path(".data")
    config_path: Path = DEFAULT_CONFIG
    store: str = "rocksdb://"
    topic_prefix: str = ""
    worker_id: str = "worker-1"
    flush_interval_s: float = 0.5
    api_token: str | None = None
    partitions: int = 4
    routing_config: Path | None = None  # None: the packaged alert_rules/routing.yaml
    capacity_config: Path | None = None  # None: the packaged forecasting/data/capacity.yaml
    capacity_refresh_s: float = 60.0  # seconds between background capacity forecasts
    http_work_timeout_s: float | None = None  # None: each kind of heavy HTTP work's own timeout

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def app_id(self) -> str:
        return f"{self.topic_prefix}slaengine"


def env_default(name: str, default: str) -> str:
    return os.environ.get(name, default)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be positive")
    return value


def optional_positive_float(text: str) -> float | None:
    return positive_float(text) if text.strip() else None


def optional_path(text: str) -> Path | None:
    return Path(text) if text else None


# Defaults are strings: argparse converts them like a typed flag, so a bad environment variable
# is a one-line usage error of the command that reads it, not a traceback of every command.
def add_bootstrap_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bootstrap",
        default=env_default("SLAENGINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        help="Kafka bootstrap servers (env SLAENGINE_KAFKA_BOOTSTRAP, default 127.0.0.1:9092)",
    )


def add_kafka_arguments(parser: argparse.ArgumentParser) -> None:
    """The broker, the topic prefix and the partitions of new topics, for every command that
    talks to Kafka."""
    add_bootstrap_argument(parser)
    parser.add_argument(
        "--topic-prefix",
        default=env_default("SLAENGINE_TOPIC_PREFIX", ""),
        help="prefix for every topic and the consumer group (env SLAENGINE_TOPIC_PREFIX)",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=env_default("SLAENGINE_PARTITIONS", "4"),
        help="partitions of a topic slaengine creates (env SLAENGINE_PARTITIONS, default 4)",
    )


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by commands that talk to Kafka or serve HTTP."""
    add_kafka_arguments(parser)
    parser.add_argument(
        "--http-port",
        type=int,
        default=env_default("SLAENGINE_HTTP_PORT", "8000"),
        help="HTTP API port for /health, /metrics, /api (env SLAENGINE_HTTP_PORT, default 8000)",
    )
    parser.add_argument(
        "--http-host",
        default=env_default("SLAENGINE_HTTP_HOST", "127.0.0.1"),
        help="HTTP bind address (env SLAENGINE_HTTP_HOST, default 127.0.0.1)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=env_default("SLAENGINE_DATA_DIR", ".data"),
        help="state and outputs (env SLAENGINE_DATA_DIR, default ./.data)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=env_default("SLAENGINE_CONFIG", str(DEFAULT_CONFIG)),
        help="SLO/alert/routing config (env SLAENGINE_CONFIG)",
    )
    parser.add_argument(
        "--store",
        default=env_default("SLAENGINE_STORE", "rocksdb://"),
        help="table store: rocksdb:// (default) or memory:// (env SLAENGINE_STORE)",
    )


def add_worker_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's own flags, besides ``add_settings_arguments``."""
    parser.add_argument(
        "--worker-id",
        default=env_default("SLAENGINE_WORKER_ID", "worker-1"),
        help="name of this worker; separates its local state directory (env SLAENGINE_WORKER_ID)",
    )
    parser.add_argument(
        "--flush-interval",
        type=positive_float,
        default="0.5",
        help="seconds between state flushes per partition (default 0.5)",
    )
    parser.add_argument(
        "--routing-config",
        type=optional_path,
        default=env_default("SLAENGINE_ROUTING_CONFIG", ""),
        help="alert routing (env SLAENGINE_ROUTING_CONFIG, default alert_rules/routing.yaml)",
    )
    parser.add_argument(
        "--capacity-config",
        type=optional_path,
        default=env_default("SLAENGINE_CAPACITY_CONFIG", ""),
        help="forecasting kinds and thresholds (env SLAENGINE_CAPACITY_CONFIG, "
        "default the packaged one)",
    )
    parser.add_argument(
        "--capacity-refresh",
        type=positive_float,
        default=env_default("SLAENGINE_CAPACITY_REFRESH_S", "60"),
        help="seconds between background capacity forecasts "
        "(env SLAENGINE_CAPACITY_REFRESH_S, default 60)",
    )
    parser.add_argument(
        "--http-work-timeout",
        type=optional_positive_float,
        default=env_default("SLAENGINE_HTTP_WORK_TIMEOUT_S", ""),
        help="seconds before heavy HTTP work (forecasts, replays, reports) answers 503, for every "
        "kind (env SLAENGINE_HTTP_WORK_TIMEOUT_S, default each kind's own)",
    )


def api_token_from_env() -> str | None:
    """``SLAENGINE_API_TOKEN``, else the content of the file ``SLAENGINE_API_TOKEN_FILE`` names."""
    token = os.environ.get("SLAENGINE_API_TOKEN")
    token_file = os.environ.get("SLAENGINE_API_TOKEN_FILE")
    if not token and token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError(
                f"cannot read the API token: {err.strerror}",
                file=token_file,
                field="SLAENGINE_API_TOKEN_FILE",
            ) from err
    return token or None


def settings_from_args(args: argparse.Namespace, **overrides: object) -> Settings:
    values = {
        "kafka_bootstrap": args.bootstrap,
        "http_host": args.http_host,
        "http_port": args.http_port,
        "data_dir": args.data_dir,
        "config_path": args.config,
        "store": args.store,
        "topic_prefix": args.topic_prefix,
        "partitions": args.partitions,
        "api_token": api_token_from_env(),
    }
    for name, flag in (
        ("worker_id", "worker_id"),
        ("flush_interval_s", "flush_interval"),
        ("routing_config", "routing_config"),
        ("capacity_config", "capacity_config"),
        ("capacity_refresh_s", "capacity_refresh"),
        ("http_work_timeout_s", "http_work_timeout"),
    ):
        if hasattr(args, flag):  # the worker's own flags (add_worker_arguments)
            values[name] = getattr(args, flag)
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]

"""Runtime settings of a worker: flags with environment variables as defaults (see README)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

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

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def app_id(self) -> str:
        return f"{self.topic_prefix}slaengine"


def env_default(name: str, default: str) -> str:
    return os.environ.get(name, default)


def add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags shared by commands that talk to Kafka or serve HTTP."""
    parser.add_argument("--bootstrap", default=env_default("SLAENGINE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
                        help="Kafka bootstrap servers (env SLAENGINE_KAFKA_BOOTSTRAP, default 127.0.0.1:9092)")
    parser.add_argument("--http-port", type=int, default=int(env_default("SLAENGINE_HTTP_PORT", "8000")),
                        help="HTTP API port for /health, /metrics, /api (env SLAENGINE_HTTP_PORT, default 8000)")
    parser.add_argument("--http-host", default=env_default("SLAENGINE_HTTP_HOST", "127.0.0.1"),
                        help="HTTP bind address (env SLAENGINE_HTTP_HOST, default 127.0.0.1)")
    parser.add_argument("--data-dir", type=Path, default=Path(env_default("SLAENGINE_DATA_DIR", ".data")),
                        help="state and outputs (env SLAENGINE_DATA_DIR, default ./.data)")
    parser.add_argument("--config", type=Path, default=Path(env_default("SLAENGINE_CONFIG", str(DEFAULT_CONFIG))),
                        help="SLO/alert/routing config (env SLAENGINE_CONFIG)")
    parser.add_argument("--store", default=env_default("SLAENGINE_STORE", "rocksdb://"),
                        help="table store: rocksdb:// (default) or memory:// (env SLAENGINE_STORE)")
    parser.add_argument("--topic-prefix", default=env_default("SLAENGINE_TOPIC_PREFIX", ""),
                        help="prefix for every topic and the consumer group (env SLAENGINE_TOPIC_PREFIX)")
    parser.add_argument("--partitions", type=int, default=int(env_default("SLAENGINE_PARTITIONS", "4")),
                        help="partitions of the input topics when slaengine creates them (default 4)")


def settings_from_args(args: argparse.Namespace, **overrides: object) -> Settings:
    token = os.environ.get("SLAENGINE_API_TOKEN")
    token_file = os.environ.get("SLAENGINE_API_TOKEN_FILE")
    if not token and token_file:
        token = Path(token_file).read_text(encoding="utf-8").strip()
    values = {
        "kafka_bootstrap": args.bootstrap, "http_host": args.http_host, "http_port": args.http_port,
        "data_dir": args.data_dir, "config_path": args.config, "store": args.store,
        "topic_prefix": args.topic_prefix, "partitions": args.partitions, "api_token": token,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]

"""``slaengine pagerduty sync`` and ``slaengine dev pagerduty``.

sync provisions pagerduty.yaml (escalation policy, on-call schedule, service
and its Events v2 integration) through the REST API, idempotently. dev runs
the local PagerDuty contract server for demos and manual testing.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from slaengine.errors import ConfigError
from slaengine.pagerduty.env import API_TOKEN_ENV, API_URL_ENV, WEBHOOK_SECRET_ENV


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from err
    if not 0 < port < 65536:
        raise argparse.ArgumentTypeError(f"port out of range 1-65535: {port}")
    return port


def _read_token(token_file: str | None) -> str:
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError(f"cannot read token file: {err.strerror}", file=token_file) from err
        if not token:
            raise ConfigError("token file is empty", file=token_file)
        return token
    token = os.environ.get(API_TOKEN_ENV, "").strip()
    if not token:
        raise ConfigError(f"no PagerDuty REST API token: pass --token-file or set {API_TOKEN_ENV}")
    return token


def run_sync(args: argparse.Namespace) -> int:
    from slaengine.pagerduty.clients import build_rest_client
    from slaengine.pagerduty.config import load_pagerduty_config
    from slaengine.pagerduty.sync import PagerDutyProvisioner, format_report

    config = load_pagerduty_config(args.config)
    url = args.api_url or os.environ.get(API_URL_ENV) or config.rest.url
    client = build_rest_client(
        _read_token(args.token_file), url, timeout=config.rest.timeout_seconds
    )
    try:
        report = PagerDutyProvisioner(client).sync(config)
    finally:
        client.close()
    print(format_report(report))
    if args.routing_key_file and report.routing_key:
        path = Path(args.routing_key_file)
        path.touch(mode=0o600, exist_ok=True)
        path.write_text(report.routing_key + "\n", encoding="utf-8")
        print(f"routing key of the Events v2 integration written to {path}")
    return 0


def run_devserver(args: argparse.Namespace) -> int:
    from aiohttp import web

    from slaengine.pagerduty.dev_webhooks import WebhookSubscription
    from slaengine.pagerduty.devserver import DEFAULT_DEV_TOKEN, create_devserver_app

    webhook = None
    if args.webhook_url:
        secret = os.environ.get(WEBHOOK_SECRET_ENV, "").split(",")[0].strip()
        if not secret:
            raise ConfigError(f"--webhook-url needs {WEBHOOK_SECRET_ENV} to sign deliveries")
        webhook = WebhookSubscription(args.webhook_url, secret)
    token = os.environ.get(API_TOKEN_ENV) or DEFAULT_DEV_TOKEN
    app = create_devserver_app(api_token=token, webhook=webhook)
    base = f"http://{args.host}:{args.port}"
    print(
        f"local PagerDuty on {base}: Events API v2 at {base}/v2/enqueue, REST API v2 at {base}"
        f" (Authorization: Token token=<{API_TOKEN_ENV} or {DEFAULT_DEV_TOKEN!r}>),"
        f" inspection at {base}/_dev/incidents",
        flush=True,
    )
    web.run_app(app, host=args.host, port=args.port, print=None)
    return 0


def _dev_services(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The ``dev`` command's sub-commands, shared with other modules' local servers."""
    dev = subparsers.choices.get("dev")
    if dev is None:
        dev = subparsers.add_parser("dev", help="run local stand-ins of external services")
        dev.set_defaults(func=lambda args: dev.print_help() or 2)
        return dev.add_subparsers(dest="dev_service", metavar="SERVICE")
    # argparse offers no public getter for an existing parser's sub-commands
    return next(a for a in dev._actions if isinstance(a, argparse._SubParsersAction))


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    pd = subparsers.add_parser("pagerduty", help="PagerDuty escalation as code")
    pd.set_defaults(func=lambda args: pd.print_help() or 2)
    actions = pd.add_subparsers(dest="pagerduty_action", metavar="ACTION")
    sync = actions.add_parser(
        "sync", help="create/update escalation policy, schedule, service and integration"
    )
    sync.add_argument("--config", required=True, help="pagerduty.yaml to provision")
    sync.add_argument(
        "--api-url",
        help=f"REST API base URL (default: {API_URL_ENV} or "
        "rest.url from the config, https://api.pagerduty.com)",
    )
    sync.add_argument(
        "--token-file", help=f"file holding the REST API token (default: ${API_TOKEN_ENV})"
    )
    sync.add_argument(
        "--routing-key-file", help="write the Events v2 integration's routing key here (mode 0600)"
    )
    sync.set_defaults(func=run_sync)

    dev = _dev_services(subparsers).add_parser(
        "pagerduty", help="run the local PagerDuty contract server"
    )
    dev.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    dev.add_argument("--port", type=_port, default=8025, help="listen port (default 8025)")
    dev.add_argument(
        "--webhook-url",
        help="send signed v3 webhooks here, e.g. "
        "http://127.0.0.1:8080/api/v1/pagerduty/webhook "
        f"(secret: ${WEBHOOK_SECRET_ENV})",
    )
    dev.set_defaults(func=run_devserver)

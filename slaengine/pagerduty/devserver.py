"""A local PagerDuty speaking the documented Events API v2 and REST API v2 contract.

Used by the tests and by ``slaengine dev pagerduty`` for demos. Real
``pagerduty`` clients talk to it by base URL. Besides the PagerDuty paths it
offers inspection and fault injection under ``/_dev``:

* ``GET /_dev/events``, ``/_dev/alerts``, ``/_dev/incidents`` — what arrived;
* ``POST /_dev/faults`` ``{"status": 503, "count": 2, "retry_after": 5}`` (or
  ``"seconds": 30``; ``"scope": "events" | "rest" | "all"``), ``DELETE`` clears;
* ``POST /_dev/incidents/{id}/acknowledge|escalate|resolve`` — a responder acts;
* ``POST /_dev/webhooks`` ``{"url", "secret"}`` subscribes to signed v3
  webhooks; ``GET`` lists deliveries; ``POST /_dev/webhooks/flush`` waits.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from slaengine.pagerduty.dev_events import (
    RATE_LIMIT_PER_MINUTE,
    EnqueueThrottled,
    EventsLedger,
    InvalidEnqueue,
)
from slaengine.pagerduty.dev_rest import COLLECTIONS, RestError, RestStore
from slaengine.pagerduty.dev_webhooks import WebhookEmitter, WebhookSubscription

Clock = Callable[[], datetime]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
DEFAULT_DEV_TOKEN = "dev-token"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Fault:
    status: int
    remaining: int | None  # requests left to fail; None = until `until`
    until: datetime | None
    retry_after: float | None
    scope: str  # events | rest | all

    def applies(self, path: str, now: datetime) -> bool:
        if self.until is not None and now >= self.until:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        is_events = path.startswith("/v2/")
        return self.scope == "all" or (self.scope == "events") == is_events


class DevPagerDuty:
    """All state of one local PagerDuty."""

    def __init__(self, clock: Clock, api_token: str, rate_limit: int) -> None:
        self.clock = clock
        self.api_token = api_token
        self.rest = RestStore(clock)
        self.ledger = EventsLedger(clock, self.rest.route_for_key, rate_limit)
        self.emitter = WebhookEmitter(self.service_name)
        self.events_log: list[dict[str, Any]] = []
        self.fault: Fault | None = None

    def service_name(self, service_id: str) -> str:
        service = self.rest.objects["services"].get(service_id)
        return str(service["name"]) if service else "Default Service"


DEV_STATE = web.AppKey("pagerduty_dev", DevPagerDuty)


def _redact(body: Any) -> Any:
    if isinstance(body, dict) and isinstance(body.get("routing_key"), str):
        return {**body, "routing_key": "*" + body["routing_key"][-4:]}
    return body


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


@web.middleware
async def fault_injection(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[DEV_STATE]
    fault = state.fault
    if (
        fault is None
        or request.path.startswith("/_dev")
        or not fault.applies(request.path, state.clock())
    ):
        return await handler(request)
    if fault.remaining is not None:
        fault.remaining -= 1
    headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
    message = (
        "Requests for this service are arriving too quickly. Please retry later."
        if fault.status == 429
        else "Service Unavailable (injected fault)"
    )
    return web.json_response(
        {"status": "error", "message": message}, status=fault.status, headers=headers
    )


@web.middleware
async def rest_token_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(("/v2/", "/_dev")):
        return await handler(request)
    expected = f"Token token={request.app[DEV_STATE].api_token}"
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return web.json_response({"error": {"message": "Unauthorized", "code": 2006}}, status=401)
    return await handler(request)


async def enqueue(request: web.Request) -> web.Response:
    state = request.app[DEV_STATE]
    body = await _json_body(request)
    record: dict[str, Any] = {"received_at": state.clock().isoformat(), "event": _redact(body)}
    state.events_log.append(record)
    try:
        dedup_key, changes = state.ledger.enqueue(body)
    except InvalidEnqueue as err:
        record["status"] = 400
        return web.json_response(
            {"status": "invalid event", "message": "Event object is invalid", "errors": err.errors},
            status=400,
        )
    except EnqueueThrottled as err:
        record["status"] = 429
        return web.json_response(
            {
                "status": "throttle event",
                "message": "Requests for this service are arriving too quickly. Please retry "
                "later.",
            },
            status=429,
            headers={"Retry-After": f"{err.retry_after:g}"},
        )
    record["status"] = 202
    state.emitter.publish(changes, str(request.url.origin()))
    return web.json_response(
        {"status": "success", "message": "Event processed", "dedup_key": dedup_key}, status=202
    )


def _rest(action: Callable[[web.Request, RestStore], Awaitable[tuple[int, Any]]]) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            status, body = await action(request, request.app[DEV_STATE].rest)
        except RestError as err:
            return web.json_response(err.body(), status=err.status)
        if body is None:
            return web.Response(status=status)
        return web.json_response(body, status=status)

    return handle


def _collection(request: web.Request) -> str:
    return request.match_info["collection"]


async def _list(request: web.Request, rest: RestStore) -> tuple[int, Any]:
    q = request.query
    try:
        limit, offset = int(q.get("limit", "25")), int(q.get("offset", "0"))
    except ValueError as err:
        raise RestError(400, "Invalid Input Provided", ["limit/offset must be integers"]) from err
    return 200, rest.list_page(
        _collection(request), q.get("query", ""), limit, offset, q.get("total") == "true"
    )


async def _create(request: web.Request, rest: RestStore) -> tuple[int, Any]:
    collection = _collection(request)
    return 201, {COLLECTIONS[collection]: rest.create(collection, await _json_body(request))}


async def _get(request: web.Request, rest: RestStore) -> tuple[int, Any]:
    collection = _collection(request)
    return 200, {COLLECTIONS[collection]: rest.get(collection, request.match_info["id"])}


async def _update(request: web.Request, rest: RestStore) -> tuple[int, Any]:
    collection = _collection(request)
    obj = rest.update(collection, request.match_info["id"], await _json_body(request))
    return 200, {COLLECTIONS[collection]: obj}


async def _delete(request: web.Request, rest: RestStore) -> tuple[int, Any]:
    rest.delete(_collection(request), request.match_info["id"])
    return 204, None


async def _create_integration(request: web.Request, rest: RestStore) -> tuple[int, Any]:
    integration = rest.create_integration(request.match_info["id"], await _json_body(request))
    return 201, {"integration": integration}


async def _get_integration(request: web.Request, rest: RestStore) -> tuple[int, Any]:
    return 200, {
        "integration": rest.get_integration(
            request.match_info["id"], request.match_info["integration_id"]
        )
    }


def _incident_json(state: DevPagerDuty, incident_id: str) -> dict[str, Any]:
    incident = state.ledger.incidents[incident_id]
    data = {
        k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(incident).items()
    }
    data["service"] = {
        "id": incident.service_id,
        "type": "service_reference",
        "summary": state.service_name(incident.service_id),
    }
    data["alert"] = {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in asdict(state.ledger.alerts[incident.alert_id]).items()
        if k != "routing_key"
    }
    return data


async def dev_events(request: web.Request) -> web.Response:
    return web.json_response({"events": request.app[DEV_STATE].events_log})


async def dev_incidents(request: web.Request) -> web.Response:
    state = request.app[DEV_STATE]
    return web.json_response(
        {"incidents": [_incident_json(state, i) for i in state.ledger.incidents]}
    )


async def dev_incident_action(request: web.Request) -> web.Response:
    state = request.app[DEV_STATE]
    incident_id, action = request.match_info["id"], request.match_info["action"]
    if incident_id not in state.ledger.incidents:
        return web.json_response({"error": f"no incident {incident_id}"}, status=404)
    changes = state.ledger.transition(incident_id, action)
    state.emitter.publish(changes, str(request.url.origin()))
    return web.json_response(
        {"incident": _incident_json(state, incident_id), "changed": bool(changes)}
    )


async def dev_set_fault(request: web.Request) -> web.Response:
    state = request.app[DEV_STATE]
    body = await _json_body(request)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("status"), int)
        or not 400 <= body["status"] <= 599
    ):
        return web.json_response(
            {"error": "body needs an HTTP error 'status' (400-599)"}, status=400
        )
    seconds = body.get("seconds")
    state.fault = Fault(
        status=body["status"],
        remaining=body.get("count", None if seconds else 1),
        until=state.clock() + timedelta(seconds=float(seconds)) if seconds else None,
        retry_after=body.get("retry_after"),
        scope=body.get("scope", "all"),
    )
    return web.json_response({"fault": asdict(state.fault)}, status=201, dumps=_dumps)


async def dev_clear_fault(request: web.Request) -> web.Response:
    request.app[DEV_STATE].fault = None
    return web.Response(status=204)


async def dev_subscribe(request: web.Request) -> web.Response:
    body = await _json_body(request)
    if not isinstance(body, dict) or not body.get("url") or not body.get("secret"):
        return web.json_response({"error": "body needs 'url' and 'secret'"}, status=400)
    request.app[DEV_STATE].emitter.subscription = WebhookSubscription(body["url"], body["secret"])
    return web.json_response({"subscribed": body["url"]}, status=201)


async def dev_deliveries(request: web.Request) -> web.Response:
    return web.json_response({"deliveries": request.app[DEV_STATE].emitter.deliveries})


async def dev_flush(request: web.Request) -> web.Response:
    await request.app[DEV_STATE].emitter.flush()
    return web.json_response({"deliveries": len(request.app[DEV_STATE].emitter.deliveries)})


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=str)  # Fault.until is a datetime


def create_devserver_app(
    *,
    clock: Clock = utc_now,
    api_token: str = DEFAULT_DEV_TOKEN,
    rate_limit: int = RATE_LIMIT_PER_MINUTE,
    webhook: WebhookSubscription | None = None,
) -> web.Application:
    state = DevPagerDuty(clock, api_token, rate_limit)
    state.emitter.subscription = webhook
    app = web.Application(middlewares=[fault_injection, rest_token_auth])
    app[DEV_STATE] = state

    async def emitter_ctx(app: web.Application) -> AsyncIterator[None]:
        await state.emitter.start()
        yield
        await state.emitter.stop()

    app.cleanup_ctx.append(emitter_ctx)
    names = "|".join(COLLECTIONS)
    app.router.add_post("/v2/enqueue", enqueue)
    app.router.add_get(f"/{{collection:{names}}}", _rest(_list))
    app.router.add_post(f"/{{collection:{names}}}", _rest(_create))
    app.router.add_get(f"/{{collection:{names}}}/{{id}}", _rest(_get))
    app.router.add_put(f"/{{collection:{names}}}/{{id}}", _rest(_update))
    app.router.add_delete(f"/{{collection:{names}}}/{{id}}", _rest(_delete))
    app.router.add_post("/services/{id}/integrations", _rest(_create_integration))
    app.router.add_get("/services/{id}/integrations/{integration_id}", _rest(_get_integration))
    app.router.add_get("/_dev/events", dev_events)
    app.router.add_get("/_dev/incidents", dev_incidents)
    app.router.add_post(
        "/_dev/incidents/{id}/{action:acknowledge|escalate|resolve}", dev_incident_action
    )
    app.router.add_post("/_dev/faults", dev_set_fault)
    app.router.add_delete("/_dev/faults", dev_clear_fault)
    app.router.add_post("/_dev/webhooks", dev_subscribe)
    app.router.add_get("/_dev/webhooks", dev_deliveries)
    app.router.add_post("/_dev/webhooks/flush", dev_flush)
    return app

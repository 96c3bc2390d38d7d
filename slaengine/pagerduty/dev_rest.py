"""REST API v2 resources for the local contract server (pure state; no HTTP).

Covers what escalation-as-code needs, in PagerDuty's JSON shapes: users,
schedules, escalation policies, services and their Events v2 integrations.
References (``{"id", "type": "x_reference"}``) are checked on write and
expanded with ``summary``/``self``/``html_url`` on read. Errors use the REST
error shape ``{"error": {"message", "code", "errors"}}``.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slaengine.pagerduty.dev_events import ServiceRoute
from slaengine.pagerduty.sync_plan import EVENTS_V2_INTEGRATION

COLLECTIONS = {
    "users": "user",
    "schedules": "schedule",
    "escalation_policies": "escalation_policy",
    "services": "service",
}
REFERENCE_COLLECTION = {f"{singular}_reference": plural for plural, singular in COLLECTIONS.items()}
UNIQUE_FIELD = {
    "users": "email",
    "escalation_policies": "name",
    "services": "name",
    "schedules": "name",
}
MAX_PAGE = 100


class RestError(Exception):
    def __init__(
        self, status: int, message: str, errors: list[str] | None = None, code: int = 2001
    ) -> None:
        self.status, self.message, self.errors, self.code = status, message, errors or [], code
        super().__init__(message)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            error["errors"] = self.errors
        return {"error": error}


def _invalid(*errors: str) -> RestError:
    return RestError(400, "Invalid Input Provided", list(errors))


def _required(obj: dict[str, Any], *names: str) -> list[str]:
    return [
        f"{name.replace('_', ' ').capitalize()} can't be blank"
        for name in names
        if obj.get(name) in (None, "", [])
    ]


def _check_schedule(obj: dict[str, Any]) -> list[str]:
    errors = _required(obj, "time_zone", "schedule_layers")
    for layer in obj.get("schedule_layers") or []:
        errors += _required(
            layer, "start", "rotation_virtual_start", "rotation_turn_length_seconds", "users"
        )
    return errors


def _check_escalation_policy(obj: dict[str, Any]) -> list[str]:
    errors = _required(obj, "name", "escalation_rules")
    for rule in obj.get("escalation_rules") or []:
        delay = rule.get("escalation_delay_in_minutes")
        if not isinstance(delay, int) or delay < 1:
            errors.append("Escalation delay in minutes must be a positive integer")
        errors += _required(rule, "targets")
    return errors


VALIDATORS: dict[str, Callable[[dict[str, Any]], list[str]]] = {
    "users": lambda obj: _required(obj, "name", "email"),
    "schedules": _check_schedule,
    "escalation_policies": _check_escalation_policy,
    "services": lambda obj: _required(obj, "name", "escalation_policy"),
}


class RestStore:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.objects: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in COLLECTIONS}
        self.integrations: dict[str, dict[str, Any]] = {}
        self._counter = 0

    def _new_id(self) -> str:
        self._counter += 1
        digits, n = "", self._counter
        while n:
            n, rem = divmod(n, 36)
            digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rem] + digits
        return "P" + digits.rjust(6, "0")

    # --- reads -------------------------------------------------------------

    def list_page(
        self,
        collection: str,
        query: str = "",
        limit: int = 25,
        offset: int = 0,
        total: bool = False,
    ) -> dict[str, Any]:
        items = list(self.objects[collection].values())
        if query:
            needle = query.lower()
            items = [
                o
                for o in items
                if needle in str(o.get("name", "")).lower()
                or needle in str(o.get("email", "")).lower()
            ]
        limit = max(1, min(limit, MAX_PAGE))
        page = items[offset : offset + limit]
        return {
            collection: [self.render(o) for o in page],
            "limit": limit,
            "offset": offset,
            "more": offset + len(page) < len(items),
            "total": len(items) if total else None,
        }

    def get(self, collection: str, obj_id: str) -> dict[str, Any]:
        obj = self.objects[collection].get(obj_id)
        if obj is None:
            raise RestError(404, "Not Found", code=2100)
        return self.render(obj)

    def get_integration(self, service_id: str, integration_id: str) -> dict[str, Any]:
        integration = self.integrations.get(integration_id)
        if integration is None or integration["service"]["id"] != service_id:
            raise RestError(404, "Not Found", code=2100)
        return self.render(integration)

    def render(self, obj: dict[str, Any]) -> dict[str, Any]:
        """A deep copy with every reference expanded by its summary."""

        def expand(node: Any) -> Any:
            if isinstance(node, dict):
                out = {k: expand(v) for k, v in node.items()}
                collection = REFERENCE_COLLECTION.get(str(node.get("type")))
                if collection and node.get("id") in self.objects[collection]:
                    target = self.objects[collection][node["id"]]
                    out["summary"] = target.get("name") or target.get("summary", "")
                return out
            if isinstance(node, list):
                return [expand(v) for v in node]
            return node

        return expand(obj)  # type: ignore[no-any-return]

    # --- writes ------------------------------------------------------------

    def _check_references(self, node: Any, errors: list[str]) -> None:
        if isinstance(node, dict):
            collection = REFERENCE_COLLECTION.get(str(node.get("type")))
            if collection and node.get("id") not in self.objects[collection]:
                errors.append(f"{node.get('type')} {node.get('id')!r} not found")
            for value in node.values():
                self._check_references(value, errors)
        elif isinstance(node, list):
            for value in node:
                self._check_references(value, errors)

    def _validate(self, collection: str, obj: dict[str, Any], own_id: str | None) -> None:
        errors = VALIDATORS[collection](obj)
        self._check_references(obj, errors)
        field = UNIQUE_FIELD[collection]
        value = str(obj.get(field, "")).lower()
        if any(
            str(o.get(field, "")).lower() == value and oid != own_id
            for oid, o in self.objects[collection].items()
        ):
            errors.append(f"{field.capitalize()} has already been taken")
        if errors:
            raise _invalid(*errors)

    def _assign_sub_ids(self, obj: dict[str, Any]) -> None:
        for key in ("schedule_layers", "escalation_rules"):
            for item in obj.get(key) or []:
                item.setdefault("id", self._new_id())

    def create(self, collection: str, body: Any) -> dict[str, Any]:
        obj = self._unwrap(collection, body)
        self._validate(collection, obj, None)
        obj_id = self._new_id()
        obj.update(id=obj_id, type=COLLECTIONS[collection], created_at=self.clock().isoformat())
        if collection == "services":
            obj.setdefault("status", "active")
            obj.setdefault("incident_urgency_rule", {"type": "constant", "urgency": "high"})
            obj["integrations"] = []
        self._assign_sub_ids(obj)
        self.objects[collection][obj_id] = obj
        return self.render(obj)

    def update(self, collection: str, obj_id: str, body: Any) -> dict[str, Any]:
        current = self.objects[collection].get(obj_id)
        if current is None:
            raise RestError(404, "Not Found", code=2100)
        changes = self._unwrap(collection, body)
        for server_owned in ("id", "type", "created_at", "integrations", "self", "html_url"):
            changes.pop(server_owned, None)
        merged = {**copy.deepcopy(current), **changes}
        self._validate(collection, merged, obj_id)
        self._assign_sub_ids(merged)
        self.objects[collection][obj_id] = merged
        return self.render(merged)

    def delete(self, collection: str, obj_id: str) -> None:
        if self.objects[collection].pop(obj_id, None) is None:
            raise RestError(404, "Not Found", code=2100)

    def create_integration(self, service_id: str, body: Any) -> dict[str, Any]:
        service = self.objects["services"].get(service_id)
        if service is None:
            raise RestError(404, "Not Found", code=2100)
        if not isinstance(body, dict) or not isinstance(body.get("integration"), dict):
            raise _invalid("Integration can't be blank")
        integration = copy.deepcopy(body["integration"])
        if not integration.get("type"):
            raise _invalid("Type can't be blank")
        integration_id = self._new_id()
        integration.update(
            id=integration_id,
            created_at=self.clock().isoformat(),
            service={"id": service_id, "type": "service_reference"},
        )
        if integration["type"] == EVENTS_V2_INTEGRATION:
            integration["integration_key"] = secrets.token_hex(16)  # 32 characters
        integration.setdefault("name", integration["type"])
        self.integrations[integration_id] = integration
        service["integrations"].append(
            {"id": integration_id, "type": f"{integration['type']}_reference"}
        )
        return self.render(integration)

    def route_for_key(self, routing_key: str) -> ServiceRoute | None:
        """Which service an Events v2 routing key belongs to (for urgency and webhooks)."""
        for integration in self.integrations.values():
            if integration.get("integration_key") == routing_key:
                service = self.objects["services"].get(integration["service"]["id"])
                if service is not None:
                    return ServiceRoute(service["id"], service.get("incident_urgency_rule"))
        return None

    @staticmethod
    def _unwrap(collection: str, body: Any) -> dict[str, Any]:
        wrapper = COLLECTIONS[collection]
        if not isinstance(body, dict) or not isinstance(body.get(wrapper), dict):
            raise _invalid(f"request body must be an object with a {wrapper!r} entity")
        return copy.deepcopy(body[wrapper])

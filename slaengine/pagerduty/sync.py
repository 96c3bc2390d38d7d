"""Escalation as code, the I/O half: provision pagerduty.yaml through REST API v2.

Order follows the references: users → schedules → escalation policy (L1 → L2 →
L3) → service → its Events v2 integration. Each resource is looked up by its
natural key (e-mail or name), compared on the fields we manage and only
created or updated when it differs, so a second run reports no change.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pagerduty

from slaengine.errors import SlaEngineError
from slaengine.pagerduty.clients import RestClient, to_delivery_error
from slaengine.pagerduty.config import PagerDutyConfig
from slaengine.pagerduty.sync_plan import (
    EVENTS_V2_INTEGRATION,
    ResourceChange,
    SyncReport,
    desired_escalation_policy,
    desired_schedule,
    desired_service,
    desired_user,
    diff_fields,
    normalize_escalation_policy,
    normalize_schedule,
    normalize_service,
    normalize_user,
)

Normalizer = Callable[[Any], dict[str, Any]]


class SyncError(SlaEngineError):
    """The PagerDuty REST API refused a change or was unreachable; fix the named resource or
    the token and run sync again (it is idempotent)."""


class PagerDutyProvisioner:
    def __init__(self, client: RestClient) -> None:
        self.client = client

    def _call(self, what: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except pagerduty.Error as err:
            raise SyncError(str(to_delivery_error(err, what))) from err

    def _find(self, collection: str, key: str, attribute: str = "name") -> dict[str, Any] | None:
        found = self._call(
            f"looking up {collection} {key!r}",
            lambda: self.client.find(collection, key, attribute=attribute),
        )
        if found is None:
            return None
        return self._call(
            f"reading {collection} {key!r}",  # list entries may be abridged
            lambda: self.client.rget(f"/{collection}/{found['id']}"),
        )

    def _ensure(
        self,
        report: SyncReport,
        kind: str,
        collection: str,
        name: str,
        current: dict[str, Any] | None,
        desired: dict[str, Any],
        normalize: Normalizer,
    ) -> dict[str, Any]:
        if current is None:
            created = self._call(
                f"creating {kind} {name!r}",
                lambda: self.client.rpost(f"/{collection}", json=desired),
            )
            report.changes.append(ResourceChange(kind, name, "created"))
            return dict(created)
        changed = diff_fields(normalize(desired), normalize(current))
        if not changed:
            report.changes.append(ResourceChange(kind, name, "unchanged"))
            return current
        updated = self._call(
            f"updating {kind} {name!r}",
            lambda: self.client.rput(f"/{collection}/{current['id']}", json=desired),
        )
        report.changes.append(ResourceChange(kind, name, "updated", changed))
        return dict(updated)

    def sync(self, config: PagerDutyConfig) -> SyncReport:
        report = SyncReport()
        user_ids: dict[str, str] = {}
        for user in config.users:
            current = self._find("users", user.email, attribute="email")
            obj = self._ensure(
                report, "user", "users", user.email, current, desired_user(user), normalize_user
            )
            user_ids[user.email] = obj["id"]
        schedule_ids: dict[str, str] = {}
        for schedule in config.schedules:
            current = self._find("schedules", schedule.name)
            obj = self._ensure(
                report,
                "schedule",
                "schedules",
                schedule.name,
                current,
                desired_schedule(schedule, user_ids, current),
                normalize_schedule,
            )
            schedule_ids[schedule.name] = obj["id"]
        policy = config.escalation_policy
        obj = self._ensure(
            report,
            "escalation_policy",
            "escalation_policies",
            policy.name,
            self._find("escalation_policies", policy.name),
            desired_escalation_policy(policy, user_ids, schedule_ids),
            normalize_escalation_policy,
        )
        service = self._ensure(
            report,
            "service",
            "services",
            config.service.name,
            self._find("services", config.service.name),
            desired_service(config.service, obj["id"]),
            normalize_service,
        )
        report.service_id = service["id"]
        report.routing_key = self._ensure_integration(
            report, service, config.service.integration_name
        )
        return report

    def _ensure_integration(
        self, report: SyncReport, service: dict[str, Any], name: str
    ) -> str | None:
        service_id = service["id"]
        for ref in service.get("integrations") or []:
            path = f"/services/{service_id}/integrations/{ref['id']}"
            integration = self._call(
                f"reading integration {ref['id']!r}", partial(self.client.rget, path)
            )
            if integration.get("name") == name and integration.get("type") == EVENTS_V2_INTEGRATION:
                report.changes.append(ResourceChange("integration", name, "unchanged"))
                return integration.get("integration_key")
        created = self._call(
            f"creating integration {name!r}",
            lambda: self.client.rpost(
                f"/services/{service_id}/integrations",
                json={"type": EVENTS_V2_INTEGRATION, "name": name},
            ),
        )
        report.changes.append(ResourceChange("integration", name, "created"))
        return created.get("integration_key")


def format_report(report: SyncReport) -> str:
    """A human summary: one line per resource, then the totals."""
    width = max((len(c.kind) for c in report.changes), default=0)
    lines = []
    for change in report.changes:
        suffix = f" ({', '.join(change.fields)})" if change.fields else ""
        lines.append(f"{change.kind:<{width}}  {change.action:<9}  {change.name}{suffix}")
    lines.append(
        f"{report.count('created')} created, {report.count('updated')} updated, "
        f"{report.count('unchanged')} unchanged"
    )
    return "\n".join(lines)

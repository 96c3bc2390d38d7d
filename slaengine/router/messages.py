"""Human-readable text of a notification, shared by the e-mail and chat senders."""

from __future__ import annotations

from slaengine.alerts import Alert, Notification


def render_title(notification: Notification) -> str:
    """``[FIRING:2] HighLatency checkout (critical)`` like Alertmanager's default subject."""
    firing = sum(1 for alert in notification.alerts if alert.status == "firing")
    status = f"FIRING:{firing}" if notification.status == "firing" else "RESOLVED"
    labels = notification.group_labels or notification.common_labels
    name = notification.common_labels.get("alertname") or labels.get("alertname", "alerts")
    others = " ".join(v for k, v in sorted(labels.items()) if k not in ("alertname", "severity"))
    severity = notification.common_labels.get("severity")
    title = f"[{status}] {name}" + (f" {others}" if others else "")
    if severity:
        title += f" ({severity})"
    if notification.occurrences > 1:
        title += f" - occurrence {notification.occurrences}"
    return title


def render_alert(alert: Alert) -> str:
    annotations = alert.annotations
    lines = [f"[{alert.status.upper()}] {annotations.get('summary') or alert.name}"]
    if annotations.get("description"):
        lines.append(annotations["description"])
    if alert.value is not None:
        lines.append(f"Value: {alert.value:g}")
    lines.append(f"Started: {alert.starts_at.isoformat()}")
    if alert.status == "resolved" and alert.ends_at:
        lines.append(f"Resolved: {alert.ends_at.isoformat()}")
    for key, label in (("runbook_url", "Runbook"), ("dashboard_url", "Dashboard")):
        if annotations.get(key):
            lines.append(f"{label}: {annotations[key]}")
    lines.append("Labels: " + ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items())))
    return "\n".join(lines)


def render_body(notification: Notification) -> str:
    header = [render_title(notification), ""]
    if notification.occurrences > 1:
        header.insert(
            1,
            f"This incident fired {notification.occurrences} times "
            "(it re-fired shortly after resolving).",
        )
    blocks = [render_alert(alert) for alert in notification.alerts]
    footer = ["", f"Group: {notification.group_key}  Notification: {notification.notification_id}"]
    return "\n".join(header) + "\n\n".join(blocks) + "\n" + "\n".join(footer) + "\n"

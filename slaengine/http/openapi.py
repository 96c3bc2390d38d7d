"""The OpenAPI 3 description of the HTTP API, served at ``GET /api/openapi.json``.

One place for what every route takes and answers; docs/operations.md points here, and
tests/http fuzzes every operation against it (no input may produce a 5xx).
"""

from __future__ import annotations

from typing import Any

ERROR = {"$ref": "#/components/schemas/Error"}
TIME = {"type": "string", "format": "date-time"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Invalid request; `error` says why.",
        401: "Missing or wrong credentials.",
        404: "Not found.",
        413: "Body or batch over the limit.",
        429: "Busy: too many such requests in progress (see Retry-After).",
        503: "Took longer than the time limit (see Retry-After).",
    }
    return {str(status): _json(ERROR, reasons[status]) for status in statuses}


def _query(
    name: str, schema: dict[str, Any], description: str, required: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "schema": schema,
        "description": description,
    }


def _operation(
    summary: str,
    responses: dict[str, Any],
    *,
    secured: bool = True,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if secured:
        operation["security"] = [{"bearer": []}]
        responses.update(_errors(401))
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


ALERT = {
    "type": "object",
    "required": ["status", "labels", "starts_at"],
    "properties": {
        "fingerprint": {"type": "string"},
        "status": {"enum": ["pending", "firing", "resolved"]},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "starts_at": TIME,
        "ends_at": {"type": ["string", "null"], "format": "date-time"},
        "value": {"type": ["number", "null"]},
        "generator": {"type": "string"},
    },
}

ALERTMANAGER_PAYLOAD = {
    "type": "object",
    "required": ["version", "status", "alerts"],
    "description": "Alertmanager webhook payload, version 4 (at most 1000 alerts, 4 MiB).",
    "properties": {
        "version": {"const": "4"},
        "status": {"enum": ["firing", "resolved"]},
        "receiver": {"type": "string"},
        "groupKey": {"type": "string"},
        "alerts": {
            "type": "array",
            "maxItems": 1000,
            "items": {
                "type": "object",
                "required": ["status", "labels", "startsAt"],
                "properties": {
                    "status": {"enum": ["firing", "resolved"]},
                    "labels": {
                        "type": "object",
                        "required": ["alertname"],
                        "additionalProperties": {"type": "string", "maxLength": 1024},
                    },
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                    "startsAt": TIME,
                    "endsAt": TIME,
                    "generatorURL": {"type": "string"},
                },
            },
        },
    },
}

SILENCE_REQUEST = {
    "type": "object",
    "required": ["matchers", "created_by"],
    "additionalProperties": False,
    "description": "Give exactly one of ends_at or duration. Regex matchers use RE2 syntax.",
    "properties": {
        "matchers": {
            "type": "array",
            "minItems": 1,
            "maxItems": 32,
            "items": {"type": "string", "example": 'service="checkout"'},
        },
        "starts_at": TIME,
        "ends_at": TIME,
        "duration": {"type": "string", "example": "2h"},
        "created_by": {"type": "string", "maxLength": 200},
        "comment": {"type": "string", "maxLength": 4096},
    },
}

SILENCE = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "matchers": {"type": "array", "items": {"type": "string"}},
        "starts_at": TIME,
        "ends_at": TIME,
        "created_by": {"type": "string"},
        "comment": {"type": "string"},
        "source": {"enum": ["api", "config"]},
        "state": {"enum": ["pending", "active", "expired"]},
    },
}

MONTH = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$", "example": "2026-10"}
PDF = {
    "description": "The report PDF.",
    "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
}


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/health": {
            "get": _operation(
                "Liveness and the worker id.",
                {"200": _json({"type": "object"}, "Alive.")},
                secured=False,
            )
        },
        "/metrics": {
            "get": _operation(
                "Prometheus metrics (text format).",
                {
                    "200": {
                        "description": "Metrics.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_errors(400),
                },
                secured=False,
                parameters=[
                    _query(
                        "windows",
                        {"enum": ["default", "all"]},
                        "all: every SLO window (5m ... 30d, calendar month); default: the SLO's "
                        "own "
                        "window, the windows alert rules read and burn rates over the alerting "
                        "windows.",
                    )
                ],
            )
        },
        "/api/openapi.json": {
            "get": _operation(
                "This document.",
                {"200": _json({"type": "object"}, "OpenAPI 3 document.")},
                secured=False,
            )
        },
        "/api/v1/slos": {
            "get": _operation(
                "SLO results at a time.",
                {
                    "200": _json({"type": "object"}, "Every SLO's SLI, budget and burn rates."),
                    **_errors(400),
                },
                secured=False,
                parameters=[_query("at", TIME, "Evaluation time (default now), years 1970..2999.")],
            )
        },
        "/api/v1/alertmanager": {
            "post": _operation(
                "Alertmanager webhook intake.",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "status": {"const": "accepted"},
                                "alerts": {"type": "integer"},
                            },
                        },
                        "Filed.",
                    ),
                    **_errors(400, 413),
                },
                body=ALERTMANAGER_PAYLOAD,
            )
        },
        "/api/v1/silences": {
            "get": _operation(
                "Silences (active and pending; state=all adds expired).",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"silences": {"type": "array", "items": SILENCE}},
                        },
                        "Silences.",
                    )
                },
                parameters=[
                    _query(
                        "state",
                        {"enum": ["active", "all", "expired"]},
                        "all or expired include expired silences.",
                    )
                ],
            ),
            "post": _operation(
                "Create a silence.",
                {
                    "201": _json(
                        {"type": "object", "properties": {"silence": SILENCE}}, "Created."
                    ),
                    **_errors(400, 413),
                },
                body=SILENCE_REQUEST,
            ),
        },
        "/api/v1/silences/{silence_id}": {
            "delete": _operation(
                "Expire a silence.",
                {
                    "200": _json(
                        {"type": "object", "properties": {"silence": SILENCE}}, "Expired."
                    ),
                    **_errors(400, 404),
                },
                parameters=[
                    {
                        "name": "silence_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
            )
        },
        "/api/v1/alerts": {
            "get": _operation(
                "Alerts the in-service evaluator holds active.",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"alerts": {"type": "array", "items": ALERT}},
                        },
                        "Active alerts.",
                    )
                },
                secured=False,
            )
        },
        "/api/v1/alerts/replay": {
            "get": _operation(
                "Backtest: the rules evaluated at every step of a past period.",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"transitions": {"type": "array", "items": ALERT}},
                        },
                        "Transitions.",
                    ),
                    **_errors(400, 429, 503),
                },
                parameters=[
                    _query("start", TIME, "Start (years 1970..2999).", required=True),
                    _query("end", TIME, "End; at most 20000 steps after start.", required=True),
                    _query(
                        "step",
                        {"type": "string", "example": "30s"},
                        "Step between 1s and 7d (default 30s).",
                    ),
                ],
            )
        },
        "/api/v1/pagerduty/webhook": {
            "post": {
                "summary": "PagerDuty v3 webhook (HMAC-signed, at most 1 MiB).",
                "security": [{"pagerdutySignature": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"event": {"type": "object"}},
                            }
                        }
                    },
                },
                "responses": {
                    "202": _json({"type": "object"}, "Recorded, duplicate or ignored."),
                    **_errors(400, 401, 413),
                },
            }
        },
        "/api/capacity/report": {
            "get": _operation(
                "Capacity forecasts of every resource.",
                {
                    "200": _json({"type": "object"}, "The capacity report."),
                    **_errors(400, 404, 429, 503),
                },
                secured=False,
                parameters=[
                    _query("resource", {"type": "string"}, "Only this resource (404 if unknown)."),
                    _query(
                        "rows",
                        {"enum": ["true", "false", "1", "0", "yes", "no"]},
                        "Include the daily forecast rows.",
                    ),
                ],
            )
        },
        "/api/v1/reports": {
            "get": _operation(
                "Stored monthly reports and the state of their e-mail.",
                {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {
                                "reports": {"type": "array", "items": {"type": "object"}}
                            },
                        },
                        "Reports.",
                    )
                },
            ),
            "post": _operation(
                "Generate a month's report (stored unless filtered by SLO).",
                {"200": PDF, **_errors(400, 429, 503)},
                parameters=[
                    _query("month", MONTH, "The month.", required=True),
                    {
                        "name": "slo",
                        "in": "query",
                        "required": False,
                        "explode": True,
                        "schema": {"type": "array", "maxItems": 50, "items": {"type": "string"}},
                        "description": "Only these SLOs (repeatable).",
                    },
                ],
            ),
        },
        "/api/v1/reports/{month}": {
            "get": _operation(
                "A stored report.",
                {"200": PDF, **_errors(400, 404)},
                parameters=[{"name": "month", "in": "path", "required": True, "schema": MONTH}],
            )
        },
        "/api/v1/reports/{month}.{format}": {
            "get": _operation(
                "The figures behind a stored report, one row per figure (equal to the PDF).",
                {
                    "200": {
                        "description": "CSV (text/csv) or JSON (application/json) figures.",
                        "content": {
                            "text/csv": {"schema": {"type": "string"}},
                            "application/json": {"schema": {"type": "object"}},
                        },
                    },
                    **_errors(400, 404),
                },
                parameters=[
                    {"name": "month", "in": "path", "required": True, "schema": MONTH},
                    {
                        "name": "format",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["csv", "json"]},
                    },
                ],
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "slaengine HTTP API",
            "version": "1",
            "description": 'Every error is {"error": message} with a 4xx/5xx status; '
            "bodies are JSON of at most 32 levels and 30-digit integers.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                }
            },
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "SLAENGINE_API_TOKEN",
                },
                "pagerdutySignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-PagerDuty-Signature",
                },
            },
        },
    }

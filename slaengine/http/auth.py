"""Bearer-token protection for mutating and intake endpoints.

``/metrics`` and ``/health`` stay open; everything that changes state or
accepts alerts requires ``Authorization: Bearer $SLAENGINE_API_TOKEN``.
The token is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web

API_TOKEN_KEY = web.AppKey("api_token", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str) -> web.Response:
    """The one shape of every HTTP error: ``{"error": message}`` with a 4xx/5xx status."""
    return web.json_response({"error": message}, status=status)


def require_token(handler: Handler) -> Handler:
    """Decorator: 401 unless the request carries the configured bearer token."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        expected = request.app.get(API_TOKEN_KEY) or request.config_dict.get(API_TOKEN_KEY)
        if not expected:
            return json_error(
                401, "API token not configured on the server (set SLAENGINE_API_TOKEN)"
            )
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), expected.encode()
        ):
            return json_error(401, "missing or invalid bearer token")
        return await handler(request)

    guarded.__name__ = getattr(handler, "__name__", "guarded")
    return guarded

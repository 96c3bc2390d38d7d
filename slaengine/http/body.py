"""Reading request bodies with limits: size counted while the body streams in, JSON checked for
depth, integer size and non-finite numbers before any handler sees it.

Every refusal is an ``HTTPException`` whose body is ``{"error": "<the real reason>"}``, so it
reads the same with or without the app's error middleware.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any, NoReturn

from aiohttp import web

MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 30  # far above any count, timestamp or value an API field holds
PARSE_IN_THREAD_BYTES = 64 * 1024  # bigger bodies are parsed off the event loop


class _JsonError(web.HTTPClientError):
    def __init__(self, status: int, message: str) -> None:
        self.status_code = status
        super().__init__(text=json.dumps({"error": message}), content_type="application/json")


def reject(status: int, message: str) -> NoReturn:
    """Answer ``status`` with ``{"error": message}`` from anywhere inside a handler."""
    raise _JsonError(status, message)


async def read_limited_body(request: web.Request, limit: int) -> bytes | None:
    """The body, or None once it exceeds ``limit`` bytes: counted as the chunks arrive, so a
    chunked or lying Content-Length never makes us buffer more than ``limit``."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer with {len(text)} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


def _check_structure(value: Any) -> None:
    """ValueError if ``value`` nests deeper than MAX_JSON_DEPTH or holds a string that is not
    valid UTF-8 (``"\\ud800"`` escapes decode to lone surrogates, which break every encoder)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as err:
                raise ValueError(f"string {item[:40]!r} holds a lone surrogate") from err
        elif isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def parse_json(body: bytes) -> Any:
    """Decoded JSON; ValueError with the real reason (position, depth, digits, NaN) if not."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"body is not UTF-8: {err}") from err
    try:
        value = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant
        )
    except RecursionError as err:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from err
    except json.JSONDecodeError as err:
        raise ValueError(f"body is not valid JSON: {err}") from err
    _check_structure(value)
    return value


async def read_json_body(request: web.Request, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The request's JSON body within the limits; 413 or 400 with the real reason otherwise."""
    body = await read_limited_body(request, max_bytes)
    if body is None:
        reject(413, f"request body over {max_bytes} bytes")
    if not body.strip():
        reject(400, "request body is empty; expected JSON")
    try:
        if len(body) > PARSE_IN_THREAD_BYTES:
            return await asyncio.to_thread(parse_json, body)
        return parse_json(body)
    except ValueError as err:
        reject(400, str(err))

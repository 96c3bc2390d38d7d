"""Safe e-mail header values from untrusted text (alert labels, report names).

A CR or LF in a header value is refused by ``email`` (or, worse, would start a new header), so
every header built from data goes through ``header_value``: control characters become spaces
and the value is cut to a sane length.
"""

from __future__ import annotations

import unicodedata

MAX_HEADER_CHARS = 400


def header_value(text: str, limit: int = MAX_HEADER_CHARS) -> str:
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") else ch for ch in text
    )
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"

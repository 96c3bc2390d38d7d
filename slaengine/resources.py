"""Data files shipped inside the slaengine package (``slaengine/data/``), found with
importlib.resources so they resolve the same in a checkout and in an installed wheel.

``data/alert_rules`` and ``data/templates`` are symlinks to the repository's top-level
``alert_rules/`` and ``templates/`` folders; building the wheel copies their files in.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def data_path(relative: str) -> Path:
    """``slaengine/data/<relative>`` as a file-system path, e.g. ``data_path("alert_rules")``."""
    found = resources.files("slaengine").joinpath("data", *relative.split("/"))
    if not isinstance(found, Path):  # a zipped install: callers need real files
        raise TypeError(f"slaengine's data files must be installed as files, not {found!r}")
    return found

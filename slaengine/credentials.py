"""Where secrets come from, for every integration that needs one (PagerDuty routing keys, SMTP
passwords, chat webhook URLs): the config value, else a file, else an environment variable.

Errors name where to put the secret, never the secret itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr

from slaengine.errors import ConfigError


def read_secret(value: SecretStr | None, file: Path | None, env: str, what: str) -> str:
    """The secret from the config value, its file, or ``env`` — never echoed in errors."""
    if value is not None and value.get_secret_value():
        return value.get_secret_value()
    if file is not None:
        try:
            secret = file.read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ConfigError(f"cannot read {what} file {file}: {err.strerror}") from err
        if not secret:
            raise ConfigError(f"{what} file {file} is empty")
        return secret
    secret = os.environ.get(env, "").strip()
    if not secret:
        raise ConfigError(
            f"no {what}: set it in the config, a *_file, or the environment variable {env}"
        )
    return secret

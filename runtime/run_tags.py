"""Run tags: ``key=value`` labels stored with a run (``--tag team=search``, ``tags={...}``),
for filtering history and analytics and for telemetry."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from runtime.errors import ConfigurationError

MAX_TAGS = 32
MAX_VALUE = 200
_KEY = re.compile(r"^[A-Za-z0-9_.:/-]{1,64}$")
_HINT = "tags are key=value with a key of letters, digits and _ . : / - (e.g. --tag team=search)"


def check_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    """``tags`` as a dict of strings; raises ``ConfigurationError`` for a bad key or value.
    Numbers and booleans become their text."""
    if not tags:
        return {}
    if not isinstance(tags, Mapping):
        raise ConfigurationError("tags must be a mapping of key to value", hint=_HINT)
    if len(tags) > MAX_TAGS:
        raise ConfigurationError(f"a run takes at most {MAX_TAGS} tags", hint=_HINT)
    checked: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise ConfigurationError(f"bad tag key {key!r}", hint=_HINT)
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, str | int | float):
            text = str(value)
        else:
            raise ConfigurationError(f"tag '{key}' must be a string, not {type(value).__name__}")
        if len(text) > MAX_VALUE:
            raise ConfigurationError(f"tag '{key}' is longer than {MAX_VALUE} characters")
        checked[key] = text
    return checked


def parse_tag_args(pairs: Iterable[str]) -> dict[str, str]:
    """``["team=search", "env=prod"]`` (``--tag`` options) as a dict."""
    tags: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigurationError(f"--tag expects KEY=VALUE, got {pair!r}", hint=_HINT)
        tags[key.strip()] = value
    return check_tags(tags)

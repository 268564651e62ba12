"""Storage options given as text (``--option key=value`` on the command line).

Values are read as JSON when they parse (``true``, ``3``, ``{"a": 1}``) and kept as strings
otherwise; dotted keys build nested dictionaries (``client_kwargs.region_name=eu-west-1``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ("merge_options", "parse_option", "parse_options", "parse_value", "set_dotted")


def parse_value(text: str) -> Any:
    """*text* as JSON if it is valid JSON, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_option(text: str) -> tuple[str, Any]:
    """Split ``key=value`` into the key and the parsed value."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ValueError(f"storage option must look like key=value, got {text!r}")
    return key, parse_value(value)


def set_dotted(target: dict[str, Any], key: str, value: Any) -> None:
    """``target[a][b] = value`` for the key ``a.b`` (making the inner dictionaries)."""
    *parents, leaf = key.split(".")
    for part in parents:
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            raise ValueError(f"storage option {key!r} conflicts with {part!r}={child!r}")
        target = child
    target[leaf] = value


def parse_options(items: Iterable[str]) -> dict[str, Any]:
    """Parse several ``key=value`` texts into one (possibly nested) dictionary."""
    result: dict[str, Any] = {}
    for item in items:
        key, value = parse_option(item)
        set_dotted(result, key, value)
    return result


def merge_options(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """*base* updated by *extra*, merging nested dictionaries key by key."""
    merged = dict(base)
    for key, value in extra.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_options(old, value)
        else:
            merged[key] = value
    return merged

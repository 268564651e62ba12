"""MLSx facts (RFC 3659 section 7): formatting for the server, parsing for the client.

A fact line is ``type=file;size=12;modify=20240101120000; name``: facts separated by
``;``, then one space, then the name (which may hold spaces and semicolons).
"""

from __future__ import annotations

import calendar
import stat as stat_module
import time
from collections.abc import Mapping

__all__ = ("format_facts", "parse_facts_line", "format_time", "parse_time", "facts_for_stat",
           "DEFAULT_FACTS")

#: The facts the server offers in FEAT, in order; ``*`` marks those on by default.
DEFAULT_FACTS = ("type", "size", "modify", "perm", "unix.mode", "unique")


def format_time(timestamp: float) -> str:
    """``YYYYMMDDHHMMSS`` in UTC (RFC 3659 time-val)."""
    return time.strftime("%Y%m%d%H%M%S", time.gmtime(timestamp))


def parse_time(value: str) -> float:
    """Seconds since the epoch from an RFC 3659 time-val (fraction allowed)."""
    whole, _, fraction = value.partition(".")
    if len(whole) != 14 or not whole.isdigit():
        raise ValueError(f"malformed time value {value!r}")
    parsed = time.strptime(whole, "%Y%m%d%H%M%S")
    seconds = float(calendar.timegm(parsed))
    if fraction:
        if not fraction.isdigit():
            raise ValueError(f"malformed time value {value!r}")
        seconds += float("0." + fraction)
    return seconds


def facts_for_stat(stat: object, *, kind: str | None = None,
                   perm: str | None = None) -> dict[str, str]:
    """Facts for one entry from a stat-like object (``st_mode``, ``st_size``, ...)."""
    mode = getattr(stat, "st_mode", 0)
    if kind is None:
        kind = "dir" if stat_module.S_ISDIR(mode) else "file"
    facts = {
        "type": kind,
        "size": str(getattr(stat, "st_size", 0)),
        "modify": format_time(getattr(stat, "st_mtime", 0.0)),
    }
    if perm is not None:
        facts["perm"] = perm
    facts["unix.mode"] = oct(stat_module.S_IMODE(mode))[2:].rjust(4, "0")
    ino = getattr(stat, "st_ino", 0)
    if ino:
        facts["unique"] = f"{getattr(stat, 'st_dev', 0):x}g{ino:x}"
    return facts


def format_facts(facts: Mapping[str, str], name: str) -> str:
    """One MLSx line (without line end)."""
    return "".join(f"{key}={value};" for key, value in facts.items()) + " " + name


def parse_facts_line(line: str) -> tuple[str, dict[str, str]]:
    """``(name, facts)`` from one MLSx line; fact names are lower-cased."""
    line = line.rstrip("\r\n")
    facts_text, sep, name = line.partition(" ")
    if not sep:
        raise ValueError(f"malformed MLSx line {line!r}")
    facts: dict[str, str] = {}
    for item in facts_text.split(";"):
        if not item:
            continue
        key, eq, value = item.partition("=")
        if not eq:
            raise ValueError(f"malformed fact {item!r} in {line!r}")
        facts[key.lower()] = value
    return name, facts

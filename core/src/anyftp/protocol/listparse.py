"""LIST line parsing for the client: Unix ``ls -l`` and Windows/IIS (DOS) formats.

LIST has no standard format (RFC 959 leaves it to the server), so this module reads the
two families real servers send:

* Unix ``ls -l``: ``-rw-r--r--  1 owner group  1234 Jan  5 12:34 name`` and its variants
  (year instead of time, ISO dates, no group, no link count, device numbers instead of a
  size, ``->`` for symlinks, ACL/xattr marks after the mode, names with spaces).
* Windows/IIS: ``01-05-20  12:34PM  <DIR>  name`` and ``2020-01-05  12:34  1234 name``
  (12h or 24h clocks, 2 or 4 digit years).

Each parser returns ``(name, info)``; ``info`` holds ``type`` (``file``, ``dir``, ``link``
or ``unknown``), ``size`` and ``modify`` (``YYYYMMDDHHMMSS``, UTC as the server printed
it) as strings, like MLSx facts. Unix lines also carry ``unix.mode`` (int),
``unix.links``, ``unix.owner``, ``unix.group`` (aioftp's keys), the same as
``permissions``, ``links`` (int), ``owner`` and ``group``, and ``link_dst`` for symlinks.
A line neither parser understands raises :class:`~anyftp.errors.ListingParseError`.
"""

from __future__ import annotations

import datetime
import re
import stat as stat_module
from typing import Any

from ..errors import ListingParseError

__all__ = (
    "parse_unix_line",
    "parse_windows_line",
    "parse_list_line",
    "is_noise_line",
    "parse_unix_mode",
    "format_modify",
)

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}

# The mode column: type letter, nine permission letters, optional ACL/xattr/SELinux mark.
_UNIX_MODE = r"(?P<mode>[-bcdlpsDnw?][-rwxsStTlL]{9})[.+@]?"

# A date as ls prints it: "Jan  5 12:34", "Jan  5  2020", "Jan 05 12:34:56 2020" (ls -T),
# "2020-01-05 12:34", "2020-01-05 12:34:56.123456789 +0000", "01-05 12:34" (busybox -e
# is like the first form). The name follows after exactly one space.
_UNIX_DATE = (
    r"(?:"
    r"(?P<mon>[A-Za-z]{3})\.?\s+(?P<day>\d{1,2})\s+"
    r"(?:(?P<hm>\d{1,2}:\d{2})(?::(?P<hms>\d{2}))?(?:\s+(?P<tyear>\d{4}))?|(?P<year>\d{4}))"
    r"|"
    r"(?P<day2>\d{1,2})\s+(?P<mon2>[A-Za-z]{3})\.?\s+(?:(?P<hm2>\d{1,2}:\d{2})|(?P<year2>\d{4}))"
    r"|"
    r"(?P<iso>\d{4}-\d{2}-\d{2})\s+(?P<isotime>\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)"
    r"(?:\s+[+-]\d{4})?"
    r"|"
    r"(?P<iso2>\d{4}-\d{2}-\d{2})"
    r")"
)

_UNIX_RE = re.compile(rf"^{_UNIX_MODE}\s+(?P<fields>.*?)\s+{_UNIX_DATE} (?P<name>.+)$")

_WINDOWS_RE = re.compile(
    r"^(?P<date>\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}|\d{4}[-/.]\d{1,2}[-/.]\d{1,2})\s+"
    r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?)\s*(?P<ampm>[AaPp][Mm])?\s+"
    r"(?:(?P<dir><DIR>)|(?P<junction><JUNCTION>|<SYMLINKD?>)|(?P<size>\d[\d,.]*))\s+"
    r"(?P<name>.+?)(?:\s+\[(?P<target>[^\]]*)\])?$"
)

_TOTAL_RE = re.compile(r"^total\s+\d+\s*$", re.IGNORECASE)


def is_noise_line(line: str) -> bool:
    """True for lines a listing holds that describe no entry (blank, ``total 12``)."""
    stripped = line.strip()
    return not stripped or bool(_TOTAL_RE.match(stripped))


def format_modify(value: datetime.datetime) -> str:
    """``YYYYMMDDHHMMSS``: the MLSx ``modify`` fact form."""
    return value.strftime("%Y%m%d%H%M%S")


def parse_unix_mode(text: str) -> int:
    """Permission bits (with setuid/setgid/sticky) from nine ``rwx`` letters.

    ``rwsr-xr-x`` gives ``0o4755``; the type letter, if present, is ignored.
    """
    if len(text) == 10:
        text = text[1:]
    if len(text) != 9:
        raise ValueError(f"mode text {text!r} is not nine letters")
    mode = 0
    specials = (stat_module.S_ISUID, stat_module.S_ISGID, stat_module.S_ISVTX)
    for group in range(3):
        read, write, execute = text[group * 3], text[group * 3 + 1], text[group * 3 + 2]
        shift = 6 - group * 3
        if read == "r":
            mode |= 4 << shift
        elif read != "-":
            raise ValueError(f"bad read letter in {text!r}")
        if write == "w":
            mode |= 2 << shift
        elif write != "-":
            raise ValueError(f"bad write letter in {text!r}")
        if execute in "xst":
            mode |= 1 << shift
        if execute in "sStTlL":
            mode |= specials[group]
        elif execute not in "x-":
            raise ValueError(f"bad execute letter in {text!r}")
    return mode


def _year_less_date(
    month: int, day: int, hour: int, minute: int, second: int, now: datetime.datetime
) -> datetime.datetime:
    # ls prints the time instead of the year for dates within about six months; a date
    # that would lie in the future (beyond a day of clock and time-zone slack) is last year.
    limit = now + datetime.timedelta(days=1)
    for year in range(now.year, now.year - 8, -1):
        try:
            value = datetime.datetime(year, month, day, hour, minute, second)
        except ValueError:  # Feb 29 in a common year
            continue
        if value <= limit:
            return value
    raise ValueError("no year fits the date")


def _unix_modify(match: re.Match[str], now: datetime.datetime) -> datetime.datetime:
    groups = match.groupdict()
    if groups["iso"] or groups["iso2"]:
        date = datetime.date.fromisoformat(groups["iso"] or groups["iso2"])
        hour = minute = second = 0
        if groups["isotime"]:
            parts = groups["isotime"].split(":")
            hour, minute = int(parts[0]), int(parts[1])
            if len(parts) > 2:
                second = int(float(parts[2]))
        return datetime.datetime(date.year, date.month, date.day, hour, minute, second)
    month_text = groups["mon"] or groups["mon2"]
    month = _MONTHS.get(month_text.lower())
    if month is None:
        raise ValueError(f"unknown month {month_text!r}")
    day = int(groups["day"] or groups["day2"])
    hm = groups["hm"] or groups["hm2"]
    year_text = groups["year"] or groups["year2"] or groups["tyear"]
    hour = minute = second = 0
    if hm:
        hour, minute = (int(part) for part in hm.split(":"))
        if groups["hms"]:
            second = int(groups["hms"])
    if year_text:
        return datetime.datetime(int(year_text), month, day, hour, minute, second)
    return _year_less_date(month, day, hour, minute, second, now)


def parse_unix_line(
    line: str, *, now: datetime.datetime | None = None
) -> tuple[str, dict[str, Any]]:
    """``(name, info)`` from one Unix ``ls -l`` line; ValueError if it is not one.

    *now* decides the year of dates printed without one (default: the current UTC time).
    """
    line = line.rstrip("\r\n")
    match = _UNIX_RE.match(line)
    if match is None:
        raise ValueError(f"not a Unix listing line: {line!r}")
    mode_text = match.group("mode")
    fields = match.group("fields").split()
    if not fields:
        raise ValueError(f"no size in Unix listing line: {line!r}")
    # The last field is the size, or "major, minor" (or "major,minor") for a device.
    if len(fields) >= 2 and fields[-2].endswith(",") and fields[-2][:-1].isdigit():
        size_text = "0"
        fields = fields[:-2]
    elif "," in fields[-1] and all(p.isdigit() for p in fields[-1].split(",")):
        size_text = "0"
        fields = fields[:-1]
    else:
        size_text = fields[-1]
        fields = fields[:-1]
        if not size_text.isdigit():
            raise ValueError(f"bad size {size_text!r} in Unix listing line: {line!r}")
    # Before the size: "links owner group", or without links ("owner group"), or without
    # group ("links owner", as ``ls -o``); a lone field is the owner.
    links_text = "1"
    if (
        fields
        and fields[0].isdigit()
        and (len(fields) >= 3 or (len(fields) == 2 and not fields[1].isdigit()))
    ):
        links_text = fields.pop(0)
    owner = fields[0] if fields else ""
    group = " ".join(fields[1:])

    if now is None:
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    modify = _unix_modify(match, now)

    name = match.group("name")
    kind_letter = mode_text[0]
    info: dict[str, Any] = {}
    if kind_letter == "d":
        kind = "dir"
    elif kind_letter == "-":
        kind = "file"
    elif kind_letter == "l":
        kind = "link"
        if " -> " in name:
            name, _, target = name.partition(" -> ")
            info["link_dst"] = target
    else:
        kind = "unknown"
    mode = parse_unix_mode(mode_text[1:])
    info.update(
        {
            "type": kind,
            "size": size_text,
            "modify": format_modify(modify),
            "unix.mode": mode,
            "unix.links": links_text,
            "unix.owner": owner,
            "unix.group": group,
            "permissions": mode_text[1:],
            "links": int(links_text),
            "owner": owner,
            "group": group,
        }
    )
    return name, info


def _windows_date(date_text: str, time_text: str, ampm: str | None) -> datetime.datetime:
    parts = [int(p) for p in re.split(r"[-/.]", date_text)]
    if len(re.split(r"[-/.]", date_text)[0]) == 4:
        year, month, day = parts
    else:
        month, day, year = parts
        if year < 100:
            year += 1900 if year >= 70 else 2000
    clock = [int(p) for p in time_text.split(":")]
    hour, minute = clock[0], clock[1]
    second = clock[2] if len(clock) > 2 else 0
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} with {ampm}")
        hour %= 12
        if ampm.lower() == "pm":
            hour += 12
    return datetime.datetime(year, month, day, hour, minute, second)


def parse_windows_line(line: str) -> tuple[str, dict[str, Any]]:
    """``(name, info)`` from one Windows/IIS (DOS style) line; ValueError if it is not one."""
    line = line.rstrip("\r\n")
    match = _WINDOWS_RE.match(line)
    if match is None:
        raise ValueError(f"not a Windows listing line: {line!r}")
    modify = _windows_date(match.group("date"), match.group("time"), match.group("ampm"))
    info: dict[str, Any] = {}
    if match.group("dir"):
        kind, size = "dir", "0"
    elif match.group("junction"):
        kind, size = "link", "0"
        if match.group("target"):
            info["link_dst"] = match.group("target")
    else:
        kind, size = "file", re.sub(r"[,.]", "", match.group("size"))
    info.update({"type": kind, "size": size, "modify": format_modify(modify)})
    return match.group("name"), info


def parse_list_line(
    line: str, *, now: datetime.datetime | None = None
) -> tuple[str, dict[str, Any]]:
    """Try the Unix parser, then the Windows one; raise ListingParseError naming the line."""
    try:
        return parse_unix_line(line, now=now)
    except ValueError:
        pass
    try:
        return parse_windows_line(line)
    except ValueError:
        pass
    raise ListingParseError(line.rstrip("\r\n"))

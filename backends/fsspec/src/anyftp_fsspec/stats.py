"""fsspec ``info``/``ls`` entries as stat results.

Implementations name their fields differently (``mtime``, ``LastModified``, ``updated``,
``created``...) and give times as floats, datetimes or ISO text; this module reads them
all into a :class:`anyftp.pathio.PathStat`.
"""

from __future__ import annotations

import stat as stat_module
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from anyftp.pathio import PathStat

__all__ = ("entry_name", "is_directory", "to_stat", "to_timestamp")

#: Fields that may hold the modification time, best first.
_MTIME_FIELDS = (
    "mtime",
    "LastModified",
    "last_modified",
    "modified",
    "updated",
    "time",
    "mtime_ns",
    "created",
    "ctime",
    "timeCreated",
    "creation_time",
)
_CTIME_FIELDS = ("created", "ctime", "timeCreated", "creation_time")


def to_timestamp(value: Any) -> float | None:
    """A POSIX timestamp from a float, int, datetime or ISO 8601 text; None if unknown."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        return number / 1e9 if number > 1e14 else number  # nanoseconds
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return float(value.timestamp())
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        try:
            return to_timestamp(datetime.fromisoformat(text))
        except ValueError:
            try:
                return float(text)
            except ValueError:
                return None
    return None


def _first_time(info: Mapping[str, Any], fields: tuple[str, ...]) -> float | None:
    for name in fields:
        stamp = to_timestamp(info.get(name))
        if stamp is not None:
            return stamp
    return None


def is_directory(info: Mapping[str, Any]) -> bool:
    """Whether an fsspec entry describes a directory."""
    return info.get("type") == "directory"


def entry_name(info: Mapping[str, Any]) -> str:
    """The last component of an entry's ``name`` (trailing ``/`` ignored)."""
    return str(info.get("name", "")).rstrip("/").rsplit("/", 1)[-1]


def to_stat(info: Mapping[str, Any]) -> PathStat:
    """A :class:`PathStat` for an fsspec entry."""
    directory = is_directory(info)
    mtime = _first_time(info, _MTIME_FIELDS) or 0.0
    ctime = _first_time(info, _CTIME_FIELDS) or mtime
    raw_mode = info.get("mode")
    mode: int
    if isinstance(raw_mode, int) and stat_module.S_IFMT(raw_mode):
        mode = raw_mode
    else:
        bits = stat_module.S_IMODE(raw_mode) if isinstance(raw_mode, int) else None
        if directory:
            mode = stat_module.S_IFDIR | (0o755 if bits is None else bits)
        else:
            mode = stat_module.S_IFREG | (0o644 if bits is None else bits)
    size = 0 if directory else int(info.get("size") or 0)
    nlink = info.get("nlink")
    ino = info.get("ino")
    return PathStat(
        st_size=size,
        st_mtime=mtime,
        st_ctime=ctime,
        st_nlink=nlink if isinstance(nlink, int) else (2 if directory else 1),
        st_mode=mode,
        st_ino=ino if isinstance(ino, int) else 0,
        st_uid=int(info.get("uid") or 0) if isinstance(info.get("uid"), int) else 0,
        st_gid=int(info.get("gid") or 0) if isinstance(info.get("gid"), int) else 0,
    )

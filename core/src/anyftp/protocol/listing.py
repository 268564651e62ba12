"""LIST lines in the ``ls -l`` Unix format, as most FTP servers send them. Pure functions.

A line is ``drwxr-xr-x   2 ftp      ftp          4096 Jan 02 12:34 name``: mode, link
count, owner, group, size, modification time, name. The time shows ``HH:MM`` for entries
modified within the last 180 days and the year otherwise, in UTC, with English month
names whatever the locale. LIST options a client sends (``LIST -la path``) are split off
by :func:`split_list_options`.
"""

from __future__ import annotations

import stat as stat_module
import time

__all__ = ("format_list_line", "format_list_time", "split_list_options", "SIX_MONTHS")

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

#: Entries older (or newer) than this show the year instead of the time of day.
SIX_MONTHS = 180 * 24 * 60 * 60


def format_list_time(mtime: float, now: float) -> str:
    """``Jan 02 12:34`` when *mtime* is within six months of *now*, else ``Jan 02  2020``."""
    moment = time.gmtime(max(mtime, 0))
    month = _MONTHS[moment.tm_mon - 1]
    if abs(now - mtime) < SIX_MONTHS:
        return f"{month} {moment.tm_mday:02d} {moment.tm_hour:02d}:{moment.tm_min:02d}"
    return f"{month} {moment.tm_mday:02d} {moment.tm_year:>5d}"


def format_list_line(
    name: str, stat: object, *, now: float, owner: str = "ftp", group: str = "ftp"
) -> str:
    """One LIST line (without line end) for *name* from a stat-like object."""
    mode = int(getattr(stat, "st_mode", 0))
    if not stat_module.S_IFMT(mode):
        mode |= stat_module.S_IFREG
    nlink = int(getattr(stat, "st_nlink", 1) or 1)
    size = int(getattr(stat, "st_size", 0))
    mtime = float(getattr(stat, "st_mtime", 0.0))
    return (
        f"{stat_module.filemode(mode)} {nlink:>3d} {owner:<8} {group:<8} {size:>12d} "
        f"{format_list_time(mtime, now)} {name}"
    )


def split_list_options(argument: str) -> tuple[str, str]:
    """``(options, path)`` from a LIST/NLST/STAT argument such as ``-la /dir``.

    Leading words that start with ``-`` are options (``"la"`` here); the rest, with its
    inner spaces kept, is the path.
    """
    options = []
    rest = argument.lstrip(" ")
    while rest.startswith("-"):
        word, _, rest = rest.partition(" ")
        options.append(word[1:])
        rest = rest.lstrip(" ")
    return "".join(options), rest

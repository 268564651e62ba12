"""LIST line formatting (sans-I/O)."""

from __future__ import annotations

import calendar
import stat

from anyftp.pathio import PathStat
from anyftp.protocol.listing import format_list_line, format_list_time

NOW = calendar.timegm((2024, 6, 15, 12, 0, 0))


def test_recent_entries_show_the_time() -> None:
    mtime = calendar.timegm((2024, 6, 1, 9, 5, 0))
    assert format_list_time(mtime, NOW) == "Jun 01 09:05"


def test_old_entries_show_the_year() -> None:
    mtime = calendar.timegm((2020, 1, 2, 3, 4, 5))
    assert format_list_time(mtime, NOW) == "Jan 02  2020"


def test_file_and_directory_lines() -> None:
    mtime = calendar.timegm((2024, 6, 1, 9, 5, 0))
    file_line = format_list_line("a b.txt", PathStat.for_file(1234, mtime), now=NOW)
    assert file_line == ("-rw-r--r--   1 ftp      ftp              1234 Jun 01 09:05 a b.txt")
    dir_line = format_list_line("sub", PathStat.for_dir(mtime), now=NOW)
    assert dir_line.startswith("drwxr-xr-x   2 ftp")
    assert dir_line.endswith(" sub")


def test_mode_without_type_bits_is_a_file() -> None:
    info = PathStat(st_size=1, st_mtime=NOW, st_ctime=NOW, st_nlink=1, st_mode=0o600)
    assert format_list_line("x", info, now=NOW).startswith("-rw-------")
    assert stat.S_ISREG(stat.S_IFREG | 0o600)

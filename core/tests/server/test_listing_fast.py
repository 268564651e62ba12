"""The batch listing formatters (MLSD, LIST) give the same text as the per-entry ones.

``mlsd_lines`` computes the ``perm`` fact once per directory and caches time texts;
``list_lines`` caches mode and time texts. These tests hold them to the per-entry
formatters (``mlsx_line`` as MLST uses it, ``format_list_line``) on a real server and on
hand-made stats, including the cases the shortcuts must not get wrong: a permission of
its own on one entry, a user class deciding permissions itself, a reduced fact set,
times on both sides of the six-month line and before 1970.
"""

from __future__ import annotations

import calendar
import ftplib
import io
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

import anyftp
from anyftp.pathio import PathStat
from anyftp.protocol.listing import SIX_MONTHS, format_list_line
from anyftp.server.handlers.listing import list_lines

from .conftest import TIMEOUT, ServerThread

pytestmark = pytest.mark.timeout(60)


def connect(server: ServerThread, login: str = "anonymous", password: str = "") -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    client.login(login, password)
    return client


def mlsd_lines_of(client: ftplib.FTP, path: str = "") -> list[str]:
    lines: list[str] = []
    client.retrlines(f"MLSD {path}".rstrip(), lines.append)
    return lines


def mlst_line_of(client: ftplib.FTP, path: str) -> str:
    """The facts line MLST gives for *path*, with the name cut off."""
    reply = client.sendcmd(f"MLST {path}").splitlines()
    facts, _, _ = reply[1].strip().partition(" ")
    return facts


def populate(root: Path) -> None:
    (root / "file.txt").write_bytes(b"x" * 123)
    (root / "empty").write_bytes(b"")
    (root / "private").mkdir()
    (root / "public").mkdir()
    (root / "old").write_bytes(b"old")
    os.utime(root / "old", (0, calendar.timegm((2001, 2, 3, 4, 5, 6))))
    (root / "same-second-a").write_bytes(b"a")
    (root / "same-second-b").write_bytes(b"bb")
    os.utime(root / "same-second-a", ns=(0, 1_700_000_000_100_000_000))
    os.utime(root / "same-second-b", ns=(0, 1_700_000_000_900_000_000))


def assert_mlsd_matches_mlst(
    client: ftplib.FTP, directory: str = "", unreadable: frozenset[str] = frozenset()
) -> list[str]:
    lines = mlsd_lines_of(client, directory)
    assert lines
    for line in lines:
        facts, _, name = line.partition(" ")
        if name in unreadable:
            continue  # MLST needs read permission
        assert mlst_line_of(client, f"{directory}/{name}" if directory else name) == facts
    return lines


def test_mlsd_lines_match_mlst_of_each_entry(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    populate(tmp_path)
    server = make_server(users=[anyftp.User(base_path=tmp_path)])
    client = connect(server)
    try:
        lines = assert_mlsd_matches_mlst(client)
        assert len(lines) == 7
    finally:
        client.quit()


def test_mlsd_shows_the_own_permission_of_an_entry(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    populate(tmp_path)
    user = anyftp.User(
        base_path=tmp_path,
        permissions=[
            anyftp.Permission("/", readable=True, writable=True),
            anyftp.Permission("/private", readable=False, writable=False),
            anyftp.Permission("/public/deeper", readable=True, writable=False),
        ],
    )
    server = make_server(users=[user])
    client = connect(server)
    try:
        facts = {name: info for name, info in client.mlsd()}
        assert facts["private"]["perm"] == ""
        assert facts["public"]["perm"] == "elcdfmp"
        assert facts["file.txt"]["perm"] == "radfw"
        assert_mlsd_matches_mlst(client, unreadable=frozenset({"private"}))
    finally:
        client.quit()


class OddUser(anyftp.User):
    """Decides permissions itself: read-only for names ending in ``.txt``."""

    def permission_for(self, path: str | PurePosixPath) -> anyftp.Permission:
        if str(path).endswith(".txt"):
            return anyftp.Permission("/", readable=True, writable=False)
        return super().permission_for(path)


def test_mlsd_asks_a_user_class_that_decides_permissions_itself(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    populate(tmp_path)
    server = make_server(users=[OddUser(base_path=tmp_path)])
    client = connect(server)
    try:
        facts = {name: info for name, info in client.mlsd()}
        assert facts["file.txt"]["perm"] == "r"
        assert facts["empty"]["perm"] == "radfw"
        assert_mlsd_matches_mlst(client)
    finally:
        client.quit()


def test_mlsd_with_a_reduced_fact_set_matches_mlst(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    populate(tmp_path)
    server = make_server(users=[anyftp.User(base_path=tmp_path)])
    client = connect(server)
    try:
        assert client.sendcmd("OPTS MLST type;size;").startswith("200")
        lines = assert_mlsd_matches_mlst(client)
        assert all(line.startswith("type=") and "modify=" not in line for line in lines)
    finally:
        client.quit()


def test_list_lines_of_a_real_directory_match_format_list_line(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    populate(tmp_path)
    server = make_server(users=[anyftp.User(base_path=tmp_path)])
    client = connect(server)
    try:
        listed: list[str] = []
        client.retrlines("LIST", listed.append)
        now = time.time()
        expected = [
            format_list_line(name, os.stat(tmp_path / name), now=now)
            for name in sorted(os.listdir(tmp_path))
        ]
        assert listed == expected
    finally:
        client.quit()


def test_list_lines_match_format_list_line_for_tricky_stats() -> None:
    now = time.time()
    edge = now - SIX_MONTHS
    infos = [
        PathStat.for_file(0, now),
        PathStat.for_file(5, now - 0.25),
        PathStat.for_file(5, now + 3600),
        PathStat.for_file(7, edge + 0.9),
        PathStat.for_file(7, edge + 0.1),
        PathStat.for_file(7, edge - 0.5),
        PathStat.for_file(7, float(int(edge))),
        PathStat.for_file(1, -1.5),
        PathStat.for_file(1, -86400.0 * 400),
        PathStat.for_file(1, 0.0),
        PathStat.for_dir(now, nlink=0),
        PathStat.for_dir(now, nlink=1234),
        PathStat(st_size=3, st_mtime=now, st_ctime=now, st_nlink=1, st_mode=0o600),
        PathStat(3, now, now, 1, stat.S_IFLNK | 0o777),
        PathStat.for_file(10**15, now),
    ]
    entries = [(f"name {index}", info) for index, info in enumerate(infos)]
    lines = list_lines(entries)
    # list_lines reads the clock itself: compare with a "now" from just before and after.
    for line, (name, info) in zip(lines, entries, strict=True):
        assert line in (
            format_list_line(name, info, now=now),
            format_list_line(name, info, now=time.time()),
        )


def test_mlsd_lists_every_uploaded_file_sorted_with_its_size(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(users=[anyftp.User(base_path=tmp_path)])
    client = connect(server)
    try:
        for index in range(50):
            client.storbinary(f"STOR f{index:02d}", io.BytesIO(b"z" * index))
        facts = dict(client.mlsd())
        assert sorted(facts) == [f"f{index:02d}" for index in range(50)]
        assert all(facts[f"f{i:02d}"]["size"] == str(i) for i in range(50))
    finally:
        client.quit()

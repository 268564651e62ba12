"""One-line replies are kept encoded (``session._ONE_LINE_REPLIES``): the cache stays
bounded however many different texts (paths) go out, each reply stays right, and a text
with a line break still becomes a proper multi-line reply, never a cached one-liner."""

from __future__ import annotations

import ftplib
from collections.abc import Callable
from pathlib import Path

import pytest

import anyftp
from anyftp.server import session as session_module

from .conftest import TIMEOUT, ServerThread

pytestmark = pytest.mark.timeout(60)


def test_many_different_replies_keep_the_cache_bounded_and_each_reply_right(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(users=[anyftp.User(base_path=tmp_path)])
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    ftp.login()
    try:
        count = session_module._ONE_LINE_REPLIES_KEPT + 100
        for index in range(count):
            name = f"d-{index:04d}-é"
            assert ftp.mkd(name) == f"/{name}"  # 257 "/name" ...: a new text each time
            assert len(session_module._ONE_LINE_REPLIES) <= session_module._ONE_LINE_REPLIES_KEPT
        for _ in range(3):  # a fixed text comes back from the cache, the same bytes
            assert ftp.voidcmd("NOOP").startswith("200")
        assert sorted(ftp.nlst())[-1] == f"d-{count - 1:04d}-é"
    finally:
        ftp.quit()


def test_a_text_with_a_line_break_is_a_multi_line_reply(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    thread = make_server(users=[anyftp.User(base_path=tmp_path)])

    async def two_lines(session: session_module.Session, argument: str) -> None:
        await session.reply("200", "first\r\nsecond")

    thread.server.commands.add(anyftp.server.CommandSpec("TWO", login=False), two_lines)
    ftp = ftplib.FTP()
    ftp.connect(thread.host, thread.port, timeout=TIMEOUT)
    try:
        for _ in range(2):
            reply = ftp.sendcmd("TWO")
            assert reply.splitlines() == ["200-first", "200 second"]
        assert all("\n" not in key[1] for key in session_module._ONE_LINE_REPLIES)
    finally:
        ftp.quit()

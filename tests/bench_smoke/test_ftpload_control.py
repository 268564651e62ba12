"""The load generator's control connection (bench/ftpload.py ``Control``) against a tiny
scripted server on loopback: replies split across packets, multi-line replies, the end
of the stream and a refused connection."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from ftpload import Control, FtpError, FtpSession

pytestmark = pytest.mark.timeout(30)
TIMEOUT = 5

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
Scripted = Callable[[Script], Awaitable[int]]


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    """Start a loopback server running *script* for each connection; yields its port."""
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> int:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                await script(reader, writer)
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def sends(data: bytes) -> Script:
    """A script that sends *data*, then closes the connection."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return script


async def test_replies_split_across_packets_and_multi_line_replies(scripted: Scripted) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for piece in (b"22", b"0 hel", b"lo\r", b"\n"):
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.01)
        assert await reader.readline() == b"FEAT\r\n"
        writer.write(b"211-Features:\r\n MDTM\r\n SIZE\r\n211 End\r\n")
        assert await reader.readline() == b"QUIT\r\n"
        writer.write(b"221 bye\r\n")
        await writer.drain()

    port = await scripted(script)
    async with asyncio.timeout(TIMEOUT):
        session = await FtpSession.connect("127.0.0.1", port)
        code, text = await session.command("FEAT", "2")
        assert code == "211"
        assert text.splitlines() == ["211-Features:", " MDTM", " SIZE", "211 End"]
        await session.quit()  # reads to the end of the stream


async def test_an_unexpected_code_is_an_ftp_error(scripted: Scripted) -> None:
    port = await scripted(sends(b"421 go away\r\n"))
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(FtpError, match="421 go away"):
            await FtpSession.connect("127.0.0.1", port)


async def test_end_of_stream_gives_the_rest_then_nothing(scripted: Scripted) -> None:
    port = await scripted(sends(b"220 hi\r\npartial"))
    async with asyncio.timeout(TIMEOUT):
        control = Control.connect("127.0.0.1", port)
        try:
            assert await control.readline() == b"220 hi\r\n"
            assert await control.readline() == b"partial"
            assert await control.readline() == b""
            assert await control.read() == b""
        finally:
            control.close()
        control.close()  # twice is fine


async def test_a_closed_connection_mid_reply_is_a_connection_error(scripted: Scripted) -> None:
    port = await scripted(sends(b"220-first line of two\r\n"))
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises(ConnectionError):
            await FtpSession.connect("127.0.0.1", port)


async def test_a_refused_connection_fails_the_first_read() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once closed
    async with asyncio.timeout(TIMEOUT):
        with pytest.raises((ConnectionError, OSError)):
            await FtpSession.connect("127.0.0.1", port)

"""Binary downloads on clear connections go through the kernel's sendfile, called on the
socket directly (on asyncio's loop and on uvloop, which has no ``loop.sendfile``); the
bytes and REST offsets are exact. ASCII downloads are converted, never sent raw."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.server.handlers import transfer

from .conftest import TIMEOUT, ServerThread
from .rawftp import RawControl

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def counted_raw_sendfile(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Offsets of every direct-sendfile call the server makes (it runs in this process)."""
    calls: list[int] = []
    original = transfer.send_file_raw

    async def counting(channel: Any, fd: int, offset: int) -> int | None:
        calls.append(offset)
        return await original(channel, fd, offset)

    monkeypatch.setattr(transfer, "send_file_raw", counting)
    return calls


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("rest", [0, 1, 5 * 1024 * 1024 + 3])
def test_download_is_sent_by_the_kernel_from_the_offset(
    make_server: Callable[..., ServerThread],
    tmp_path: Path,
    counted_raw_sendfile: list[int],
    rest: int,
    loop: str,
) -> None:
    data = os.urandom(8 * 1024 * 1024 + 17)
    (tmp_path / "big.bin").write_bytes(data)
    server = make_server(users=[anyftp.User(base_path=tmp_path)], loop=loop)
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    client.login()
    try:
        out = io.BytesIO()
        client.retrbinary("RETR big.bin", out.write, rest=rest or None)
    finally:
        client.quit()
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data[rest:]).digest()
    assert counted_raw_sendfile == [rest]


def test_ascii_download_is_converted_not_sent_raw(
    make_server: Callable[..., ServerThread],
    tmp_path: Path,
    counted_raw_sendfile: list[int],
) -> None:
    (tmp_path / "text.txt").write_bytes(b"one\ntwo\n" * 1000)
    server = make_server(users=[anyftp.User(base_path=tmp_path)], loop="uvloop")
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    client.login()
    try:
        lines: list[str] = []
        client.retrlines("RETR text.txt", lines.append)
    finally:
        client.quit()
    assert lines == ["one", "two"] * 1000
    assert counted_raw_sendfile == []


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_a_download_the_client_stops_reading_is_cut_after_the_socket_timeout(
    make_server: Callable[..., ServerThread], tmp_path: Path, loop: str
) -> None:
    (tmp_path / "big.bin").write_bytes(os.urandom(48 * 1024 * 1024))
    server = make_server(users=[anyftp.User(base_path=tmp_path)], socket_timeout=0.5, loop=loop)
    with RawControl(server.host, server.port) as control:
        assert control.reply().code == "220"
        control.login()
        host, port = control.pasv()
        with socket.create_connection((host, port), timeout=TIMEOUT) as data:
            data.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            assert control.command("RETR big.bin").code == "150"
            started = time.monotonic()
            assert control.reply().code == "426"  # nothing read: the sender stalls
            assert time.monotonic() - started < TIMEOUT / 2
        assert control.command("NOOP").code == "200"


@pytest.mark.asyncio
async def test_the_first_burst_leaves_before_the_transfer_first_waits(tmp_path: Path) -> None:
    """The first sendfile burst goes in the turn that starts the download: with many
    downloads under way, waiting for the loop's next turn delays it by a burst of each."""
    import asyncio

    from anyftp.server.control import RawTransport
    from anyftp.server.datachannel import DataChannel
    from anyftp.server.rawio import send_file_raw

    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    theirs.setblocking(False)
    channel = DataChannel(65536, timeout=TIMEOUT)
    RawTransport(loop, ours, channel, control=False)
    source = tmp_path / "file.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    fd = os.open(source, os.O_RDONLY)
    download = send_file_raw(channel, fd, 0)
    try:
        # Run the coroutine up to its first wait, as the task's first step would.
        try:
            download.send(None)
        except StopIteration:
            pytest.fail("the download ended without waiting for the socket to drain")
        try:
            received = theirs.recv(65536)
        except BlockingIOError:
            received = b""
        assert received, "nothing was sent before the download's first wait"
    finally:
        download.close()
        os.close(fd)
        channel.transport.close()
        theirs.close()


SIOCOUTQNSD = 0x894B  # Linux: bytes queued on a TCP socket and not yet sent


@pytest.mark.asyncio
@pytest.mark.skipif(
    not hasattr(socket, "TCP_NOTSENT_LOWAT") or not sys.platform.startswith("linux"),
    reason="TCP_NOTSENT_LOWAT and SIOCOUTQNSD are Linux's",
)
async def test_a_download_keeps_little_unsent_on_its_socket(tmp_path: Path) -> None:
    """sendfile hands the kernel what the connection can send soon, not megabytes to
    queue behind a peer that reads slowly (see rawio.SENDFILE_UNSENT)."""
    import asyncio
    import fcntl
    import struct

    from anyftp.server.control import RawTransport
    from anyftp.server.datachannel import DataChannel
    from anyftp.server.rawio import SENDFILE_UNSENT, send_file_raw

    from .conftest import loopback_pair

    loop = asyncio.get_running_loop()
    ours, theirs, _ = await loopback_pair()
    channel = DataChannel(65536, timeout=TIMEOUT)
    RawTransport(loop, ours, channel, control=False)
    source = tmp_path / "file.bin"
    data = os.urandom(16 * 1024 * 1024)
    source.write_bytes(data)
    fd = os.open(source, os.O_RDONLY)
    download = asyncio.ensure_future(send_file_raw(channel, fd, 0))
    try:
        await asyncio.sleep(0.2)  # the peer reads nothing yet: the sender fills up
        assert not download.done()
        option = ours.getsockopt(socket.IPPROTO_TCP, socket.TCP_NOTSENT_LOWAT)
        assert option == SENDFILE_UNSENT
        unsent = struct.unpack("i", fcntl.ioctl(ours.fileno(), SIOCOUTQNSD, b"\0" * 4))[0]
        # One sendfile may overshoot the limit by what it was adding when crossing it.
        assert 0 < unsent <= SENDFILE_UNSENT + 128 * 1024, unsent
        received = bytearray()
        theirs.setblocking(True)
        theirs.settimeout(TIMEOUT)
        while len(received) < len(data):
            chunk = await loop.run_in_executor(None, theirs.recv, 1 << 20)
            assert chunk
            received += chunk
        async with asyncio.timeout(TIMEOUT):
            assert await download == len(data)
        assert bytes(received) == data
    finally:
        download.cancel()
        os.close(fd)
        channel.transport.close()
        theirs.close()

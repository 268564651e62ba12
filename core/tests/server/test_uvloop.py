"""The server on uvloop (the ``speed`` extra): transfers, listings, ABOR and FTPS.

uvloop's transports are not asyncio's classes and it has no ``loop.sendfile``, so the
data path must fall back to copying blocks; everything else must behave the same."""

from __future__ import annotations

import asyncio
import contextlib
import ftplib
import hashlib
import io
import os
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.server.datachannel import DataChannel
from anyftp.server.rawio import RawReceiver

from .conftest import TIMEOUT, ServerThread, base_for
from .rawftp import RawControl

pytest.importorskip("uvloop")
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def uv_server(
    make_server: Callable[..., ServerThread],
    backend: str,
    tmp_path: Path,
    server_tls_context: ssl.SSLContext,
) -> ServerThread:
    return make_server(
        users=[anyftp.User(base_path=base_for(backend, tmp_path))],
        path_io_factory=backend,
        auth_tls=server_tls_context,
        loop="uvloop",
    )


def test_transfers_and_listing_on_uvloop(uv_server: ServerThread) -> None:
    ftp = ftplib.FTP()
    ftp.connect(uv_server.host, uv_server.port, timeout=TIMEOUT)
    ftp.login()
    data = os.urandom(3 * 1024 * 1024 + 5)
    ftp.storbinary("STOR u.bin", io.BytesIO(data))
    out = io.BytesIO()
    ftp.retrbinary("RETR u.bin", out.write, rest=10)
    assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(data[10:]).digest()
    assert dict(ftp.mlsd())["u.bin"]["size"] == str(len(data))
    ftp.quit()


def test_abor_on_uvloop(uv_server: ServerThread) -> None:
    ftp = ftplib.FTP()
    ftp.connect(uv_server.host, uv_server.port, timeout=TIMEOUT)
    ftp.login()
    ftp.storbinary("STOR big", io.BytesIO(os.urandom(1 << 20) * 16))
    ftp.quit()
    with RawControl(uv_server.host, uv_server.port) as control:
        control.reply()
        control.login()
        control.command("TYPE I")
        host, port = control.pasv()
        data = socket.create_connection((host, port), timeout=TIMEOUT)
        control.send("RETR big")
        assert control.reply().code == "150"
        assert data.recv(65536)
        control.send("ABOR")
        assert [control.reply().code, control.reply().code] == ["426", "226"]
        data.close()


def test_ftps_on_uvloop(uv_server: ServerThread, client_tls_context: ssl.SSLContext) -> None:
    ftp = ftplib.FTP_TLS(context=client_tls_context)
    ftp.connect(uv_server.host, uv_server.port, timeout=TIMEOUT)
    ftp.login()
    ftp.prot_p()
    data = os.urandom(1_000_000)
    ftp.storbinary("STOR t.bin", io.BytesIO(data))
    out = io.BytesIO()
    ftp.retrbinary("RETR t.bin", out.write)
    assert out.getvalue() == data
    ftp.quit()


def test_upload_sent_before_its_stor_arrives_whole_and_in_order(uv_server: ServerThread) -> None:
    """uvloop reads a new data connection's first bytes before the STOR asks for them
    (DataChannel.get_buffer's early buffer): the upload must begin with them."""
    data = os.urandom(300_000)
    with RawControl(uv_server.host, uv_server.port) as control:
        control.reply()
        control.login()
        control.command("TYPE I")
        for name, payload in (("early.bin", data), ("small.bin", data[:3000])):
            host, port = control.pasv()
            with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
                sock.sendall(payload[:20_000])  # before the STOR: read early, or buffered
                control.send(f"STOR {name}")
                assert control.reply().code == "150"
                sock.sendall(payload[20_000:])
            assert control.reply().code == "226"
    ftp = ftplib.FTP()
    ftp.connect(uv_server.host, uv_server.port, timeout=TIMEOUT)
    ftp.login()
    for name, payload in (("early.bin", data), ("small.bin", data[:3000])):
        out = io.BytesIO()
        ftp.retrbinary(f"RETR {name}", out.write)
        assert hashlib.sha256(out.getvalue()).digest() == hashlib.sha256(payload).digest()
    ftp.quit()


@contextlib.asynccontextmanager
async def _channel_with_early_bytes(
    payload: bytes, *, close: bool
) -> AsyncIterator[tuple[DataChannel, socket.socket]]:
    """A server-side DataChannel on the running (uvloop) loop whose transport read the
    first bytes of *payload* on its own, as uvloop does after ``connection_made``; the
    client's socket with it. Both are closed on the way out."""
    loop = asyncio.get_running_loop()
    made: asyncio.Future[DataChannel] = loop.create_future()
    listener = await loop.create_server(
        lambda: DataChannel(256 * 1024, made.set_result, timeout=TIMEOUT), "127.0.0.1", 0
    )
    channel: DataChannel | None = None
    try:
        with socket.create_connection(
            listener.sockets[0].getsockname()[:2], timeout=TIMEOUT
        ) as client:
            client.sendall(payload)
            if close:
                client.shutdown(socket.SHUT_WR)
            async with asyncio.timeout(TIMEOUT):
                channel = await made
                while not channel._early_filled:
                    await asyncio.sleep(0.005)
            yield channel, client
    finally:
        listener.close()
        if channel is not None:
            channel.close()


def _on_uvloop(scenario: Coroutine[Any, Any, None]) -> None:
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(scenario)


def test_raw_receiver_gives_out_the_early_bytes_first_and_takes_no_transfer_buffers() -> None:
    payload = os.urandom(200_000)

    async def scenario() -> None:
        async with _channel_with_early_bytes(payload, close=False) as (channel, client):
            early = channel._early_filled
            assert 0 < early < len(payload)
            receiver = RawReceiver.for_channel(channel)
            assert receiver is not None
            got = bytearray()
            buffer = bytearray(65536)
            async with asyncio.timeout(TIMEOUT):
                while len(got) < len(payload):
                    count = await receiver.recv_into(buffer)
                    assert count
                    got += buffer[:count]
                client.close()
                assert await receiver.recv_into(buffer) == 0
            receiver.close()
            assert bytes(got) == payload
            assert channel.bytes_in == len(payload)
            assert channel._buffers == []  # no 2 x block_size for this upload

    _on_uvloop(scenario())


def test_a_small_upload_read_early_ends_through_the_raw_receiver() -> None:
    payload = os.urandom(3000)  # less than the early buffer: all of it is read early

    async def scenario() -> None:
        async with _channel_with_early_bytes(payload, close=True) as (channel, _):
            receiver = RawReceiver.for_channel(channel)
            assert receiver is not None
            buffer = bytearray(65536)
            async with asyncio.timeout(TIMEOUT):
                assert buffer[: await receiver.recv_into(buffer)] == payload
                assert await receiver.recv_into(buffer) == 0  # the end, from the socket
            receiver.close()
            assert channel._buffers == []

    _on_uvloop(scenario())


def test_receive_hands_out_the_early_bytes_without_taking_transfer_buffers() -> None:
    payload = os.urandom(100_000)

    async def scenario() -> None:
        async with _channel_with_early_bytes(payload, close=True) as (channel, _):
            async with asyncio.timeout(TIMEOUT):
                first = bytes(await channel.receive())
                assert first and payload.startswith(first)
                assert channel._buffers == []  # the early buffer itself was handed out
                got = bytearray(first)
                while block := await channel.receive():
                    got += block
            assert bytes(got) == payload

    _on_uvloop(scenario())

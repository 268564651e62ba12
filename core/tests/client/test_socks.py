"""Connecting through SOCKS5 (with and without a password) and SOCKS4a proxies.

The proxy is a small relay written here, on loopback; it records what it was asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import struct
from collections.abc import AsyncIterator

import pytest

import anyftp
from anyftp.client.socks import SocksError

from .conftest import StartFake

pytestmark = pytest.mark.timeout(30)


class SocksProxy:
    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.username = username
        self.password = password
        self.requests: list[tuple[int, str, int]] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> SocksProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            version = (await reader.readexactly(1))[0]
            if version == 5:
                target = await self._socks5(reader, writer)
            else:
                target = await self._socks4(reader, writer)
            if target is None:
                return
            up_reader, up_writer = await asyncio.open_connection(*target)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def _socks5(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[str, int] | None:
        count = (await reader.readexactly(1))[0]
        methods = await reader.readexactly(count)
        if self.username is not None:
            if 2 not in methods:
                writer.write(b"\x05\xff")
                return None
            writer.write(b"\x05\x02")
            await reader.readexactly(1)
            user = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            secret = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            ok = (user, secret) == (self.username, self.password)
            writer.write(b"\x01\x00" if ok else b"\x01\x01")
            if not ok:
                return None
        else:
            writer.write(b"\x05\x00")
        _, _command, _, kind = await reader.readexactly(4)
        if kind == 1:
            host = str(ipaddress.IPv4Address(await reader.readexactly(4)))
        elif kind == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        else:
            host = str(ipaddress.IPv6Address(await reader.readexactly(16)))
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        self.requests.append((5, host, port))
        writer.write(b"\x05\x00\x00\x01" + bytes(4) + b"\x00\x00")
        return host, port

    async def _socks4(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[str, int]:
        _, port = struct.unpack("!BH", await reader.readexactly(3))
        address = await reader.readexactly(4)
        await reader.readuntil(b"\x00")  # user id
        if address[:3] == b"\x00\x00\x00" and address[3]:
            host = (await reader.readuntil(b"\x00"))[:-1].decode()
        else:
            host = str(ipaddress.IPv4Address(address))
        self.requests.append((4, host, port))
        writer.write(b"\x00\x5a" + bytes(6))
        return host, port


@pytest.fixture
async def proxies() -> AsyncIterator[list[SocksProxy]]:
    started: list[SocksProxy] = []
    yield started
    for proxy in started:
        await proxy.close()


async def start_proxy(proxies: list[SocksProxy], **options: str) -> SocksProxy:
    proxy = await SocksProxy(**options).start()
    proxies.append(proxy)
    return proxy


async def transfer_through(host: str, port: int, **options: object) -> bytes:
    async with anyftp.Client.context(
        host, port, "user", "secret", socket_timeout=5, connection_timeout=5, **options
    ) as client:
        async with client.upload_stream("up.bin") as stream:
            await stream.write(b"through the proxy")
        async with client.download_stream("up.bin") as stream:
            return await stream.read_all()


async def test_socks5_proxy_carries_control_and_data_connections(
    start_fake: StartFake, proxies: list[SocksProxy]
) -> None:
    server = await start_fake()
    proxy = await start_proxy(proxies)
    data = await transfer_through(
        "127.0.0.1", server.port, socks_host="127.0.0.1", socks_port=proxy.port, socks_version=5
    )
    assert data == b"through the proxy"
    assert proxy.requests[0] == (5, "127.0.0.1", server.port)
    assert len(proxy.requests) == 3  # control, upload, download


async def test_socks5_with_username_and_password(
    start_fake: StartFake, proxies: list[SocksProxy]
) -> None:
    server = await start_fake()
    proxy = await start_proxy(proxies, username="proxyuser", password="proxypass")
    data = await transfer_through(
        "localhost",
        server.port,
        socks_host="127.0.0.1",
        socks_port=proxy.port,
        socks_username="proxyuser",
        socks_password="proxypass",
    )
    assert data == b"through the proxy"
    assert proxy.requests[0] == (5, "localhost", server.port)  # the name goes to the proxy


async def test_socks5_wrong_password_raises_socks_error(
    start_fake: StartFake, proxies: list[SocksProxy]
) -> None:
    server = await start_fake()
    proxy = await start_proxy(proxies, username="proxyuser", password="proxypass")
    client = anyftp.Client(
        socks_host="127.0.0.1",
        socks_port=proxy.port,
        socks_username="proxyuser",
        socks_password="nope",
        connection_timeout=5,
    )
    with pytest.raises(SocksError):
        await client.connect("127.0.0.1", server.port)
    assert issubclass(SocksError, ConnectionError)


async def test_socks4a_proxy(start_fake: StartFake, proxies: list[SocksProxy]) -> None:
    server = await start_fake()
    proxy = await start_proxy(proxies)
    data = await transfer_through(
        "localhost", server.port, socks_host="127.0.0.1", socks_port=proxy.port, socks_version=4
    )
    assert data == b"through the proxy"
    assert proxy.requests[0] == (4, "localhost", server.port)


def test_unknown_client_option_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        anyftp.Client(sock_host="typo")  # type: ignore[call-arg]

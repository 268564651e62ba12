"""Fixtures for server tests: a real anyftp Server on 127.0.0.1 (port chosen by the OS),
running in its own thread and event loop (:class:`anyftp.testing.servers.ServerThread`) so
blocking clients (ftplib) can drive it."""

from __future__ import annotations

import asyncio
import ftplib
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.registry import available_backends
from anyftp.server import Server
from anyftp.testing.servers import ServerThread

TIMEOUT = 10


def backend_names() -> list[str]:
    names = ["local"]
    if "memory" in available_backends():
        try:
            anyftp.registry.get_backend("memory")  # type: ignore[attr-defined]
            names.append("memory")
        except Exception:  # the memory backend is not finished yet
            pass
    return names


@pytest.fixture(params=backend_names())
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Callable[..., ServerThread]]:
    """Start servers; each is stopped at the end of the test."""
    running: list[ServerThread] = []

    def factory(
        *args: Any, host: str = "127.0.0.1", loop: str = "asyncio", **kwargs: Any
    ) -> ServerThread:
        kwargs.setdefault("login_failure_delay", 0)
        kwargs.setdefault("socket_timeout", TIMEOUT)
        kwargs.setdefault("wait_future_timeout", TIMEOUT)
        if "users" not in kwargs and not args:
            kwargs["users"] = [anyftp.User(base_path=tmp_path)]
        loop_factory = None
        if loop == "uvloop":
            loop_factory = pytest.importorskip("uvloop").new_event_loop
        thread = ServerThread(Server(*args, **kwargs), host=host, loop_factory=loop_factory)
        thread.start()
        running.append(thread)
        return thread

    yield factory
    for thread in running:
        thread.stop()


def base_for(backend: str, tmp_path: Path) -> Any:
    return tmp_path if backend == "local" else "/"


@pytest.fixture
def storage(backend: str, tmp_path: Path) -> Any:
    """Base path for users on *backend*."""
    return base_for(backend, tmp_path)


@pytest.fixture
def server(make_server: Callable[..., ServerThread], backend: str, tmp_path: Path) -> ServerThread:
    """An anonymous read/write server on the selected backend."""
    return make_server(
        users=[anyftp.User(base_path=base_for(backend, tmp_path))], path_io_factory=backend
    )


@pytest.fixture
def ftp(server: ServerThread) -> Iterator[ftplib.FTP]:
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    client.login()
    yield client
    try:
        client.quit()
    except ftplib.all_errors:
        client.close()


@pytest.fixture(scope="session")
def tls_ca() -> Any:
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture(scope="session")
def server_tls_context(tls_ca: Any) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("127.0.0.1", "::1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def client_tls_context(tls_ca: Any) -> ssl.SSLContext:
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    return context


def ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


needs_ipv6 = pytest.mark.skipif(not ipv6_available(), reason="::1 is not usable here")


class Handled:
    """The loop's exception handler during a test: keeps every context it is given."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.contexts: list[dict[str, Any]] = []
        self._loop = loop
        self._previous = loop.get_exception_handler()
        loop.set_exception_handler(lambda _loop, context: self.contexts.append(context))

    def restore(self) -> None:
        self._loop.set_exception_handler(self._previous)


@pytest.fixture
async def handled() -> AsyncIterator[Handled]:
    """Collect what reaches the running loop's exception handler (restored after)."""
    handled = Handled(asyncio.get_running_loop())
    yield handled
    handled.restore()


class Watched:
    """For test objects that set ``self.changed`` (an :class:`asyncio.Event`) at each event
    they see: :meth:`until` waits for a condition without polling."""

    changed: asyncio.Event

    async def until(self, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
        """Wait (bounded) until *predicate* holds, checking it after every event."""
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


async def connect_to(
    address: tuple[Any, ...],
    *,
    family: int = socket.AF_INET,
    rcvbuf: int | None = None,
    source: str | None = None,
) -> socket.socket:
    """A non-blocking TCP connection to *address* (bounded wait); *rcvbuf* sets the receive
    buffer before connect (the window is agreed on then), *source* the local address."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if source is not None:
            sock.bind((source, 0))
        sock.setblocking(False)
        async with asyncio.timeout(TIMEOUT):
            await loop.sock_connect(sock, address)
    except BaseException:
        sock.close()
        raise
    return sock


async def loopback_pair(buffer: int | None = None) -> tuple[socket.socket, socket.socket, Any]:
    """A connected TCP pair on 127.0.0.1 (port from the OS), both ends non-blocking:
    ``(server end, client end, client address as accepted)``. With *buffer*, the client's
    receive buffer and the server's send buffer are that small."""
    loop = asyncio.get_running_loop()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = await connect_to(listener.getsockname(), rcvbuf=buffer)
        try:
            async with asyncio.timeout(TIMEOUT):
                server, peer = await loop.sock_accept(listener)
        except BaseException:
            client.close()
            raise
    if buffer is not None:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
    server.setblocking(False)
    return server, client, peer

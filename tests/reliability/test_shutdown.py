"""Graceful shutdown: ``Server.close(grace)`` and SIGTERM on ``anyftp serve``.

Closing stops accepting at once and ends idle sessions (421); running transfers may finish
within the grace time (226), and whatever still runs after it is aborted (426) without
leaving a file that looks complete.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from anyftp.server.uploads import TEMPORARY_SUFFIX

from .harness import TIMEOUT, CliServer, ThreadedServer, wait_for
from .raw import Closed, RawClient

PART = b"a" * 300_000


def refuses_connections(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return True
    return False


def start_upload(host: str, port: int, name: str) -> tuple[RawClient, socket.socket]:
    """A logged-in client with a STOR of *name* under way (150 received)."""
    client = RawClient(host, port)
    assert client.welcome().code == "220"
    client.login()
    data = client.data_socket()
    reply = client.command(f"STOR {name}")
    assert reply.code == "150", reply
    data.sendall(PART)
    return client, data


def finish_upload(client: RawClient, data: socket.socket) -> str:
    data.sendall(PART)
    data.close()
    return client.reply().code


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(TEMPORARY_SUFFIX))


def test_close_with_grace_lets_a_running_upload_finish(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server(shutdown_grace=TIMEOUT)
    idle = RawClient(server.host, server.port)
    assert idle.welcome().code == "220"
    idle.login()
    client, data = start_upload(server.host, server.port, "kept.bin")

    server.close()
    wait_for(lambda: refuses_connections(server.host, server.port), what="listener closed")
    assert idle.reply().code == "421"  # idle sessions end at once
    assert idle.closed_by_server()

    assert finish_upload(client, data) == "226"
    assert client.reply().code == "421"  # then the session ends
    assert client.closed_by_server()
    server.wait_closed()
    assert (tmp_path / "kept.bin").read_bytes() == PART * 2
    assert leftovers(tmp_path) == []


def test_close_with_grace_lets_a_running_download_finish(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    content = os.urandom(8 * 1024 * 1024)
    (tmp_path / "big.bin").write_bytes(content)
    server = make_server(shutdown_grace=TIMEOUT)
    client = RawClient(server.host, server.port)
    client.welcome()
    client.login()
    data = client.data_socket()
    assert client.command("RETR big.bin").code == "150"

    server.close()  # the client has not read a byte yet
    wait_for(lambda: refuses_connections(server.host, server.port), what="listener closed")
    received = bytearray()
    while chunk := data.recv(1 << 20):
        received += chunk
    data.close()
    assert client.reply().code == "226"
    assert bytes(received) == content
    assert client.reply().code == "421"
    server.wait_closed()


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_upload_running_past_the_grace_time_is_aborted_and_discarded(
    make_server: Callable[..., ThreadedServer], tmp_path: Path, backend: str
) -> None:
    server = make_server(path_io_factory=backend, shutdown_grace=0.5)
    client, data = start_upload(server.host, server.port, "cut.bin")
    server.close()
    assert client.reply().code == "426"  # after the grace time
    with pytest.raises(Closed):
        while True:  # a 421 may follow; then the connection closes
            assert client.reply().code == "421"
    data.close()
    if backend == "local":
        server.wait_closed()
        assert not (tmp_path / "cut.bin").exists()
        assert leftovers(tmp_path) == []
    else:
        path_io = server.server.backend_class(state=server.server._backend_state)
        assert not server.call(lambda: path_io.exists(PurePosixPath("/cut.bin")))
        server.wait_closed()


def test_close_without_grace_aborts_transfers_at_once(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server()  # shutdown_grace defaults to 0, as aioftp closes
    client, data = start_upload(server.host, server.port, "now.bin")
    server.close()
    assert client.reply().code == "426"
    data.close()
    server.wait_closed()
    assert not (tmp_path / "now.bin").exists()
    assert leftovers(tmp_path) == []


def test_close_can_shorten_the_grace_time(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server(shutdown_grace=60)
    client, data = start_upload(server.host, server.port, "short.bin")
    server.close()
    server.close(grace=0)
    assert client.reply().code == "426"
    data.close()
    server.wait_closed()
    assert not (tmp_path / "short.bin").exists()


def test_wait_closed_returns_within_the_grace_time(
    make_server: Callable[..., ThreadedServer],
) -> None:
    server = make_server(shutdown_grace=1.0)
    client, data = start_upload(server.host, server.port, "held.bin")

    async def close_and_time() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await server.server.close()
        return loop.time() - started

    took = server.call(close_and_time, timeout=30)
    assert 0.9 <= took < 1.0 + TIMEOUT
    assert client.reply().code == "426"
    data.close()


# --- SIGTERM on the command line server ---------------------------------------------------


def test_sigterm_lets_a_running_upload_finish_then_exits_0(
    cli_server: Callable[..., CliServer], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    server = cli_server("--root", str(root), "--write", "--shutdown-grace", "20")
    client, data = start_upload(server.host, server.port, "done.bin")
    server.signal(signal.SIGTERM)
    wait_for(lambda: refuses_connections(server.host, server.port), what="listener closed")
    assert finish_upload(client, data) == "226"
    assert server.wait(TIMEOUT) == 0
    assert (root / "done.bin").read_bytes() == PART * 2
    assert leftovers(root) == []


def test_sigterm_aborts_an_upload_still_running_after_the_grace_time(
    cli_server: Callable[..., CliServer], tmp_path: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    server = cli_server("--root", str(root), "--write", "--shutdown-grace", "0.5")
    client, data = start_upload(server.host, server.port, "cut.bin")
    server.signal(signal.SIGTERM)
    assert client.reply().code == "426"
    data.close()
    assert server.wait(TIMEOUT) == 0
    assert not (root / "cut.bin").exists()
    assert leftovers(root) == []


def test_second_sigterm_stops_at_once(cli_server: Callable[..., CliServer], tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    server = cli_server("--root", str(root), "--write", "--shutdown-grace", "600")
    client, data = start_upload(server.host, server.port, "twice.bin")
    server.signal(signal.SIGTERM)
    wait_for(lambda: refuses_connections(server.host, server.port), what="listener closed")
    server.signal(signal.SIGTERM)
    assert client.reply().code == "426"
    data.close()
    assert server.wait(TIMEOUT) == 0
    assert not (root / "twice.bin").exists()

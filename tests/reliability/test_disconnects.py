"""Clients that disappear at every phase of a session.

Each test cuts a connection at one moment (before the welcome, mid-line, during login,
mid-upload, mid-download, in a TLS handshake), then checks that the session was cleaned
up (no session left, no descriptor leaked), that no upload is left truncated under its
name, and that the server serves the next client.
"""

from __future__ import annotations

import os
import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

import pytest

import anyftp
from anyftp.server.uploads import TEMPORARY_SUFFIX

from .harness import ThreadedServer, wait_for
from .raw import RawClient, reset

MiB = 1024 * 1024


def process_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.fixture
def fd_guard() -> Iterator[Callable[[], None]]:
    """Call the yielded function once every connection is gone: descriptors must be back
    to where they were when the test's server had started."""
    if not Path("/proc/self/fd").exists():
        pytest.skip("needs /proc")
    state: dict[str, int] = {}

    def mark() -> None:
        state["baseline"] = process_fds()

    yield mark
    if "baseline" in state:
        wait_for(lambda: process_fds() <= state["baseline"], what="descriptors released")


def served_afterwards(server: ThreadedServer) -> None:
    server.wait_no_sessions()
    wait_for(lambda: server.call(lambda: len(server.server._tasks)) == 0, what="session tasks")
    with RawClient(server.host, server.port) as client:
        assert client.welcome().code == "220"
        client.login()
        assert client.command("NOOP").code == "200"
    server.wait_no_sessions()


def logged_in(server: ThreadedServer, **kwargs: object) -> RawClient:
    client = RawClient(server.host, server.port, **kwargs)  # type: ignore[arg-type]
    assert client.welcome().code == "220"
    client.login()
    return client


def client_hello() -> bytes:
    """The first flight of a real TLS client (a ClientHello)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def temporary_files(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(TEMPORARY_SUFFIX)]


# --- before and during login -----------------------------------------------------------------


def test_disconnect_before_reading_the_welcome(
    make_server: Callable[..., ThreadedServer], fd_guard: Callable[[], None]
) -> None:
    server = make_server()
    fd_guard()
    for _ in range(20):
        socket.create_connection((server.host, server.port)).close()
    served_afterwards(server)


def test_reset_right_after_the_welcome(
    make_server: Callable[..., ThreadedServer], fd_guard: Callable[[], None]
) -> None:
    server = make_server()
    fd_guard()
    for _ in range(20):
        client = RawClient(server.host, server.port)
        client.welcome()
        client.abort_connection()
    served_afterwards(server)


def test_disconnect_mid_command_line_runs_nothing(
    make_server: Callable[..., ThreadedServer], tmp_path: Path, fd_guard: Callable[[], None]
) -> None:
    server = make_server()
    fd_guard()
    client = logged_in(server)
    client.send_raw(b"MKD half")  # no line end
    client.close()
    served_afterwards(server)
    assert list(tmp_path.iterdir()) == []


def test_disconnect_while_a_failed_login_is_delayed(
    make_server: Callable[..., ThreadedServer], tmp_path: Path, fd_guard: Callable[[], None]
) -> None:
    server = make_server(
        users=[anyftp.User("alice", "secret", base_path=tmp_path)], login_failure_delay=0.3
    )
    fd_guard()
    client = RawClient(server.host, server.port)
    client.welcome()
    client.send_raw(b"USER alice\r\nPASS wrong\r\n")
    client.abort_connection()
    served_login = RawClient(server.host, server.port)
    served_login.welcome()
    served_login.login("alice", "secret")
    served_login.close()
    server.wait_no_sessions()


# --- uploads -----------------------------------------------------------------------------------


def start_upload(server: ThreadedServer, name: str) -> tuple[RawClient, socket.socket]:
    client = logged_in(server)
    data = client.data_socket()
    assert client.command(f"STOR {name}").code == "150"
    data.sendall(os.urandom(MiB))
    return client, data


def upload_is_gone(server: ThreadedServer, tmp_path: Path, backend: str, name: str) -> None:
    if backend == "local":
        assert not (tmp_path / name).exists()
        assert temporary_files(tmp_path) == []
    else:
        path_io = server.server.backend_class(state=server.server._backend_state)
        assert not server.call(lambda: path_io.exists(PurePosixPath("/") / name))


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_client_vanishing_mid_upload_leaves_no_file(
    make_server: Callable[..., ThreadedServer],
    tmp_path: Path,
    fd_guard: Callable[[], None],
    backend: str,
) -> None:
    server = make_server(path_io_factory=backend)
    fd_guard()
    client, data = start_upload(server, "cut.bin")
    reset(data)
    client.abort_connection()
    served_afterwards(server)
    upload_is_gone(server, tmp_path, backend, "cut.bin")


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_data_connection_reset_mid_upload_is_426_and_the_session_goes_on(
    make_server: Callable[..., ThreadedServer],
    tmp_path: Path,
    fd_guard: Callable[[], None],
    backend: str,
) -> None:
    server = make_server(path_io_factory=backend)
    fd_guard()
    client, data = start_upload(server, "cut.bin")
    reset(data)
    assert client.reply().code == "426"
    assert client.command("SIZE cut.bin").code == "550"
    assert client.command("NOOP").code == "200"
    client.close()
    served_afterwards(server)
    upload_is_gone(server, tmp_path, backend, "cut.bin")


def test_control_connection_closed_mid_upload_aborts_it(
    make_server: Callable[..., ThreadedServer], tmp_path: Path, fd_guard: Callable[[], None]
) -> None:
    server = make_server()
    fd_guard()
    client, data = start_upload(server, "orphan.bin")
    client.close()  # the data connection stays open: the session's end must abort it
    server.wait_no_sessions()
    with pytest.raises(OSError):
        for _ in range(64):
            data.sendall(b"x" * MiB)
    data.close()
    served_afterwards(server)
    assert not (tmp_path / "orphan.bin").exists()
    assert temporary_files(tmp_path) == []


# --- downloads ---------------------------------------------------------------------------------


@pytest.fixture
def big_file(tmp_path: Path) -> bytes:
    content = os.urandom(32 * MiB)
    (tmp_path / "big.bin").write_bytes(content)
    return content


def test_data_connection_closed_mid_download_is_426_and_the_session_goes_on(
    make_server: Callable[..., ThreadedServer], big_file: bytes, fd_guard: Callable[[], None]
) -> None:
    server = make_server()
    fd_guard()
    client = logged_in(server)
    data = client.data_socket()
    assert client.command("RETR big.bin").code == "150"
    assert data.recv(65536)
    reset(data)
    assert client.reply().code == "426"
    assert client.command("NOOP").code == "200"
    client.close()
    served_afterwards(server)


def test_control_reset_mid_download_ends_the_transfer(
    make_server: Callable[..., ThreadedServer], big_file: bytes, fd_guard: Callable[[], None]
) -> None:
    server = make_server()
    fd_guard()
    client = logged_in(server)
    data = client.data_socket()
    assert client.command("RETR big.bin").code == "150"
    client.abort_connection()  # data stays open and unread
    server.wait_no_sessions()
    received = 0
    with pytest.raises(OSError):  # the server dropped it: EOF is not reached cleanly
        while chunk := data.recv(MiB):
            received += len(chunk)
        raise ConnectionError("data connection ended")
    assert received < len(big_file)
    data.close()
    served_afterwards(server)


def test_client_that_never_opens_the_data_connection_gets_425(
    make_server: Callable[..., ThreadedServer], big_file: bytes, fd_guard: Callable[[], None]
) -> None:
    server = make_server(wait_future_timeout=0.5)
    fd_guard()
    client = logged_in(server)
    client.epsv()
    assert client.command("RETR big.bin").code == "150"
    assert client.reply().code == "425"
    assert client.command("NOOP").code == "200"
    client.close()
    served_afterwards(server)


def test_disconnect_while_a_transfer_waits_for_its_data_connection(
    make_server: Callable[..., ThreadedServer], big_file: bytes, fd_guard: Callable[[], None]
) -> None:
    server = make_server(wait_future_timeout=30)
    fd_guard()
    client = logged_in(server)
    client.epsv()
    assert client.command("RETR big.bin").code == "150"
    client.close()
    served_afterwards(server)  # well before the 30 s wait would have ended


# --- TLS handshakes cut short -------------------------------------------------------------------


def test_disconnect_during_implicit_tls_handshake(
    make_server: Callable[..., ThreadedServer],
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
    fd_guard: Callable[[], None],
) -> None:
    server = make_server(ssl=server_tls)
    fd_guard()
    hello = client_hello()
    for cut in (1, len(hello) // 2, len(hello)):
        sock = socket.create_connection((server.host, server.port))
        sock.sendall(hello[:cut])
        reset(sock)
    with logged_in(server, tls=client_tls) as client:
        assert client.command("NOOP").code == "200"
    server.wait_no_sessions()


def test_disconnect_during_auth_tls_handshake(
    make_server: Callable[..., ThreadedServer],
    server_tls: ssl.SSLContext,
    fd_guard: Callable[[], None],
) -> None:
    server = make_server(auth_tls=server_tls)
    fd_guard()
    client = RawClient(server.host, server.port)
    client.welcome()
    assert client.command("AUTH TLS").code == "234"
    client.send_raw(client_hello()[:40])
    client.abort_connection()
    served_afterwards(server)


def test_disconnect_during_data_tls_handshake_is_425(
    make_server: Callable[..., ThreadedServer],
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
    big_file: bytes,
    fd_guard: Callable[[], None],
) -> None:
    server = make_server(auth_tls=server_tls)
    fd_guard()
    client = RawClient(server.host, server.port)
    client.welcome()
    assert client.command("AUTH TLS").code == "234"
    client.sock = client_tls.wrap_socket(client.sock, server_hostname=server.host)
    client.login()
    assert client.command("PBSZ 0").code == "200"
    assert client.command("PROT P").code == "200"
    data = client.data_socket()
    assert client.command("RETR big.bin").code == "150"
    data.sendall(client_hello()[:60])
    reset(data)
    assert client.reply().code == "425"
    assert client.command("NOOP").code == "200"
    client.close()
    server.wait_no_sessions()

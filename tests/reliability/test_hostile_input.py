"""Hostile clients on the control connection: injected line breaks, overlong lines, slow
senders, clients that never read, TLS handshakes that never finish. Each case asserts the
server's exact answer, that the server goes on serving others, and (for the ones that
could exhaust it) that its memory stays bounded."""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from .harness import TIMEOUT, CliServer, ThreadedServer, wait_for
from .raw import RawClient

MiB = 1024 * 1024


def logged_in(server: ThreadedServer | CliServer) -> RawClient:
    client = RawClient(server.host, server.port)
    assert client.welcome().code == "220"
    client.login()
    return client


def another_client_works(server: ThreadedServer | CliServer) -> None:
    with logged_in(server) as client:
        assert client.command("NOOP").code == "200"


# --- line breaks and NUL inside arguments --------------------------------------------------


def test_cr_inside_an_argument_is_refused_with_500(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server()
    with logged_in(server) as client:
        client.send_raw(b"MKD a\rDELE victim\r\n")
        assert client.reply().code == "500"
        assert client.command("NOOP").code == "200"
    assert list(tmp_path.iterdir()) == []


def test_nul_inside_an_argument_is_refused_with_500(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server()
    with logged_in(server) as client:
        client.send_raw(b"MKD a\x00b\r\n")
        assert client.reply().code == "500"
        assert client.command("NOOP").code == "200"
    assert list(tmp_path.iterdir()) == []


def test_bare_lf_ends_a_command_line(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    # LF is a line end (as in most servers); what follows it is a command of its own,
    # checked and answered as such, never part of the first command's argument.
    server = make_server()
    with logged_in(server) as client:
        client.send_raw(b"MKD one\nMKD two\r\n")
        assert client.reply().code == "257"
        assert client.reply().code == "257"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]


def test_stored_names_with_line_breaks_can_not_forge_replies(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    (tmp_path / "x\n226 forged").write_bytes(b"")
    (tmp_path / "y\r\n227 forged").write_bytes(b"")
    server = make_server()
    with logged_in(server) as client:
        reply = client.command("STAT /")
        assert reply.code == "213"
        assert not any(line.startswith(("226", "227")) for line in reply.lines)
        assert any("x?226 forged" in line for line in reply.lines)
        assert client.command("NOOP").code == "200"
        data = client.data_socket()
        assert client.command("NLST").code == "150"
        names = recv_all(data).split(b"\r\n")
        assert client.reply().code == "226"
    assert sorted(n for n in names if n) == [b"x?226 forged", b"y??227 forged"]


def recv_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


# --- overlong lines ---------------------------------------------------------------------------


def test_overlong_line_without_end_is_refused_with_500_and_closed(
    make_server: Callable[..., ThreadedServer],
) -> None:
    server = make_server(max_line_length=4096)
    with logged_in(server) as client:
        client.send_raw(b"NOOP " + b"x" * 100_000)  # no line end: the server must not wait
        reply = client.reply()
        assert reply.code == "500"
        assert client.closed_by_server()
    another_client_works(server)
    server.wait_no_sessions()


def test_line_at_the_limit_is_accepted(make_server: Callable[..., ThreadedServer]) -> None:
    server = make_server(max_line_length=4096)
    with logged_in(server) as client:
        line = "SIZE " + "a/" * 2045 + "a"
        assert len(line) == 4096
        # Taken as a command (not 500): the path is too long for the disk (PATH_MAX).
        assert client.command(line).code == "553"
        assert client.command("NOOP").code == "200"


def test_name_too_long_for_the_storage_is_553(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server()
    with logged_in(server) as client:
        assert client.command("MKD " + "n" * 5000).code == "553"  # ENAMETOOLONG
        assert client.command("SIZE " + "d" * 300).code == "553"
        assert client.command("NOOP").code == "200"
    assert list(tmp_path.iterdir()) == []


def test_flood_of_pipelined_commands_is_answered_in_order(
    make_server: Callable[..., ThreadedServer],
) -> None:
    server = make_server()
    with logged_in(server) as client:
        client.send_raw(b"NOOP\r\n" * 2000 + b"PWD\r\n")
        codes = [client.reply().code for _ in range(2001)]
        assert codes == ["200"] * 2000 + ["257"]


# --- slow senders --------------------------------------------------------------------------


def test_slow_sender_is_cut_by_the_idle_timeout(
    make_server: Callable[..., ThreadedServer],
) -> None:
    # The idle time bounds how long a whole command line may take, so a client sending a
    # byte now and then (slowloris) can not hold a session; 0.4 s per byte here.
    server = make_server(idle_timeout=1.0)
    with logged_in(server) as client:
        started = time.monotonic()
        reply = None
        for byte in b"NOOP\r\n":
            try:
                client.send_raw(bytes([byte]))
            except OSError:
                break
            client.sock.settimeout(0.4)
            try:
                reply = client.reply()
                break
            except TimeoutError:
                continue
        client.sock.settimeout(TIMEOUT)
        if reply is None:
            reply = client.reply()
        assert reply.code == "421"
        assert time.monotonic() - started < 1.0 + TIMEOUT / 2
        assert client.closed_by_server()
    another_client_works(server)


def test_slow_upload_does_not_hold_up_other_sessions(
    make_server: Callable[..., ThreadedServer], tmp_path: Path
) -> None:
    server = make_server()
    with logged_in(server) as slow:
        data = slow.data_socket()
        assert slow.command("STOR slow.bin").code == "150"
        data.sendall(b"s")
        with logged_in(server) as other:  # meanwhile, another session uploads and lists
            other_data = other.data_socket()
            assert other.command("STOR fast.bin").code == "150"
            other_data.sendall(b"f" * MiB)
            other_data.close()
            assert other.reply().code == "226"
        data.sendall(b"s")
        data.close()
        assert slow.reply().code == "226"
    assert (tmp_path / "fast.bin").stat().st_size == MiB
    assert (tmp_path / "slow.bin").read_bytes() == b"ss"


# --- clients that never read ------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_download_to_a_client_that_never_reads_keeps_server_memory_bounded(
    cli_server: Callable[..., CliServer], tmp_path: Path, backend: str
) -> None:
    size = 64 * MiB
    root = tmp_path / "root"
    root.mkdir()
    server = cli_server(
        "--backend",
        backend,
        "--root",
        str(root) if backend == "local" else "/",
        "--write",
        "--socket-timeout",
        "2",
    )
    with logged_in(server) as uploader:
        data = uploader.data_socket()
        assert uploader.command("STOR big.bin").code == "150"
        block = os.urandom(MiB)
        for _ in range(size // MiB):
            data.sendall(block)
        data.close()
        assert uploader.reply().code == "226"
    baseline = server.rss()

    with logged_in(server) as stalled:
        stalled_data = socket.socket()
        stalled_data.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled_data.connect((server.host, stalled.epsv()))
        assert stalled.command("RETR big.bin").code == "150"
        # Another session downloads meanwhile and is not held up.
        with logged_in(server) as other:
            other_data = other.data_socket()
            assert other.command("RETR big.bin").code == "150"
            received = 0
            while chunk := other_data.recv(MiB):
                received += len(chunk)
            other_data.close()
            assert other.reply().code == "226"
            assert received == size
        peak = server.rss()
        # The stalled transfer is cut after the socket timeout, without a 226.
        assert stalled.reply().code == "426"
        stalled_data.close()
    assert peak - baseline < 16 * MiB, (baseline, peak)


def test_client_that_never_reads_replies_is_disconnected_with_bounded_memory(
    cli_server: Callable[..., CliServer], tmp_path: Path
) -> None:
    server = cli_server("--root", str(tmp_path), "--socket-timeout", "1")
    descriptors = server.fds()
    client = logged_in(server)
    baseline = server.rss()
    client.sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + TIMEOUT
    payload = b"HELP\r\n" * 1000  # each HELP answers several hundred bytes
    while time.monotonic() < deadline:
        try:
            sent += client.sock.send(payload)
        except BlockingIOError:
            break  # the server stopped reading: its reply buffer is full
    assert sent > 0
    peak = server.rss()
    # Within its socket timeout (and the bounded close after it), the server drops the
    # connection although the client still has not read anything.
    wait_for(lambda: server.fds() == descriptors, timeout=TIMEOUT, what="the connection dropped")
    assert peak - baseline < 16 * MiB, (baseline, peak)
    another_client_works(server)
    client.close()


# --- TLS handshakes that never finish -------------------------------------------------------


def test_implicit_tls_handshake_that_never_starts_is_dropped(
    make_server: Callable[..., ThreadedServer],
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
) -> None:
    server = make_server(ssl=server_tls, socket_timeout=1.0)
    silent = socket.create_connection((server.host, server.port), timeout=TIMEOUT)
    started = time.monotonic()
    with RawClient(server.host, server.port, tls=client_tls) as other:  # served meanwhile
        assert other.welcome().code == "220"
        other.login()
        assert other.command("NOOP").code == "200"
    assert silent.recv(1) == b""  # dropped by the server
    assert time.monotonic() - started < 1.0 + 3
    silent.close()


def test_auth_tls_handshake_that_never_starts_is_dropped(
    make_server: Callable[..., ThreadedServer],
    server_tls: ssl.SSLContext,
) -> None:
    server = make_server(auth_tls=server_tls, socket_timeout=1.0)
    with RawClient(server.host, server.port) as silent:
        silent.welcome()
        assert silent.command("AUTH TLS").code == "234"
        started = time.monotonic()
        another_client_works(server)
        assert silent.closed_by_server()
        assert time.monotonic() - started < 1.0 + 3
    server.wait_no_sessions()


def test_data_tls_handshake_that_never_starts_fails_the_transfer_with_425(
    make_server: Callable[..., ThreadedServer],
    server_tls: ssl.SSLContext,
    client_tls: ssl.SSLContext,
    tmp_path: Path,
) -> None:
    (tmp_path / "f.bin").write_bytes(b"data")
    server = make_server(auth_tls=server_tls, socket_timeout=1.0)
    with RawClient(server.host, server.port) as client:
        client.welcome()
        assert client.command("AUTH TLS").code == "234"
        client.sock = client_tls.wrap_socket(client.sock, server_hostname=server.host)
        client.login()
        assert client.command("PBSZ 0").code == "200"
        assert client.command("PROT P").code == "200"
        data = client.data_socket()  # connected, never starts TLS
        assert client.command("RETR f.bin").code == "150"
        assert client.reply().code == "425"
        assert client.command("NOOP").code == "200"
        data.close()

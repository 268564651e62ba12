"""FTPS: explicit (AUTH TLS, PBSZ, PROT) and implicit TLS, TLS policies, session reuse on
data connections, and uploads that are only 226 when they arrived whole."""

from __future__ import annotations

import ftplib
import gc
import hashlib
import io
import os
import socket
import ssl
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import anyftp
from anyftp.server.datachannel import DataChannel

from .conftest import TIMEOUT, ServerThread, base_for
from .rawftp import RawControl

pytestmark = pytest.mark.timeout(60)


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS that resumes the control connection's TLS session on data connections."""

    def ntransfercmd(self, cmd: str, rest: Any = None) -> tuple[socket.socket, int | None]:
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:  # type: ignore[attr-defined]
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.sock.session
            )  # type: ignore[union-attr]
        return conn, size


class ImplicitFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS for implicit FTPS: TLS from the first byte."""

    def connect(
        self, host: str = "", port: int = 0, timeout: float = -999, source_address: Any = None
    ) -> str:
        self.host, self.port, self.timeout = host, port, timeout
        raw = socket.create_connection((host, port), timeout)
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def tls_server(
    make_server: Callable[..., ServerThread],
    backend: str,
    tmp_path: Path,
    server_tls_context: ssl.SSLContext,
) -> ServerThread:
    return make_server(
        users=[anyftp.User(base_path=base_for(backend, tmp_path))],
        path_io_factory=backend,
        auth_tls=server_tls_context,
    )


def ftps(
    server: ServerThread, context: ssl.SSLContext, cls: type = ftplib.FTP_TLS
) -> ftplib.FTP_TLS:
    client: ftplib.FTP_TLS = cls(context=context)
    client.connect(server.host, server.port, timeout=TIMEOUT)
    return client


def test_explicit_tls_round_trip(
    tls_server: ServerThread, client_tls_context: ssl.SSLContext
) -> None:
    ftp = ftps(tls_server, client_tls_context)
    features = ftp.sendcmd("FEAT")
    for feature in ("AUTH TLS", "PBSZ", "PROT"):
        assert f" {feature}\n" in features + "\n"
    assert ftp.auth().startswith("234")
    ftp.login()
    assert ftp.prot_p().startswith("200")
    data = os.urandom(2 * 1024 * 1024 + 3)
    assert ftp.storbinary("STOR s.bin", io.BytesIO(data)).startswith("226")
    out = io.BytesIO()
    ftp.retrbinary("RETR s.bin", out.write)
    assert sha256(out.getvalue()) == sha256(data)
    assert ftp.nlst() == ["s.bin"]
    assert dict(ftp.mlsd())["s.bin"]["size"] == str(len(data))
    assert "protected by TLS" in ftp.sendcmd("STAT")
    assert ftp.prot_c().startswith("200")
    out = io.BytesIO()
    ftp.retrbinary("RETR s.bin", out.write)
    assert out.getvalue() == data
    ftp.quit()


def test_auth_variants_and_ccc(
    tls_server: ServerThread, client_tls_context: ssl.SSLContext
) -> None:
    with RawControl(tls_server.host, tls_server.port) as control:
        assert control.reply().code == "220"
        assert control.command("AUTH KERBEROS").code == "504"
        assert control.command("PBSZ 0").code == "503"
        assert control.command("AUTH TLS").code == "234"
        control.sock = client_tls_context.wrap_socket(control.sock, server_hostname=tls_server.host)
        assert control.command("AUTH TLS").code == "503"
        assert control.command("PROT P").code == "503"  # PBSZ first
        assert control.command("PBSZ 0").text == "PBSZ=0"
        assert control.command("PROT S").code == "536"
        assert control.command("PROT Z").code == "504"
        control.login()
        assert control.command("CCC").code == "534"
        assert control.command("NOOP").code == "200"


def test_implicit_tls(
    make_server: Callable[..., ServerThread],
    tmp_path: Path,
    server_tls_context: ssl.SSLContext,
    client_tls_context: ssl.SSLContext,
) -> None:
    server = make_server(users=[anyftp.User(base_path=tmp_path)], ssl=server_tls_context)
    ftp = ftps(server, client_tls_context, ImplicitFTP_TLS)
    assert ftp.welcome.startswith("220")
    assert "AUTH TLS" not in ftp.sendcmd("FEAT")
    ftp.login(secure=False)
    ftp._prot_p = True  # type: ignore[attr-defined]  # implicit FTPS protects data by default
    data = os.urandom(100_000)
    ftp.storbinary("STOR i.bin", io.BytesIO(data))
    out = io.BytesIO()
    ftp.retrbinary("RETR i.bin", out.write)
    assert out.getvalue() == data
    assert (tmp_path / "i.bin").read_bytes() == data
    ftp.quit()


def test_require_tls_refuses_clear_login_and_clear_data(
    make_server: Callable[..., ServerThread],
    tmp_path: Path,
    server_tls_context: ssl.SSLContext,
    client_tls_context: ssl.SSLContext,
) -> None:
    (tmp_path / "f").write_bytes(b"payload")
    server = make_server(
        users=[anyftp.User(base_path=tmp_path)],
        auth_tls=server_tls_context,
        require_tls=True,
        require_tls_data=True,
    )
    with RawControl(server.host, server.port) as control:
        assert control.reply().code == "220"
        assert control.command("FEAT").code == "211"
        assert control.command("USER anonymous").code == "530"
        assert control.command("PWD").code == "530"
    ftp = ftps(server, client_tls_context)
    ftp.login()  # does AUTH TLS first
    ftp.sendcmd("PBSZ 0")
    with pytest.raises(ftplib.error_perm, match=r"^534"):
        ftp.sendcmd("PROT C")
    ftp.voidcmd("TYPE I")
    ftp.sendcmd("EPSV")
    with pytest.raises(ftplib.error_perm, match=r"^521"):
        ftp.sendcmd("RETR f")
    ftp.prot_p()
    out = io.BytesIO()
    ftp.retrbinary("RETR f", out.write)
    assert out.getvalue() == b"payload"
    ftp.quit()


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_data_connections_resume_the_control_session(
    make_server: Callable[..., ServerThread],
    tmp_path: Path,
    server_tls_context: ssl.SSLContext,
    client_tls_context: ssl.SSLContext,
    version: ssl.TLSVersion,
) -> None:
    client_tls_context.maximum_version = version
    client_tls_context.minimum_version = version
    (tmp_path / "f").write_bytes(b"resumed")
    server = make_server(
        users=[anyftp.User(base_path=tmp_path)],
        auth_tls=server_tls_context,
        require_tls_session_reuse=True,
    )
    ftp = ftps(server, client_tls_context, ReusingFTP_TLS)
    ftp.login()
    ftp.prot_p()
    for _ in range(3):
        out = io.BytesIO()
        ftp.retrbinary("RETR f", out.write)
        assert out.getvalue() == b"resumed"
    # a client that does not resume is refused when reuse is required
    plain = ftps(server, client_tls_context)
    plain.login()
    plain.prot_p()
    with pytest.raises((ftplib.error_temp, ssl.SSLError, OSError)):
        plain.retrbinary("RETR f", out.write)
    plain.close()
    ftp.quit()


def test_tls13_data_connections_send_no_session_tickets(
    tls_server: ServerThread, client_tls_context: ssl.SSLContext
) -> None:
    client_tls_context.minimum_version = ssl.TLSVersion.TLSv1_3
    ftp = ftps(tls_server, client_tls_context)
    ftp.login()
    ftp.prot_p()
    ftp.storbinary("STOR t", io.BytesIO(b"ticket test"))
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd("RETR t")
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    assert received == b"ticket test"
    data_session = conn.session  # type: ignore[attr-defined]
    conn.close()
    ftp.voidresp()
    ftp.sendcmd("NOOP")
    assert ftp.sock.session.has_ticket  # type: ignore[union-attr]
    assert data_session is None or not data_session.has_ticket
    ftp.quit()


def _stor_then_reset(control: RawControl, context: ssl.SSLContext | None, payload: bytes) -> str:
    host, port = control.pasv()
    raw = socket.create_connection((host, port), timeout=TIMEOUT)
    control.send("STOR cut.bin")
    assert control.reply().code == "150"
    conn: socket.socket = raw
    if context is not None:
        conn = context.wrap_socket(raw, server_hostname=host)
    conn.sendall(payload)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # a reset, not a clean end (and no close_notify)
    return control.reply().code


@pytest.mark.parametrize("use_tls", [False, True])
def test_upload_cut_by_reset_is_never_226(
    tls_server: ServerThread, client_tls_context: ssl.SSLContext, use_tls: bool
) -> None:
    with RawControl(tls_server.host, tls_server.port) as control:
        assert control.reply().code == "220"
        if use_tls:
            assert control.command("AUTH TLS").code == "234"
            control.sock = client_tls_context.wrap_socket(
                control.sock, server_hostname=tls_server.host
            )
            control.command("PBSZ 0")
            control.command("PROT P")
        control.login()
        control.command("TYPE I")
        code = _stor_then_reset(
            control, client_tls_context if use_tls else None, os.urandom(300_000)
        )
        assert code == "426"
        assert control.command("NOOP").code == "200"


def test_tls_upload_ended_without_close_notify_is_complete(
    tls_server: ServerThread, client_tls_context: ssl.SSLContext, backend: str, tmp_path: Path
) -> None:
    ftp = ftps(tls_server, client_tls_context)
    ftp.login()
    ftp.prot_p()
    ftp.voidcmd("TYPE I")
    data = os.urandom(1_000_000)
    conn = ftp.transfercmd("STOR fin.bin")
    conn.sendall(data)
    socket.socket.shutdown(conn, socket.SHUT_WR)  # FIN without TLS close_notify
    assert ftp.voidresp().startswith("226")
    conn.close()
    out = io.BytesIO()
    ftp.retrbinary("RETR fin.bin", out.write)
    assert sha256(out.getvalue()) == sha256(data)
    ftp.quit()


def test_a_data_connection_made_before_prot_p_is_not_used_in_clear(
    tls_server: ServerThread, client_tls_context: ssl.SSLContext
) -> None:
    secret = b"this must not cross the network in clear " * 1000
    ftp = ftps(tls_server, client_tls_context)
    ftp.auth()
    ftp.login()
    ftp.storbinary("STOR secret.bin", io.BytesIO(secret))  # PROT C so far: clear data
    host, port = ftplib.parse227(ftp.sendcmd("PASV"))
    with socket.create_connection((host, port), timeout=TIMEOUT) as early:
        assert ftp.sendcmd("PBSZ 0").startswith("200")
        assert ftp.sendcmd("PROT P").startswith("200")  # by hand: ftplib would not wrap
        assert ftp.sendcmd("RETR secret.bin").startswith("150")
        with pytest.raises(ftplib.error_temp, match=r"^425"):
            ftp.getresp()
        received = b""
        try:
            while chunk := early.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
        assert secret[:64] not in received and received == b""
    ftp.prot_p()  # a new, protected data connection works
    out = io.BytesIO()
    ftp.retrbinary("RETR secret.bin", out.write)
    assert out.getvalue() == secret
    ftp.quit()


def _early_handshake_retr(
    control: RawControl, context: ssl.SSLContext, host: str, active: bool
) -> bytes:
    """RETR on a protected data connection whose client starts TLS at once: its
    ClientHello goes out right behind the RETR, before the 150 has come back."""
    if active:
        with socket.create_server((host, 0)) as listener:
            port = listener.getsockname()[1]
            assert control.command(f"EPRT |1|{host}|{port}|").code == "200"
            control.send("RETR early.bin")
            listener.settimeout(TIMEOUT)
            raw, _ = listener.accept()
    else:
        host, port = control.pasv()
        raw = socket.create_connection((host, port), timeout=TIMEOUT)
        control.send("RETR early.bin")
    with context.wrap_socket(raw, server_hostname=host) as data:  # handshakes now
        assert control.reply().code == "150"
        received = b""
        while chunk := data.recv(65536):
            received += chunk
    assert control.reply().code == "226"
    return received


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("active", [False, True], ids=["passive", "active"])
def test_a_client_hello_sent_before_the_150_is_not_lost(
    make_server: Callable[..., ServerThread],
    tmp_path: Path,
    server_tls_context: ssl.SSLContext,
    client_tls_context: ssl.SSLContext,
    loop: str,
    active: bool,
) -> None:
    # Regression: a data connection read by a plain transport before the server's TLS
    # wrap began swallowed the client's first handshake bytes (uvloop reads a new
    # connection even when its protocol paused it), and the transfer hung until 425.
    payload = os.urandom(200_000)
    (tmp_path / "early.bin").write_bytes(payload)
    server = make_server(auth_tls=server_tls_context, loop=loop)
    with RawControl(server.host, server.port) as control:
        assert control.reply().code == "220"
        assert control.command("AUTH TLS").code == "234"
        control.sock = client_tls_context.wrap_socket(control.sock, server_hostname=server.host)
        control.login()
        assert control.command("PBSZ 0").code == "200"
        assert control.command("PROT P").code == "200"
        assert control.command("TYPE I").code == "200"
        for _ in range(5):
            received = _early_handshake_retr(control, client_tls_context, server.host, active)
            assert received == payload


def _channels_alive() -> int:
    return sum(type(o) is DataChannel for o in gc.get_objects())


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_protected_data_connections_are_freed_without_the_cycle_collector(
    make_server: Callable[..., ServerThread],
    tmp_path: Path,
    server_tls_context: ssl.SSLContext,
    client_tls_context: ssl.SSLContext,
    loop: str,
) -> None:
    # Regression: the TLS protocol keeps the channel's get_buffer/buffer_updated bound
    # methods, the channel its transport: a cycle per data connection, with a 256 KiB
    # TLS buffer and the channel's receive buffers in it. Only the cycle collector
    # freed them, so a busy FTPS server's memory grew by hundreds of MiB between
    # collections (20 sessions: ~400 MiB resident).
    server = make_server(auth_tls=server_tls_context, loop=loop)
    payload = os.urandom(100_000)
    gc.collect()
    before = _channels_alive()
    gc.disable()
    try:
        ftp = ftps(server, client_tls_context)
        ftp.login()
        ftp.prot_p()
        for _ in range(10):
            ftp.storbinary("STOR freed.bin", io.BytesIO(payload))
            out = io.BytesIO()
            ftp.retrbinary("RETR freed.bin", out.write)
            assert out.getvalue() == payload
        ftp.quit()
        # The session ends and its last channel hears connection_lost a moment later;
        # channels caught in a cycle would stay past the deadline (no collector runs).
        deadline = time.monotonic() + TIMEOUT
        while _channels_alive() != before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _channels_alive() == before
    finally:
        gc.enable()

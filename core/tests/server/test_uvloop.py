"""The server on uvloop (the ``speed`` extra): transfers, listings, ABOR and FTPS.

uvloop's transports are not asyncio's classes and it has no ``loop.sendfile``, so the
data path must fall back to copying blocks; everything else must behave the same."""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest

import anyftp

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

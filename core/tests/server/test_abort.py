"""ABOR stops a running transfer promptly: 426 for the transfer, then 226 (RFC 959),
also when sent in-band while the data connection is busy, and as telnet urgent data."""

from __future__ import annotations

import ftplib
import os
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import TIMEOUT, ServerThread
from .rawftp import RawControl

pytestmark = pytest.mark.timeout(60)

BIG = 24 * 1024 * 1024


@pytest.fixture
def big_file(server: ServerThread, backend: str, tmp_path: Path) -> str:
    data = os.urandom(1024 * 1024) * (BIG // (1024 * 1024))
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    ftp.login()
    ftp.storbinary("STOR big.bin", __import__("io").BytesIO(data))
    ftp.quit()
    return "big.bin"


def control_for(server: ServerThread) -> RawControl:
    control = RawControl(server.host, server.port)
    assert control.reply().code == "220"
    control.login()
    assert control.command("TYPE I").code == "200"
    return control


def test_abor_during_retr_gives_426_then_226(server: ServerThread, big_file: str) -> None:
    with control_for(server) as control:
        host, port = control.pasv()
        data = socket.create_connection((host, port), timeout=TIMEOUT)
        control.send(f"RETR {big_file}")
        assert control.reply().code == "150"
        assert data.recv(65536)  # the transfer is running; now stop reading
        started = time.monotonic()
        control.send("ABOR")
        assert control.reply().code == "426"
        assert control.reply().code == "226"
        assert time.monotonic() - started < 5
        received = 0
        try:
            while chunk := data.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
        data.close()
        assert received < BIG
        assert control.command("NOOP").code == "200"
        assert control.command(f"SIZE {big_file}").text == str(BIG)


def test_abor_during_stor_gives_426_then_226_and_drops_upload(
    server: ServerThread, backend: str, tmp_path: Path
) -> None:
    with control_for(server) as control:
        host, port = control.pasv()
        data = socket.create_connection((host, port), timeout=TIMEOUT)
        control.send("STOR partial.bin")
        assert control.reply().code == "150"
        data.sendall(os.urandom(1024 * 1024))
        control.send("ABOR")
        assert control.reply().code == "426"
        assert control.reply().code == "226"
        data.settimeout(TIMEOUT)
        try:
            assert data.recv(10) == b""  # the server closed the data connection
        except ConnectionResetError:
            pass
        data.close()
        assert control.command("NOOP").code == "200"


def test_abor_as_urgent_data_from_ftplib(server: ServerThread, big_file: str) -> None:
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    ftp.login()
    ftp.voidcmd("TYPE I")
    conn = ftp.transfercmd(f"RETR {big_file}")
    assert conn.recv(65536)
    reply = ftp.abort()  # sends ABOR with MSG_OOB
    assert reply.startswith("426")
    assert ftp.getresp().startswith("226")
    conn.close()
    assert ftp.sendcmd("NOOP").startswith("200")
    ftp.quit()


def test_abor_without_transfer_is_226(server: ServerThread) -> None:
    with control_for(server) as control:
        assert control.command("ABOR").code == "226"
        host, port = control.pasv()
        assert control.command("ABOR").code == "226"  # also closes the listener
        with pytest.raises(OSError):
            socket.create_connection((host, port), timeout=TIMEOUT).recv(1)
        assert control.command("NOOP").code == "200"


def test_stat_and_noop_answer_during_transfer(server: ServerThread, big_file: str) -> None:
    with control_for(server) as control:
        host, port = control.pasv()
        data = socket.create_connection((host, port), timeout=TIMEOUT)
        control.send(f"RETR {big_file}")
        assert control.reply().code == "150"
        assert data.recv(65536)
        assert control.command("NOOP").code == "200"
        status = control.command("STAT")
        assert status.code == "213" and "RETR" in status.text and "bytes" in status.text
        control.send("PWD")  # waits for the transfer to end
        total = 65536
        while chunk := data.recv(1 << 20):
            total += len(chunk)
        data.close()
        replies: list[Any] = [control.reply(), control.reply()]
        assert [r.code for r in replies] == ["226", "257"]

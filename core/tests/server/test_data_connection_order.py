"""A passive data connection may be made before or after the transfer command.

Most clients connect to the PASV/EPSV port first and then send RETR/STOR; RFC 959 lets
them send the command first and connect when the 150 reply arrives. Both must work.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

import anyftp

from .conftest import TIMEOUT, ServerThread
from .rawftp import RawControl

pytestmark = pytest.mark.timeout(60)


def logged_in(server: ServerThread) -> RawControl:
    control = RawControl(server.host, server.port)
    assert control.reply().code == "220"
    control.login()
    return control


@pytest.mark.parametrize("connect_first", [True, False], ids=["connect-first", "command-first"])
def test_upload_and_download_whichever_comes_first(
    make_server: Callable[..., ServerThread], tmp_path: Path, connect_first: bool
) -> None:
    server = make_server(users=[anyftp.User(base_path=tmp_path)])
    payload = bytes(range(256)) * 400
    with logged_in(server) as control:
        host, port = control.pasv()
        data = socket.create_connection((host, port), timeout=TIMEOUT) if connect_first else None
        control.send("STOR order.bin")
        assert control.reply().code == "150"
        if data is None:
            data = socket.create_connection((host, port), timeout=TIMEOUT)
        with data:
            data.sendall(payload)
        assert control.reply().code == "226"
        assert (tmp_path / "order.bin").read_bytes() == payload

        host, port = control.pasv()
        data = socket.create_connection((host, port), timeout=TIMEOUT) if connect_first else None
        control.send("RETR order.bin")
        assert control.reply().code == "150"
        if data is None:
            data = socket.create_connection((host, port), timeout=TIMEOUT)
        received = bytearray()
        with data:
            while chunk := data.recv(65536):
                received += chunk
        assert control.reply().code == "226"
        assert bytes(received) == payload


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_upload_bytes_sent_before_the_stor_are_kept(
    make_server: Callable[..., ServerThread], tmp_path: Path, loop: str
) -> None:
    # The client writes on the data connection before it sends STOR. The server must
    # keep those bytes and not read past its buffers: on uvloop a new connection is read
    # even though the channel paused it when it was made (that once filled the buffers
    # and broke the transport: "empty buffer in get_buffer()").
    server = make_server(users=[anyftp.User(base_path=tmp_path)], loop=loop)
    payload = bytes(range(256)) * 8192  # 2 MiB: more than the channel's two buffers
    with logged_in(server) as control:
        control.command("TYPE I")
        host, port = control.pasv()
        with socket.create_connection((host, port), timeout=TIMEOUT) as data:
            data.setblocking(False)
            early = 0
            try:
                while early < len(payload):  # until the kernel buffers are full
                    early += data.send(payload[early:])
            except BlockingIOError:
                pass
            data.setblocking(True)
            data.settimeout(TIMEOUT)
            control.send("STOR early.bin")
            assert control.reply().code == "150"
            data.sendall(payload[early:])
        assert control.reply().code == "226"
    assert (tmp_path / "early.bin").read_bytes() == payload

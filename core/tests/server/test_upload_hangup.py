"""A client that hangs up the control connection before its upload is confirmed publishes
nothing: in stream mode the data EOF that follows can not be told from a cut upload."""

from __future__ import annotations

import ftplib
import time

from .conftest import TIMEOUT, ServerThread


def wait_until_no_sessions(server: ServerThread) -> None:
    deadline = time.monotonic() + TIMEOUT
    while server.call(lambda: len(server.server.sessions)):
        assert time.monotonic() < deadline, "the session did not end"
        time.sleep(0.01)


def listing(server: ServerThread) -> list[str]:
    with ftplib.FTP() as other:
        other.connect(server.host, server.port, timeout=TIMEOUT)
        other.login()
        return other.nlst()


def test_upload_whose_client_hung_up_first_is_not_published(server: ServerThread) -> None:
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    client.login()
    client.voidcmd("TYPE I")
    data = client.transfercmd("STOR target.bin")
    data.sendall(b"x" * (1024 * 1024))
    client.file.close()  # ftplib's reader keeps the socket open: release it
    client.sock.close()  # control FIN first ...
    data.close()  # ... then the data FIN, which alone would look like a whole file
    wait_until_no_sessions(server)
    assert listing(server) == []


def test_upload_whose_client_stays_is_published(server: ServerThread) -> None:
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    client.login()
    client.voidcmd("TYPE I")
    data = client.transfercmd("STOR target.bin")
    data.sendall(b"x" * (1024 * 1024))
    data.close()
    assert client.voidresp().startswith("226")
    client.quit()
    assert listing(server) == ["target.bin"]

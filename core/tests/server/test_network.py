"""Networking: IPv6 (EPSV/EPRT over ::1), passive port range, masquerade address, no FTP
bounce (PORT/EPRT only to the control peer), data connections only from the peer."""

from __future__ import annotations

import ftplib
import io
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

import anyftp
from anyftp.protocol.addresses import parse_pasv

from .conftest import TIMEOUT, ServerThread, needs_ipv6
from .rawftp import RawControl

pytestmark = pytest.mark.timeout(60)


@needs_ipv6
def test_ipv6_epsv_and_eprt(make_server: Callable[..., ServerThread], tmp_path: Path) -> None:
    server = make_server(users=[anyftp.User(base_path=tmp_path)], host="::1")
    ftp = ftplib.FTP()
    ftp.connect("::1", server.port, timeout=TIMEOUT)
    ftp.login()
    data = b"over ipv6" * 1000
    ftp.storbinary("STOR v6.bin", io.BytesIO(data))  # ftplib uses EPSV on IPv6
    out = io.BytesIO()
    ftp.retrbinary("RETR v6.bin", out.write)
    assert out.getvalue() == data
    with pytest.raises(ftplib.error_perm, match=r"^501"):
        ftp.sendcmd("PASV")
    with pytest.raises(ftplib.error_perm, match=r"^522"):
        ftp.sendcmd("EPSV 1")
    assert ftp.sendcmd("EPSV 2").startswith("229")
    ftp.sendcmd("ABOR")
    ftp.set_pasv(False)  # EPRT |2|::1|port|
    out = io.BytesIO()
    ftp.retrbinary("RETR v6.bin", out.write)
    assert out.getvalue() == data
    with pytest.raises(ftplib.error_perm, match=r"^522"):
        ftp.sendcmd("EPRT |1|127.0.0.1|5000|")
    ftp.quit()


def test_passive_ports_come_from_the_range(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    base = probe.getsockname()[1]
    probe.close()
    ports = range(base, base + 3)
    server = make_server(data_ports=ports)
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    ftp.login()
    seen = set()
    for _ in range(6):
        reply = ftp.sendcmd("PASV")
        seen.add(parse_pasv(reply)[1])
        ftp.sendcmd("ABOR")
    assert seen and seen <= set(ports)
    ftp.storbinary("STOR r", io.BytesIO(b"range"))
    ftp.quit()


def test_exhausted_port_range_is_425(make_server: Callable[..., ServerThread]) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    taken = holder.getsockname()[1]
    server = make_server(data_ports=[taken])
    with RawControl(server.host, server.port) as control:
        control.reply()
        control.login()
        assert control.command("PASV").code == "425"
        assert control.command("NOOP").code == "200"
    holder.close()


def test_masquerade_address_in_pasv(make_server: Callable[..., ServerThread]) -> None:
    server = make_server(masquerade_address="203.0.113.7")
    with RawControl(server.host, server.port) as control:
        control.reply()
        control.login()
        reply = control.command("PASV")
        assert parse_pasv(reply.text)[0] == "203.0.113.7"


@pytest.mark.parametrize(
    "command",
    [
        "PORT 10,0,0,1,200,10",
        "EPRT |1|10.0.0.1|51210|",
        "PORT 127,0,0,1,0,21",
        "EPRT |1|127.0.0.1|80|",
    ],
)
def test_no_ftp_bounce(server: ServerThread, command: str) -> None:
    with RawControl(server.host, server.port) as control:
        control.reply()
        control.login()
        assert control.command(command).code == "501"


def test_data_connection_from_another_address_is_refused(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(host="0.0.0.0", wait_future_timeout=1)
    (tmp_path / "f").write_bytes(b"data")
    with RawControl("127.0.0.1", server.port) as control:
        control.reply()
        control.login()
        reply = control.command("EPSV")
        port = int(reply.text.split("|||")[1].split("|")[0])
        # the control connection comes from 127.0.0.1; come from 127.0.0.2 for data
        intruder = socket.socket()
        intruder.bind(("127.0.0.2", 0))
        intruder.settimeout(TIMEOUT)
        intruder.connect(("127.0.0.1", port))
        control.send("RETR f")
        assert control.reply().code == "150"
        try:
            assert intruder.recv(10) == b""  # dropped, nothing sent
        except ConnectionResetError:
            pass
        intruder.close()
        assert control.reply().code == "425"
        assert control.command("NOOP").code == "200"


def test_passive_ports_are_picked_at_random_in_the_os_range_and_fall_back_to_the_os(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Binding port 0 with SO_REUSEADDR is slow once many earlier passive ports sit in
    # TIME_WAIT, so the server picks the port itself; a taken port is skipped, and when
    # every try is taken the OS chooses.
    from anyftp.server import dataconn

    low, high = dataconn._PORT_RANGE
    sockets = [dataconn.PortPool().bind("127.0.0.1") for _ in range(20)]
    try:
        ports = {sock.getsockname()[1] for sock in sockets}
        assert len(ports) == 20 and all(low <= port <= high for port in ports)
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR) for s in sockets)
        taken = sockets[0].getsockname()[1]
        monkeypatch.setattr(dataconn, "_PORT_RANGE", (taken, taken))
        fallback = dataconn.PortPool().bind("127.0.0.1")
        with fallback:
            assert fallback.getsockname()[1] not in (0, taken)
    finally:
        for sock in sockets:
            sock.close()

"""Bad input gets a reply, never a crash or a hang; the session stays usable."""

from __future__ import annotations

import asyncio
import errno
import ftplib
import io
import random
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

import pytest

import anyftp
from anyftp_local.pathio import PathIO

from .conftest import TIMEOUT, ServerThread
from .rawftp import RawControl

pytestmark = pytest.mark.timeout(60)


def connect(server: ServerThread) -> RawControl:
    control = RawControl(server.host, server.port)
    assert control.reply().code == "220"
    return control


@pytest.mark.parametrize(
    "line, code",
    [
        ("FOO", "500"),
        ("XYZZY bar", "500"),
        ("ACCT x", "502"),
        ("REIN", "502"),
        ("SMNT /", "502"),
        ("", "500"),
        ("   ", "500"),
    ],
)
def test_unknown_or_unimplemented_commands(server: ServerThread, line: str, code: str) -> None:
    with connect(server) as control:
        control.login()
        assert control.command(line).code == code
        assert control.command("NOOP").code == "200"


@pytest.mark.parametrize(
    "line",
    [
        "USER",
        "RETR",
        "STOR",
        "MKD",
        "RMD",
        "DELE",
        "RNFR",
        "RNTO",
        "SIZE",
        "MDTM",
        "TYPE",
        "REST",
        "PORT",
        "EPRT",
        "SITE",
        "MFMT",
        "MODE",
        "STRU",
        "OPTS",
    ],
)
def test_missing_argument_is_501(server: ServerThread, line: str) -> None:
    with connect(server) as control:
        control.login()
        assert control.command(line).code == "501"


@pytest.mark.parametrize("line", ["PWD extra", "CDUP x", "QUIT now", "PASV x", "FEAT x"])
def test_unexpected_argument_is_501(server: ServerThread, line: str) -> None:
    with connect(server) as control:
        control.login()
        assert control.command(line).code == "501"


def test_bad_sequences_are_503(server: ServerThread) -> None:
    with connect(server) as control:
        assert control.command("PASS secret").code == "503"
        control.login()
        assert control.command("PASS secret").code == "503"
        assert control.command("RNTO x").code == "503"
        assert control.command("PBSZ 0").code == "503"
        assert control.command("PROT P").code == "503"


@pytest.mark.parametrize(
    "line",
    [
        "PWD",
        "CWD /",
        "LIST",
        "RETR x",
        "STOR x",
        "MKD d",
        "PASV",
        "EPSV",
        "SIZE x",
        "TYPE I",
        "STAT",
        "SITE HELP",
    ],
)
def test_not_logged_in_is_530(server: ServerThread, line: str) -> None:
    with connect(server) as control:
        assert control.command(line).code == "530"


@pytest.mark.parametrize(
    "line, code",
    [
        ("PORT 1,2,3", "501"),
        ("PORT 127,0,0,1,300,1", "501"),
        ("EPRT |9|x|1|", "522"),
        ("EPRT garbage", "501"),
        ("EPSV 7", "522"),
        ("REST abc", "501"),
        ("TYPE Q", "501"),
        ("MFMT 2020 x", "501"),
        ("SITE CHMOD", "501"),
        ("OPTS MODE Z", "501"),
        ("HELP NOSUCH", "501"),
        ("AUTH TLS", "502"),
        ("PROT X", "503"),
    ],
)
def test_malformed_arguments_get_errors(server: ServerThread, line: str, code: str) -> None:
    with connect(server) as control:
        control.login()
        assert control.command(line).code == code
        assert control.command("NOOP").code == "200"


def test_random_bytes_then_normal_login(server: ServerThread) -> None:
    rng = random.Random(20240601)
    alphabet = bytes(b for b in range(256) if b != 0x0A)
    lines = []
    for _ in range(300):
        size = rng.randint(0, 60)
        lines.append(bytes(rng.choice(alphabet) for _ in range(size)))
    lines += [
        b"\x00\x00",
        b"\xff\xff\xff",
        b"\xc3\x28",
        b"USER \xff\xfe",
        b"RETR \x00x",
        b"\r\r\r",
        b"LIST " + b"a" * 4000,
        b"\xff\xf4\xff\xf2ABOR",
    ]
    with connect(server) as control:
        for line in lines:
            control.send_raw(line + b"\n")
            reply = control.reply()
            assert reply.code[0] in "2345", (line, reply)
        control.login()
        assert control.command("PWD").code == "257"


def test_overlong_line_is_refused_and_closed(make_server: Callable[..., ServerThread]) -> None:
    server = make_server(max_line_length=1024)
    with connect(server) as control:
        control.send_raw(b"NOOP " + b"x" * 5000)
        assert control.reply().code == "500"
        assert control.closed()
    with connect(server) as control:  # the server itself goes on
        control.login()


class FlakyPathIO(PathIO):
    """The local disk, except for names that fail on purpose."""

    async def stat(self, path: PurePath) -> Any:
        if path.name == "slow":
            await asyncio.sleep(30)
        if path.name == "eio":
            raise OSError(errno.EIO, "input/output error")
        return await super().stat(path)

    async def _open(self, path: PurePath, mode: str) -> Any:
        if path.name == "full" or path.name.startswith(".full."):  # also its upload name
            raise OSError(errno.ENOSPC, "no space left on device")
        return await super()._open(path, mode)

    async def mkdir(self, path: PurePath, *, parents: bool = False, exist_ok: bool = False) -> None:
        if path.name == "boom":
            raise RuntimeError("backend bug")
        await super().mkdir(path, parents=parents, exist_ok=exist_ok)


def test_storage_failures_are_4xx_and_session_goes_on(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    (tmp_path / "eio").write_bytes(b"x")
    server = make_server(
        users=[anyftp.User(base_path=tmp_path)], path_io_factory=FlakyPathIO, path_timeout=0.5
    )
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    ftp.login()
    with pytest.raises(ftplib.error_temp, match=r"^451"):
        ftp.sendcmd("SIZE eio")
    with pytest.raises(ftplib.error_temp, match=r"^451 storage timed out"):
        ftp.sendcmd("SIZE slow")
    with pytest.raises(ftplib.error_temp, match=r"^452"):
        ftp.storbinary("STOR full", io.BytesIO(b"data"))
    with pytest.raises(ftplib.error_temp, match=r"^451"):
        ftp.mkd("boom")
    assert ftp.sendcmd("NOOP").startswith("200")
    ftp.storbinary("STOR fine", io.BytesIO(b"data"))
    assert ftp.size("fine") == 4
    ftp.quit()


def test_permissions_give_550(make_server: Callable[..., ServerThread], tmp_path: Path) -> None:
    (tmp_path / "pub").mkdir()
    (tmp_path / "pub" / "readme").write_bytes(b"hello")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "key").write_bytes(b"secret")
    user = anyftp.User(
        base_path=tmp_path,
        permissions=[
            anyftp.Permission("/", readable=True, writable=False),
            anyftp.Permission("/private", readable=False, writable=False),
            anyftp.Permission("/pub/upload", readable=True, writable=True),
        ],
    )
    server = make_server(users=[user])
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    ftp.login()
    out = io.BytesIO()
    ftp.retrbinary("RETR pub/readme", out.write)
    assert out.getvalue() == b"hello"
    for action in (
        lambda: ftp.storbinary("STOR pub/new", io.BytesIO(b"x")),
        lambda: ftp.mkd("pub/dir"),
        lambda: ftp.delete("pub/readme"),
        lambda: ftp.rename("pub/readme", "pub/other"),
        lambda: ftp.retrbinary("RETR private/key", out.write),
        lambda: ftp.nlst("private"),
        lambda: ftp.cwd("private"),
        lambda: ftp.sendcmd("SIZE private/key"),
        lambda: ftp.sendcmd("SITE CHMOD 777 pub/readme"),
    ):
        with pytest.raises(ftplib.error_perm, match=r"^550"):
            action()
    # the nearest permission wins: /pub/upload is writable below a read-only root
    (tmp_path / "pub" / "upload").mkdir()
    ftp.storbinary("STOR pub/upload/ok", io.BytesIO(b"fine"))
    assert (tmp_path / "pub" / "upload" / "ok").read_bytes() == b"fine"
    facts = dict(ftp.mlsd("pub"))
    assert facts["readme"]["perm"] == "r"
    ftp.quit()

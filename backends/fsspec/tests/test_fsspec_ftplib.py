"""End to end: ftplib talks to an anyftp server whose storage is the fsspec backend, on
``memory://``, ``file://`` (a temporary directory) and ``s3://`` (s3fs against moto).
Transfers are checked by SHA-256."""

from __future__ import annotations

import ftplib
import hashlib
import io
import random
import socket
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fsspec_servers import TIMEOUT, ServerThread

pytestmark = pytest.mark.timeout(120)

Start = Callable[[dict[str, Any]], ServerThread]


@pytest.fixture(params=["memory", "file", "s3"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def options(kind: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Backend options for *kind*; s3 parts of 5 MiB so a few MiB go multipart."""
    if kind == "s3":
        found: dict[str, Any] = request.getfixturevalue("s3_state_options")
        return {**found, "write_block_size": 5 * 1024 * 1024}
    fixture = f"{kind}_state_options"
    return dict(request.getfixturevalue(fixture))


def wait_until(condition: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll *condition* (an S3 listing) until it holds; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def retrieve(ftp: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    out = io.BytesIO()
    ftp.retrbinary(f"RETR {name}", out.write, blocksize=64 * 1024, rest=rest)
    return out.getvalue()


def test_stor_then_retr_round_trips_by_sha256(
    fsspec_server: Start, options: dict[str, Any]
) -> None:
    server = fsspec_server(options)
    data = random.Random(1).randbytes(7 * 1024 * 1024 + 13)
    ftp = server.ftp()
    ftp.storbinary("STOR big.bin", io.BytesIO(data), blocksize=256 * 1024)
    assert ftp.size("big.bin") == len(data)
    assert sha256(retrieve(ftp, "big.bin")) == sha256(data)
    ftp.storbinary("STOR empty", io.BytesIO(b""))
    assert retrieve(ftp, "empty") == b""
    ftp.quit()


def test_retr_after_rest_returns_the_tail(fsspec_server: Start, options: dict[str, Any]) -> None:
    server = fsspec_server(options)
    data = random.Random(2).randbytes(1_000_003)
    ftp = server.ftp()
    ftp.storbinary("STOR file", io.BytesIO(data))
    for offset in (1, 65_536, 999_999):
        assert sha256(retrieve(ftp, "file", rest=offset)) == sha256(data[offset:])
    ftp.quit()


def test_directory_commands_and_listings(fsspec_server: Start, options: dict[str, Any]) -> None:
    server = fsspec_server(options)
    ftp = server.ftp()
    ftp.mkd("dir")
    ftp.cwd("dir")
    ftp.storbinary("STOR inside.txt", io.BytesIO(b"inside"))
    ftp.mkd("empty")
    assert ftp.pwd() == "/dir"
    assert sorted(ftp.nlst()) == ["empty", "inside.txt"]
    facts = dict(ftp.mlsd())
    assert facts["inside.txt"]["type"] == "file"
    assert facts["inside.txt"]["size"] == "6"
    assert facts["empty"]["type"] == "dir"
    lines: list[str] = []
    ftp.retrlines("LIST", lines.append)
    assert any(line.startswith("d") and line.endswith(" empty") for line in lines), lines
    ftp.cwd("/")
    ftp.rename("dir", "moved")
    assert ftp.nlst("moved") and "dir" not in ftp.nlst()
    assert retrieve(ftp, "moved/inside.txt") == b"inside"
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.rmd("moved")  # not empty
    ftp.delete("moved/inside.txt")
    ftp.rmd("moved/empty")
    ftp.rmd("moved")
    assert ftp.nlst() == []
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        retrieve(ftp, "missing")
    ftp.quit()


def test_appe_appends_where_the_filesystem_can(
    fsspec_server: Start, kind: str, options: dict[str, Any]
) -> None:
    server = fsspec_server(options)
    ftp = server.ftp()
    ftp.storbinary("STOR log", io.BytesIO(b"head-"))
    if kind == "s3":
        with pytest.raises(ftplib.error_perm, match=r"^502"):
            ftp.storbinary("APPE log", io.BytesIO(b"tail"))
        assert retrieve(ftp, "log") == b"head-"
    else:
        ftp.storbinary("APPE log", io.BytesIO(b"tail"))
        assert retrieve(ftp, "log") == b"head-tail"
    ftp.quit()


def test_mfmt_sets_the_modification_time_on_file_urls(
    fsspec_server: Start, file_state_options: dict[str, Any], tmp_path: Path
) -> None:
    server = fsspec_server(file_state_options)
    ftp = server.ftp()
    ftp.storbinary("STOR stamped", io.BytesIO(b"x"))
    assert ftp.sendcmd("MFMT 20010909014640 stamped").startswith("213")
    assert ftp.sendcmd("MDTM stamped") == "213 20010909014640"
    assert (tmp_path / "served" / "stamped").stat().st_mtime == 1_000_000_000
    ftp.quit()


def test_concurrent_clients_each_get_their_own_bytes(
    fsspec_server: Start, options: dict[str, Any]
) -> None:
    server = fsspec_server(options)
    clients = [server.ftp() for _ in range(4)]
    payloads = [random.Random(10 + i).randbytes(300_000 + i) for i in range(4)]
    # Open every data connection first so that the uploads overlap on the server.
    sockets = [c.transfercmd(f"STOR part-{i}") for i, c in enumerate(clients)]
    for offset in range(0, 300_004, 50_000):
        for sock, data in zip(sockets, payloads, strict=True):
            sock.sendall(data[offset : offset + 50_000])
    for sock, ftp in zip(sockets, clients, strict=True):
        sock.close()
        assert ftp.voidresp().startswith("226")
    for i, data in enumerate(payloads):
        assert sha256(retrieve(clients[(i + 1) % 4], f"part-{i}")) == sha256(data)
    for ftp in clients:
        ftp.quit()


def test_a_reset_upload_leaves_no_object_and_no_multipart_upload_on_s3(
    fsspec_server: Start, s3_state_options: dict[str, Any], sync_s3: Any, bucket: str
) -> None:
    server = fsspec_server({**s3_state_options, "write_block_size": 5 * 1024 * 1024})
    ftp = server.ftp()
    ftp.voidcmd("TYPE I")
    sock = ftp.transfercmd("STOR broken.bin")
    sock.sendall(random.Random(3).randbytes(11 * 1024 * 1024))
    wait_until(lambda: "Uploads" in sync_s3.list_multipart_uploads(Bucket=bucket))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()  # a reset, not a clean end of the upload
    with pytest.raises(ftplib.Error, match=r"^4"):
        ftp.voidresp()
    # The control connection answers at once; the abort finishes in the background.
    wait_until(lambda: "Uploads" not in sync_s3.list_multipart_uploads(Bucket=bucket))
    keys = [o["Key"] for o in sync_s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert not any(key.endswith("broken.bin") for key in keys), keys
    with pytest.raises(ftplib.error_perm, match=r"^550"):
        ftp.size("broken.bin")
    ftp.quit()

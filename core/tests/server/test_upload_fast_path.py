"""Uploads on clear data connections read the socket directly into pooled buffers.

On the local disk (storage that does not suspend) every upload borrows and returns the
same buffer within one step, so the pool never holds more than one; on a backend that
suspends while storing, buffers are lent for the length of a write and files stay whole.
A backend with ``write_sync`` stores from the loop's reader callback; one whose
``write_sync`` fails mid-upload gets the mapped reply and the server goes on; a subclass
that changes ``write`` alone keeps its ``write``. A stalled upload is cut after
``socket_timeout`` as on the transport path.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import ftplib
import hashlib
import io
import os
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import anyftp
from anyftp.server.rawio import BufferPool
from anyftp_local import PathIO as LocalPathIO

from .conftest import TIMEOUT, ServerThread
from .rawftp import RawControl

pytestmark = pytest.mark.timeout(120)

UPLOADS = 24


def upload_many(server: ServerThread, payloads: dict[str, bytes]) -> None:
    def one(name: str) -> str:
        client = ftplib.FTP()
        client.connect(server.host, server.port, timeout=TIMEOUT)
        client.login()
        try:
            return client.storbinary(f"STOR {name}", io.BytesIO(payloads[name]))
        finally:
            client.quit()

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        replies = list(pool.map(one, payloads))
    assert all(reply.startswith("226") for reply in replies), replies


def payloads() -> dict[str, bytes]:
    return {
        f"up-{index:02d}.bin": os.urandom(512 * 1024 + index * 4099) for index in range(UPLOADS)
    }


def test_concurrent_uploads_to_the_local_disk_share_one_buffer(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(users=[anyftp.User(base_path=tmp_path)], block_size=64 * 1024)
    files = payloads()
    upload_many(server, files)
    for name, data in files.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).digest() == (
            hashlib.sha256(data).digest()
        ), name
    assert server.server.receive_buffers.idle == 1


def test_concurrent_uploads_through_a_thread_pool_backend_stay_whole(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(
        users=[anyftp.User(base_path=tmp_path)], path_io_factory="threadpool", block_size=32768
    )
    files = payloads()
    upload_many(server, files)
    for name, data in files.items():
        assert (tmp_path / name).read_bytes() == data, name
    assert 1 <= server.server.receive_buffers.idle <= server.server.receive_buffers.keep


class CountingLocal(LocalPathIO):
    """The local disk, counting the stores made outside any task (the reader callback)."""

    from_callback = 0
    from_tasks = 0

    def write_sync(self, file: io.RawIOBase, data: memoryview) -> None:
        if asyncio.current_task() is None:
            type(self).from_callback += 1
        else:
            type(self).from_tasks += 1
        super().write_sync(file, data)  # type: ignore[arg-type]


def test_uploads_to_a_backend_with_write_sync_are_stored_from_the_reader_callback(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(
        users=[anyftp.User(base_path=tmp_path)], path_io_factory=CountingLocal, block_size=65536
    )
    files = payloads()
    upload_many(server, files)
    for name, data in files.items():
        assert (tmp_path / name).read_bytes() == data, name
    total = sum(len(data) for data in files.values())
    assert CountingLocal.from_callback >= total // 65536
    assert CountingLocal.from_tasks == 0
    assert server.server.receive_buffers.idle == 1


class FillsUp(LocalPathIO):
    """A disk with room for *room* bytes per file, then ENOSPC (from ``write_sync``)."""

    room = 300_000

    def write_sync(self, file: io.RawIOBase, data: memoryview) -> None:
        if file.tell() + len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().write_sync(file, data)  # type: ignore[arg-type]


def test_a_store_failing_in_the_reader_callback_answers_452_and_the_server_goes_on(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(users=[anyftp.User(base_path=tmp_path)], path_io_factory=FillsUp)
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    client.login()
    try:
        try:
            client.storbinary("STOR big.bin", io.BytesIO(os.urandom(16 << 20)))
        except ftplib.error_temp as exc:
            reply = str(exc)  # every byte was sent before the server gave up
        except (ConnectionResetError, BrokenPipeError):
            # The server closed the data connection while the client was still sending.
            with pytest.raises(ftplib.error_temp) as caught:
                client.getresp()
            reply = str(caught.value)
        else:
            pytest.fail("a store that ran out of room reported success")
        assert reply.startswith("452"), reply
        assert client.voidcmd("NOOP").startswith("200")
        small = os.urandom(100_000)
        assert client.storbinary("STOR small.bin", io.BytesIO(small)).startswith("226")
    finally:
        client.close()
    assert (tmp_path / "small.bin").read_bytes() == small


class Shouting(LocalPathIO):
    """Changes ``write`` (and not ``write_sync``): uploads must go through it."""

    async def write(self, file: io.RawIOBase, data: bytes | bytearray | memoryview) -> None:
        await super().write(file, bytes(data).upper())  # type: ignore[arg-type]


def test_a_backend_that_changes_write_alone_has_its_write_used(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(users=[anyftp.User(base_path=tmp_path)], path_io_factory=Shouting)
    upload_many(server, {"a.txt": b"quiet words " * 50_000})
    assert (tmp_path / "a.txt").read_bytes() == b"QUIET WORDS " * 50_000


def test_ascii_upload_on_a_clear_connection_stores_native_line_ends(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(users=[anyftp.User(base_path=tmp_path)], block_size=4096)
    text = b"".join(b"line %d\r\n" % index for index in range(5000))
    client = ftplib.FTP()
    client.connect(server.host, server.port, timeout=TIMEOUT)
    client.login()
    try:
        client.storlines("STOR text.txt", io.BytesIO(text))
    finally:
        client.quit()
    assert (tmp_path / "text.txt").read_bytes() == text.replace(b"\r\n", b"\n")


def test_a_stalled_upload_is_cut_after_the_socket_timeout(
    make_server: Callable[..., ServerThread], tmp_path: Path
) -> None:
    server = make_server(users=[anyftp.User(base_path=tmp_path)], socket_timeout=0.5)
    with RawControl(server.host, server.port) as control:
        assert control.reply().code == "220"
        control.login()
        host, port = control.pasv()
        with socket.create_connection((host, port), timeout=TIMEOUT) as data:
            assert control.command("STOR stalled.bin").code == "150"
            data.sendall(b"partial")
            started = time.monotonic()
            assert control.reply().code == "426"
            assert time.monotonic() - started < TIMEOUT / 2
        assert control.command("NOOP").code == "200"
    assert not (tmp_path / "stalled.bin").exists()


def test_buffer_pool_keeps_a_bounded_number_of_its_own_buffers() -> None:
    pool = BufferPool(1024, keep=2)
    taken = [pool.take() for _ in range(4)]
    assert all(len(buffer) == 1024 for buffer in taken)
    assert len({id(buffer) for buffer in taken}) == 4
    for buffer in taken:
        pool.give(buffer)
    assert pool.idle == 2
    pool.give(bytearray(10))  # not of the pool's size: dropped
    assert pool.idle == 2
    again = pool.take()
    assert any(again is buffer for buffer in taken)

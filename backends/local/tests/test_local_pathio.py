"""Behaviour of the local backend beyond the conformance suite."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

import anyftp
from anyftp.testing import read_bytes, write_bytes
from anyftp_local import PathIO


def test_the_package_name_resolves_to_this_class() -> None:
    assert anyftp.PathIO is PathIO


async def test_the_aioftp_constructor_arguments_are_accepted(tmp_path: Path) -> None:
    path_io = PathIO(5, None, None)  # timeout, connection, state - aioftp's order
    assert path_io.timeout == 5
    await write_bytes(path_io, tmp_path / "f", b"x")
    assert await read_bytes(path_io, tmp_path / "f") == b"x"


async def test_files_can_be_sent_with_sendfile(tmp_path: Path) -> None:
    path_io = PathIO()
    data = os.urandom(100_000)
    await write_bytes(path_io, tmp_path / "f", data)
    left, right = socket.socketpair()
    with left, right:
        right.settimeout(10)
        async with path_io.open(tmp_path / "f", "rb") as file:
            sent = 0
            while sent < len(data):
                sent += os.sendfile(left.fileno(), file.fileno(), sent, len(data) - sent)
        left.shutdown(socket.SHUT_WR)
        received = b"".join(iter(lambda: right.recv(65536), b""))
    assert received == data


async def test_a_relative_path_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path_io = PathIO(root=tmp_path)
    await write_bytes(path_io, Path(".") / "here", b"cwd")
    assert (tmp_path / "here").read_bytes() == b"cwd"

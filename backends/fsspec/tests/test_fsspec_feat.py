"""FEAT advertises what the served filesystem can do, decided per URL before any login."""

from __future__ import annotations

import ftplib
from collections.abc import Callable
from typing import Any

import pytest
from fsspec_servers import TIMEOUT, ServerThread

pytestmark = pytest.mark.timeout(60)


def features(port: int) -> list[str]:
    with ftplib.FTP() as ftp:
        ftp.connect("127.0.0.1", port, timeout=TIMEOUT)
        reply = ftp.sendcmd("FEAT")  # before login, as lftp and FileZilla send it
    return [line.strip() for line in reply.splitlines()[1:-1]]


def test_feat_advertises_mfmt_for_file_urls(
    fsspec_server: Callable[[dict[str, Any]], ServerThread], file_state_options: dict[str, Any]
) -> None:
    thread = fsspec_server(dict(file_state_options))
    assert "MFMT" in features(thread.port)


def test_feat_leaves_out_mfmt_for_memory_urls(
    fsspec_server: Callable[[dict[str, Any]], ServerThread],
    memory_state_options: dict[str, Any],
) -> None:
    thread = fsspec_server(dict(memory_state_options))
    listed = features(thread.port)
    assert "MFMT" not in listed
    assert any(line.startswith("MLST") for line in listed)

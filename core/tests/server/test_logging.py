"""Logging: one DEBUG line per command and reply (passwords hidden), one INFO line per
session and per transfer (user, path, bytes, seconds, result)."""

from __future__ import annotations

import ftplib
import io
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

import anyftp

from .conftest import TIMEOUT, ServerThread


def test_commands_replies_sessions_and_transfers_are_logged(
    make_server: Callable[..., ServerThread], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="anyftp.server")
    server = make_server(users=[anyftp.User("bob", "hunter2", base_path=tmp_path)])
    ftp = ftplib.FTP()
    ftp.connect(server.host, server.port, timeout=TIMEOUT)
    ftp.login("bob", "hunter2")
    ftp.storbinary("STOR f.bin", io.BytesIO(b"x" * 1000))
    ftp.quit()
    server.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "anyftp.server"]
    text = "\n".join(messages)
    assert "hunter2" not in text
    assert any(m.endswith("-> PASS ****") for m in messages)
    assert any(m.endswith("-> STOR f.bin") for m in messages)
    assert any(m.endswith("<- 226 transfer complete") for m in messages)
    infos = [
        r.getMessage()
        for r in caplog.records
        if r.name == "anyftp.server" and r.levelno == logging.INFO
    ]
    assert any(m.startswith("session opened from 127.0.0.1") for m in infos)
    assert any(m.startswith("session closed from 127.0.0.1") and "user=bob" in m for m in infos)
    transfer = [m for m in infos if m.startswith("transfer STOR")]
    assert len(transfer) == 1
    assert "user=bob path=/f.bin bytes=1000" in transfer[0]
    assert "result=ok" in transfer[0] and "seconds=" in transfer[0]

"""TEMPLATE: the plugin's test - a real server with the plugin enabled by name, a real
FTP session with ftplib, and a check of what the plugin did."""

from __future__ import annotations

import asyncio
import ftplib
import io
import logging
from pathlib import Path

import anyftp
import pytest

TIMEOUT = 10


def upload(port: int) -> None:
    ftp = ftplib.FTP()
    ftp.connect("127.0.0.1", port, timeout=TIMEOUT)
    ftp.login()
    ftp.storbinary("STOR hello.txt", io.BytesIO(b"hello"))
    ftp.quit()


async def test_uploads_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    server = anyftp.Server(
        [anyftp.User(base_path=tmp_path)],
        plugins=["example"],  # TEMPLATE: your plugin's name
    )
    await server.start("127.0.0.1", 0)
    try:
        with caplog.at_level(logging.INFO, logger="anyftp.example"):
            # ftplib blocks: run it in a thread while the server runs on this loop.
            async with asyncio.timeout(TIMEOUT):
                await asyncio.to_thread(upload, server.server_port)
            await server.plugin_host.flush()  # every event so far went through the plugin
    finally:
        server.close()
        async with asyncio.timeout(TIMEOUT):
            await server.wait_closed()
    assert "anonymous uploaded /hello.txt (5 bytes)" in caplog.messages

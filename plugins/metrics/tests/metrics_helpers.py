"""Helpers for the metrics tests: connect ftplib to a server, run blocking client code in a
worker thread (bounded), stop a server and wait until its plugins are done."""

from __future__ import annotations

import asyncio
import ftplib
from collections.abc import Callable
from typing import Any

import anyftp

TIMEOUT = 10


async def stop(server: anyftp.Server) -> None:
    """Close *server* and wait (bounded) until its plugins delivered their events."""
    server.close()
    async with asyncio.timeout(30):
        await server.wait_closed()


def connect(server: anyftp.Server) -> ftplib.FTP:
    client = ftplib.FTP()
    client.connect("127.0.0.1", server.server_port, timeout=TIMEOUT)
    return client


async def in_thread(fn: Callable[[], Any]) -> Any:
    async with asyncio.timeout(TIMEOUT * 2):
        return await asyncio.to_thread(fn)

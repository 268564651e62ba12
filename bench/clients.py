"""Client-side throughput: anyftp's Client against ``ftplib`` and aioftp's Client.

All three talk to the same server and move the same large file, each through its usual
streaming API with a large block size (``ftplib``'s ``retrbinary``/``storbinary``
*blocksize*; ``download_stream``/``upload_stream`` with ``iter_by_block(n)`` and
``write`` of n-byte blocks for the asyncio clients). Downloads are counted and dropped;
uploads read the local file block by block. The asyncio clients run on the standard
asyncio loop, the one an aioftp user has by default.
"""

from __future__ import annotations

import asyncio
import ftplib
import importlib
import os
import time
from pathlib import Path
from typing import Any

from config import BenchConfig, MiB
from workload import Target

__all__ = ("CLIENTS", "available_clients", "measure_client")

#: Client implementations, in table order.
CLIENTS = ("anyftp", "ftplib", "aioftp")
REMOTE_UPLOAD = "client-upload.bin"


def available_clients() -> dict[str, str]:
    """``{client: ""}`` for usable clients, ``{client: reason}`` for the others."""
    status: dict[str, str] = {}
    for name in CLIENTS:
        if name == "ftplib":
            status[name] = ""
            continue
        try:
            module = importlib.import_module(name)
            getattr(module, "Client")  # noqa: B009 - anyftp resolves names lazily
            status[name] = ""
        except Exception as exc:
            status[name] = f"{type(exc).__name__}: {exc}"
    return status


def _ftplib_download(target: Target, name: str, size: int, block: int, timeout: float) -> float:
    ftp = ftplib.FTP(timeout=timeout)
    try:
        ftp.connect(target.host, target.port)
        ftp.login(target.user, target.password)
        received = 0

        def count(data: bytes) -> None:
            nonlocal received
            received += len(data)

        start = time.perf_counter()
        ftp.retrbinary(f"RETR {name}", count, blocksize=block)
        seconds = time.perf_counter() - start
        ftp.quit()
    finally:
        ftp.close()
    if received != size:
        raise RuntimeError(f"ftplib download: {received} of {size} bytes")
    return size / MiB / seconds


def _ftplib_upload(target: Target, source: Path, block: int, timeout: float) -> float:
    ftp = ftplib.FTP(timeout=timeout)
    try:
        ftp.connect(target.host, target.port)
        ftp.login(target.user, target.password)
        with open(source, "rb") as file:
            start = time.perf_counter()
            ftp.storbinary(f"STOR {REMOTE_UPLOAD}", file, blocksize=block)
            seconds = time.perf_counter() - start
        ftp.quit()
    finally:
        ftp.close()
    return source.stat().st_size / MiB / seconds


async def _asyncio_download(module: Any, target: Target, name: str, size: int, block: int) -> float:
    async with module.Client.context(
        target.host, target.port, target.user, target.password
    ) as client:
        received = 0
        start = time.perf_counter()
        async with client.download_stream(name) as stream:
            async for data in stream.iter_by_block(block):
                received += len(data)
        seconds = time.perf_counter() - start
    if received != size:
        raise RuntimeError(f"{module.__name__} download: {received} of {size} bytes")
    return size / MiB / seconds


async def _asyncio_upload(module: Any, target: Target, source: Path, block: int) -> float:
    async with module.Client.context(
        target.host, target.port, target.user, target.password
    ) as client:
        with open(source, "rb") as file:  # noqa: ASYNC230 - page cache, no waiting
            start = time.perf_counter()
            async with client.upload_stream(REMOTE_UPLOAD) as stream:
                while data := file.read(block):
                    await stream.write(data)
            seconds = time.perf_counter() - start
            size = os.fstat(file.fileno()).st_size
    return size / MiB / seconds


def measure_client(
    client: str, direction: str, target: Target, remote_name: str, source: Path, config: BenchConfig
) -> float:
    """One download or upload of the large file by *client*; MiB/s."""
    size, block, timeout = config.big_size, config.block_size, config.line_timeout
    if client == "ftplib":
        if direction == "download":
            return _ftplib_download(target, remote_name, size, block, timeout)
        return _ftplib_upload(target, source, block, timeout)
    module = importlib.import_module(client)

    async def bounded() -> float:
        async with asyncio.timeout(timeout):
            if direction == "download":
                return await _asyncio_download(module, target, remote_name, size, block)
            return await _asyncio_upload(module, target, source, block)

    return asyncio.run(bounded())

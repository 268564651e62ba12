"""The machine's loopback TCP limit, measured the way the FTP lines are.

The reference server (``launchers/plain_server.py``) runs pinned like an FTP server. For
*download* it hands the large file to the load generator with ``os.sendfile``; for
*upload* the generator sends it with ``loop.sock_sendfile`` and the server drops it into
one reusable buffer. The generator side is the same code as RETR and STOR, so each FTP
figure can be read as a fraction of these.
"""

from __future__ import annotations

import asyncio
import socket
import time

from config import MiB
from ftpload import Sink, connect_data, receive_all
from workload import SourceFiles

__all__ = ("measure_download", "measure_upload")


async def measure_download(host: str, port: int, sources: SourceFiles, timeout: float) -> float:
    """MiB/s of one sendfile'd large file, server to generator."""
    sink = Sink()
    size = sources.big.stat().st_size
    async with asyncio.timeout(timeout):
        start = time.perf_counter()
        sock = await connect_data(host, port)
        try:
            await asyncio.get_running_loop().sock_sendall(
                sock, f"GET {sources.big.name}\n".encode()
            )
            received = await receive_all(sock, sink)
        finally:
            sock.close()
        seconds = time.perf_counter() - start
    if received != size:
        raise RuntimeError(f"loopback download: got {received} of {size} bytes")
    return size / MiB / seconds


async def measure_upload(host: str, port: int, sources: SourceFiles, timeout: float) -> float:
    """MiB/s of one large file sent with sendfile, generator to server."""
    loop = asyncio.get_running_loop()
    size = sources.big.stat().st_size
    async with asyncio.timeout(timeout):
        start = time.perf_counter()
        sock = await connect_data(host, port)
        try:
            await loop.sock_sendall(sock, b"PUT\n")
            with open(sources.big, "rb") as file:  # noqa: ASYNC230 - page cache
                await loop.sock_sendfile(sock, file, 0, size)
            sock.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := await loop.sock_recv(sock, 64):
                answer += chunk
        finally:
            sock.close()
        seconds = time.perf_counter() - start
    if answer.strip() != f"OK {size}".encode():
        raise RuntimeError(f"loopback upload: server answered {answer!r}")
    return size / MiB / seconds

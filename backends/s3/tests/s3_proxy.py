"""A TCP proxy in front of the S3 endpoint that a test can switch off and on again.

The FTP server talks to S3 through it; :meth:`TcpProxy.stop` closes the listener and every
open connection at once - for the server, the S3 endpoint is gone - while the real
endpoint behind keeps its objects, so the test can check afterwards what was (not)
stored. :meth:`TcpProxy.start` brings it back on the same port. ``upload_part_seen`` is
set when a multipart part request passes through, so a test can cut the endpoint
while an upload is under way without guessing with sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

__all__ = ("TcpProxy",)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<target_port>; runs its own loop thread."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.upload_part_seen = threading.Event()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self, coro: object, timeout: float = 10.0) -> object:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)  # type: ignore[arg-type]

    def start(self) -> TcpProxy:
        self._run(self._start())
        return self

    async def _start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        """Refuse new connections and drop every open one."""
        self._run(self._stop())

    async def _stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, watch: bool) -> None:
            try:
                while data := await src.read(256 * 1024):
                    if watch and b"partNumber=" in data:
                        self.upload_part_seen.set()
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))
        self._writers.difference_update((writer, up_writer))

"""Reading an object: one streamed, ranged GET from the current position (RETR, REST).

The object's size and ETag are taken at open (HEAD). The first ``read`` starts a
``GetObject`` with ``Range: bytes=<position>-`` and ``If-Match: <etag>``, then streams the
body; a ``seek`` drops the stream and the next read starts a new ranged GET, so RETR after
REST never reads the skipped bytes. If the object is replaced while it is read, the
``If-Match`` makes S3 refuse instead of mixing two versions. A connection that breaks in
the middle of the body is reopened at the current position, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

from .client import S3State
from .faults import is_transient, to_os_error

__all__ = ("S3Reader",)


class S3Reader:
    """A read-only file over one object version."""

    def __init__(self, state: S3State, key: str, size: int, etag: str | None) -> None:
        self.state = state
        self.key = key
        self.size = size
        self.etag = etag
        self.position = 0
        self._body: Any = None
        self.closed = False

    async def _open_body(self) -> Any:
        params: dict[str, Any] = {"Range": f"bytes={self.position}-"}
        if self.etag:
            params["IfMatch"] = self.etag
        response = await self.state.call("get_object", key=self.key, **params)
        self._body = response["Body"]
        return self._body

    def _drop_body(self) -> None:
        body, self._body = self._body, None
        if body is not None:
            body.close()

    async def _read_some(self, wanted: int) -> bytes:
        """Up to *wanted* bytes from the stream, reopening it after a transient break."""
        attempt = 0
        while True:
            body = self._body if self._body is not None else await self._open_body()
            try:
                chunk: bytes = await body.read(wanted)
            except Exception as exc:
                self._drop_body()
                if not is_transient(exc) or attempt >= self.state.options.max_retries:
                    raise to_os_error(
                        exc,
                        "get_object (body)",
                        self.key,
                        self.state.bucket,
                        self.state.options.endpoint_url,
                        attempt + 1,
                    ) from exc
                await asyncio.sleep(self.state.backoff(attempt))
                attempt += 1
                continue
            if chunk:
                return chunk
            # The stream ended before the size seen at open: reopen where we are.
            self._drop_body()
            if attempt >= self.state.options.max_retries:
                raise ConnectionError(
                    f"S3 object s3://{self.state.bucket}/{self.key} ended "
                    f"at {self.position} of {self.size} bytes"
                )
            attempt += 1

    async def read(self, count: int = -1) -> bytes:
        if self.closed:
            raise ValueError("read from a closed S3 file")
        remaining = self.size - self.position
        if remaining <= 0 or count == 0:
            return b""
        wanted = remaining if count is None or count < 0 else min(count, remaining)
        first = await self._read_some(wanted)
        self.position += len(first)
        if len(first) == wanted:
            return first
        pieces = [first]
        got = len(first)
        while got < wanted:
            chunk = await self._read_some(wanted - got)
            pieces.append(chunk)
            got += len(chunk)
            self.position += len(chunk)
        return b"".join(pieces)

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self.position + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise OSError(22, "negative seek position")
        if target != self.position:
            self._drop_body()
            self.position = target
        return target

    async def close(self) -> None:
        self.closed = True
        self._drop_body()

"""A part's bytes as a seekable stream for the HTTP layer.

Given ``bytes`` or ``bytearray``, botocore and aiohttp end up copying the whole body once
more per request (a ``BytesIO`` buffer export); given a file-like object, aiohttp streams
it in small chunks. :class:`PartBody` is that file-like object over the buffer the writer
already holds, so a part in flight costs its own size and no more. It reads from a
``memoryview``; botocore seeks back to hash it, and :meth:`S3State.call` rewinds it
before every attempt.
"""

from __future__ import annotations

import io

__all__ = ("PartBody",)


class PartBody(io.RawIOBase):
    """A read-only, seekable stream over *data* (not copied)."""

    def __init__(self, data: bytes | bytearray) -> None:
        super().__init__()
        self._view = memoryview(data).cast("B")
        self._position = 0

    def __len__(self) -> int:
        return len(self._view)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}
        self._position = max(0, base[whence] + offset)
        return self._position

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        chunk = self._view[self._position : self._position + len(buffer)]
        count = len(chunk)
        memoryview(buffer).cast("B")[:count] = chunk
        self._position += count
        return count

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else self._position + size
        chunk = bytes(self._view[self._position : end])
        self._position += len(chunk)
        return chunk

    def readall(self) -> bytes:
        return self.read(-1)

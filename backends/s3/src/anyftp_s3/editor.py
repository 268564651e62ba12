"""``r+b`` on a small object: a full random-access file edited in memory.

An object no larger than one part (``part_size``) opened ``r+b`` is read whole into a
buffer; ``read``, ``write`` and ``seek`` then work anywhere, exactly like a local file
(a write past the end fills the gap with zeros). ``close`` stores the buffer with one
``PutObject`` if anything changed; ``abort`` drops it.

When writes grow the content beyond one part (REST at the end of a small file followed by
a large upload), the file turns into a streaming :class:`~anyftp_s3.writer.S3Writer`:
from then on memory stays bounded, and only sequential writes at the end are possible
(another ``seek`` or a ``read`` raises ``io.UnsupportedOperation``).
"""

from __future__ import annotations

import errno
import io
from typing import Any

from .client import S3State
from .writer import S3Writer

__all__ = ("S3Editor",)


class S3Editor:
    """A small object, editable in memory until it outgrows one part."""

    def __init__(self, state: S3State, key: str, content: bytes) -> None:
        self.state = state
        self.key = key
        self.content = bytearray(content)
        self.position = 0
        self.dirty = False
        self.closed = False
        self.stream: S3Writer | None = None

    @classmethod
    async def load(cls, state: S3State, key: str, size: int, etag: str | None) -> S3Editor:
        params: dict[str, Any] = {"IfMatch": etag} if etag else {}
        data = b""
        if size:
            response = await state.call("get_object", key=key, **params)
            body = response["Body"]
            try:
                data = await body.read()
            finally:
                body.close()
        return cls(state, key, data)

    def _check(self) -> None:
        if self.closed:
            raise ValueError("I/O on a closed S3 file")

    async def read(self, count: int = -1) -> bytes:
        self._check()
        if self.stream is not None:
            raise io.UnsupportedOperation("this S3 file grew past one part and is now write-only")
        end = len(self.content) if count is None or count < 0 else self.position + count
        data = bytes(self.content[self.position : end])
        self.position += len(data)
        return data

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check()
        if self.stream is not None:
            return await self.stream.seek(offset, whence)
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self.position + offset
        elif whence == io.SEEK_END:
            target = len(self.content) + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self.position = target
        return target

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        self._check()
        if self.stream is not None:
            await self.stream.write(data)
            return
        view = memoryview(data).cast("B")
        limit = self.state.options.part_size
        if self.position > len(self.content):
            if self.position > limit:
                raise io.UnsupportedOperation(
                    "seek past the end of a small S3 object by more than one part"
                )
            self.content.extend(bytes(self.position - len(self.content)))
        end = self.position + len(view)
        self.dirty = True
        if end <= limit:
            self.content[self.position : end] = view
            self.position = end
            return
        # Outgrowing one part: overwrite up to the current end, then stream the rest.
        inside = max(0, len(self.content) - self.position)
        self.content[self.position : self.position + inside] = view[:inside]
        self.stream = S3Writer(self.state, self.key, "wb", None)
        content, self.content = self.content, bytearray()
        await self.stream.write(content)
        await self.stream.write(view[inside:])

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.stream is not None:
            await self.stream.close()
        elif self.dirty:
            body, self.content = bytes(self.content), bytearray()
            await self.state.call("put_object", key=self.key, Body=body)

    async def abort(self) -> None:
        self.closed = True
        self.content = bytearray()
        if self.stream is not None:
            await self.stream.abort()

"""Writing an object: STOR, APPE and STOR-after-REST as one multipart upload.

The new object is assembled from three pieces, in order::

    [ head: bytes 0..start of the old object ][ new data ][ tail: the old object's rest ]

``wb`` has neither head nor tail; ``ab`` has the whole old object as head; ``r+b`` with a
``seek(start)`` before the first write keeps both (like writing into a local file
opened ``r+b``: bytes after the written range stay).

* Head and tail are copied on the S3 side (``UploadPartCopy`` with ``If-Match`` on the
  ETag seen at open), never downloaded; only when a piece is smaller than S3's 5 MiB part
  minimum is that small piece read into the buffer instead.
* New data collects in one buffer of at most the current part size; a full buffer becomes
  a part uploaded in the background, with at most ``upload_concurrency`` parts in flight.
  Memory per upload is therefore bounded by ``part_size * (upload_concurrency + 1)``.
  The part size doubles every 1,000 parts, so 10,000 parts reach S3's 5 TiB limit.
* An object that ends up no larger than one part is stored with a single ``PutObject``.
* ``close`` completes the upload: only then does the object appear (or change) under its
  name. ``abort`` (any failure, a client that went away) cancels the parts in flight and
  aborts the multipart upload, so nothing partial is ever visible.

Only one ``seek``, before the first write, is supported (that is what STOR after REST
does): S3 objects are written once. Small objects opened ``r+b`` are edited in memory
instead, with full random access (:mod:`anyftp_s3.editor`). A position past the old end
is reached by writing zeros, as a local file would.
"""

from __future__ import annotations

import asyncio
import errno
import io
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from .body import PartBody
from .client import S3State
from .options import MAX_PARTS, MIN_PART_SIZE
from .ranges import http_range, split_range

__all__ = ("S3Writer", "ObjectVersion")

log = logging.getLogger(__name__)

_CHECKSUM_FIELDS = (
    "ChecksumCRC32",
    "ChecksumCRC32C",
    "ChecksumCRC64NVME",
    "ChecksumSHA1",
    "ChecksumSHA256",
)


@dataclass(frozen=True)
class ObjectVersion:
    """The object a write builds on: its size and ETag when opened."""

    size: int
    etag: str | None


class S3Writer:
    """A write-only file that becomes an S3 object on ``close``."""

    def __init__(self, state: S3State, key: str, mode: str, base: ObjectVersion | None) -> None:
        self.state = state
        self.key = key
        self.mode = mode
        self.base = base
        self.position = base.size if (mode == "ab" and base is not None) else 0
        self._start: int | None = None
        self._written = 0
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: dict[int, dict[str, Any]] = {}
        self._next_part = 1
        self._tasks: set[asyncio.Task[None]] = set()
        self._failure: BaseException | None = None
        self._finished = False
        self._abort_task: asyncio.Task[None] | None = None

    # --- file interface -----------------------------------------------------------------

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        size = self.base.size if self.base is not None else 0
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self.position + offset
        elif whence == io.SEEK_END:
            target = size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if target < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        if self.mode == "ab":
            return target  # appending ignores the position, as O_APPEND does
        if target == self.position:
            return target
        if self._start is not None:
            raise io.UnsupportedOperation(
                "a large S3 object can only be positioned once, before the first write"
            )
        self.position = target
        return target

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        self._check_usable()
        try:
            if self._start is None:
                await self._begin()
            await self._feed(memoryview(data).cast("B"))
            self._written += len(data)
            self.position += len(data)
        except BaseException as exc:
            self._failure = self._failure or exc
            raise

    async def close(self) -> None:
        if self._finished:
            return
        try:
            self._check_usable()
            await self._finish()
        except BaseException as exc:
            self._failure = self._failure or exc
            await self.abort()
            raise
        self._finished = True

    async def abort(self) -> None:
        """Cancel parts in flight and abort the multipart upload (idempotent)."""
        if self._abort_task is None:
            if self._finished:
                return
            self._finished = True
            self._abort_task = asyncio.ensure_future(self._do_abort())
        # Shielded: a session being torn down (cancelled again) must not leave the
        # multipart upload behind.
        await asyncio.shield(self._abort_task)

    # --- internals ----------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._finished:
            raise ValueError("write to a closed S3 file")
        if self._failure is not None:
            raise OSError(
                errno.EIO,
                f"an earlier write to s3://{self.state.bucket}/{self.key} failed: {self._failure}",
            ) from self._failure

    async def _feed(self, view: memoryview) -> None:
        """Append *view* to the buffer, uploading each part as it fills."""
        while view:
            target = self.state.options.part_size_for(self._next_part)
            room = target - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
            if len(self._buffer) >= target:
                await self._flush_buffer()

    async def _begin(self) -> None:
        """Put the head of the old object (bytes before the write position) in place,
        then zeros up to the position if it lies past the old end."""
        size = self.base.size if self.base is not None else 0
        start = self._start = self.position
        head_end = min(start, size)
        if head_end >= MIN_PART_SIZE:
            await self._copy_range(0, head_end)
        elif head_end > 0:
            self._buffer += await self._download(0, head_end)
        gap = start - head_end
        zeros = memoryview(bytes(min(gap, MIN_PART_SIZE)))
        while gap > 0:
            piece = min(gap, len(zeros))
            await self._feed(zeros[:piece])
            gap -= piece

    async def _finish(self) -> None:
        if self._start is None:  # nothing was written
            if self.mode == "wb" or self.base is None:
                await self.state.call("put_object", key=self.key, Body=b"")
            return
        size = self.base.size if self.base is not None else 0
        tail_start = self._start + self._written
        tail_end = size if tail_start < size else tail_start
        if self._upload_id is None:
            whole = len(self._buffer) + tail_end - tail_start
            if whole <= self.state.options.part_size_for(self._next_part):
                if tail_end > tail_start:
                    self._buffer += await self._download(tail_start, tail_end)
                body, self._buffer = self._buffer, bytearray()  # handed over, not copied
                await self.state.call("put_object", key=self.key, Body=PartBody(body))
                return
        if tail_end > tail_start:
            if 0 < len(self._buffer) < MIN_PART_SIZE:
                fill = min(MIN_PART_SIZE - len(self._buffer), tail_end - tail_start)
                self._buffer += await self._download(tail_start, tail_start + fill)
                tail_start += fill
            if self._buffer:
                await self._flush_buffer()
            if tail_end > tail_start:
                await self._copy_range(tail_start, tail_end)
        elif self._buffer or not (self._parts or self._tasks):
            await self._flush_buffer()
        await self._drain()
        await self._complete()

    async def _start_upload(self) -> str:
        if self._upload_id is None:
            response = await self.state.call("create_multipart_upload", key=self.key)
            self._upload_id = str(response["UploadId"])
        return self._upload_id

    def _take_part_number(self) -> int:
        number = self._next_part
        if number > MAX_PARTS:
            raise OSError(
                errno.EFBIG,
                f"s3://{self.state.bucket}/{self.key}: more than "
                f"{MAX_PARTS} parts; raise part_size",
            )
        self._next_part += 1
        return number

    async def _flush_buffer(self) -> None:
        body, self._buffer = self._buffer, bytearray()  # handed over, not copied
        upload_id = await self._start_upload()
        number = self._take_part_number()
        await self._submit(self._upload_part(upload_id, number, body))

    async def _copy_range(self, start: int, end: int) -> None:
        upload_id = await self._start_upload()
        for piece_start, piece_end in split_range(start, end, self.state.options.copy_part_size):
            number = self._take_part_number()
            await self._submit(self._copy_part(upload_id, number, piece_start, piece_end))

    async def _submit(self, coro: Coroutine[Any, Any, None]) -> None:
        """Start *coro* once fewer than ``upload_concurrency`` parts are in flight; a part
        that already failed fails this call (so the client hears of it early)."""
        try:
            for task in [t for t in self._tasks if t.done()]:
                self._tasks.discard(task)
                task.result()
            while len(self._tasks) >= self.state.options.upload_concurrency:
                await self._wait_one()
        except BaseException:
            coro.close()
            raise
        self._tasks.add(asyncio.ensure_future(coro))

    async def _wait_one(self) -> None:
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            self._tasks.discard(task)
        for task in done:
            task.result()

    async def _drain(self) -> None:
        while self._tasks:
            await self._wait_one()

    async def _upload_part(self, upload_id: str, number: int, body: bytearray) -> None:
        response = await self.state.call(
            "upload_part", key=self.key, UploadId=upload_id, PartNumber=number, Body=PartBody(body)
        )
        self._record(number, response)

    async def _copy_part(self, upload_id: str, number: int, start: int, end: int) -> None:
        params: dict[str, Any] = {
            "CopySource": {"Bucket": self.state.bucket, "Key": self.key},
            "CopySourceRange": http_range(start, end),
        }
        if self.base is not None and self.base.etag:
            params["CopySourceIfMatch"] = self.base.etag
        response = await self.state.call(
            "upload_part_copy", key=self.key, UploadId=upload_id, PartNumber=number, **params
        )
        self._record(number, response.get("CopyPartResult", {}))

    def _record(self, number: int, result: dict[str, Any]) -> None:
        part: dict[str, Any] = {"PartNumber": number, "ETag": result["ETag"]}
        for name in _CHECKSUM_FIELDS:
            if result.get(name):
                part[name] = result[name]
        self._parts[number] = part

    async def _download(self, start: int, end: int) -> bytes:
        params: dict[str, Any] = {"Range": http_range(start, end)}
        if self.base is not None and self.base.etag:
            params["IfMatch"] = self.base.etag
        response = await self.state.call("get_object", key=self.key, **params)
        body = response["Body"]
        try:
            data: bytes = await body.read()
        finally:
            body.close()
        if len(data) != end - start:
            raise ConnectionError(f"short read of s3://{self.state.bucket}/{self.key}")
        return data

    async def _complete(self) -> None:
        assert self._upload_id is not None
        parts = [self._parts[number] for number in sorted(self._parts)]
        try:
            await self.state.call(
                "complete_multipart_upload",
                key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": parts},
            )
        except FileNotFoundError:
            # A retried CompleteMultipartUpload whose first attempt did succeed answers
            # NoSuchUpload; the object then carries the multipart ETag of this upload.
            head = await self.state.head(self.key)
            if head is None or not str(head.get("ETag", "")).endswith(f'-{len(parts)}"'):
                raise
        self._upload_id = None

    async def _do_abort(self) -> None:
        tasks, self._tasks = list(self._tasks), set()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._buffer = bytearray()
        upload_id, self._upload_id = self._upload_id, None
        if upload_id is None:
            return
        try:
            await self.state.call("abort_multipart_upload", key=self.key, UploadId=upload_id)
        except FileNotFoundError:
            pass  # already gone
        except OSError as exc:
            self.state.pending_aborts.add((self.key, upload_id))
            log.warning(
                "could not abort multipart upload %s of s3://%s/%s: %s (retried when the "
                "server closes)",
                upload_id,
                self.state.bucket,
                self.key,
                exc,
            )

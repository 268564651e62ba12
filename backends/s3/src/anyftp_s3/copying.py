"""Server-side copy of one object: ``CopyObject``, or a multipart copy for large ones.

S3 copies at most 5 GiB in one ``CopyObject``; a larger object (above ``copy_threshold``)
is copied with ``UploadPartCopy`` pieces of about ``copy_part_size`` into a multipart
upload, which is aborted if any piece fails. The source's ETag is a precondition of every
piece, so an object replaced during the copy fails the copy instead of mixing versions.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from .client import S3State
from .ranges import http_range, split_range

__all__ = ("copy_object",)

log = logging.getLogger(__name__)


async def copy_object(
    state: S3State, source: str, destination: str, size: int, etag: str | None
) -> None:
    """Copy *source* to *destination* inside the bucket, on the S3 side."""
    copy_source = {"Bucket": state.bucket, "Key": source}
    condition: dict[str, Any] = {"CopySourceIfMatch": etag} if etag else {}
    if size <= state.options.copy_threshold:
        await state.call(
            "copy_object",
            key=destination,
            CopySource=copy_source,
            MetadataDirective="COPY",
            **condition,
        )
        return
    upload = await state.call("create_multipart_upload", key=destination)
    upload_id = str(upload["UploadId"])
    pieces = split_range(0, size, state.options.copy_part_size)
    parts: dict[int, dict[str, Any]] = {}
    semaphore = asyncio.Semaphore(max(1, state.options.upload_concurrency * 2))

    async def copy_piece(number: int, start: int, end: int) -> None:
        async with semaphore:
            response = await state.call(
                "upload_part_copy",
                key=destination,
                UploadId=upload_id,
                PartNumber=number,
                CopySource=copy_source,
                CopySourceRange=http_range(start, end),
                **condition,
            )
        parts[number] = {"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]}

    tasks = [asyncio.ensure_future(copy_piece(n, s, e)) for n, (s, e) in enumerate(pieces, start=1)]
    try:
        await asyncio.gather(*tasks)
        await state.call(
            "complete_multipart_upload",
            key=destination,
            UploadId=upload_id,
            MultipartUpload={"Parts": [parts[n] for n in sorted(parts)]},
        )
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.shield(_abort(state, destination, upload_id))
        raise


async def _abort(state: S3State, key: str, upload_id: str) -> None:
    try:
        await state.call("abort_multipart_upload", key=key, UploadId=upload_id)
    except OSError as exc:
        log.warning(
            "could not abort multipart copy %s to s3://%s/%s: %s", upload_id, state.bucket, key, exc
        )

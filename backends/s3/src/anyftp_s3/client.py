"""The per-server S3 state: one aiobotocore client shared by every session, with retries.

:class:`S3State` is what ``S3PathIO.create_state`` returns. The client is created on
first use (under a lock, so concurrent sessions never make two) and closed by
``S3PathIO.close_state`` when the server closes. All requests go through
:meth:`S3State.call`, which adds the bucket, retries transient failures with bounded,
jittered exponential backoff (botocore's own retries are switched off so there is exactly
one policy), and turns what is left into an ``OSError`` (:mod:`anyftp_s3.faults`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import logging
import random
from collections import Counter
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from .faults import BucketNotFoundError, is_transient, to_os_error
from .keys import KeyMap
from .options import S3Options

__all__ = ("S3State",)

log = logging.getLogger(__name__)


@functools.cache
def _session(profile: str | None) -> AioSession:
    """One botocore session per profile for the process: loading the S3 service model
    costs a few hundred milliseconds, and a session holds it for every client."""
    return AioSession(profile=profile)


class S3State:
    """One bucket, one client, shared by all sessions of a server."""

    def __init__(self, options: S3Options) -> None:
        self.options = options
        self.keys = KeyMap(options.prefix)
        #: Requests made, by operation name (for tests and benchmarks).
        self.requests: Counter[str] = Counter()
        #: Multipart uploads whose abort failed (endpoint down): retried at close.
        self.pending_aborts: set[tuple[str, str]] = set()
        self._client: Any = None
        self._stack: contextlib.AsyncExitStack | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    @property
    def bucket(self) -> str:
        return self.options.bucket

    async def client(self) -> Any:
        """The shared aiobotocore S3 client, created on first use."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._closed:
                raise ConnectionError("the S3 backend state is closed (server closed)")
            if self._client is None:
                stack = contextlib.AsyncExitStack()
                self._client = await stack.enter_async_context(self._create_client())
                self._stack = stack
        return self._client

    def _create_client(self) -> Any:
        opts = self.options
        session = _session(opts.profile)
        config_kwargs: dict[str, Any] = {
            "connect_timeout": opts.connect_timeout,
            "read_timeout": opts.read_timeout,
            "max_pool_connections": opts.max_pool_connections,
            "retries": {"total_max_attempts": 1},
        }
        if opts.addressing_style:
            config_kwargs["s3"] = {"addressing_style": opts.addressing_style}
        config_kwargs.update(opts.client_config)
        return session.create_client(
            "s3",
            endpoint_url=opts.endpoint_url,
            region_name=opts.region_name,
            aws_access_key_id=opts.aws_access_key_id,
            aws_secret_access_key=opts.aws_secret_access_key,
            aws_session_token=opts.aws_session_token,
            config=AioConfig(**config_kwargs),
        )

    async def close(self) -> None:
        """Retry pending aborts, then close the client; later calls fail with
        ``ConnectionError``."""
        await self.retry_pending_aborts()
        async with self._lock:
            self._closed = True
            stack, self._stack, self._client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def retry_pending_aborts(self) -> None:
        """Try once more to abort uploads whose abort failed earlier."""
        for key, upload_id in sorted(self.pending_aborts):
            try:
                await self.call("abort_multipart_upload", key=key, UploadId=upload_id)
            except FileNotFoundError:
                pass  # already gone
            except OSError as exc:
                log.warning(
                    "multipart upload %s of s3://%s/%s is still not aborted: %s "
                    "(a bucket lifecycle rule AbortIncompleteMultipartUpload "
                    "removes it)",
                    upload_id,
                    self.bucket,
                    key,
                    exc,
                )
                continue
            self.pending_aborts.discard((key, upload_id))

    def backoff(self, attempt: int) -> float:
        """Delay before retry number *attempt* (0-based): exponential, capped, jittered."""
        ceiling = min(
            self.options.retry_max_delay, self.options.retry_base_delay * float(2**attempt)
        )
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def call(
        self, operation: str, *, key: str | None = None, **params: Any
    ) -> dict[str, Any]:
        """Make one S3 request (``Bucket`` and ``Key`` filled in), retrying transient
        failures; raise the mapped ``OSError`` when it does not succeed."""
        if self._closed:
            raise ConnectionError("the S3 backend state is closed (server closed)")
        if key is not None:
            params["Key"] = key
        attempt = 0
        body = params.get("Body")
        while True:
            self.requests[operation] += 1
            if isinstance(body, io.IOBase):
                body.seek(0)  # a retry sends the whole body again
            try:
                client = await self.client()
                method = getattr(client, operation)
                result: dict[str, Any] = await method(Bucket=self.bucket, **params)
                return result
            except Exception as exc:
                if not is_transient(exc) or attempt >= self.options.max_retries:
                    raise to_os_error(
                        exc, operation, key, self.bucket, self.options.endpoint_url, attempt + 1
                    ) from exc
                await asyncio.sleep(self.backoff(attempt))
                attempt += 1

    async def head(self, key: str) -> dict[str, Any] | None:
        """``HeadObject`` of *key*, or ``None`` when there is no such object."""
        try:
            return await self.call("head_object", key=key)
        except BucketNotFoundError:
            raise
        except FileNotFoundError:
            return None

    async def list_page(
        self,
        prefix: str,
        *,
        delimiter: str | None = None,
        max_keys: int | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        """One ``ListObjectsV2`` page."""
        params: dict[str, Any] = {
            "Prefix": prefix,
            "MaxKeys": max_keys or self.options.list_page_size,
        }
        if delimiter:
            params["Delimiter"] = delimiter
        if token:
            params["ContinuationToken"] = token
        return await self.call("list_objects_v2", **params)

    async def prefix_has_keys(self, prefix: str) -> bool:
        """Whether any key starts with *prefix* (one request)."""
        page = await self.list_page(prefix, max_keys=1)
        return bool(page.get("KeyCount") or page.get("Contents"))

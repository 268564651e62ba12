"""S3 failures become clear storage errors (and FTP replies); throttling and transient
errors are retried with bounded backoff. Real HTTP endpoints only: a flaky front for moto
that injects S3 error answers, and a port where nothing listens."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from pathlib import PurePosixPath
from typing import Any

import pytest
from s3_flaky import FlakyEndpoint

from anyftp.errors import PathIOError, reply_for_path_error
from anyftp_s3.faults import BucketNotFoundError
from anyftp_s3.pathio import S3PathIO

P = PurePosixPath


@pytest.fixture
async def flaky(moto_endpoint: str) -> AsyncIterator[FlakyEndpoint]:
    endpoint = await FlakyEndpoint(moto_endpoint).start()
    yield endpoint
    await endpoint.close()


@pytest.fixture
async def flaky_io(flaky: FlakyEndpoint, s3_options: dict[str, Any]) -> AsyncIterator[S3PathIO]:
    state = S3PathIO.create_state(
        **{**s3_options, "endpoint_url": flaky.url, "max_retries": 3, "retry_base_delay": 0.01}
    )
    yield S3PathIO(timeout=30, state=state)
    await S3PathIO.close_state(state)


async def test_throttled_requests_are_retried_until_they_succeed(
    flaky: FlakyEndpoint, flaky_io: S3PathIO
) -> None:
    flaky.fail(2, 503, "SlowDown")
    await flaky_io.mkdir(P("made-after-throttling"))
    assert flaky.failed == 2
    flaky.fail(1, 500, "InternalError")
    assert await flaky_io.is_dir(P("made-after-throttling"))
    assert flaky.failed == 3


async def test_throttling_that_does_not_stop_gives_up_after_bounded_retries(
    flaky: FlakyEndpoint, flaky_io: S3PathIO
) -> None:
    flaky.fail(-1, 503, "SlowDown")
    started = time.monotonic()
    with pytest.raises(PathIOError) as info:
        await flaky_io.is_file(P("never"))  # one HEAD request per attempt
    assert time.monotonic() - started < 5
    assert flaky.requests == 4  # one try and max_retries=3 retries
    assert isinstance(info.value.cause, TimeoutError)
    assert "throttling" in str(info.value.cause)
    assert reply_for_path_error(info.value) == ("451", "storage timed out")


async def test_access_denied_is_a_permission_error_without_retries(
    flaky: FlakyEndpoint, flaky_io: S3PathIO
) -> None:
    flaky.fail(-1, 403, "AccessDenied")
    with pytest.raises(PathIOError) as info:
        await flaky_io.list(P("/"))
    assert flaky.requests == 1
    assert isinstance(info.value.cause, PermissionError)
    assert "AccessDenied" in str(info.value.cause)
    assert reply_for_path_error(info.value) == ("550", "permission denied")


async def test_missing_bucket_is_reported_by_name(s3_options: dict[str, Any]) -> None:
    state = S3PathIO.create_state(**{**s3_options, "bucket": "no-such-bucket-here"})
    try:
        with pytest.raises(PathIOError) as info:
            await S3PathIO(state=state).list(P("/"))
        assert isinstance(info.value.cause, BucketNotFoundError)
        assert "no-such-bucket-here" in str(info.value.cause)
        with pytest.raises(PathIOError) as info:
            await S3PathIO(state=state).open(P("/f"), "rb")
        assert isinstance(info.value.cause, BucketNotFoundError)
    finally:
        await S3PathIO.close_state(state)


async def test_unreachable_endpoint_is_a_connection_error_after_bounded_retries(
    s3_options: dict[str, Any],
) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    state = S3PathIO.create_state(
        **{
            **s3_options,
            "endpoint_url": dead,
            "max_retries": 2,
            "retry_base_delay": 0.01,
            "connect_timeout": 2,
        }
    )
    try:
        started = time.monotonic()
        with pytest.raises(PathIOError) as info:
            await S3PathIO(state=state).stat(P("/f"))
        assert time.monotonic() - started < 10
        assert isinstance(info.value.cause, ConnectionError)
        assert "unreachable" in str(info.value.cause)
        assert state.requests["head_object"] == 3
        assert reply_for_path_error(info.value) == ("451", "storage unreachable")
    finally:
        await S3PathIO.close_state(state)


async def test_upload_whose_part_fails_is_aborted_and_leaves_nothing(
    flaky: FlakyEndpoint, flaky_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    with pytest.raises(PathIOError):
        async with flaky_io.open(P("big"), "wb") as file:
            await file.write(b"x" * (5 * 1024 * 1024))  # first part goes out
            flaky.fail(-1, 500, "InternalError")
            for _ in range(4):
                await file.write(b"y" * (5 * 1024 * 1024))
    flaky.fail(0)
    await flaky_io.state.retry_pending_aborts()
    listing = await s3_admin.list_objects_v2(Bucket=bucket)
    assert listing.get("KeyCount", 0) == 0
    uploads = await s3_admin.list_multipart_uploads(Bucket=bucket)
    assert uploads.get("Uploads", []) == []


async def test_throttled_part_upload_is_sent_again_whole(
    flaky: FlakyEndpoint, flaky_io: S3PathIO, s3_admin: Any, bucket: str
) -> None:
    first, second = b"a" * (5 * 1024 * 1024), b"b" * (3 * 1024 * 1024)
    async with flaky_io.open(P("f"), "wb") as file:
        flaky.fail(1, 503, "SlowDown")  # hits CreateMultipartUpload or the first part
        await file.write(first)
        flaky.fail(1, 503, "SlowDown")  # hits the last part or the completion
        await file.write(second)
    assert flaky.failed == 2
    reply = await s3_admin.get_object(Bucket=bucket, Key="f")
    async with reply["Body"] as body:
        assert await body.read() == first + second

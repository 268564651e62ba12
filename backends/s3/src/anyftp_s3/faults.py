"""S3 failures: which ones are worth retrying, and which ``OSError`` each becomes.

Every failure of a request ends here, in one place. Transient ones (throttling, 5xx,
dropped connections, timeouts) are retried by :mod:`anyftp_s3.client` with backoff; what
is left is turned into the ``OSError`` subclass that anyftp maps to an FTP reply
(``anyftp.errors.reply_for_path_error``)::

    NoSuchKey, 404, NoSuchBucket          -> FileNotFoundError   (550)
    AccessDenied, 403, bad credentials    -> PermissionError     (550)
    throttling still after the retries    -> TimeoutError        (451)
    endpoint unreachable, connection lost -> ConnectionError     (451)
    request timed out                     -> TimeoutError        (451)
    KeyTooLongError                       -> OSError(ENAMETOOLONG) (553)
    anything else                         -> OSError(EIO)        (451)

The message always says what S3 said, so logs and replies stay readable.
"""

from __future__ import annotations

import asyncio
import errno
from typing import Any

import aiohttp
import botocore.exceptions as boto

__all__ = (
    "error_code",
    "is_transient",
    "is_throttling",
    "is_not_found",
    "to_os_error",
    "S3ConflictError",
    "BucketNotFoundError",
)

THROTTLING_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "TooManyRequests",
        "BandwidthLimitExceeded",
        "EC2ThrottledException",
        "429",
    }
)
TRANSIENT_CODES = THROTTLING_CODES | frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "ServiceUnavailable",
        "OperationAborted",
        "500",
        "502",
        "503",
        "504",
    }
)
NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchBucket", "NoSuchUpload"})
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "403",
        "Forbidden",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AllAccessDisabled",
        "AccountProblem",
        "ExpiredToken",
        "InvalidToken",
        "InvalidObjectState",
    }
)


class S3ConflictError(OSError):
    """The object changed under an operation that relied on it (an ETag precondition)."""


class BucketNotFoundError(FileNotFoundError):
    """The configured bucket does not exist (a configuration error, not a missing file)."""


def error_code(exc: BaseException) -> str | None:
    """The S3 error code of a ``ClientError`` (``None`` for anything else)."""
    if isinstance(exc, boto.ClientError):
        code = exc.response.get("Error", {}).get("Code")
        if code:
            return str(code)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return None if status is None else str(status)
    return None


def _status(exc: BaseException) -> int | None:
    if isinstance(exc, boto.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def is_throttling(exc: BaseException) -> bool:
    return error_code(exc) in THROTTLING_CODES or _status(exc) in (429, 503)


def is_not_found(exc: BaseException) -> bool:
    return error_code(exc) in NOT_FOUND_CODES


def is_transient(exc: BaseException) -> bool:
    """Whether repeating the same request may succeed."""
    if isinstance(exc, boto.ClientError):
        status = _status(exc)
        return error_code(exc) in TRANSIENT_CODES or (status is not None and status >= 500)
    return isinstance(
        exc,
        boto.ConnectionError
        | boto.HTTPClientError
        | boto.IncompleteReadError
        | aiohttp.ClientError
        | ConnectionError
        | asyncio.TimeoutError,
    )


def to_os_error(
    exc: BaseException,
    operation: str,
    key: str | None,
    bucket: str,
    endpoint: str | None,
    attempts: int = 1,
) -> OSError:
    """The ``OSError`` to raise for *exc*, a failure of *operation* on *key*."""
    target = f"s3://{bucket}/{key}" if key is not None else f"s3://{bucket}"
    tried = f" (after {attempts} attempts)" if attempts > 1 else ""
    if isinstance(exc, boto.ClientError):
        code = error_code(exc) or "unknown"
        message = _message(exc.response)
        text = f"S3 {operation} {target}: {code}: {message}{tried}"
        if code == "NoSuchBucket":
            return BucketNotFoundError(
                errno.ENOENT, f"S3 bucket {bucket!r} does not exist ({code} on {operation})"
            )
        if code in NOT_FOUND_CODES:
            return FileNotFoundError(errno.ENOENT, text)
        if code in DENIED_CODES:
            return PermissionError(errno.EACCES, text)
        if is_throttling(exc):
            return TimeoutError(errno.ETIMEDOUT, f"S3 is throttling requests: {text}")
        if code in ("PreconditionFailed", "412"):
            return S3ConflictError(errno.EBUSY, f"object changed while in use: {text}")
        if code == "KeyTooLongError":
            return OSError(errno.ENAMETOOLONG, text)
        if code in ("RequestTimeout", "RequestTimeoutException"):
            return TimeoutError(errno.ETIMEDOUT, text)
        return OSError(errno.EIO, text)
    where = endpoint or "the default AWS endpoint"
    if isinstance(exc, boto.ReadTimeoutError | asyncio.TimeoutError | boto.ConnectTimeoutError):
        return TimeoutError(
            errno.ETIMEDOUT,
            f"S3 endpoint {where} timed out during {operation} {target}{tried}: {exc}",
        )
    if isinstance(
        exc,
        boto.ConnectionError
        | boto.HTTPClientError
        | aiohttp.ClientError
        | ConnectionError
        | boto.IncompleteReadError,
    ):
        return ConnectionError(
            errno.ECONNREFUSED,
            f"S3 endpoint {where} unreachable during {operation} {target}{tried}: {exc}",
        )
    if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
        return PermissionError(errno.EACCES, f"no S3 credentials found: {exc}")
    if isinstance(exc, OSError):
        return exc
    return OSError(errno.EIO, f"S3 {operation} {target} failed: {type(exc).__name__}: {exc}")


def _message(response: dict[str, Any]) -> str:
    error = response.get("Error", {})
    return str(error.get("Message") or "no message")

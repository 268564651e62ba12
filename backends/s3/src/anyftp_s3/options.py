"""Configuration of the S3 backend: one frozen dataclass, checked once at server start.

``S3PathIO.create_state(**options)`` builds an :class:`S3Options` from keyword options.
Options may arrive as strings (from ``anyftp serve --backend-option key=value`` or a config
file); numbers and booleans given as text are converted here, so the rest of the backend
sees typed values only. An unknown option raises ``TypeError`` naming it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

__all__ = ("S3Options", "MIB", "GIB", "MIN_PART_SIZE", "MAX_PART_SIZE", "MAX_PARTS")

MIB = 1024 * 1024
GIB = 1024 * MIB

#: S3 limits: every part but the last is at least 5 MiB, at most 5 GiB, 10,000 parts.
MIN_PART_SIZE = 5 * MIB
MAX_PART_SIZE = 5 * GIB
MAX_PARTS = 10_000

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class S3Options:
    """Everything the backend needs to reach and use one bucket.

    ``bucket``               bucket name (required).
    ``prefix``               key prefix under which the FTP tree lives (``""``: bucket root).
    ``endpoint_url``         S3 endpoint (``None``: AWS, from region); e.g. a MinIO URL.
    ``region_name``          region (``None``: from the botocore chain).
    ``aws_access_key_id``, ``aws_secret_access_key``, ``aws_session_token``
                             explicit credentials; ``None`` uses the botocore chain
                             (environment, shared files, instance role).
    ``profile``              a named profile of the shared config files.
    ``addressing_style``     ``"path"``, ``"virtual"`` or ``None`` (botocore's choice).
    ``part_size``            size of the parts of a multipart upload; also the largest
                             object stored with one PUT. Every 1,000 parts it doubles, so
                             10,000 parts cover objects up to S3's 5 TiB limit.
    ``upload_concurrency``   parts of one upload in flight at once. Memory per upload is
                             bounded by ``part_size * (upload_concurrency + 1)``.
    ``copy_threshold``       objects larger than this are copied (rename) part by part.
    ``copy_part_size``       part size of multipart copies (head/tail copies of APPE/REST).
    ``max_retries``          retries of one request on throttling or transient failure.
    ``retry_base_delay``     first backoff delay in seconds; doubles each retry (jittered).
    ``retry_max_delay``      longest single backoff delay.
    ``connect_timeout``, ``read_timeout``
                             seconds, per HTTP request.
    ``list_page_size``       keys per ``ListObjectsV2`` page (S3's maximum is 1,000).
    ``max_pool_connections`` HTTP connections to S3 shared by all sessions of a server.
    ``client_config``        extra keyword arguments for ``aiobotocore.config.AioConfig``.
    """

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region_name: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    profile: str | None = None
    addressing_style: str | None = None
    part_size: int = 8 * MIB
    upload_concurrency: int = 2
    copy_threshold: int = MAX_PART_SIZE
    copy_part_size: int = 512 * MIB
    max_retries: int = 4
    retry_base_delay: float = 0.1
    retry_max_delay: float = 2.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    list_page_size: int = 1000
    max_pool_connections: int = 32
    client_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            converted = _convert(item.name, str(item.type), value)
            if converted is not value:
                object.__setattr__(self, item.name, converted)
        self._check()

    def _check(self) -> None:
        if not self.bucket:
            raise ValueError("s3 backend: option 'bucket' must name a bucket")
        if self.prefix.startswith("/"):
            object.__setattr__(self, "prefix", self.prefix.lstrip("/"))
        if self.prefix and not self.prefix.endswith("/"):
            object.__setattr__(self, "prefix", self.prefix + "/")
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            raise ValueError(
                f"s3 backend: part_size must be between {MIN_PART_SIZE} and "
                f"{MAX_PART_SIZE} bytes, got {self.part_size}"
            )
        if not MIN_PART_SIZE <= self.copy_part_size <= MAX_PART_SIZE // 2:
            raise ValueError(
                f"s3 backend: copy_part_size must be between {MIN_PART_SIZE} "
                f"and {MAX_PART_SIZE // 2} bytes, got {self.copy_part_size}"
            )
        if not 0 < self.copy_threshold <= MAX_PART_SIZE:
            raise ValueError(f"s3 backend: copy_threshold must be at most {MAX_PART_SIZE}")
        if self.upload_concurrency < 1:
            raise ValueError("s3 backend: upload_concurrency must be at least 1")
        if self.max_retries < 0:
            raise ValueError("s3 backend: max_retries must not be negative")
        if not 1 <= self.list_page_size <= 1000:
            raise ValueError("s3 backend: list_page_size must be between 1 and 1000")
        if self.addressing_style not in (None, "path", "virtual", "auto"):
            raise ValueError("s3 backend: addressing_style must be 'path', 'virtual' or 'auto'")

    def part_size_for(self, part_number: int) -> int:
        """Target size of data part *part_number* (1-based): doubles every 1,000 parts."""
        return min(MAX_PART_SIZE, self.part_size << ((part_number - 1) // 1000))


def _convert(name: str, annotation: str, value: Any) -> Any:
    if not isinstance(value, str):
        if annotation.startswith("str") and isinstance(value, int | float):
            return str(value)  # a bucket or prefix that looked like a number on the CLI
        if annotation == "str" and value is None:
            raise TypeError(f"s3 backend: option {name!r} must be text, not None")
        return value
    try:
        if annotation.startswith("int"):
            return int(value)
        if annotation.startswith("float"):
            return float(value)
        if annotation.startswith("bool"):
            lowered = value.lower()
            if lowered in _TRUE or lowered in _FALSE:
                return lowered in _TRUE
            raise ValueError(value)
    except ValueError:
        raise ValueError(
            f"s3 backend: option {name!r} expects {annotation}, got {value!r}"
        ) from None
    if annotation.endswith("| None") and value.lower() in ("", "none", "null"):
        return None
    return value

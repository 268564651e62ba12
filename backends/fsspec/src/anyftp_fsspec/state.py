"""Per-server state of the fsspec backend: what :meth:`FsspecPathIO.create_state` makes.

Built once from the backend options (the URL, storage options and tuning); every session's
path-IO shares it, so all sessions use one filesystem instance, one connection pool and
one bounded thread pool.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from anyftp.pathio import Capabilities

from .options import merge_options, parse_options
from .profile import Profile, profile_for
from .resolve import Target, resolve_url
from .storage import Settings, Storage, make_storage

__all__ = ("STATE_OPTIONS", "FsspecState", "as_mapping", "build_state")

#: The options :meth:`FsspecPathIO.create_state` takes.
STATE_OPTIONS = frozenset(
    {"url", "storage_options", "max_workers", "read_chunk_size", "write_block_size"}
)

#: The smallest part of a multipart upload on S3 (and the stores that copy its API).
_MIN_PART_SIZE = 5 * 1024 * 1024

#: Storage options that make object stores see their own writes at once.
_OBJECT_STORE_DEFAULTS: dict[str, Any] = {"use_listings_cache": False}


@dataclass
class FsspecState:
    """The served filesystem: where it points, what it can do, and how it is reached."""

    target: Target
    profile: Profile
    storage: Storage

    @property
    def capabilities(self) -> Capabilities:
        return self.profile.capabilities

    @property
    def url(self) -> str:
        return self.target.url

    async def close(self) -> None:
        await self.storage.close()


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be at least 1, got {number}")
    return number


def as_mapping(value: Mapping[str, Any] | Iterable[str] | str | None) -> dict[str, Any]:
    """Storage options as a mapping, JSON object text, or ``key=value`` texts."""
    if value is None:
        return {}
    if isinstance(value, str):
        parsed = json.loads(value) if value.strip() else {}
        if not isinstance(parsed, dict):
            raise TypeError(f"storage_options must be a JSON object, got {value!r}")
        return parsed
    if isinstance(value, Mapping):
        return dict(value)
    return parse_options(value)


def build_state(
    url: str,
    storage_options: Mapping[str, Any] | Iterable[str] | str | None = None,
    max_workers: int | str = Settings.max_workers,
    read_chunk_size: int | str = Settings.read_chunk_size,
    write_block_size: int | str = Settings.write_block_size,
) -> FsspecState:
    """Resolve *url* and make the state (see :meth:`FsspecPathIO.create_state`)."""
    options = as_mapping(storage_options)
    settings = Settings(
        max_workers=_as_int("max_workers", max_workers),
        read_chunk_size=_as_int("read_chunk_size", read_chunk_size),
        write_block_size=_as_int("write_block_size", write_block_size),
    )
    target = resolve_url(url, options)
    profile = profile_for(target)
    if profile.kind == "object":
        if settings.write_block_size < _MIN_PART_SIZE:
            raise ValueError(
                f"write_block_size must be at least {_MIN_PART_SIZE} bytes (5 MiB) on object "
                f"stores, the smallest multipart part; got {settings.write_block_size}"
            )
        target = Target(
            target.url,
            target.protocol,
            target.fs_class,
            target.root,
            merge_options(_OBJECT_STORE_DEFAULTS, target.storage_options),
            target.chained,
        )
    return FsspecState(target, profile, make_storage(target, profile, settings))

"""What each kind of fsspec filesystem can do, decided once per served URL.

fsspec has no flags for "can set mtime" or "has real directories", so the answer comes
from the filesystem class and protocol, conservatively:

``local``   the local disk (``file://``): everything, including mtime, chmod and a real
            file descriptor for ``sendfile``.
``memory``  fsspec's in-memory filesystem: append and in-place writes, no mtime.
``object``  object stores (S3, GCS, Azure, ...): no append, no in-place writes, no mtime;
            directories are zero-byte ``name/`` marker objects written by MKD.
``generic`` anything else (sftp, zip, chained URLs): plain reads and whole-file writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem

from anyftp.pathio import Capabilities

from .resolve import Target

__all__ = ("OBJECT_STORE_PROTOCOLS", "Kind", "Profile", "profile_for")

Kind = Literal["local", "memory", "object", "generic"]

#: Protocols whose namespace is flat keys with ``/`` as a convention.
OBJECT_STORE_PROTOCOLS = frozenset(
    {
        "s3",
        "s3a",
        "gs",
        "gcs",
        "az",
        "abfs",
        "abfss",
        "adl",
        "oss",
        "tos",
        "tosfs",
        "r2",
    }
)

_CAPABILITIES: dict[str, Capabilities] = {
    "local": Capabilities(
        set_mtime=True,
        append=True,
        seek_write=True,
        empty_directories=True,
        file_descriptor=True,
        chmod=True,
        rename_directories=True,
        concurrent_writes=True,
    ),
    "memory": Capabilities(
        set_mtime=False,
        append=True,
        seek_write=True,
        empty_directories=True,
        file_descriptor=False,
        chmod=False,
        rename_directories=True,
        concurrent_writes=True,
    ),
    "object": Capabilities(
        set_mtime=False,
        append=False,
        seek_write=False,
        empty_directories=True,
        file_descriptor=False,
        chmod=False,
        rename_directories=True,
        concurrent_writes=True,
    ),
    "generic": Capabilities(
        set_mtime=False,
        append=False,
        seek_write=False,
        empty_directories=True,
        file_descriptor=False,
        chmod=False,
        rename_directories=True,
        concurrent_writes=True,
    ),
}


@dataclass(frozen=True)
class Profile:
    """The kind of a served filesystem and the capabilities that follow from it."""

    kind: Kind
    capabilities: Capabilities

    @property
    def marker_directories(self) -> bool:
        """Directories are ``name/`` marker objects (object stores)."""
        return self.kind == "object"


def profile_for(target: Target) -> Profile:
    """The profile of the filesystem *target* names."""
    kind: Kind
    if target.chained:
        kind = "generic"
    elif issubclass(target.fs_class, LocalFileSystem):
        kind = "local"
    elif issubclass(target.fs_class, MemoryFileSystem):
        kind = "memory"
    elif target.protocol in OBJECT_STORE_PROTOCOLS or _flat(target):
        kind = "object"
    else:
        kind = "generic"
    return Profile(kind, _CAPABILITIES[kind])


def _flat(target: Target) -> bool:
    protocols = target.fs_class.protocol
    names = (protocols,) if isinstance(protocols, str) else tuple(protocols)
    return any(name in OBJECT_STORE_PROTOCOLS for name in names)

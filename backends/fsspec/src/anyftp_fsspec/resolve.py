"""From a URL to an fsspec filesystem class, the root path inside it and its options.

``memory://``, ``file:///srv/x``, ``s3://bucket/prefix``, ``zip://inner::file:///a.zip``:
every protocol in the URL (chained ones included) is looked up in fsspec's registry here,
once, when the server is configured. A protocol nobody implements raises
:class:`~anyftp_fsspec.errors.UnknownProtocol`; one whose package is missing raises
:class:`~anyftp_fsspec.errors.MissingImplementation` naming the package to install.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import fsspec
from fsspec.core import split_protocol
from fsspec.registry import known_implementations
from fsspec.spec import AbstractFileSystem

from .errors import MissingImplementation, UnknownProtocol
from .options import merge_options

__all__ = ("Target", "filesystem_class", "resolve_url")

#: Import names whose distribution on PyPI is called differently.
_PIP_NAMES = {
    "smbclient": "smbprotocol",
    "libarchive": "libarchive-c",
    "huggingface_hub": "huggingface-hub",
    "pygit2": "pygit2",
    "lakefs_spec": "lakefs-spec",
    "dropboxdrivefs": "dropboxdrivefs",
    "webdav4": "webdav4[fsspec]",
}


@dataclass(frozen=True)
class Target:
    """What a URL names: the filesystem class to build and where to start inside it.

    ``chained`` URLs (``a::b://...``) are built with :func:`fsspec.core.url_to_fs`, which
    also gives the root; for the others ``root`` is known here.
    """

    url: str
    protocol: str
    fs_class: type[AbstractFileSystem]
    root: str
    storage_options: dict[str, Any] = field(default_factory=dict)
    chained: bool = False

    @property
    def is_async(self) -> bool:
        """Whether the filesystem has coroutine methods to call on the event loop."""
        return not self.chained and bool(getattr(self.fs_class, "async_impl", False))


def _protocol_of(part: str, chained: bool) -> str:
    protocol, _ = split_protocol(part)
    if protocol is not None:
        return str(protocol)
    if chained and part and "/" not in part and ":" not in part:
        return part  # a bare chain element such as "simplecache"
    return "file"


def _package_for(exc: ImportError, class_path: str) -> str | None:
    cause = exc.__cause__ if isinstance(exc.__cause__, ImportError) else exc
    missing = getattr(cause, "name", None)
    if isinstance(missing, str) and missing:
        top = missing.split(".", 1)[0]
        if top != "fsspec":
            return _PIP_NAMES.get(top, top)
    top = class_path.split(".", 1)[0]
    if top and top != "fsspec":
        return _PIP_NAMES.get(top, top)
    return None


def filesystem_class(protocol: str, url: str) -> type[AbstractFileSystem]:
    """fsspec's class for *protocol*, or an error that says what to install."""
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except ImportError as exc:
        spec = known_implementations.get(protocol, {})
        hint = spec.get("err") or str(exc) or f"the package behind {protocol!r} is missing"
        raise MissingImplementation(
            protocol, url, hint, _package_for(exc, spec.get("class", ""))
        ) from exc
    except ValueError as exc:
        raise UnknownProtocol(protocol, url, sorted(known_implementations)) from exc
    if not (isinstance(cls, type) and issubclass(cls, AbstractFileSystem)):
        raise UnknownProtocol(protocol, url, sorted(known_implementations))
    return cls


def resolve_url(url: str, storage_options: Mapping[str, Any] | None = None) -> Target:
    """Check every protocol in *url* and work out the filesystem class and root path.

    Options embedded in the URL (``s3://key:secret@bucket``, ``sftp://user@host``) are
    read with the class's ``_get_kwargs_from_urls``; *storage_options* win over them.
    """
    if not isinstance(url, str) or not url:
        raise ValueError(f"the fsspec backend needs a URL, got {url!r}")
    options = dict(storage_options or {})
    parts = url.split("::")
    chained = len(parts) > 1
    classes = [filesystem_class(_protocol_of(part, chained), url) for part in parts]
    protocol = _protocol_of(parts[0], chained)
    if chained:
        return Target(url, protocol, classes[0], "", options, chained=True)
    cls = classes[0]
    from_url = cls._get_kwargs_from_urls(url)
    root = cls._strip_protocol(url)
    if isinstance(root, list):  # pragma: no cover - only for list input
        root = root[0]
    return Target(
        url, protocol, cls, str(root).rstrip("/") or str(root), merge_options(from_url, options)
    )

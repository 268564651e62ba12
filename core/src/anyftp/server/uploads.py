"""Uploads that never leave a half-written file under the name the client asked for.

A STOR (or STOU) that fails, is aborted, or is cut by a server shutdown must not leave a
truncated file that looks complete. Backends that *discard* an aborted write (object
stores drop the multipart upload, the memory backend unlinks the new node) already give
that. For the others (the local disk) the server writes to a temporary name in the same
directory and renames it over the target only after the last byte was stored and the
file closed; on failure the temporary file is removed.

Which backends need the temporary name is read from the backend instance:
``discards_aborted_writes`` (a class attribute or property) when it declares one;
otherwise a backend that overrides :meth:`~anyftp.pathio.AbstractPathIO.abort` is taken
to discard (that is what the contract says an override is for), and one that keeps the
default (abort = close) is not. ``Server(atomic_uploads=True/False)`` forces the choice.

Resumed uploads (REST + STOR) and APPE change an existing file in place by nature and
are not covered: a failure leaves the bytes that were stored, as the client expects.
"""

from __future__ import annotations

import secrets
from pathlib import PurePath

from ..pathio import AbstractPathIO

__all__ = ("discards_aborted_writes", "uses_temporary_name", "temporary_path", "TEMPORARY_SUFFIX")

#: Suffix of the temporary names uploads are written under.
TEMPORARY_SUFFIX = ".anyftp-part"

# Most filesystems limit a name to 255 bytes; the prefix, token and suffix need 30.
_NAME_BYTES = 200


def discards_aborted_writes(path_io: AbstractPathIO) -> bool:
    """Whether aborting a file opened for writing leaves no trace of the new data."""
    declared = getattr(path_io, "discards_aborted_writes", None)
    if isinstance(declared, bool):
        return declared
    inner = getattr(path_io, "inner", None)  # a wrapper (anyftp.testing.faults) forwards
    if isinstance(inner, AbstractPathIO):
        return discards_aborted_writes(inner)
    return type(path_io).abort is not AbstractPathIO.abort


def uses_temporary_name(path_io: AbstractPathIO, forced: bool | None = None) -> bool:
    """Whether a new upload to *path_io* goes through a temporary name (*forced*: the
    server's ``atomic_uploads`` option; ``None`` decides from the backend)."""
    if forced is not None:
        return forced
    return not discards_aborted_writes(path_io)


def temporary_path(target: PurePath) -> PurePath:
    """A fresh hidden name next to *target* to upload into."""
    name = target.name.encode("utf-8", "surrogateescape")[:_NAME_BYTES]
    short = name.decode("utf-8", "ignore")
    return target.with_name(f".{short}.{secrets.token_hex(4)}{TEMPORARY_SUFFIX}")

"""The one exception hierarchy of anyftp.

Every exception anyftp raises on purpose is one of these::

    AnyFTPError (alias AIOFTPException)
    ├── StatusCodeError            the peer answered with a code we did not expect
    ├── PathIsNotAbsolute          a path given where an absolute one is required
    ├── PathIOError                any storage failure; ``reason`` keeps the cause
    │   └── PathOutsideRootError   a path resolves outside the backend's root (also PermissionError)
    ├── NoAvailablePort            no data port left in the configured range (also OSError)
    ├── InvalidCommand             a command line holds CR/LF/NUL or is too long (also ValueError)
    ├── ListingParseError          a LIST/MLSx line that no parser understands (also ValueError)
    ├── BackendError               selecting a storage backend failed
    │   ├── BackendNotFound        no backend of that name is installed (also LookupError)
    │   └── InvalidBackend         the object is not an AbstractPathIO subclass (also TypeError)
    └── PluginError                enabling or configuring a server plugin failed (also ValueError)

Storage errors are mapped to FTP reply codes in one place:
:func:`anyftp.errors.reply_for_path_error`.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from types import TracebackType
from typing import Any

__all__ = (
    "AnyFTPError",
    "AIOFTPException",
    "StatusCodeError",
    "PathIsNotAbsolute",
    "PathIOError",
    "PathOutsideRootError",
    "NoAvailablePort",
    "InvalidCommand",
    "ListingParseError",
    "BackendError",
    "BackendNotFound",
    "InvalidBackend",
    "PluginError",
    "reply_for_path_error",
)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType]
OptExcInfo = ExcInfo | tuple[None, None, None]


class AnyFTPError(Exception):
    """Base class of every anyftp exception."""


#: The name aioftp uses for its base class; code written for aioftp catches this.
AIOFTPException = AnyFTPError


def _as_tuple(codes: Any) -> tuple[Any, ...]:
    if isinstance(codes, str | bytes) or not isinstance(codes, Iterable):
        return (codes,)
    return tuple(codes)


class StatusCodeError(AnyFTPError):
    """The server answered with a code that was not expected.

    ``expected_codes`` and ``received_codes`` are always tuples (even for one code) of
    :class:`anyftp.Code`; ``info`` is the list of reply lines.
    """

    def __init__(self, expected_codes: Any, received_codes: Any, info: list[str] | str) -> None:
        super().__init__(f"Waiting for {expected_codes} but got {received_codes} {info!r}")
        self.expected_codes: tuple[Any, ...] = _as_tuple(expected_codes)
        self.received_codes: tuple[Any, ...] = _as_tuple(received_codes)
        self.info = info


class PathIsNotAbsolute(AnyFTPError):
    """A path that must be absolute is not."""


class PathIOError(AnyFTPError):
    """Any storage failure.

    ``reason`` is the ``sys.exc_info()`` triple of the underlying error (as in aioftp);
    :attr:`cause` gives the exception itself. Create one with :meth:`from_exception`
    or, inside an ``except`` block, with ``PathIOError(reason=sys.exc_info())``.
    """

    def __init__(self, *args: Any, reason: OptExcInfo | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reason: OptExcInfo | None = reason

    _cause: BaseException | None = None

    @classmethod
    def from_exception(cls, exc: BaseException, message: str | None = None) -> PathIOError:
        """Wrap *exc*, keeping it as the reason."""
        err = cls(message or f"{type(exc).__name__}: {exc}", reason=exc_info_of(exc))
        err._cause = exc
        return err

    @property
    def cause(self) -> BaseException | None:
        """The underlying exception, or ``None``."""
        if self._cause is not None:
            return self._cause
        if self.reason is not None and self.reason[1] is not None:
            return self.reason[1]
        return self.__cause__

    def __str__(self) -> str:
        text = super().__str__()
        cause = self.cause
        if cause is not None and not text:
            return f"{type(cause).__name__}: {cause}"
        return text


class PathOutsideRootError(PathIOError, PermissionError):
    """A path resolves (through ``..``, a symlink or an encoding trick) outside the root."""

    def __init__(self, path: Any, root: Any) -> None:
        PathIOError.__init__(self, f"path {str(path)!r} is outside the root {str(root)!r}")
        self.path = path
        self.root = root
        self.errno = errno.EACCES


class NoAvailablePort(AnyFTPError, OSError):
    """No data port is free in the configured range."""


class InvalidCommand(AnyFTPError, ValueError):
    """A command line holds CR, LF or NUL inside it, or is longer than allowed."""


class ListingParseError(AnyFTPError, ValueError):
    """A directory listing line that no parser understands; ``line`` is the line."""

    def __init__(self, line: str, message: str | None = None) -> None:
        super().__init__(message or f"can not parse listing line {line!r}")
        self.line = line


class BackendError(AnyFTPError):
    """Selecting a storage backend failed."""


class BackendNotFound(BackendError, LookupError):
    """No backend of the requested name is installed.

    The message lists the installed backends and, for a known name, the extra to install.
    """

    def __init__(self, name: str, installed: Iterable[str], hint: str | None = None) -> None:
        names = sorted(installed)
        listed = ", ".join(names) if names else "none"
        message = f"no anyftp backend named {name!r} is installed (installed: {listed})"
        if hint:
            message += f"; install it with: {hint}"
        super().__init__(message)
        self.name = name
        self.installed = names
        self.hint = hint


class InvalidBackend(BackendError, TypeError):
    """The object given as a backend is not a subclass of AbstractPathIO."""


class PluginError(AnyFTPError, ValueError):
    """A server plugin could not be enabled: not installed, blocked by
    ``ANYFTP_BLOCK_PLUGINS``, implementing undeclared hooks, or refusing its options."""


# --- storage error -> FTP reply, in one place --------------------------------------------


def reply_for_path_error(exc: BaseException) -> tuple[str, str]:
    """Map a storage exception (a :class:`PathIOError` or the raw one) to ``(code, text)``.

    Permanent conditions (missing, exists, not a directory, permission) get 550/553;
    a full disk gets 452 and a file over the storage's size limit (EFBIG) 552; anything
    transient (timeouts, unreachable storage) gets 451, so the client knows it may try
    again.
    """
    cause: BaseException | None = exc
    if isinstance(exc, PathIOError) and not isinstance(exc, PathOutsideRootError):
        cause = exc.cause or exc
    if isinstance(cause, PathOutsideRootError):
        return "550", "permission denied"
    if isinstance(cause, FileNotFoundError):
        return "550", "no such file or directory"
    if isinstance(cause, FileExistsError):
        return "550", "already exists"
    if isinstance(cause, IsADirectoryError):
        return "550", "is a directory"
    if isinstance(cause, NotADirectoryError):
        return "550", "not a directory"
    if isinstance(cause, PermissionError):
        return "550", "permission denied"
    if isinstance(cause, TimeoutError):
        return "451", "storage timed out"
    if isinstance(cause, ConnectionError):
        return "451", "storage unreachable"
    if isinstance(cause, OSError):
        if cause.errno in (errno.ENOSPC, errno.EDQUOT):
            return "452", "insufficient storage space"
        if cause.errno == errno.EFBIG:
            return "552", "file too large for the storage"
        if cause.errno == errno.ENOTEMPTY:
            return "550", "directory not empty"
        if cause.errno == errno.ENAMETOOLONG:
            return "553", "file name too long"
        if cause.errno == errno.EINVAL:
            return "553", "file name not allowed"
    return "451", "local error in processing"


def exc_info_of(exc: BaseException) -> OptExcInfo:
    """``sys.exc_info()``-shaped triple for *exc* (for building :class:`PathIOError`)."""
    if exc.__traceback__ is None:
        return (None, None, None)
    return (type(exc), exc, exc.__traceback__)


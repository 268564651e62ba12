"""The exception hierarchy and the one mapping from storage errors to FTP replies."""

from __future__ import annotations

import errno
import sys

import pytest

import anyftp
from anyftp.errors import (
    AIOFTPException,
    AnyFTPError,
    BackendError,
    BackendNotFound,
    InvalidBackend,
    InvalidCommand,
    ListingParseError,
    NoAvailablePort,
    PathIOError,
    PathIsNotAbsolute,
    PathOutsideRootError,
    StatusCodeError,
    reply_for_path_error,
)


@pytest.mark.parametrize(
    ("cause", "code"),
    [
        (FileNotFoundError(errno.ENOENT, "x"), "550"),
        (FileExistsError(errno.EEXIST, "x"), "550"),
        (IsADirectoryError(errno.EISDIR, "x"), "550"),
        (NotADirectoryError(errno.ENOTDIR, "x"), "550"),
        (PermissionError(errno.EACCES, "x"), "550"),
        (OSError(errno.ENOTEMPTY, "x"), "550"),
        (OSError(errno.ENOSPC, "x"), "452"),
        (OSError(errno.EDQUOT, "x"), "452"),
        (OSError(errno.ENAMETOOLONG, "x"), "553"),
        (OSError(errno.EINVAL, "x"), "553"),
        (TimeoutError(), "451"),
        (ConnectionResetError(), "451"),
        (OSError(errno.EIO, "x"), "451"),
        (RuntimeError("anything else"), "451"),
        (NotImplementedError("can not"), "451"),
    ],
)
def test_storage_errors_map_to_reply_codes(cause: BaseException, code: str) -> None:
    raw_code, raw_text = reply_for_path_error(cause)
    wrapped_code, wrapped_text = reply_for_path_error(PathIOError.from_exception(cause))
    assert raw_code == wrapped_code == code
    assert raw_text == wrapped_text and raw_text


def test_texts_name_the_condition() -> None:
    assert reply_for_path_error(FileNotFoundError()) == ("550", "no such file or directory")
    assert reply_for_path_error(OSError(errno.ENOTEMPTY, "x"))[1] == "directory not empty"
    assert reply_for_path_error(OSError(errno.ENOSPC, "x"))[1] == "insufficient storage space"


def test_a_path_outside_the_root_is_permission_denied() -> None:
    error = PathOutsideRootError("/etc/passwd", "/srv")
    assert reply_for_path_error(error) == ("550", "permission denied")
    assert isinstance(error, PathIOError) and isinstance(error, PermissionError)
    assert error.errno == errno.EACCES
    assert "/etc/passwd" in str(error) and "/srv" in str(error)


def test_a_path_io_error_without_a_cause_is_a_local_error() -> None:
    assert reply_for_path_error(PathIOError("?")) == ("451", "local error in processing")


def test_path_io_error_keeps_the_exc_info_triple_as_reason() -> None:
    try:
        raise FileNotFoundError(errno.ENOENT, "gone")
    except FileNotFoundError:
        error = PathIOError(reason=sys.exc_info())
    assert error.reason is not None and error.reason[0] is FileNotFoundError
    assert isinstance(error.cause, FileNotFoundError)
    assert str(error) == "FileNotFoundError: [Errno 2] gone"


def test_from_exception_keeps_the_cause_even_without_a_traceback() -> None:
    cause = ValueError("fresh")
    error = PathIOError.from_exception(cause)
    assert error.cause is cause
    assert str(error) == "ValueError: fresh"


def test_status_code_error_always_holds_tuples() -> None:
    error = StatusCodeError("226", "550", ["550 no"])
    assert error.expected_codes == ("226",) and error.received_codes == ("550",)
    many = StatusCodeError(("226", "250"), ["550"], "550 no")
    assert many.expected_codes == ("226", "250") and many.received_codes == ("550",)
    assert many.info == "550 no"


def test_backend_not_found_lists_installed_names_and_the_hint() -> None:
    error = BackendNotFound("s3", ["memory", "local"], 'pip install "anyftp[s3]"')
    assert error.installed == ["local", "memory"]
    assert str(error) == (
        "no anyftp backend named 's3' is installed (installed: local, memory); "
        'install it with: pip install "anyftp[s3]"'
    )
    assert "installed: none" in str(BackendNotFound("x", []))


def test_the_hierarchy_has_one_root_with_builtin_bases_where_useful() -> None:
    assert AIOFTPException is AnyFTPError is anyftp.AIOFTPException
    for cls in (
        StatusCodeError,
        PathIsNotAbsolute,
        PathIOError,
        NoAvailablePort,
        InvalidCommand,
        ListingParseError,
        BackendError,
    ):
        assert issubclass(cls, AnyFTPError)
    assert issubclass(NoAvailablePort, OSError)
    assert issubclass(InvalidCommand, ValueError)
    assert issubclass(ListingParseError, ValueError)
    assert issubclass(BackendNotFound, LookupError) and issubclass(BackendNotFound, BackendError)
    assert issubclass(InvalidBackend, TypeError) and issubclass(InvalidBackend, BackendError)
    assert ListingParseError("bad line").line == "bad line"

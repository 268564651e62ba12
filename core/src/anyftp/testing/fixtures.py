"""The fixtures a backend's conformance tests override, and helpers the suite uses.

A backend test module subclasses :class:`anyftp.testing.ConformanceSuite` (which
inherits :class:`BackendFixtures`) and overrides two fixtures:

``path_io``
    an instance of the backend, ready to use (a ``pytest_asyncio.fixture`` if making it
    needs ``await``; release its state there too).
``base``
    an existing, empty directory in the backend's namespace, fresh for every test, as a
    path of the backend's ``path_class``.

Optional overrides: ``make_path_io`` (how to build another instance that shares
``path_io``'s state, e.g. with ``root=``), ``state_options`` (keyword options that
:meth:`~anyftp.pathio.AbstractPathIO.create_state` accepts), and the class attributes
:attr:`BackendFixtures.large_file_size` and :attr:`BackendFixtures.concurrency`.
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import PurePath
from typing import Any, ClassVar

import pytest

from ..errors import PathIOError
from ..pathio import AbstractPathIO, Capabilities

__all__ = (
    "BackendFixtures",
    "MakePathIO",
    "assert_errno",
    "names_of",
    "raises_path_io_error",
    "read_bytes",
    "write_bytes",
)

#: ``make_path_io(**kwargs)``: another instance of the backend sharing the state.
MakePathIO = Callable[..., AbstractPathIO]


class BackendFixtures:
    """Abstract fixtures; a backend's test class overrides ``path_io`` and ``base``."""

    #: Size of the "several MiB" round-trip file; odd so blocks never divide it evenly.
    large_file_size: ClassVar[int] = 5 * 1024 * 1024 + 3
    #: How many tasks the concurrency tests run at once.
    concurrency: ClassVar[int] = 50

    @pytest.fixture
    def path_io(self) -> AbstractPathIO:
        """An instance of the backend under test. Override it."""
        raise NotImplementedError(
            "a conformance test class must override the 'path_io' fixture "
            "to return an instance of its backend"
        )

    @pytest.fixture
    def base(self) -> PurePath:
        """An existing, empty directory in the backend's namespace. Override it."""
        raise NotImplementedError(
            "a conformance test class must override the 'base' fixture "
            "to return an empty directory path in its backend's namespace"
        )

    @pytest.fixture
    def make_path_io(self, path_io: AbstractPathIO) -> MakePathIO:
        """Build another instance sharing ``path_io``'s state (keywords: ``root``,
        ``timeout``). Override it when the backend's constructor needs more."""

        def make(**kwargs: Any) -> AbstractPathIO:
            return type(path_io)(connection=path_io.connection, state=path_io.state, **kwargs)

        return make

    @pytest.fixture
    def capabilities(self, path_io: AbstractPathIO) -> Capabilities:
        """The backend's declared capabilities (read, never probed)."""
        return path_io.capabilities

    @pytest.fixture
    def state_options(self) -> dict[str, Any]:
        """Options with which ``create_state`` makes a working state (default: none)."""
        return {}


@contextlib.contextmanager
def raises_path_io_error(
    *causes: type[BaseException],
) -> Iterator[pytest.ExceptionInfo[PathIOError]]:
    """Expect a :class:`PathIOError` whose ``cause`` is one of *causes* (any when empty)."""
    __tracebackhide__ = True
    with pytest.raises(PathIOError) as info:
        yield info
    cause = info.value.cause
    if causes and not isinstance(cause, causes):
        wanted = " or ".join(c.__name__ for c in causes)
        pytest.fail(f"expected a PathIOError caused by {wanted}, got one caused by {cause!r}")


def assert_errno(info: pytest.ExceptionInfo[PathIOError], codes: Collection[int]) -> None:
    """The cause of the PathIOError in *info* is an OSError with one of *codes*."""
    __tracebackhide__ = True
    cause = info.value.cause
    if not isinstance(cause, OSError) or cause.errno not in codes:
        wanted = ", ".join(errno.errorcode.get(c, str(c)) for c in codes)
        pytest.fail(f"expected an OSError with errno in ({wanted}), got {cause!r}")


async def write_bytes(
    path_io: AbstractPathIO, path: PurePath, data: bytes, mode: str = "wb"
) -> None:
    """Write *data* to *path* through the backend and close the file."""
    async with path_io.open(path, mode) as file:
        if data:
            await file.write(data)


async def read_bytes(path_io: AbstractPathIO, path: PurePath) -> bytes:
    """The whole content of *path* read through the backend."""
    async with path_io.open(path, "rb") as file:
        return await file.read()


def names_of(paths: Iterable[PurePath]) -> set[str]:
    """Base names of *paths*."""
    return {PurePath(p).name for p in paths}

"""Conformance suite for anyftp storage backends, shipped in the wheel.

A backend proves it keeps the :class:`~anyftp.pathio.AbstractPathIO` contract by running
this suite from its own tests::

    import pytest
    from anyftp.testing import ConformanceSuite
    from my_backend import MyPathIO

    class TestMyBackend(ConformanceSuite):
        @pytest.fixture
        def path_io(self):
            return MyPathIO(state=MyPathIO.create_state())

        @pytest.fixture
        async def base(self, path_io):   # a pytest_asyncio.fixture in strict mode
            path = MyPathIO.path_class("/conformance")
            await path_io.mkdir(path)
            return path

It needs ``pytest`` and ``pytest-asyncio`` (``pip install "anyftp[testing]"``). Tests read
the backend's declared :class:`~anyftp.pathio.Capabilities`: an operation the backend says
it lacks must be refused with a :class:`~anyftp.errors.PathIOError` (or the test is marked
xfail with the reason), never skipped silently. Backends on a real filesystem also inherit
:class:`SymlinkConformance`.
"""

from __future__ import annotations

from .conformance import ConformanceSuite
from .files import FileConformance, FileErrorConformance, RoundTripConformance
from .fixtures import (
    BackendFixtures,
    MakePathIO,
    assert_errno,
    names_of,
    raises_path_io_error,
    read_bytes,
    write_bytes,
)
from .paths import (
    DirectoryConformance,
    ListingConformance,
    MetadataConformance,
    PathQueryConformance,
    RemovalConformance,
    RenameConformance,
    StatConformance,
)
from .safety import ConcurrencyConformance, RootConformance, StateConformance
from .symlinks import SymlinkConformance

__all__ = (
    "BackendFixtures",
    "ConcurrencyConformance",
    "ConformanceSuite",
    "DirectoryConformance",
    "FileConformance",
    "FileErrorConformance",
    "ListingConformance",
    "MakePathIO",
    "MetadataConformance",
    "PathQueryConformance",
    "RemovalConformance",
    "RenameConformance",
    "RootConformance",
    "RoundTripConformance",
    "StatConformance",
    "StateConformance",
    "SymlinkConformance",
    "assert_errno",
    "names_of",
    "raises_path_io_error",
    "read_bytes",
    "write_bytes",
)

"""The whole conformance suite as one class to inherit: :class:`ConformanceSuite`.

The parts (:mod:`.paths`, :mod:`.files`, :mod:`.safety`) can also be inherited one by
one, e.g. while a new backend is being written.
"""

from __future__ import annotations

from .files import FileConformance, FileErrorConformance, RoundTripConformance
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

__all__ = ("ConformanceSuite",)


class ConformanceSuite(
    PathQueryConformance,
    DirectoryConformance,
    RemovalConformance,
    StatConformance,
    ListingConformance,
    RenameConformance,
    MetadataConformance,
    RoundTripConformance,
    FileConformance,
    FileErrorConformance,
    RootConformance,
    StateConformance,
    ConcurrencyConformance,
):
    """Every conformance test. Subclass it as ``Test<Backend>`` and override the
    ``path_io`` and ``base`` fixtures (see :mod:`anyftp.testing.fixtures`)."""

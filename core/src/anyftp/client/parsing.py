"""Listing-line parsing of the client, under aioftp's method names (a BaseClient mixin).

MLSx lines go to :mod:`anyftp.protocol.mlsx`; LIST lines to the user's custom parser
(first or last), then the Unix and Windows parsers of :mod:`anyftp.protocol.listparse`.
Subclasses may override any of these methods, as with aioftp.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import Any

from .. import errors
from ..protocol import listparse, mlsx

__all__ = ("ListLineParsing", "ParseListLineCustom")

ParseListLineCustom = Callable[[bytes], tuple[PurePosixPath, dict[str, Any]]]


class ListLineParsing:
    """Needs ``encoding``, ``parse_list_line_custom`` and ``parse_list_line_custom_first``."""

    encoding: str
    parse_list_line_custom: ParseListLineCustom | None
    parse_list_line_custom_first: bool

    @staticmethod
    def parse_unix_mode(s: str) -> int:
        """Permission bits from ``rwxr-xr-x`` letters."""
        return listparse.parse_unix_mode(s)

    def _decode_line(self, line: bytes | str) -> str:
        if isinstance(line, bytes):
            return line.decode(self.encoding, errors="surrogateescape")
        return line

    def parse_list_line_unix(self, b: bytes | str) -> tuple[PurePosixPath, dict[str, Any]]:
        """One Unix ``ls -l`` line; ValueError if it is not one."""
        name, info = listparse.parse_unix_line(self._decode_line(b))
        return PurePosixPath(name), info

    def parse_list_line_windows(self, b: bytes | str) -> tuple[PurePosixPath, dict[str, Any]]:
        """One Windows/IIS line; ValueError if it is not one."""
        name, info = listparse.parse_windows_line(self._decode_line(b))
        return PurePosixPath(name), info

    def parse_list_line(self, b: bytes | str) -> tuple[PurePosixPath, dict[str, Any]]:
        """Parse one LIST line: the custom parser (first or last), Unix, then Windows.

        Raises :class:`~anyftp.errors.ListingParseError` naming the line if none fits.
        """
        raw = b if isinstance(b, bytes) else b.encode(self.encoding, errors="surrogateescape")
        parsers: list[Callable[[Any], tuple[PurePosixPath, dict[str, Any]]]] = [
            self.parse_list_line_unix,
            self.parse_list_line_windows,
        ]
        custom = self.parse_list_line_custom
        if custom is not None:

            def run_custom(value: Any) -> tuple[PurePosixPath, dict[str, Any]]:
                path, info = custom(raw)
                return PurePosixPath(path), dict(info)

            parsers.insert(0 if self.parse_list_line_custom_first else 2, run_custom)
        for parser in parsers:
            try:
                return parser(b)
            except (ValueError, IndexError, KeyError):
                continue
        raise errors.ListingParseError(self._decode_line(b).rstrip("\r\n"))

    def parse_mlsx_line(self, b: bytes | str) -> tuple[PurePosixPath, dict[str, Any]]:
        """Parse one MLSD/MLST line into ``(path, facts)``."""
        text = self._decode_line(b).rstrip("\r\n")
        try:
            name, facts = mlsx.parse_facts_line(text)
        except (ValueError, IndexError) as exc:
            raise errors.ListingParseError(text, f"can not parse MLSx line {text!r}") from exc
        return PurePosixPath(name), dict(facts)

"""Splitting byte ranges into S3 copy parts.

A part copied with ``UploadPartCopy`` may be at most 5 GiB, and every part but the last
must be at least 5 MiB. :func:`split_range` cuts ``[start, end)`` into nearly equal pieces
of at least ``chunk`` bytes (so never below 5 MiB when ``chunk`` is at least that) and
at most ``2 * chunk`` and 5 GiB, using no more than ``max_pieces`` pieces when it can.
"""

from __future__ import annotations

from .options import MAX_PART_SIZE

__all__ = ("split_range", "http_range")


def split_range(
    start: int, end: int, chunk: int, max_pieces: int = 10_000
) -> list[tuple[int, int]]:
    """``[(piece_start, piece_end), ...]`` covering ``[start, end)`` in order."""
    length = end - start
    if length <= 0:
        return []
    count = max(1, length // chunk)
    count = max(count, -(-length // MAX_PART_SIZE))
    if count > max_pieces:
        count = max(max_pieces, -(-length // MAX_PART_SIZE))
    size, extra = divmod(length, count)
    pieces: list[tuple[int, int]] = []
    position = start
    for index in range(count):
        piece = size + (1 if index < extra else 0)
        pieces.append((position, position + piece))
        position += piece
    return pieces


def http_range(start: int, end: int) -> str:
    """The ``Range``/``CopySourceRange`` header value for ``[start, end)``."""
    return f"bytes={start}-{end - 1}"

"""The audit log: event records as JSON lines (:class:`AuditLog`), written through a file
that rotates by size (:class:`RotatingFile`).

The server calls the hooks of one plugin from one thread, in order, so writes never
interleave and need no lock; every line is flushed when written.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from anyftp.events import EVENT_TYPES, Event
from anyftp.hookspecs import hookimpl

__all__ = ("AuditLog", "RotatingFile", "DEFAULT_MAX_BYTES", "DEFAULT_BACKUP_COUNT")

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUP_COUNT = 5
_OPTIONS = {"path", "max_bytes", "backup_count", "events"}


class RotatingFile:
    """Appends lines to *path*; before a line would make it larger than *max_bytes*,
    renames it to ``path.1`` (older ones shift to ``path.2`` ... ``path.<backup_count>``,
    the oldest is dropped) and starts a new file. A single line longer than *max_bytes*
    is still written whole."""

    def __init__(self, path: str | Path, max_bytes: int, backup_count: int) -> None:
        if max_bytes < 0 or backup_count < 0:
            raise ValueError("max_bytes and backup_count must not be negative")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.backup_count = backup_count
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = open(self.path, "ab")  # noqa: SIM115 - kept open
        self._size = self._file.tell()

    def write(self, line: bytes) -> None:
        if self.max_bytes and self._size and self._size + len(line) > self.max_bytes:
            self.rotate()
        self._file.write(line)
        self._file.flush()
        self._size += len(line)

    def rotate(self) -> None:
        self._file.close()
        if self.backup_count:
            for n in range(self.backup_count - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{n}")
                if older.exists():
                    os.replace(older, self.path.with_name(f"{self.path.name}.{n + 1}"))
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._file = open(self.path, "wb")  # noqa: SIM115 - kept open
        self._size = 0

    def close(self) -> None:
        self._file.close()


class _Stdout:
    def write(self, line: bytes) -> None:
        sys.stdout.write(line.decode("utf-8"))
        sys.stdout.flush()

    def close(self) -> None:
        pass


class AuditLog:
    """The per-server plugin object: implements ``anyftp_event`` and
    ``anyftp_server_stopped``."""

    def __init__(
        self,
        path: str | Path = "-",
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backup_count: int = DEFAULT_BACKUP_COUNT,
        events: Iterable[str] | None = None,
    ) -> None:
        self.events = None if events is None else frozenset(events)
        unknown = set(self.events or ()) - set(EVENT_TYPES)
        if unknown:
            raise ValueError(
                f"unknown event names {sorted(unknown)}; known: {', '.join(sorted(EVENT_TYPES))}"
            )
        self.output: RotatingFile | _Stdout = (
            _Stdout() if str(path) == "-" else RotatingFile(path, max_bytes, backup_count)
        )

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> AuditLog:
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(
                f"unknown option(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(sorted(_OPTIONS))}"
            )
        events = options.get("events")
        if isinstance(events, str):
            events = [name for name in events.replace(",", " ").split() if name]
        return cls(
            options.get("path", "-"),
            max_bytes=int(options.get("max_bytes", DEFAULT_MAX_BYTES)),
            backup_count=int(options.get("backup_count", DEFAULT_BACKUP_COUNT)),
            events=events,
        )

    @staticmethod
    def format(event: Event) -> bytes:
        """One JSON line: the record's fields plus ``ts``, its time in ISO 8601 (UTC)."""
        data = event.as_dict()
        data["ts"] = datetime.datetime.fromtimestamp(event.time, datetime.UTC).isoformat(
            timespec="milliseconds"
        )
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)
        return (text + "\n").encode("utf-8")

    @hookimpl
    def anyftp_event(self, event: Event) -> None:
        if self.events is None or event.name in self.events:
            self.output.write(self.format(event))

    @hookimpl
    def anyftp_server_stopped(self) -> None:
        self.output.close()

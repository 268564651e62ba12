"""anyftp-audit: every server event as one JSON line, to a file rotated by size or to
stdout.

Enable it with ``Server(plugins=["audit"], plugin_options={"audit": {...}})`` or
``anyftp serve --plugin audit --plugin-option audit.path=audit.log``. Options:

``path``
    the file to append to; ``"-"`` (the default) writes to standard output.
``max_bytes``
    rotate when the file would grow past this size (default 10 MiB; 0: never).
``backup_count``
    rotated files kept as ``path.1`` (newest) ... ``path.N`` (default 5).
``events``
    names of the events to write (default: all; see :mod:`anyftp.events`).

Each server that enables the plugin gets its own :class:`AuditLog`.
"""

from __future__ import annotations

from typing import Any

from anyftp.hookspecs import hookimpl

from .log import AuditLog, RotatingFile

__all__ = ("AuditLog", "RotatingFile", "anyftp_configure")


@hookimpl
def anyftp_configure(server: Any, options: dict[str, Any]) -> AuditLog:
    return AuditLog.from_options(options)

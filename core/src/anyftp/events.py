"""Server event records: what happened in a session, as small immutable values.

The server hands these to the ``anyftp_event`` hook of enabled plugins (and
:class:`CommandCompleted` to ``anyftp_command_done``) through :mod:`anyftp.plugins`. Every
record carries the session it happened in and who was logged in; each kind adds its own
fields. ``event.name`` tells the kind in one word and :meth:`Event.as_dict` gives a
JSON-ready mapping::

    Event                      name                 extra fields
    ├── Connected              connect              server_host, server_port
    ├── LoggedIn               login                -
    ├── LoginFailed            login_failed         login, reason
    ├── LoggedOut              logout               duration (seconds logged in)
    ├── Disconnected           disconnect           duration (seconds connected)
    ├── Transfer                                    command, path, bytes, duration, reason
    │   ├── FileReceived       file_received        (an upload stored completely)
    │   ├── FileSent           file_sent            (a download sent completely)
    │   ├── UploadIncomplete   upload_incomplete    result: "aborted" or "failed"
    │   └── DownloadIncomplete download_incomplete  result: "aborted" or "failed"
    ├── DirectoryCreated       mkdir                path
    ├── DirectoryRemoved       rmdir                path
    ├── FileDeleted            delete               path
    ├── Renamed                rename               path, target
    └── CommandCompleted       command              command, duration

Paths are the *virtual* paths the client sees (``/dir/file``), never storage paths.
``user`` is the login name (``"anonymous"`` for the anonymous account), or ``None``
before login. ``time`` is the wall-clock time (``time.time()``) the record was made.
File operations are reported when they succeeded (``result == "ok"``).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, ClassVar

__all__ = (
    "Event",
    "Connected",
    "LoggedIn",
    "LoginFailed",
    "LoggedOut",
    "Disconnected",
    "Transfer",
    "FileReceived",
    "FileSent",
    "UploadIncomplete",
    "DownloadIncomplete",
    "DirectoryCreated",
    "DirectoryRemoved",
    "FileDeleted",
    "Renamed",
    "CommandCompleted",
    "EVENT_TYPES",
)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """What every record has: the session, the client, the user, when, and the result."""

    name: ClassVar[str] = "event"

    session_id: str
    client_host: str
    client_port: int
    user: str | None = None
    result: str = "ok"
    time: float = dataclasses.field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        """``{"event": name, field: value, ...}`` with JSON-ready values."""
        data: dict[str, Any] = {"event": self.name}
        for item in dataclasses.fields(self):
            data[item.name] = getattr(self, item.name)
        return data


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Connected(Event):
    """A client connected and was admitted (it got the 220 greeting)."""

    name: ClassVar[str] = "connect"
    server_host: str = ""
    server_port: int = 0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LoggedIn(Event):
    """A login completed (``user`` is who logged in)."""

    name: ClassVar[str] = "login"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LoginFailed(Event):
    """A login was refused; ``login`` is the name the client gave."""

    name: ClassVar[str] = "login_failed"
    login: str = ""
    reason: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class LoggedOut(Event):
    """A logged-in user was forgotten (session end, or ``USER`` again)."""

    name: ClassVar[str] = "logout"
    duration: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Disconnected(Event):
    """The control connection ended."""

    name: ClassVar[str] = "disconnect"
    duration: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(Event):
    """A file transfer ended; ``bytes`` is what crossed the data connection."""

    name: ClassVar[str] = "transfer"
    command: str = ""
    path: str = ""
    bytes: int = 0
    duration: float = 0.0
    reason: str = ""

    #: ``"upload"`` or ``"download"``.
    direction: ClassVar[str] = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileReceived(Transfer):
    name: ClassVar[str] = "file_received"
    direction: ClassVar[str] = "upload"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileSent(Transfer):
    name: ClassVar[str] = "file_sent"
    direction: ClassVar[str] = "download"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class UploadIncomplete(Transfer):
    name: ClassVar[str] = "upload_incomplete"
    direction: ClassVar[str] = "upload"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DownloadIncomplete(Transfer):
    name: ClassVar[str] = "download_incomplete"
    direction: ClassVar[str] = "download"


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DirectoryCreated(Event):
    name: ClassVar[str] = "mkdir"
    path: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class DirectoryRemoved(Event):
    name: ClassVar[str] = "rmdir"
    path: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class FileDeleted(Event):
    name: ClassVar[str] = "delete"
    path: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Renamed(Event):
    name: ClassVar[str] = "rename"
    path: str = ""
    target: str = ""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class CommandCompleted(Event):
    """A command finished (for a transfer: when the transfer ended). Delivered only to
    ``anyftp_command_done`` hooks, so the server does no per-command work for plugins
    that do not ask for it."""

    name: ClassVar[str] = "command"
    command: str = ""
    duration: float = 0.0


#: Every record type by its ``name``.
EVENT_TYPES: dict[str, type[Event]] = {
    cls.name: cls
    for cls in (
        Connected,
        LoggedIn,
        LoginFailed,
        LoggedOut,
        Disconnected,
        FileReceived,
        FileSent,
        UploadIncomplete,
        DownloadIncomplete,
        DirectoryCreated,
        DirectoryRemoved,
        FileDeleted,
        Renamed,
        CommandCompleted,
    )
}

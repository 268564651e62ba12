"""The declarative command table: what each command needs, and who handles it.

Each command is a :class:`CommandSpec` (name, whether login is needed, the permission it
needs on its path, its argument rule, whether it may run before ``AUTH TLS`` when TLS is
required, whether it runs as the session's transfer, its help text and its FEAT line) and
a handler ``async def handler(session, argument) -> None``. The session's dispatcher reads
the spec and enforces it before the handler runs; HELP and FEAT are generated from the
table. Plugins add commands through the ``anyftp_register_commands`` hook, and a
:class:`~anyftp.server.Server` subclass may still add aioftp-style methods.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from .session import Session

__all__ = (
    "CommandSpec",
    "CommandTable",
    "Handler",
    "ArgumentRule",
    "PermissionNeed",
    "identity_path",
)

Handler = Callable[["Session", str], Awaitable[None]]
ArgumentRule = Literal["required", "optional", "forbidden"]
PermissionNeed = Literal["read", "write"] | None


def identity_path(argument: str) -> str:
    """The path a command names: its whole argument (the default)."""
    return argument


@dataclass(frozen=True)
class CommandSpec:
    """What a command needs; see the module docstring.

    ``permission`` is checked on the virtual path returned by ``path_of(argument)`` (an
    empty result means the current directory). ``feat`` is the FEAT line, or a callable
    given the session that returns it (``None``: not advertised). ``transfer`` commands
    run in their own task so the control connection keeps reading (ABOR, STAT); only
    ``concurrent`` commands are handled while such a task runs, the others wait for it.
    """

    name: str
    login: bool = True
    permission: PermissionNeed = None
    argument: ArgumentRule = "optional"
    before_auth: bool = False
    transfer: bool = False
    concurrent: bool = False
    syntax: str = ""
    help: str = ""
    feat: str | Callable[[Session], str | None] | None = None
    path_of: Callable[[str], str] = identity_path
    keeps_restart: bool = False

    def __post_init__(self) -> None:
        if not self.name.isalnum() or not self.name.isupper():
            raise ValueError(f"command name must be upper-case letters, got {self.name!r}")


class CommandTable:
    """Commands by name. ``add`` replaces an existing entry of the same name."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[CommandSpec, Handler]] = {}

    def add(self, spec: CommandSpec, handler: Handler) -> None:
        self._entries[spec.name] = (spec, handler)

    def alias(self, name: str, target: str) -> None:
        """Make *name* behave as *target* (e.g. ``XPWD`` as ``PWD``)."""
        spec, handler = self._entries[target]
        self._entries[name] = (
            replace(spec, name=name, help=f"same as {target}", feat=None),
            handler,
        )

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str) -> tuple[CommandSpec, Handler] | None:
        return self._entries.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[CommandSpec]:
        return (spec for spec, _ in self._entries.values())

    def names(self) -> list[str]:
        return sorted(self._entries)

    def copy(self) -> CommandTable:
        table = CommandTable()
        table._entries = dict(self._entries)
        return table

    def feat_lines(self, session: Session) -> list[str]:
        lines: list[str] = []
        for spec in self:
            feat: Any = spec.feat
            line = feat(session) if callable(feat) else feat
            if line and line not in lines:
                lines.append(line)
        return sorted(lines)

"""Directory listings: LIST (``ls -l`` lines), NLST (names), MLSD and MLST (RFC 3659
facts), and STAT with a path (a listing over the control connection).

A listing is one backend call (``list_with_stats``) and is built before the 150 reply,
so a missing directory is a plain 550 without a data connection.
"""

from __future__ import annotations

import stat as stat_module
import time
from collections.abc import Iterable
from pathlib import PurePath, PurePosixPath

from ...errors import PathIOError
from ...pathio import StatLike
from ...protocol.listing import format_list_line, split_list_options
from ...protocol.mlsx import DEFAULT_FACTS, facts_for_stat, format_facts
from ..commands import CommandSpec, CommandTable
from ..datachannel import DataChannel
from ..session import CommandError, Session
from .transfer import check_data_protection, run_transfer

__all__ = ("register", "list_lines", "mlsx_line")


def _list_path(argument: str) -> str:
    return split_list_options(argument)[1]


async def _entries(
    session: Session, virtual: PurePosixPath
) -> tuple[bool, list[tuple[str, StatLike]]]:
    """``(is_directory, [(name, stat)])`` for a directory's entries or a single file."""
    path_io = session.path_io
    real = session.real(virtual)
    try:
        found = await path_io.list_with_stats(real)  # one backend call for a directory
    except PathIOError as exc:
        if not isinstance(exc.cause, NotADirectoryError):
            raise
        info = await path_io.stat(real)
        if stat_module.S_ISDIR(info.st_mode):  # pragma: no cover - changed under us
            raise
        return False, [(virtual.name, info)]
    entries = [(PurePath(child).name, child_stat) for child, child_stat in found]
    entries.sort(key=lambda item: item[0])
    return True, entries


def list_lines(entries: Iterable[tuple[str, StatLike]]) -> list[str]:
    now = time.time()
    return [format_list_line(name, info, now=now) for name, info in entries]


def perm_fact(session: Session, virtual: PurePosixPath, is_dir: bool) -> str:
    user = session.user
    if user is None:
        return ""
    permission = user.permission_for(virtual)
    if is_dir:
        return ("el" if permission.readable else "") + ("cdfmp" if permission.writable else "")
    return ("r" if permission.readable else "") + ("adfw" if permission.writable else "")


def mlsx_line(session: Session, virtual: PurePosixPath, name: str, info: StatLike) -> str:
    is_dir = stat_module.S_ISDIR(info.st_mode)
    facts = facts_for_stat(info, perm=perm_fact(session, virtual, is_dir))
    wanted = session.mlst_facts
    chosen = {key: value for key, value in facts.items() if key in wanted}
    return format_facts(chosen, name)


def _encode(session: Session, lines: list[str]) -> bytes:
    if not lines:
        return b""
    return ("\r\n".join(lines) + "\r\n").encode(session.encoding, "surrogateescape")


async def _send_listing(
    session: Session, name: str, virtual: PurePosixPath, payload: bytes
) -> None:
    check_data_protection(session)

    async def work(channel: DataChannel) -> None:
        if payload:
            channel.send(payload)
            await channel.drain()

    if await run_transfer(
        session, name, virtual, work, opening=f"here comes the listing of {virtual}"
    ):
        await session.reply("226", "listing sent")


async def list_(session: Session, argument: str) -> None:
    _, path = split_list_options(argument)
    virtual = session.resolve(path)
    _, entries = await _entries(session, virtual)
    await _send_listing(session, "LIST", virtual, _encode(session, list_lines(entries)))


async def nlst(session: Session, argument: str) -> None:
    _, path = split_list_options(argument)
    virtual = session.resolve(path)
    is_dir, entries = await _entries(session, virtual)
    if not is_dir:
        names = [path or virtual.name]
    elif path:
        names = [f"{path.rstrip('/')}/{name}" for name, _ in entries]
    else:
        names = [name for name, _ in entries]
    await _send_listing(session, "NLST", virtual, _encode(session, names))


async def mlsd(session: Session, argument: str) -> None:
    virtual = session.resolve(argument)
    is_dir, entries = await _entries(session, virtual)
    if not is_dir:
        raise CommandError("501", "not a directory")
    lines = [mlsx_line(session, virtual / name, name, info) for name, info in entries]
    await _send_listing(session, "MLSD", virtual, _encode(session, lines))


async def mlst(session: Session, argument: str) -> None:
    virtual = session.resolve(argument)
    info = await session.path_io.stat(session.real(virtual))
    line = mlsx_line(session, virtual, str(virtual), info)
    await session.reply("250", [f"listing {virtual}", line, "end"])


async def stat_path(session: Session, argument: str) -> None:
    """STAT with a path argument: the LIST lines over the control connection."""
    _, path = split_list_options(argument)
    virtual = session.resolve(path)
    session.require(virtual, "read")
    _, entries = await _entries(session, virtual)
    await session.reply("213", [f"status of {virtual}:", *list_lines(entries), "end of status"])


def mlst_feat(session: Session) -> str:
    facts = "".join(f"{fact}{'*' if fact in session.mlst_facts else ''};" for fact in DEFAULT_FACTS)
    return f"MLST {facts}"


def register(table: CommandTable) -> None:
    table.add(
        CommandSpec(
            "LIST",
            permission="read",
            transfer=True,
            path_of=_list_path,
            syntax="[-options] [<path>]",
            help="list a directory (ls -l)",
        ),
        list_,
    )
    table.add(
        CommandSpec(
            "NLST",
            permission="read",
            transfer=True,
            path_of=_list_path,
            syntax="[<path>]",
            help="list names",
        ),
        nlst,
    )
    table.add(
        CommandSpec(
            "MLSD",
            permission="read",
            transfer=True,
            syntax="[<path>]",
            help="list a directory with facts (RFC 3659)",
        ),
        mlsd,
    )
    table.add(
        CommandSpec(
            "MLST",
            permission="read",
            syntax="[<path>]",
            help="facts of one path (RFC 3659)",
            feat=mlst_feat,
        ),
        mlst,
    )

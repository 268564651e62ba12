"""Directories and file management: PWD, CWD, CDUP, MKD, RMD, DELE, RNFR, RNTO, SIZE,
MDTM, MFMT (and the X* aliases older clients send)."""

from __future__ import annotations

import stat as stat_module

from ... import events, plugins
from ...protocol.mlsx import format_time, parse_time
from ...protocol.replies import quote_path
from ..commands import CommandSpec, CommandTable
from ..session import CommandError, Session


async def pwd(session: Session, argument: str) -> None:
    await session.reply("257", f"{quote_path(str(session.cwd))} is the current directory")


async def cwd(session: Session, argument: str) -> None:
    virtual = session.resolve(argument)
    if not await session.path_io.is_dir(session.real(virtual)):
        raise CommandError("550", "no such directory")
    session.cwd = virtual
    await session.reply("250", f"directory changed to {virtual}")


async def cdup(session: Session, argument: str) -> None:
    await cwd(session, "..")


async def mkd(session: Session, argument: str) -> None:
    virtual = session.resolve(argument)
    real = session.real(virtual)
    path_io = session.path_io
    if await path_io.exists(real):
        raise CommandError("550", "already exists")
    await path_io.mkdir(real)
    plugins.changed(session, events.DirectoryCreated, virtual)
    await session.reply("257", f"{quote_path(str(virtual))} created")


async def rmd(session: Session, argument: str) -> None:
    virtual = session.resolve(argument)
    if virtual == virtual.parent:
        raise CommandError("550", "can not remove the root directory")
    real = session.real(virtual)
    if not await session.path_io.is_dir(real):
        raise CommandError("550", "no such directory")
    await session.path_io.rmdir(real)
    plugins.changed(session, events.DirectoryRemoved, virtual)
    await session.reply("250", "directory removed")


async def dele(session: Session, argument: str) -> None:
    virtual = session.resolve(argument)
    real = session.real(virtual)
    if await session.path_io.is_dir(real):
        raise CommandError("550", "is a directory; use RMD")
    await session.path_io.unlink(real)
    plugins.changed(session, events.FileDeleted, virtual)
    await session.reply("250", "file removed")


async def rnfr(session: Session, argument: str) -> None:
    virtual = session.resolve(argument)
    if not await session.path_io.exists(session.real(virtual)):
        raise CommandError("550", "no such file or directory")
    session.rename_from = virtual
    await session.reply("350", "ready for RNTO")


async def rnto(session: Session, argument: str) -> None:
    source = session.rename_from
    session.rename_from = None
    if source is None:
        raise CommandError("503", "bad sequence of commands: send RNFR first")
    target = session.resolve(argument)
    if source == source.parent or target == target.parent:
        raise CommandError("550", "can not rename the root directory")
    if source in target.parents:
        raise CommandError("550", "can not move a directory into itself")
    path_io = session.path_io
    real_source = session.real(source)
    if await path_io.is_dir(real_source) and not path_io.capabilities.rename_directories:
        raise CommandError("550", "this storage can not rename directories")
    await path_io.rename(real_source, session.real(target))
    plugins.changed(session, events.Renamed, source, target)
    await session.reply("250", "renamed")


async def size(session: Session, argument: str) -> None:
    virtual = session.resolve(argument)
    info = await session.path_io.stat(session.real(virtual))
    if stat_module.S_ISDIR(info.st_mode):
        raise CommandError("550", "not a plain file")
    await session.reply("213", str(info.st_size))


async def mdtm(session: Session, argument: str) -> None:
    virtual = session.resolve(argument)
    info = await session.path_io.stat(session.real(virtual))
    if stat_module.S_ISDIR(info.st_mode):
        raise CommandError("550", "not a plain file")
    await session.reply("213", format_time(info.st_mtime))


def _mfmt_path(argument: str) -> str:
    return argument.partition(" ")[2]


async def mfmt(session: Session, argument: str) -> None:
    value, _, path = argument.partition(" ")
    if not path:
        raise CommandError("501", "syntax: MFMT YYYYMMDDHHMMSS <path>")
    try:
        mtime = parse_time(value)
    except ValueError:
        raise CommandError("501", f"bad time value {value!r}") from None
    path_io = session.path_io
    if not path_io.capabilities.set_mtime:
        raise CommandError("502", "this storage can not set modification times")
    virtual = session.resolve(path)
    real = session.real(virtual)
    if not await path_io.is_file(real):
        raise CommandError("550", "no such file")
    await path_io.set_mtime(real, mtime)
    await session.reply("213", f"Modify={format_time(mtime)}; {path}")


def _mfmt_feat(session: Session) -> str | None:
    server = session.server
    capabilities = server.backend_class.capabilities_for_state(server.backend_state)
    return "MFMT" if capabilities.set_mtime else None


def register(table: CommandTable) -> None:
    table.add(CommandSpec("PWD", argument="forbidden", help="print the current directory"), pwd)
    table.add(
        CommandSpec(
            "CWD",
            permission="read",
            syntax="<path>",
            help="change the current directory",
            feat="TVFS",
        ),
        cwd,
    )
    table.add(
        CommandSpec(
            "CDUP",
            permission="read",
            argument="forbidden",
            path_of=lambda _: "..",
            help="go to the parent directory",
        ),
        cdup,
    )
    table.add(
        CommandSpec(
            "MKD", permission="write", argument="required", syntax="<path>", help="make a directory"
        ),
        mkd,
    )
    table.add(
        CommandSpec(
            "RMD",
            permission="write",
            argument="required",
            syntax="<path>",
            help="remove an empty directory",
        ),
        rmd,
    )
    table.add(
        CommandSpec(
            "DELE", permission="write", argument="required", syntax="<path>", help="delete a file"
        ),
        dele,
    )
    table.add(
        CommandSpec(
            "RNFR",
            permission="write",
            argument="required",
            syntax="<path>",
            help="rename from (then RNTO)",
        ),
        rnfr,
    )
    table.add(
        CommandSpec(
            "RNTO",
            permission="write",
            argument="required",
            syntax="<path>",
            help="rename to (after RNFR)",
        ),
        rnto,
    )
    table.add(
        CommandSpec(
            "SIZE",
            permission="read",
            argument="required",
            syntax="<path>",
            help="size of a file",
            feat="SIZE",
        ),
        size,
    )
    table.add(
        CommandSpec(
            "MDTM",
            permission="read",
            argument="required",
            syntax="<path>",
            help="modification time of a file",
            feat="MDTM",
        ),
        mdtm,
    )
    table.add(
        CommandSpec(
            "MFMT",
            permission="write",
            argument="required",
            syntax="YYYYMMDDHHMMSS <path>",
            path_of=_mfmt_path,
            help="set the modification time of a file",
            feat=_mfmt_feat,
        ),
        mfmt,
    )
    table.alias("XPWD", "PWD")
    table.alias("XCWD", "CWD")
    table.alias("XCUP", "CDUP")
    table.alias("XMKD", "MKD")
    table.alias("XRMD", "RMD")

"""SITE sub-commands: CHMOD (when the backend can) and HELP."""

from __future__ import annotations

from ..commands import CommandSpec, CommandTable
from ..session import CommandError, Session


async def site(session: Session, argument: str) -> None:
    sub, _, rest = argument.strip().partition(" ")
    sub = sub.upper()
    if sub == "HELP":
        await session.reply("214", ["SITE commands:", "CHMOD <mode> <path>", "HELP", "end"])
        return
    if sub == "CHMOD":
        await chmod(session, rest.strip())
        return
    raise CommandError("500", f"unknown SITE command {sub[:20]!r}")


async def chmod(session: Session, argument: str) -> None:
    mode_text, _, path = argument.partition(" ")
    if not path or not mode_text:
        raise CommandError("501", "syntax: SITE CHMOD <mode> <path>")
    try:
        mode = int(mode_text, 8)
    except ValueError:
        raise CommandError("501", f"bad mode {mode_text!r}") from None
    if not 0 <= mode <= 0o7777:
        raise CommandError("501", f"bad mode {mode_text!r}")
    path_io = session.path_io
    if not path_io.capabilities.chmod:
        raise CommandError("502", "this storage can not change permissions")
    virtual = session.resolve(path)
    session.require(virtual, "write")
    real = session.real(virtual)
    if not await path_io.exists(real):
        raise CommandError("550", "no such file or directory")
    await path_io.chmod(real, mode)
    await session.reply("200", "SITE CHMOD command successful")


def register(table: CommandTable) -> None:
    table.add(
        CommandSpec(
            "SITE",
            argument="required",
            syntax="CHMOD <mode> <path> | HELP",
            help="site-specific commands",
        ),
        site,
    )

"""Session settings and information: FEAT, OPTS, SYST, NOOP, HELP, STAT, TYPE, MODE,
STRU, ALLO, REST, ABOR."""

from __future__ import annotations

import asyncio

from ...protocol.mlsx import DEFAULT_FACTS
from ..commands import CommandSpec, CommandTable
from ..session import CommandError, Session
from .listing import stat_path


async def feat(session: Session, argument: str) -> None:
    lines = session.server.commands.feat_lines(session)
    await session.reply("211", ["Features:", *(f" {line}" for line in lines), "End"])


async def opts(session: Session, argument: str) -> None:
    option, _, value = argument.partition(" ")
    option = option.upper()
    if option == "UTF8":
        if value.strip().upper() in ("", "ON"):
            await session.reply("200", "always in UTF8 mode")
        else:
            await session.reply("504", "UTF8 can not be turned off")
        return
    if option == "MLST":
        wanted = [fact.lower() for fact in value.split(";") if fact]
        chosen = [fact for fact in DEFAULT_FACTS if fact in wanted]
        session.mlst_facts = chosen
        await session.reply("200", "MLST OPTS " + "".join(f"{fact};" for fact in chosen))
        return
    await session.reply("501", f"unknown option {option!r}")


async def syst(session: Session, argument: str) -> None:
    await session.reply("215", session.server.system_type)


async def noop(session: Session, argument: str) -> None:
    await session.reply("200", "ok")


async def help_(session: Session, argument: str) -> None:
    table = session.server.commands
    names = table.names() + session.server.legacy_command_names()
    if argument.strip():
        name = argument.strip().upper()
        entry = table.get(name)
        if entry is None and name not in names:
            raise CommandError("501", f"unknown command {name[:20]!r}")
        if entry is None:
            await session.reply("214", f"{name}")
            return
        spec = entry[0]
        syntax = f"{spec.name} {spec.syntax}".rstrip()
        await session.reply("214", f"syntax: {syntax}" + (f" ({spec.help})" if spec.help else ""))
        return
    rows = [
        " ".join(f"{name:<5}" for name in names[i : i + 8]).rstrip()
        for i in range(0, len(names), 8)
    ]
    await session.reply("214", ["the following commands are recognized:", *rows, "help ok"])


async def stat(session: Session, argument: str) -> None:
    if argument.strip():
        if session.transfer_running:
            raise CommandError("450", "a transfer is running; try again later")
        await stat_path(session, argument)
        return
    if session.transfer_running:
        info = session.active_info
        channel = info.get("channel")
        moved = 0 if channel is None else channel.bytes_in + channel.bytes_out
        await session.reply(
            "213", f"{session.active_name} {info.get('path', '')}: {moved} bytes transferred"
        )
        return
    user = session.user
    lines = [
        "anyftp server status:",
        f"connected from {session.client_host}:{session.client_port}",
        f"logged in as {(user.login or 'anonymous') if user else '-'}",
        f"TYPE: {'ASCII' if session.transfer_type == 'A' else 'BINARY'}, STRUcture: File, "
        "MODE: Stream",
        f"control connection {'protected by TLS' if session.tls_control else 'in clear text'}",
        f"data connections {'protected' if session.prot == 'P' else 'in clear text'}",
        "end of status",
    ]
    await session.reply("211", lines)


async def type_(session: Session, argument: str) -> None:
    words = argument.upper().split()
    kind = words[0] if words else ""
    if kind == "A" and words[1:] in ([], ["N"]):
        session.transfer_type = "A"
    elif (kind == "I" and len(words) == 1) or (kind == "L" and words[1:] == ["8"]):
        session.transfer_type = "I"
    elif kind in ("A", "E", "L"):
        raise CommandError("504", f"TYPE {argument} not supported")
    else:
        raise CommandError("501", f"unknown TYPE {argument!r}")
    session.connection.transfer_type = session.transfer_type
    await session.reply("200", f"type set to {session.transfer_type}")


async def mode(session: Session, argument: str) -> None:
    value = argument.strip().upper()
    if value == "S":
        await session.reply("200", "mode set to S")
    elif value in ("B", "C", "Z"):
        await session.reply("504", f"MODE {value} not supported")
    else:
        await session.reply("501", f"unknown MODE {argument!r}")


async def stru(session: Session, argument: str) -> None:
    value = argument.strip().upper()
    if value == "F":
        await session.reply("200", "structure set to F")
    elif value in ("R", "P"):
        await session.reply("504", f"STRU {value} not supported")
    else:
        await session.reply("501", f"unknown STRU {argument!r}")


async def allo(session: Session, argument: str) -> None:
    await session.reply("202", "no storage allocation necessary")


async def rest(session: Session, argument: str) -> None:
    value = argument.strip()
    if not value.isdigit() or len(value) > 20:
        raise CommandError("501", f"bad restart offset {argument!r}")
    session.restart_offset = int(value)
    await session.reply("350", f"restarting at {session.restart_offset}; send RETR, STOR or APPE")


async def abor(session: Session, argument: str) -> None:
    task = session.active
    if task is None or task.done():
        session.data.reset()
        await session.reply("226", "no transfer to abort")
        return
    session.connection.abort = True
    task.cancel()
    await asyncio.wait({task}, timeout=session.server.socket_timeout or 30)
    if session.sent_abort_reply:
        await session.reply("226", "abort successful")
    elif task.cancelled():
        await session.reply("426", "transfer aborted")
        await session.reply("226", "abort successful")
    # else: the command's own code answered the abort (aioftp's ``worker``)


def register(table: CommandTable) -> None:
    table.add(
        CommandSpec(
            "FEAT",
            login=False,
            before_auth=True,
            argument="forbidden",
            help="list the extensions this server supports",
        ),
        feat,
    )
    table.add(
        CommandSpec(
            "OPTS",
            login=False,
            before_auth=True,
            argument="required",
            syntax="<option> [<value>]",
            help="set an option (UTF8, MLST)",
            feat="UTF8",
        ),
        opts,
    )
    table.add(
        CommandSpec(
            "SYST", login=False, before_auth=True, argument="forbidden", help="name the system type"
        ),
        syst,
    )
    table.add(
        CommandSpec("NOOP", login=False, before_auth=True, concurrent=True, help="do nothing"), noop
    )
    table.add(
        CommandSpec(
            "HELP",
            login=False,
            before_auth=True,
            syntax="[<command>]",
            help="list commands or explain one",
        ),
        help_,
    )
    table.add(
        CommandSpec(
            "STAT",
            concurrent=True,
            syntax="[<path>]",
            help="session or transfer status, or a listing",
        ),
        stat,
    )
    table.add(
        CommandSpec("TYPE", argument="required", syntax="A | I", help="set the transfer type"),
        type_,
    )
    table.add(
        CommandSpec("MODE", argument="required", syntax="S", help="set the transfer mode"), mode
    )
    table.add(
        CommandSpec("STRU", argument="required", syntax="F", help="set the file structure"), stru
    )
    table.add(CommandSpec("ALLO", syntax="<bytes>", help="allocate storage (not needed)"), allo)
    table.add(
        CommandSpec(
            "REST",
            argument="required",
            keeps_restart=True,
            syntax="<offset>",
            help="restart the next transfer at an offset",
            feat="REST STREAM",
        ),
        rest,
    )
    table.add(
        CommandSpec(
            "ABOR", concurrent=True, argument="forbidden", help="abort the running transfer"
        ),
        abor,
    )

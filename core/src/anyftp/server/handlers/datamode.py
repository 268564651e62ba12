"""Data-connection setup: PASV, EPSV (also ``EPSV 1``/``2``/``ALL``), PORT, EPRT.

Active mode only connects to the control connection's own peer address and to ports
from 1024 up, so the server can not be used to reach other hosts (FTP bounce).
"""

from __future__ import annotations

import ipaddress

from ...errors import NoAvailablePort
from ...protocol.addresses import format_epsv, format_pasv, parse_eprt, parse_port
from ..commands import CommandSpec, CommandTable
from ..dataconn import plain_host, same_host
from ..session import CommandError, Session

#: Lowest port PORT/EPRT may name.
LOWEST_ACTIVE_PORT = 1024


def _control_family(session: Session) -> int:
    """1 for an IPv4 control connection, 2 for IPv6 (RFC 2428 numbers)."""
    return 2 if ":" in plain_host(session.local_host) else 1


def _refuse_after_epsv_all(session: Session, name: str) -> None:
    if session.epsv_all:
        raise CommandError("503", f"{name} not allowed after EPSV ALL")


async def _listen(session: Session) -> int:
    try:
        _, port = await session.data.listen()
    except NoAvailablePort:
        raise CommandError("425", "no free passive port, try again later") from None
    except OSError as exc:
        raise CommandError("425", f"can not open passive listener: {exc}") from None
    return port


async def pasv(session: Session, argument: str) -> None:
    _refuse_after_epsv_all(session, "PASV")
    server = session.server
    reply_host = server.masquerade_address or plain_host(session.local_host)
    try:
        ipaddress.IPv4Address(reply_host)
    except ValueError:
        raise CommandError("501", "PASV needs IPv4; use EPSV") from None
    port = await _listen(session)
    await session.reply("227", format_pasv(reply_host, port))


async def epsv(session: Session, argument: str) -> None:
    value = argument.strip().upper()
    if value == "ALL":
        session.epsv_all = True
        await session.reply("200", "EPSV ALL accepted")
        return
    family = _control_family(session)
    if value and value not in ("1", "2"):
        raise CommandError("522", f"network protocol not supported, use ({family})")
    if value and int(value) != family:
        raise CommandError("522", f"network protocol not supported, use ({family})")
    port = await _listen(session)
    await session.reply("229", format_epsv(port))


def _check_target(session: Session, host: str, port: int) -> None:
    if not same_host(host, session.client_host):
        raise CommandError("501", "rejected: data address differs from control connection")
    if port < LOWEST_ACTIVE_PORT:
        raise CommandError("501", f"rejected: port below {LOWEST_ACTIVE_PORT}")


async def port(session: Session, argument: str) -> None:
    _refuse_after_epsv_all(session, "PORT")
    if _control_family(session) != 1:
        raise CommandError("501", "PORT needs IPv4; use EPRT")
    try:
        host, number = parse_port(argument)
    except ValueError:
        raise CommandError("501", f"malformed PORT argument {argument!r}") from None
    _check_target(session, host, number)
    session.data.set_active(host, number)
    await session.reply("200", "PORT command successful")


async def eprt(session: Session, argument: str) -> None:
    _refuse_after_epsv_all(session, "EPRT")
    family = _control_family(session)
    try:
        protocol, host, number = parse_eprt(argument.strip())
    except ValueError as exc:
        if "protocol" in str(exc):
            raise CommandError("522", f"network protocol not supported, use ({family})") from None
        raise CommandError("501", f"malformed EPRT argument {argument!r}") from None
    if protocol != family:
        raise CommandError("522", f"network protocol not supported, use ({family})")
    _check_target(session, host, number)
    session.data.set_active(host, number)
    await session.reply("200", "EPRT command successful")


def register(table: CommandTable) -> None:
    table.add(CommandSpec("PASV", argument="forbidden", help="passive mode (IPv4)"), pasv)
    table.add(
        CommandSpec("EPSV", syntax="[1 | 2 | ALL]", help="extended passive mode", feat="EPSV"), epsv
    )
    table.add(
        CommandSpec(
            "PORT", argument="required", syntax="h1,h2,h3,h4,p1,p2", help="active mode (IPv4)"
        ),
        port,
    )
    table.add(
        CommandSpec(
            "EPRT",
            argument="required",
            syntax="|proto|address|port|",
            help="extended active mode",
            feat="EPRT",
        ),
        eprt,
    )

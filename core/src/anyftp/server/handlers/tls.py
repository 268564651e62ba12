"""Explicit FTPS (RFC 4217): AUTH TLS, PBSZ, PROT, and CCC (always refused)."""

from __future__ import annotations

from ..commands import CommandSpec, CommandTable
from ..session import CommandError, Session


def _auth_feat(session: Session) -> str | None:
    return "AUTH TLS" if session.server.auth_tls is not None else None


def _tls_feat(name: str):  # type: ignore[no-untyped-def]
    def feat(session: Session) -> str | None:
        return name if session.server.tls_context is not None else None

    return feat


async def auth(session: Session, argument: str) -> None:
    mechanism = argument.strip().upper()
    context = session.server.auth_tls
    if context is None:
        raise CommandError("502", "TLS is not configured on this server")
    if mechanism not in ("TLS", "TLS-C", "SSL", "TLS-P"):
        raise CommandError("504", f"AUTH {mechanism} not supported; use AUTH TLS")
    if session.tls_control:
        raise CommandError("503", "already protected by TLS")
    session.hold_reading()
    await session.reply("234", f"AUTH {mechanism} ok, starting TLS")
    await session.start_tls(context)
    session.pbsz = False
    session.prot = "P" if mechanism in ("SSL", "TLS-P") else "C"


async def pbsz(session: Session, argument: str) -> None:
    if not session.tls_control:
        raise CommandError("503", "PBSZ needs a TLS control connection: use AUTH TLS")
    if not argument.strip().isdigit():
        raise CommandError("501", f"bad buffer size {argument!r}")
    session.pbsz = True
    await session.reply("200", "PBSZ=0")


async def prot(session: Session, argument: str) -> None:
    level = argument.strip().upper()
    if not session.tls_control:
        raise CommandError("503", "PROT needs a TLS control connection: use AUTH TLS")
    if not session.pbsz:
        raise CommandError("503", "send PBSZ first")
    if level == "P":
        session.prot = "P"
        await session.reply("200", "data connections will be protected")
    elif level == "C":
        if session.server.require_tls_data:
            raise CommandError("534", "clear data connections are refused by policy")
        session.prot = "C"
        await session.reply("200", "data connections will be in clear text")
    elif level in ("S", "E"):
        raise CommandError("536", f"PROT {level} not supported")
    else:
        raise CommandError("504", f"unknown protection level {argument!r}")


async def ccc(session: Session, argument: str) -> None:
    raise CommandError("534", "CCC refused: the control connection stays protected")


def register(table: CommandTable) -> None:
    table.add(
        CommandSpec(
            "AUTH",
            login=False,
            before_auth=True,
            argument="required",
            syntax="TLS",
            help="start TLS on the control connection",
            feat=_auth_feat,
        ),
        auth,
    )
    table.add(
        CommandSpec(
            "PBSZ",
            login=False,
            before_auth=True,
            argument="required",
            syntax="0",
            help="protection buffer size (always 0)",
            feat=_tls_feat("PBSZ"),
        ),
        pbsz,
    )
    table.add(
        CommandSpec(
            "PROT",
            login=False,
            before_auth=True,
            argument="required",
            syntax="C | P",
            help="data connection protection",
            feat=_tls_feat("PROT"),
        ),
        prot,
    )
    table.add(
        CommandSpec(
            "CCC", login=False, argument="forbidden", help="clear the control connection (refused)"
        ),
        ccc,
    )

"""Login and logout: USER, PASS, QUIT.

A failed login is answered only after ``login_failure_delay`` seconds, and the session is
closed (421) after ``max_login_attempts`` failures, which makes password guessing slow;
too many failures from one address ban it for a while (:mod:`..bans`).
The per-user connection limit is checked when the login completes. When an enabled plugin
is an authentication source, a ``USER`` the static users do not name is answered 331 and
the password goes to the sources (:meth:`anyftp.plugins.PluginHost.authenticate`).
"""

from __future__ import annotations

import asyncio

from ... import plugins
from ..commands import CommandSpec, CommandTable
from ..session import CloseSession, Session, within
from ..users import GetUserResponse


async def user(session: Session, argument: str) -> None:
    if session.logged or session.pending_user is not None or session.user is not None:
        await session.logout()
    manager = session.server.user_manager
    state, found, info = await within(manager.timeout, manager.get_user(argument))
    if session.server.plugin_host.defers_login(session, argument, state, found):
        await session.reply("331", "password required")
        return
    if found is None or state == GetUserResponse.ERROR:
        await failed_login(session, info or "login incorrect", argument)
        return
    if state == GetUserResponse.OK:
        await session.complete_login(found)
        await session.reply("230", info or "logged in")
        return
    session.identify(found)
    await session.reply("331", info or "password required")


async def pass_(session: Session, argument: str) -> None:
    if session.logged:
        await session.reply("503", "already logged in")
        return
    host = session.server.plugin_host
    if host.login_pending(session):  # the plugins' authentication sources decide
        login = host.pending_login_name(session)
        found = await host.authenticate(session, argument)
        if found is None:
            await failed_login(session, "login incorrect", login)
        else:
            await session.complete_login(found)
            await session.reply("230", "logged in")
        return
    pending = session.pending_user
    if pending is None:
        await session.reply("503", "bad sequence of commands: send USER first")
        return
    manager = session.server.user_manager
    ok = await within(manager.timeout, manager.authenticate(pending, argument))
    if not ok:
        session.pending_user = None
        session.connection.pop("user", None)
        await failed_login(session, "login incorrect", pending.login or "")
        return
    await session.complete_login(pending)
    await session.reply("230", "logged in")


async def failed_login(session: Session, info: str, login: str = "") -> None:
    server = session.server
    plugins.login_failed(session, login, info)
    session.login_failures += 1
    banned = server.login_bans.failed(session.client_host)
    if server.login_failure_delay:
        await asyncio.sleep(server.login_failure_delay)
    if banned:
        await session.reply("421", "too many failed logins from your address, closing connection")
        raise CloseSession
    if server.max_login_attempts and session.login_failures >= server.max_login_attempts:
        await session.reply("421", "too many failed login attempts, closing connection")
        raise CloseSession
    await session.reply("530", info)


async def quit_(session: Session, argument: str) -> None:
    await session.reply("221", "goodbye")
    session.closing = True  # the command loop ends after this command


def register(table: CommandTable) -> None:
    table.add(
        CommandSpec(
            "USER", login=False, argument="required", syntax="<name>", help="identify the user"
        ),
        user,
    )
    table.add(
        CommandSpec("PASS", login=False, syntax="<password>", help="give the password"), pass_
    )
    table.add(
        CommandSpec(
            "QUIT", login=False, before_auth=True, argument="forbidden", help="end the session"
        ),
        quit_,
    )

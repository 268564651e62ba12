"""Decorators for aioftp-style command methods of a ``Server`` subclass.

These keep the developer tutorial's way of adding commands working::

    class MyServer(anyftp.Server):
        @anyftp.ConnectionConditions(anyftp.ConnectionConditions.login_required)
        async def noop(self, connection, rest):
            connection.response("200", "boring")
            return True

* :class:`ConnectionConditions` - keys that must be set on the connection (optionally
  waited for, up to ``wait_future_timeout``), else a 503 (or the given code) reply.
* :class:`PathConditions` - the path argument must exist / not exist / be a dir / a file.
* :class:`PathPermissions` - the user needs read and/or write permission on the path.
* :func:`worker` - an abortable command: cancelled by ABOR, it answers 426 then 226.
* :func:`unpack_keywords` - passes connection values as keyword-only arguments.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from .connection import Connection

__all__ = ("ConnectionConditions", "PathConditions", "PathPermissions", "worker", "unpack_keywords")

Method = Callable[..., Awaitable[Any]]


class ConnectionConditions:
    """Require connection keys (see module docstring)."""

    user_required = ("user", "no user (use USER first)")
    login_required = ("logged", "not logged in")
    passive_server_started = ("passive_server", "no listen socket created (use PASV first)")
    data_connection_made = ("data_connection", "no data connection made")
    rename_from_required = ("rename_from", "no filename (use RNFR first)")

    def __init__(
        self,
        *fields: tuple[str, str],
        wait: bool = False,
        fail_code: str = "503",
        fail_info: str | None = None,
    ) -> None:
        self.fields = fields
        self.wait = wait
        self.fail_code = fail_code
        self.fail_info = fail_info

    def __call__(self, f: Method) -> Method:
        @functools.wraps(f)
        async def wrapper(server: Any, connection: Connection, *args: Any, **kwargs: Any) -> Any:
            timeout = connection.value("wait_future_timeout") if self.wait else None
            for name, message in self.fields:
                future = connection[name]
                if not future.done() and self.wait:
                    try:
                        async with asyncio.timeout(timeout):
                            await asyncio.shield(future)
                    except TimeoutError:
                        pass
                if not future.done() or future.cancelled():
                    info = self.fail_info or (
                        "not logged in"
                        if name == "logged"
                        else f"bad sequence of commands ({message})"
                    )
                    code = "530" if name == "logged" and self.fail_code == "503" else self.fail_code
                    connection.response(code, info)
                    return True
            return await f(server, connection, *args, **kwargs)

        return wrapper


class PathConditions:
    """Check the path argument with the session's storage (see module docstring)."""

    path_must_exists = ("exists", False, "path does not exist")
    path_must_not_exists = ("exists", True, "path already exists")
    path_must_be_dir = ("is_dir", False, "path is not a directory")
    path_must_be_file = ("is_file", False, "path is not a file")

    def __init__(self, *conditions: tuple[str, bool, str]) -> None:
        self.conditions = conditions

    def __call__(self, f: Method) -> Method:
        @functools.wraps(f)
        async def wrapper(
            server: Any, connection: Connection, rest: Any, *args: Any, **kwargs: Any
        ) -> Any:
            real, _ = server.get_paths(connection, rest)
            path_io = connection.session.path_io
            for name, fail, message in self.conditions:
                if await getattr(path_io, name)(real) == fail:
                    connection.response("550", message)
                    return True
            return await f(server, connection, rest, *args, **kwargs)

        return wrapper


class PathPermissions:
    """Require the user's permissions on the path argument."""

    readable = "readable"
    writable = "writable"

    def __init__(self, *permissions: str) -> None:
        if not permissions:
            raise ValueError("give at least one of PathPermissions.readable / .writable")
        self.permissions = permissions

    def __call__(self, f: Method) -> Method:
        @functools.wraps(f)
        async def wrapper(
            server: Any, connection: Connection, rest: Any, *args: Any, **kwargs: Any
        ) -> Any:
            _, virtual = server.get_paths(connection, rest)
            user = connection.value("user")
            permission = None if user is None else await user.get_permissions(virtual)
            if permission is None or not all(getattr(permission, p) for p in self.permissions):
                connection.response("550", "permission denied")
                return True
            return await f(server, connection, rest, *args, **kwargs)

        return wrapper


def worker(f: Method) -> Method:
    """An abortable command: when ABOR cancels it, answer 426 then 226."""

    @functools.wraps(f)
    async def wrapper(server: Any, connection: Connection, rest: Any) -> Any:
        try:
            return await f(server, connection, rest)
        except asyncio.CancelledError:
            connection.response("426", "transfer aborted")
            connection.response("226", "abort successful")
            return True

    return wrapper


def unpack_keywords(f: Method) -> Method:
    """Pass the connection's values as the keyword-only arguments the method declares."""
    names = [
        p.name
        for p in inspect.signature(f).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]

    @functools.wraps(f)
    async def wrapper(server: Any, connection: Connection, *args: Any, **kwargs: Any) -> Any:
        for name in names:
            if name not in kwargs and connection.is_set(name):
                kwargs[name] = connection.value(name)
        return await f(server, connection, *args, **kwargs)

    return wrapper

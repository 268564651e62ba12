"""Users, their permissions, and user managers (where the server looks users up).

* :class:`Permission` - read/write flags for a virtual path and everything below it; for a
  given path the *nearest* permission (the longest matching prefix) wins.
* :class:`User` - login, password (plain or hashed, see :mod:`.passwords`), the real
  ``base_path`` its virtual ``/`` maps to, the ``home_path`` it starts in, permissions,
  a connection limit and four speed limits.
* :class:`AbstractUserManager` - the interface: ``get_user`` then ``authenticate``, and
  ``notify_logout``. :class:`MemoryUserManager` keeps a fixed list.

A user whose ``login`` is ``None`` is the anonymous user: it answers any login name that no
other user has, and needs no password.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import pathlib
from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

from .passwords import is_hashed, verify_password

__all__ = ("Permission", "User", "GetUserResponse", "AbstractUserManager", "MemoryUserManager")

_CURRENT_DIRECTORY = pathlib.Path(".")
_ROOT = PurePosixPath("/")


class Permission:
    """Read and write rights on ``path`` and below it (a virtual, absolute path).

    ``Permission("/anon", readable=True)`` grants reading only, as the seeds' server
    tutorial describes it: write access is given explicitly (``writable=True``).
    """

    __slots__ = ("path", "readable", "writable")

    def __init__(
        self, path: str | PurePosixPath = "/", *, readable: bool = True, writable: bool = False
    ) -> None:
        self.path = PurePosixPath(path)
        self.readable = readable
        self.writable = writable

    def is_parent(self, other: PurePosixPath) -> bool:
        """Whether this permission covers *other* (the same path or one below it)."""
        other = PurePosixPath(other)
        return other == self.path or self.path in other.parents

    def __repr__(self) -> str:
        return (
            f"Permission({str(self.path)!r}, readable={self.readable!r}, "
            f"writable={self.writable!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Permission):
            return NotImplemented
        return (self.path, self.readable, self.writable) == (
            other.path,
            other.readable,
            other.writable,
        )

    def __hash__(self) -> int:
        return hash((self.path, self.readable, self.writable))


class User:
    """An account (``login=None``: the anonymous account). See the seeds' server tutorial.

    ``password`` may be plain text or a hash from :func:`anyftp.server.hash_password`.
    ``base_path`` is the real path (in the backend's namespace) that the virtual ``/`` of
    this user maps to; ``home_path`` is the virtual directory a session starts in.
    """

    def __init__(
        self,
        login: str | None = None,
        password: str | None = None,
        *,
        base_path: str | pathlib.PurePath = _CURRENT_DIRECTORY,
        home_path: str | PurePosixPath = _ROOT,
        permissions: Sequence[Permission] | None = None,
        maximum_connections: int | None = None,
        read_speed_limit: int | None = None,
        write_speed_limit: int | None = None,
        read_speed_limit_per_connection: int | None = None,
        write_speed_limit_per_connection: int | None = None,
    ) -> None:
        self.login = login
        self.password = password
        self.base_path = (
            base_path if isinstance(base_path, pathlib.PurePath) else pathlib.Path(base_path)
        )
        self.home_path = PurePosixPath(home_path)
        if not self.home_path.is_absolute():
            raise ValueError(f"home_path must be absolute, got {str(home_path)!r}")
        # The seeds: by default a user may read and write everything below ``/``.
        self.permissions: list[Permission] = list(
            permissions or [Permission("/", readable=True, writable=True)]
        )
        self.maximum_connections = maximum_connections
        self.read_speed_limit = read_speed_limit
        self.write_speed_limit = write_speed_limit
        self.read_speed_limit_per_connection = read_speed_limit_per_connection
        self.write_speed_limit_per_connection = write_speed_limit_per_connection

    def permission_for(self, path: str | PurePosixPath) -> Permission:
        """The nearest permission covering *path* (read-only when none does)."""
        path = PurePosixPath(path)
        best: Permission | None = None
        for permission in self.permissions:
            if permission.is_parent(path) and (
                best is None or len(permission.path.parts) > len(best.path.parts)
            ):
                best = permission
        return best if best is not None else Permission()

    async def get_permissions(self, path: str | PurePosixPath) -> Permission:
        """The nearest permission covering *path* (aioftp's coroutine form)."""
        return self.permission_for(path)

    def __repr__(self) -> str:
        return (
            f"User({self.login!r}, base_path={str(self.base_path)!r}, "
            f"home_path={str(self.home_path)!r}, permissions={self.permissions!r})"
        )


class GetUserResponse(enum.Enum):
    """What :meth:`AbstractUserManager.get_user` found."""

    OK = enum.auto()  # logged in without a password
    PASSWORD_REQUIRED = enum.auto()
    ERROR = enum.auto()


_Response = GetUserResponse


class AbstractUserManager(abc.ABC):
    """Where the server finds users. ``timeout`` bounds each call."""

    GetUserResponse = GetUserResponse

    def __init__(self, *, timeout: float | None = None) -> None:
        self.timeout = timeout

    @abc.abstractmethod
    async def get_user(self, login: str) -> tuple[_Response, User | None, str]:
        """``(state, user, message)`` for *login* (the USER command)."""

    @abc.abstractmethod
    async def authenticate(self, user: User, password: str) -> bool:
        """Whether *password* is right for *user* (the PASS command)."""

    async def notify_logout(self, user: User) -> None:  # noqa: B027 - optional hook
        """Called once when a session that identified *user* ends (default: nothing)."""


class MemoryUserManager(AbstractUserManager):
    """A fixed list of users (default: one anonymous user with read/write on ``/``)."""

    def __init__(self, users: Iterable[User] | None, *, timeout: float | None = None) -> None:
        super().__init__(timeout=timeout)
        self.users: list[User] = list(users) if users else [User()]

    async def get_user(self, login: str) -> tuple[_Response, User | None, str]:
        found: User | None = None
        for user in self.users:
            if user.login is not None and user.login == login:
                found = user
                break
            if user.login is None and found is None:
                found = user
        if found is None:
            return GetUserResponse.ERROR, None, "no such user"
        if found.login is None:
            return GetUserResponse.OK, found, "anonymous login"
        if found.password is None:
            return GetUserResponse.OK, found, "login without password"
        return GetUserResponse.PASSWORD_REQUIRED, found, "password required"

    async def authenticate(self, user: User, password: str) -> bool:
        stored = user.password
        if stored is not None and is_hashed(stored):
            return await asyncio.to_thread(verify_password, stored, password)
        return verify_password(stored, password)

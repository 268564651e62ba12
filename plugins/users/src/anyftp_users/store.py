"""The users file: reading and writing its entries, and the authentication source that
reloads it when it changes.

The file is the format of ``anyftp serve --users-file`` (see
:func:`anyftp.cli.serve.load_users_file`): TOML with one ``[[users]]`` table per account,
or JSON (a list, or ``{"users": [...]}``) when its name ends in ``.json``. Keys:
``login``, ``password``, ``base_path``, ``home``, ``permissions`` (a list of ``{path,
readable, writable}``), ``maximum_connections`` and the four speed limits. For this
plugin the password must be a salted hash from :func:`anyftp.server.hash_password`
(scrypt); an entry with a plain-text password, or without a login, is ignored with a
warning.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from anyftp.cli.serve import load_users_file
from anyftp.hookspecs import hookimpl
from anyftp.server import User, verify_password
from anyftp.server.passwords import is_hashed

__all__ = ("UsersFile", "read_entries", "write_entries", "format_toml")

logger = logging.getLogger("anyftp.users")

_Signature = tuple[int, int, int]


def read_entries(path: Path) -> list[dict[str, Any]]:
    """The raw entries of the users file at *path* (``[]`` when it does not exist)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    data: Any = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    entries = data.get("users", []) if isinstance(data, dict) else data
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError(f"{path}: expected a list of users")
    return entries


def write_entries(path: Path, entries: Iterable[Mapping[str, Any]]) -> None:
    """Replace the users file at *path* in one step (readers see the old or the new file,
    never a part); a new file is readable by its owner only."""
    entries = list(entries)
    if path.suffix.lower() == ".json":
        text = json.dumps({"users": entries}, indent=2, ensure_ascii=False) + "\n"
    else:
        text = format_toml(entries)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, Mapping):
        inner = ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items() if v is not None)
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        return "[\n" + "".join(f"    {_toml_value(item)},\n" for item in value) + "]"
    raise TypeError(f"can not write {type(value).__name__} to TOML: {value!r}")


def format_toml(entries: Iterable[Mapping[str, Any]]) -> str:
    """The TOML text of a users file holding *entries*."""
    lines = [
        "# anyftp users file, kept by `anyftp users add/passwd/del`.",
        "# Passwords are salted scrypt hashes; edit other keys freely (see anyftp-users).",
    ]
    for entry in entries:
        lines += ["", "[[users]]"]
        lines += [
            f"{key} = {_toml_value(value)}" for key, value in entry.items() if value is not None
        ]
    return "\n".join(lines) + "\n"


class UsersFile:
    """An authentication source backed by a users file, reloaded when it changes.

    Every login looks at the file's modification time, size and inode (one ``stat``) and
    reads it again when any changed, so an added account, a new password or a removed
    account applies to the next login without a restart. A file that can not be read
    or parsed keeps the accounts last read (and logs why).
    """

    def __init__(self, path: str | Path, *, root: str = ".") -> None:
        self.path = Path(path)
        self.root = root
        self._lock = threading.Lock()
        self._signature: _Signature | None = None
        self._users: dict[str, User] = {}
        self.reloads = 0

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> UsersFile:
        unknown = set(options) - {"path", "root"}
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}; known: path, root")
        if "path" not in options:
            raise ValueError("option 'path' (the users file) is required")
        source = cls(options["path"], root=str(options.get("root", ".")))
        source.users()  # a bad file is reported when the server is built
        return source

    def _stat(self) -> _Signature | None:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def users(self) -> dict[str, User]:
        """The accounts by login, read again if the file changed."""
        signature = self._stat()
        with self._lock:
            if signature != self._signature:
                self._reload(signature)
            return self._users

    def _reload(self, signature: _Signature | None) -> None:
        if signature is None:
            if self._signature is not None or not self.reloads:
                logger.warning("users file %s does not exist: no accounts", self.path)
            self._users, self._signature = {}, None
            self.reloads += 1
            return
        try:
            loaded = load_users_file(self.path, self.root)
        except (OSError, ValueError, TypeError) as exc:
            if not self.reloads:
                raise ValueError(f"users file {self.path}: {exc}") from exc
            logger.error(
                "users file %s not reloaded (%s); keeping the accounts read before", self.path, exc
            )
            self._signature = signature  # do not parse the same broken file on every login
            return
        users: dict[str, User] = {}
        for user in loaded:
            if user.login is None:
                logger.warning("users file %s: an entry without login is ignored", self.path)
            elif user.password is None or not is_hashed(user.password):
                logger.warning(
                    "users file %s: %r has no hashed password (use `anyftp users passwd`); ignored",
                    self.path,
                    user.login,
                )
            else:
                users[user.login] = user
        self._users, self._signature = users, signature
        self.reloads += 1
        logger.info("users file %s: %d account(s)", self.path, len(users))

    @hookimpl
    def anyftp_authenticate(self, login: str, password: str) -> User | bool | None:
        user = self.users().get(login)
        if user is None:
            return None
        assert user.password is not None
        return user if verify_password(user.password, password) else False

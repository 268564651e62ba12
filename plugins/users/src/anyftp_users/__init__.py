"""anyftp-users: accounts from a TOML or JSON file with salted scrypt password hashes,
per-user root, home, permissions and limits, reloaded when the file changes.

Enable it with ``Server(plugins=["users"], plugin_options={"users": {"path": "users.toml"}})``
or ``anyftp serve --plugin users --plugin-option users.path=users.toml``. Options: ``path``
(required) and ``root``, the storage path of accounts that name no ``base_path``
(default ``.``). Keep the file with ``anyftp users add/passwd/del/list``
(:mod:`anyftp_users.cli`).
"""

from __future__ import annotations

from typing import Any

from anyftp.hookspecs import hookimpl

from .store import UsersFile, format_toml, read_entries, write_entries

__all__ = ("UsersFile", "read_entries", "write_entries", "format_toml", "anyftp_configure")


@hookimpl
def anyftp_configure(server: Any, options: dict[str, Any]) -> UsersFile:
    return UsersFile.from_options(options)

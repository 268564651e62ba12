"""``anyftp users add/passwd/del/list``: keep a users file (see :mod:`.store`).

Registered through the ``anyftp.cli`` entry point, so ``anyftp`` imports this module
(and nothing else of the plugin) to offer the commands. Passwords are read from standard
input with ``--password-stdin`` (one line), otherwise asked for twice on the terminal;
they are stored as salted scrypt hashes, never in clear. A running server that enables
the ``users`` plugin on the same file picks up every change at the next login.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from anyftp.server import hash_password

from .store import read_entries, write_entries

__all__ = ("register", "add", "passwd", "delete", "list_users")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "users",
        help="add, change or remove accounts of a users file (anyftp-users)",
        description="Keep a users file for the 'users' plugin and --users-file: salted "
        "scrypt password hashes, per-user root, home, permissions and limits.",
    )
    commands = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    def action(name: str, help: str, handler: Any, login: bool = True) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = commands.add_parser(name, help=help, description=help)
        if login:
            sub.add_argument("login", help="the account's login name")
        sub.add_argument(
            "--file", "-f", type=Path, required=True, help="the users file (.toml or .json)"
        )
        sub.set_defaults(handler=handler)
        return sub

    add_parser = action("add", "add an account", add)
    _password_option(add_parser)
    add_parser.add_argument(
        "--root", help="storage path the account's / maps to (default: the server's root)"
    )
    add_parser.add_argument("--home", default="/", help="directory a session starts in")
    add_parser.add_argument(
        "--write", action="store_true", help="allow writing (default: read only)"
    )
    add_parser.add_argument("--max-connections", type=int, metavar="N", help="sessions at once")
    add_parser.add_argument("--read-limit", type=int, metavar="BYTES/S", help="upload speed")
    add_parser.add_argument("--write-limit", type=int, metavar="BYTES/S", help="download speed")
    _password_option(action("passwd", "change an account's password", passwd))
    action("del", "remove an account", delete)
    action("list", "list the accounts (never their hashes)", list_users, login=False)


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )


def _fail(message: str) -> int:
    print(f"anyftp users: error: {message}", file=sys.stderr)
    return 1


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            raise ValueError("the passwords differ")
    if not password:
        raise ValueError("empty password")
    return password


def _load(path: Path) -> list[dict[str, Any]]:
    return read_entries(path)


def _find(entries: list[dict[str, Any]], login: str) -> int | None:
    for index, entry in enumerate(entries):
        if entry.get("login") == login:
            return index
    return None


def add(args: argparse.Namespace) -> int:
    try:
        entries = _load(args.file)
        if _find(entries, args.login) is not None:
            return _fail(f"{args.login!r} exists in {args.file} (use passwd to change it)")
        entry: dict[str, Any] = {
            "login": args.login,
            "password": hash_password(_read_password(args)),
        }
        if args.root is not None:
            entry["base_path"] = args.root
        entry["home"] = args.home
        entry["permissions"] = [{"path": "/", "readable": True, "writable": bool(args.write)}]
        entry["maximum_connections"] = args.max_connections
        entry["read_speed_limit"] = args.read_limit
        entry["write_speed_limit"] = args.write_limit
        entries.append({k: v for k, v in entry.items() if v is not None})
        write_entries(args.file, entries)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    print(f"added {args.login!r} to {args.file}")
    return 0


def passwd(args: argparse.Namespace) -> int:
    try:
        entries = _load(args.file)
        index = _find(entries, args.login)
        if index is None:
            return _fail(f"no account {args.login!r} in {args.file}")
        entries[index]["password"] = hash_password(_read_password(args))
        write_entries(args.file, entries)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    print(f"changed the password of {args.login!r}")
    return 0


def delete(args: argparse.Namespace) -> int:
    try:
        entries = _load(args.file)
        index = _find(entries, args.login)
        if index is None:
            return _fail(f"no account {args.login!r} in {args.file}")
        del entries[index]
        write_entries(args.file, entries)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    print(f"removed {args.login!r} from {args.file}")
    return 0


def list_users(args: argparse.Namespace) -> int:
    try:
        entries = _load(args.file)
    except (OSError, ValueError) as exc:
        return _fail(str(exc))
    for entry in entries:
        rights = ", ".join(
            f"{p.get('path', '/')}:{'r' if p.get('readable', True) else '-'}"
            f"{'w' if p.get('writable', False) else '-'}"
            for p in entry.get("permissions", [])
        )
        print(
            f"{entry.get('login')}\troot={entry.get('base_path', '(server root)')}"
            f"\thome={entry.get('home', '/')}\t{rights}"
        )
    return 0

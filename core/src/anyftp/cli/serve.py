"""``anyftp serve``: run an FTP/FTPS server from the command line.

Safe defaults: it listens on 127.0.0.1:2121, serves the current directory through the
``local`` backend, and lets anonymous users read but not write (``--write`` allows it).
``--user login:password`` and ``--users-file`` add accounts (the file is TOML or JSON
with hashed passwords from ``--hash-password``); when accounts are given, anonymous
access is off unless ``--anonymous`` turns it on. ``--plugin NAME`` enables an installed
server plugin (options: ``--plugin-option NAME.KEY=VALUE``); with an authentication
plugin, too, anonymous access is off unless asked for. The server runs on asyncio's own
loop, where its lean control-connection transport applies; ``--loop auto`` or ``uvloop``
runs it on uvloop (``anyftp[speed]``) instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import ssl
import sys
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = (
    "register",
    "run",
    "loop_factory",
    "build_server",
    "load_users_file",
    "parse_backend_options",
    "parse_plugin_options",
)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 2121
# asyncio's own loop: on its selector loop the server uses its own control-connection
# transport and one epoll set for all control connections (server/control.py), and in
# the benchmark it beat the same server on uvloop on most lines (bench/PROFILE.md).
# "auto" or "uvloop" opt in to uvloop (pip install "anyftp[speed]"). The load test runs
# on both loops (tests/reliability/test_load.py): memory levels off on either.
DEFAULT_LOOP = "asyncio"


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run an FTP/FTPS server",
        description="Run an FTP/FTPS server. Anonymous users may read (not write) the root "
        "directory unless told otherwise.",
    )
    net = parser.add_argument_group("network")
    net.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}; use 0.0.0.0 or "
        ":: to listen on all interfaces)",
    )
    net.add_argument(
        "--port",
        "-p",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on (default: {DEFAULT_PORT}; 0 picks a free port, "
        "printed at startup)",
    )
    net.add_argument(
        "--passive-ports",
        metavar="LOW-HIGH",
        help="port range for passive data connections, e.g. 60000-60100",
    )
    net.add_argument(
        "--masquerade-address",
        metavar="IPV4",
        help="address announced in PASV replies (server behind NAT)",
    )
    store = parser.add_argument_group("storage")
    store.add_argument(
        "--root",
        "-d",
        default=".",
        help="directory served, in the backend's namespace (default: .)",
    )
    store.add_argument(
        "--backend",
        default="local",
        help="storage backend by name: local, threadpool, memory, s3, fsspec "
        "or a plugin's (default: local)",
    )
    store.add_argument(
        "--backend-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="option for the backend (repeatable); values are JSON or text",
    )
    store.add_argument(
        "--url",
        help="with --backend fsspec: the filesystem URL served (memory://, file:///srv, "
        "s3://bucket/prefix, ...); same as --backend-option url=URL",
    )
    store.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --backend fsspec: a storage option of the filesystem (repeatable)",
    )
    users = parser.add_argument_group("users")
    users.add_argument("--write", action="store_true", help="let anonymous users write")
    users.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="LOGIN:PASSWORD",
        help="an account with read/write access to the root (repeatable)",
    )
    users.add_argument(
        "--users-file",
        type=Path,
        metavar="PATH",
        help="accounts from a TOML or JSON file (see the documentation)",
    )
    users.add_argument(
        "--anonymous",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="allow anonymous login (default: on unless accounts are given)",
    )
    users.add_argument(
        "--hash-password",
        metavar="PASSWORD",
        help="print the hashed form of PASSWORD ('-' reads stdin) and exit",
    )
    plugins = parser.add_argument_group("plugins")
    plugins.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="NAME",
        help="enable an installed server plugin by name (repeatable; see 'anyftp plugins')",
    )
    plugins.add_argument(
        "--plugin-option",
        action="append",
        default=[],
        metavar="NAME.KEY=VALUE",
        help="option for an enabled plugin (repeatable); values are JSON or text",
    )
    tls = parser.add_argument_group("TLS")
    tls.add_argument(
        "--tls-cert",
        type=Path,
        metavar="PEM",
        help="certificate chain; enables AUTH TLS (explicit FTPS)",
    )
    tls.add_argument(
        "--tls-key", type=Path, metavar="PEM", help="private key (default: in the certificate file)"
    )
    tls.add_argument(
        "--implicit-tls",
        action="store_true",
        help="TLS from the first byte (implicit FTPS) instead of AUTH TLS",
    )
    tls.add_argument(
        "--require-tls", action="store_true", help="refuse login and transfers without TLS"
    )
    limits = parser.add_argument_group("limits")
    limits.add_argument(
        "--max-connections", type=int, default=256, help="connections served at once (default: 256)"
    )
    limits.add_argument(
        "--max-connections-per-ip",
        type=int,
        default=32,
        help="connections from one client address (default: 32)",
    )
    limits.add_argument(
        "--idle-timeout",
        type=float,
        default=300.0,
        help="seconds a client may stay silent (default: 300)",
    )
    limits.add_argument(
        "--socket-timeout",
        type=float,
        default=60.0,
        help="seconds a network read or write may take (default: 60)",
    )
    limits.add_argument(
        "--shutdown-grace",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="on SIGTERM/Ctrl+C, let running transfers finish for up to this long "
        "(default: 30; a second signal stops at once)",
    )
    limits.add_argument(
        "--login-failure-delay",
        type=float,
        default=1.0,
        help="seconds before answering a failed login (default: 1)",
    )
    limits.add_argument(
        "--ban-after",
        type=int,
        default=10,
        metavar="FAILURES",
        help="failed logins from one address within --ban-window that ban it "
        "(default: 10; 0 turns bans off)",
    )
    limits.add_argument(
        "--ban-window",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="window for counting failed logins (default: 300)",
    )
    limits.add_argument(
        "--ban-time",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long a banned address is refused (default: 600)",
    )
    parser.add_argument(
        "--loop",
        choices=("auto", "asyncio", "uvloop"),
        default=DEFAULT_LOOP,
        help="event loop: uvloop (pip install anyftp[speed]) or asyncio's own; auto takes "
        f"uvloop when it is installed (default: {DEFAULT_LOOP})",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log sessions and transfers; twice: every command and reply",
    )
    parser.set_defaults(handler=run)


def parse_backend_options(items: Sequence[str]) -> dict[str, Any]:
    """``["a=1", "b=text"]`` -> ``{"a": 1, "b": "text"}`` (values parsed as JSON if they can)."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"backend option must be KEY=VALUE, got {item!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        options[key.replace("-", "_")] = value
    return options


def backend_options(args: argparse.Namespace) -> dict[str, Any]:
    """Backend options from ``--backend-option``, plus ``--url`` and ``--option`` (fsspec)."""
    options = parse_backend_options(args.backend_option)
    if args.url is not None:
        options["url"] = args.url
    if args.option:
        if "storage_options" in options:
            raise ValueError("give storage options with --option or as a backend option, not both")
        options["storage_options"] = list(args.option)
    return options


def parse_plugin_options(items: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``["audit.path=/x"]`` -> ``{"audit": {"path": "/x"}}`` (values as in backend options)."""
    options: dict[str, dict[str, Any]] = {}
    for item in items:
        name, dot, rest = item.partition(".")
        if not dot or not name or "=" not in rest:
            raise ValueError(f"plugin option must be NAME.KEY=VALUE, got {item!r}")
        options.setdefault(name, {}).update(parse_backend_options([rest]))
    return options


def _parse_ports(text: str) -> range:
    low, sep, high = text.partition("-")
    try:
        first = int(low)
        last = int(high) if sep else first
    except ValueError:
        raise ValueError(f"passive ports must look like 60000-60100, got {text!r}") from None
    if not 0 < first <= last < 65536:
        raise ValueError(f"bad passive port range {text!r}")
    return range(first, last + 1)


def load_users_file(path: Path, default_base: str) -> list[Any]:
    """Users from a TOML (``[[users]]`` tables) or JSON (a list, or ``{"users": [...]}``)
    file. Keys: login, password, base_path, home, permissions (list of path/readable/
    writable), maximum_connections and the four speed limits."""
    from ..server import Permission, User

    text = path.read_text(encoding="utf-8")
    data: Any = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    entries = data.get("users", []) if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of users")
    users = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: each user must be a table/object, got {entry!r}")
        permissions = [
            Permission(
                p.get("path", "/"),
                readable=bool(p.get("readable", True)),
                writable=bool(p.get("writable", False)),
            )
            for p in entry.get("permissions", [{"path": "/", "writable": True}])
        ]
        known = {
            "login",
            "password",
            "base_path",
            "home",
            "home_path",
            "permissions",
            "maximum_connections",
            "read_speed_limit",
            "write_speed_limit",
            "read_speed_limit_per_connection",
            "write_speed_limit_per_connection",
        }
        unknown = set(entry) - known
        if unknown:
            raise ValueError(
                f"{path}: unknown keys {sorted(unknown)} for user {entry.get('login')!r}"
            )
        users.append(
            User(
                entry.get("login"),
                entry.get("password"),
                base_path=entry.get("base_path", default_base),
                home_path=str(entry.get("home", entry.get("home_path", "/"))),
                permissions=permissions,
                maximum_connections=entry.get("maximum_connections"),
                read_speed_limit=entry.get("read_speed_limit"),
                write_speed_limit=entry.get("write_speed_limit"),
                read_speed_limit_per_connection=entry.get("read_speed_limit_per_connection"),
                write_speed_limit_per_connection=entry.get("write_speed_limit_per_connection"),
            )
        )
    return users


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    if args.tls_cert is None:
        if args.implicit_tls or args.require_tls or args.tls_key is not None:
            raise ValueError("--implicit-tls, --require-tls and --tls-key need --tls-cert")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.tls_cert, args.tls_key)
    return context


def build_server(args: argparse.Namespace) -> Any:
    """The :class:`anyftp.Server` the parsed arguments describe."""
    from ..server import MemoryUserManager, Permission, Server, User

    users: list[Any] = []
    for item in args.user:
        login, sep, password = item.partition(":")
        if not sep or not login:
            raise ValueError(f"--user must be LOGIN:PASSWORD, got {item!r}")
        users.append(
            User(
                login,
                password,
                base_path=args.root,
                permissions=[Permission("/", readable=True, writable=True)],
            )
        )
    if args.users_file is not None:
        users.extend(load_users_file(args.users_file, args.root))
    anonymous = args.anonymous if args.anonymous is not None else not users
    if anonymous and not any(u.login is None for u in users):
        users.append(
            User(
                base_path=args.root,
                permissions=[Permission("/", readable=True, writable=args.write)],
            )
        )
    if not users and not args.plugin:
        raise ValueError("no user could log in: give --user, --users-file or --anonymous")
    context = _tls_context(args)
    server = Server(
        users,
        path_io_factory=args.backend,
        path_io_options=backend_options(args),
        maximum_connections=args.max_connections,
        maximum_connections_per_address=args.max_connections_per_ip,
        idle_timeout=args.idle_timeout,
        socket_timeout=args.socket_timeout,
        shutdown_grace=args.shutdown_grace,
        login_failure_delay=args.login_failure_delay,
        ban_after_failures=args.ban_after,
        ban_window=args.ban_window,
        ban_time=args.ban_time,
        data_ports=_parse_ports(args.passive_ports) if args.passive_ports else None,
        masquerade_address=args.masquerade_address,
        ssl=context if args.implicit_tls else None,
        auth_tls=None if args.implicit_tls else context,
        require_tls=args.require_tls and not args.implicit_tls,
        require_tls_data=args.require_tls,
        plugins=args.plugin,
        plugin_options=parse_plugin_options(args.plugin_option),
    )
    manager = server.user_manager
    if server.plugin_host.authenticates and isinstance(manager, MemoryUserManager):
        if args.anonymous is None:  # accounts come from a plugin: anonymous only if asked
            manager.users = [u for u in manager.users if u.login is not None]
    elif not users:
        raise ValueError(
            "no user could log in: give --user, --users-file, --anonymous "
            "or an authentication plugin"
        )
    return server


def loop_factory(choice: str) -> tuple[str, Callable[[], asyncio.AbstractEventLoop] | None]:
    """The event loop for *choice* (``auto``, ``asyncio``, ``uvloop``): its name and a
    factory (``None``: asyncio's default). ``uvloop`` when not installed is an error."""
    if choice in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if choice == "uvloop":
                raise ValueError("--loop uvloop: uvloop is not installed (anyftp[speed])") from None
        else:
            factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
            return "uvloop", factory
    return "asyncio", None


async def _serve(server: Any, host: str, port: int, loop_name: str = "asyncio") -> None:
    await server.start(host, port)
    loop = asyncio.get_running_loop()
    signals = 0

    def stop() -> None:
        # The first signal stops gracefully (transfers may finish), the next one at once.
        nonlocal signals
        signals += 1
        server.close(grace=None if signals == 1 else 0)

    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows
            pass
    bound_host, bound_port = server.address
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    scheme = "ftps" if server.ssl is not None else "ftp"
    print(
        f"anyftp: serving {scheme}://{shown}:{bound_port}/ (backend "
        f"{server.backend_class.__name__}, loop {loop_name}); press Ctrl+C to stop",
        flush=True,
    )
    try:
        await server.serve_forever()
    finally:
        await server.close()


def run(args: argparse.Namespace) -> int:
    if args.hash_password is not None:
        from ..server import hash_password

        secret = (
            sys.stdin.readline().rstrip("\n") if args.hash_password == "-" else args.hash_password
        )
        print(hash_password(secret))
        return 0
    level = (
        logging.WARNING
        if not args.verbose
        else (logging.INFO if args.verbose == 1 else logging.DEBUG)
    )
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        loop_name, factory = loop_factory(getattr(args, "loop", DEFAULT_LOOP))
        server = build_server(args)
    except Exception as exc:  # configuration errors: say what is wrong, no traceback
        print(f"anyftp serve: error: {exc}", file=sys.stderr)
        return 2
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(_serve(server, args.host, args.port, loop_name))
    except OSError as exc:
        print(f"anyftp serve: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0

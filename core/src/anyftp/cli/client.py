"""Client sub-commands of ``anyftp``: ls, get, put, mkdir, rm, mv, mirror.

Servers and paths are URLs (``ftp://user:pass@host:port/path``, ``ftps://`` for FTPS; see
:mod:`anyftp.client.urls`). Transfers show a progress bar (bytes, rate, ETA, with
``rich``) when stdout is a terminal and one plain line per file otherwise. Any failure
prints one line, ``anyftp: error: <reason>``, on stderr and exits with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path, PurePosixPath
from typing import Any, TextIO

from ..client import Client
from ..client import transfer as xfer
from ..client.urls import FTPURL, parse_url
from ..errors import AnyFTPError, StatusCodeError

__all__ = ("register", "error_message", "connect")

DEFAULT_TIMEOUT = 30.0


# --- connecting -------------------------------------------------------------------------


def _ssl_context(args: argparse.Namespace) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=args.cafile)
    if args.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


async def connect(url: FTPURL, args: argparse.Namespace) -> Client:
    """A logged-in client for *url* with the command line's options."""
    options: dict[str, Any] = {
        "socket_timeout": args.timeout,
        "connection_timeout": args.timeout,
        "active": args.active,
    }
    if url.tls == "implicit":
        options["ssl"] = _ssl_context(args)
    client = Client(**options)
    try:
        await client.connect(url.host, url.port)
        if url.tls == "explicit":
            await client.upgrade_to_tls(_ssl_context(args))
        await client.login(url.user, url.password)
    except BaseException:
        client.close()
        raise
    return client


# --- output -----------------------------------------------------------------------------


class PlainProgress:
    """One line per finished file: ``name: N bytes``."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.label = ""
        self.count = 0

    def begin(self, label: str, total: int | None) -> None:
        self.label = label
        self.count = 0

    def advance(self, count: int) -> None:
        self.count += count

    def end(self) -> None:
        print(f"{self.label}: {self.count} bytes", file=self.stream, flush=True)


class RichProgress:
    """A rich progress bar per file (bytes, rate, ETA)."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            transient=False,
        )
        self.task: Any = None

    def __enter__(self) -> RichProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def begin(self, label: str, total: int | None) -> None:
        self.task = self.progress.add_task(label, total=total)

    def advance(self, count: int) -> None:
        self.progress.advance(self.task, count)

    def end(self) -> None:
        task = self.progress.tasks[-1]
        if task.total is None:
            self.progress.update(self.task, total=task.completed)


def _run_with_progress(
    args: argparse.Namespace, body: Callable[[xfer.Progress], Coroutine[Any, Any, None]]
) -> None:
    if args.quiet:
        asyncio.run(body(xfer._NoProgress()))
        return
    if sys.stdout.isatty() and not args.plain:
        try:
            rich_progress = RichProgress()
        except ImportError:
            pass
        else:
            with rich_progress:
                asyncio.run(body(rich_progress))
            return
    asyncio.run(body(PlainProgress(sys.stdout)))


def error_message(exc: BaseException) -> str:
    """The one-line reason shown for *exc*."""
    if isinstance(exc, StatusCodeError):
        text = (
            " ".join(part.strip() for part in exc.info)
            if isinstance(exc.info, list)
            else str(exc.info)
        )
        received = "/".join(str(code) for code in exc.received_codes)
        return f"server replied {received} {text}".rstrip()
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"can not resolve host: {exc.strerror or exc}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message or exc}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    if isinstance(exc, ConnectionResetError):
        return f"connection closed by the server{': ' + str(exc) if str(exc) else ''}"
    if isinstance(exc, FileNotFoundError):
        return f"no such local file or directory: {exc.filename or exc}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return str(exc) or type(exc).__name__


def _guarded(handler: Callable[[argparse.Namespace], None]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            handler(args)
        except KeyboardInterrupt:
            print("anyftp: interrupted", file=sys.stderr)
            return 130
        except (AnyFTPError, OSError, ValueError, EOFError) as exc:
            print(f"anyftp: error: {error_message(exc)}", file=sys.stderr)
            return 1
        return 0

    return run


async def _session(
    url: FTPURL, args: argparse.Namespace, body: Callable[[Client], Awaitable[None]]
) -> None:
    client = await connect(url, args)
    try:
        await body(client)
    except BaseException:
        client.close()
        raise
    try:
        await client.quit()
    except (OSError, AnyFTPError):
        client.close()


def _remote(path: str) -> PurePosixPath:
    return PurePosixPath(path or ".")


# --- commands ---------------------------------------------------------------------------


def _format_entry(path: PurePosixPath, info: dict[str, Any], long: bool) -> str:
    name = path.as_posix() + ("/" if info.get("type") == "dir" else "")
    if not long:
        return name
    modify = str(info.get("modify", ""))
    when = (
        f"{modify[:4]}-{modify[4:6]}-{modify[6:8]} {modify[8:10]}:{modify[10:12]}"
        if len(modify) >= 12
        else "-"
    )
    return f"{info.get('type', '?'):<5} {info.get('size', '-'):>12} {when:>16}  {name}"


def cmd_ls(args: argparse.Namespace) -> None:
    url = parse_url(args.url, implicit_tls=args.implicit_tls)

    async def body(client: Client) -> None:
        path = _remote(url.path)
        info = await client.stat(path) if url.path else {"type": "dir"}
        if info.get("type") != "dir":
            entries = [(PurePosixPath(path.name), dict(info))]
        else:
            entries = [
                (p.relative_to(path) if str(path) != "." else p, dict(i))
                for p, i in await client.list(path, recursive=args.recursive)
            ]
        for entry_path, entry_info in sorted(entries, key=lambda e: e[0].as_posix()):
            print(_format_entry(entry_path, entry_info, args.long))

    asyncio.run(_session(url, args, body))


def cmd_get(args: argparse.Namespace) -> None:
    url = parse_url(args.url, implicit_tls=args.implicit_tls)
    remote = _remote(url.path)

    async def body(progress: xfer.Progress) -> None:
        async def work(client: Client) -> None:
            info = await client.stat(remote)
            name = remote.name or url.host
            local = Path(args.local) if args.local else Path(name)
            if local.is_dir():
                local = local / name
            if info.get("type") == "dir":
                await xfer.download_tree(client, remote, local, progress=progress)
            else:
                size = str(info.get("size", ""))
                await xfer.download_file(
                    client,
                    remote,
                    local,
                    progress=progress,
                    size=int(size) if size.isdigit() else None,
                )

        await _session(url, args, work)

    _run_with_progress(args, body)


def cmd_put(args: argparse.Namespace) -> None:
    url = parse_url(args.url, implicit_tls=args.implicit_tls)
    local = Path(args.local)
    if not local.exists():
        raise FileNotFoundError(2, "No such file or directory", str(local))

    async def body(progress: xfer.Progress) -> None:
        async def work(client: Client) -> None:
            remote = _remote(url.path)
            if not url.path or url.path.endswith("/") or await client.is_dir(remote):
                remote = remote / local.name
            if local.is_dir():  # noqa: ASYNC240 - local disk, one call
                await xfer.upload_tree(client, local, remote, progress=progress)
            else:
                await xfer.upload_file(client, local, remote, progress=progress)

        await _session(url, args, work)

    _run_with_progress(args, body)


def cmd_mkdir(args: argparse.Namespace) -> None:
    url = parse_url(args.url, implicit_tls=args.implicit_tls)
    if not url.path:
        raise ValueError("the URL names no directory to make")

    async def body(client: Client) -> None:
        await client.make_directory(_remote(url.path), parents=args.parents)

    asyncio.run(_session(url, args, body))


def cmd_rm(args: argparse.Namespace) -> None:
    url = parse_url(args.url, implicit_tls=args.implicit_tls)
    if not url.path:
        raise ValueError("the URL names nothing to remove")

    async def body(client: Client) -> None:
        path = _remote(url.path)
        info = await client.stat(path)
        if info.get("type") == "dir":
            if args.recursive:
                await client.remove(path)
            else:
                await client.remove_directory(path)
        else:
            await client.remove_file(path)

    asyncio.run(_session(url, args, body))


def cmd_mv(args: argparse.Namespace) -> None:
    url = parse_url(args.url, implicit_tls=args.implicit_tls)
    if not url.path:
        raise ValueError("the URL names nothing to move")

    async def body(client: Client) -> None:
        await client.rename(_remote(url.path), PurePosixPath(args.new_path))

    asyncio.run(_session(url, args, body))


def cmd_mirror(args: argparse.Namespace) -> None:
    if args.reverse:
        local, url_text = Path(args.source), args.destination
    else:
        url_text, local = args.source, Path(args.destination)
    url = parse_url(url_text, implicit_tls=args.implicit_tls)
    if args.reverse and not local.is_dir():
        raise FileNotFoundError(2, "No such directory", str(local))

    async def body(progress: xfer.Progress) -> None:
        async def work(client: Client) -> None:
            remote = _remote(url.path)
            if args.reverse:
                result = await xfer.mirror_upload(client, local, remote, progress=progress)
            else:
                result = await xfer.mirror_download(client, remote, local, progress=progress)
            if not args.quiet:
                print(
                    f"mirror: {len(result.copied)} copied, {len(result.skipped)} unchanged",
                    flush=True,
                )

        await _session(url, args, work)

    _run_with_progress(args, body)


# --- argument parsing -------------------------------------------------------------------


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection")
    group.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"bound for every network wait (default: {DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--insecure", action="store_true", help="ftps: do not verify the server's certificate"
    )
    group.add_argument(
        "--cafile", metavar="PEM", help="ftps: trust the certificate authorities in this file"
    )
    group.add_argument(
        "--implicit-tls",
        action="store_true",
        help="ftps: TLS from the first byte (default: AUTH TLS; port 990 implies implicit)",
    )
    group.add_argument(
        "--active", action="store_true", help="active mode data connections (EPRT/PORT)"
    )
    return common


def _transfer_options() -> argparse.ArgumentParser:
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("output")
    group.add_argument("--quiet", "-q", action="store_true", help="print nothing on success")
    group.add_argument(
        "--plain", action="store_true", help="plain lines even on a terminal (no progress bar)"
    )
    return options


def register(subparsers: Any) -> None:
    common = _common()
    output = _transfer_options()
    url_help = "ftp://[user[:password]@]host[:port]/path (or ftps://)"

    parser = subparsers.add_parser(
        "ls",
        parents=[common],
        help="list a remote directory",
        description="List a remote directory (or show a file).",
    )
    parser.add_argument("url", help=url_help)
    parser.add_argument("-l", "--long", action="store_true", help="type, size and time too")
    parser.add_argument("-r", "--recursive", action="store_true", help="list sub-directories")
    parser.set_defaults(handler=_guarded(cmd_ls))

    parser = subparsers.add_parser(
        "get",
        parents=[common, output],
        help="download a file or directory",
        description="Download a remote file or directory tree.",
    )
    parser.add_argument("url", help=url_help)
    parser.add_argument(
        "local", nargs="?", help="local file or directory (default: the remote name here)"
    )
    parser.set_defaults(handler=_guarded(cmd_get))

    parser = subparsers.add_parser(
        "put",
        parents=[common, output],
        help="upload a file or directory",
        description="Upload a local file or directory tree. A URL naming an existing "
        "directory (or ending in /) receives it under its own name.",
    )
    parser.add_argument("local", help="local file or directory")
    parser.add_argument("url", help=url_help)
    parser.set_defaults(handler=_guarded(cmd_put))

    parser = subparsers.add_parser(
        "mkdir",
        parents=[common],
        help="make a remote directory",
        description="Make a remote directory and its parents.",
    )
    parser.add_argument("url", help=url_help)
    parser.add_argument(
        "--no-parents", dest="parents", action="store_false", help="fail if a parent is missing"
    )
    parser.set_defaults(handler=_guarded(cmd_mkdir))

    parser = subparsers.add_parser(
        "rm",
        parents=[common],
        help="remove a remote path",
        description="Remove a remote file or empty directory.",
    )
    parser.add_argument("url", help=url_help)
    parser.add_argument(
        "-r", "--recursive", action="store_true", help="remove a directory with everything in it"
    )
    parser.set_defaults(handler=_guarded(cmd_rm))

    parser = subparsers.add_parser(
        "mv",
        parents=[common],
        help="rename a remote path",
        description="Rename (move) a remote path.",
    )
    parser.add_argument("url", help=url_help)
    parser.add_argument("new_path", help="new path (relative to the login directory, or absolute)")
    parser.set_defaults(handler=_guarded(cmd_mv))

    parser = subparsers.add_parser(
        "mirror",
        parents=[common, output],
        help="copy a tree, skipping unchanged files",
        description="Download a remote tree into LOCALDIR (or, with --reverse, upload "
        "LOCALDIR), skipping files already identical by size and modification time. "
        "Copied files keep their modification time (MFMT on the server where supported).",
    )
    parser.add_argument("source", help="URL (or LOCALDIR with --reverse)")
    parser.add_argument("destination", help="LOCALDIR (or URL with --reverse)")
    parser.add_argument("--reverse", "-R", action="store_true", help="upload LOCALDIR to the URL")
    parser.set_defaults(handler=_guarded(cmd_mirror))

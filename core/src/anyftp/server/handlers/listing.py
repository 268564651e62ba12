"""Directory listings: LIST (``ls -l`` lines), NLST (names), MLSD and MLST (RFC 3659
facts), and STAT with a path (a listing over the control connection).

A listing is one backend call (``list_names_with_stats``) and is built before the 150 reply,
so a missing directory is a plain 550 without a data connection. Names holding CR, LF
or NUL (possible on a local disk) are shown with "?" in their place, so they can not
forge listing lines or replies.
"""

from __future__ import annotations

import operator
import stat as stat_module
import time
from collections.abc import Iterable
from pathlib import PurePosixPath

from ...errors import PathIOError
from ...pathio import StatLike
from ...protocol.listing import SIX_MONTHS, format_list_time, split_list_options
from ...protocol.mlsx import DEFAULT_FACTS, facts_for_stat, format_facts, format_time
from ..commands import CommandSpec, CommandTable
from ..datachannel import DataChannel
from ..session import CommandError, Session
from ..users import User
from .transfer import check_data_protection, run_transfer

__all__ = ("register", "list_lines", "mlsd_lines", "mlsx_line")


def _list_path(argument: str) -> str:
    return split_list_options(argument)[1]


async def _entries(
    session: Session, virtual: PurePosixPath
) -> tuple[bool, list[tuple[str, StatLike]]]:
    """``(is_directory, [(name, stat)])`` for a directory's entries or a single file."""
    path_io = session.path_io
    real = session.real(virtual)
    try:
        found = await path_io.list_names_with_stats(real)  # one backend call
    except PathIOError as exc:
        if not isinstance(exc.cause, NotADirectoryError):
            raise
        info = await path_io.stat(real)
        if stat_module.S_ISDIR(info.st_mode):  # pragma: no cover - changed under us
            raise
        return False, [(virtual.name, info)]
    text = "".join([name for name, _ in found])  # one scan instead of one per name
    if "\r" in text or "\n" in text or "\x00" in text:
        found = [(shown_name(name), info) for name, info in found]
    found.sort(key=_by_name)
    return True, found


_by_name = operator.itemgetter(0)


# Line breaks and NUL in a stored name would end a listing line (or, in STAT, a reply
# line) early and let the rest pose as a line of its own: shown as "?" instead.
_UNSHOWABLE = str.maketrans({"\r": "?", "\n": "?", "\x00": "?"})


def shown_name(name: str) -> str:
    """*name* as it may appear in a listing line (no CR, LF or NUL)."""
    return name.translate(_UNSHOWABLE)


def list_lines(entries: Iterable[tuple[str, StatLike]]) -> list[str]:
    """LIST lines (as :func:`~anyftp.protocol.listing.format_list_line` makes them, owner
    and group ``ftp``); the mode and time texts are computed once per distinct value."""
    now = time.time()
    modes: dict[int, str] = {}
    times: dict[tuple[int, bool], str] = {}
    filemode = stat_module.filemode
    lines: list[str] = []
    append = lines.append
    for name, info in entries:
        mode = int(info.st_mode)
        mode_text = modes.get(mode)
        if mode_text is None:
            full = mode if stat_module.S_IFMT(mode) else mode | stat_module.S_IFREG
            mode_text = modes[mode] = filemode(full)
        mtime = float(info.st_mtime)
        recent = abs(now - mtime) < SIX_MONTHS
        second = int(mtime) if mtime >= 0 else 0  # gmtime(max(mtime, 0)) shows this second
        # The text depends only on that second and on which side of the six-month line.
        time_text = times.get((second, recent))
        if time_text is None:
            time_text = times[second, recent] = format_list_time(mtime, now)
        size = int(info.st_size)
        nlink = int(info.st_nlink or 1)
        append(f"{mode_text} {nlink:>3d} ftp      ftp      {size:>12d} {time_text} {name}")
    return lines


def perm_fact(session: Session, virtual: PurePosixPath, is_dir: bool) -> str:
    user = session.user
    if user is None:
        return ""
    permission = user.permission_for(virtual)
    if is_dir:
        return ("el" if permission.readable else "") + ("cdfmp" if permission.writable else "")
    return ("r" if permission.readable else "") + ("adfw" if permission.writable else "")


def _child_perms(session: Session, virtual: PurePosixPath) -> tuple[str, str, dict[str, User]]:
    """The ``perm`` facts of the entries of directory *virtual*: ``(directory, file,
    {name: user})``, the last for entries that a permission of their own may change."""
    user = session.user
    if user is None:
        return "", "", {}
    if type(user).permission_for is not User.permission_for:
        # A subclass decides per path: ask for every entry.
        return "", "", {"": user}
    nearest = user.permission_for(virtual)
    own = {
        permission.path.name: user
        for permission in user.permissions
        if permission.path != virtual and permission.path.parent == virtual
    }
    return (
        ("el" if nearest.readable else "") + ("cdfmp" if nearest.writable else ""),
        ("r" if nearest.readable else "") + ("adfw" if nearest.writable else ""),
        own,
    )


def mlsd_lines(
    session: Session, virtual: PurePosixPath, entries: Iterable[tuple[str, StatLike]]
) -> list[str]:
    """The MLSD lines of the entries of directory *virtual* (same text as
    :func:`mlsx_line` gives for each, computed with less work per entry)."""
    wanted = session.mlst_facts
    perm_dir, perm_file, own = _child_perms(session, virtual)
    if "" in own or not all(fact in wanted for fact in DEFAULT_FACTS):
        return [mlsx_line(session, virtual / name, name, info) for name, info in entries]
    modify_texts: dict[int, str] = {}
    lines: list[str] = []
    append = lines.append
    for name, info in entries:
        mode = info.st_mode
        mtime = info.st_mtime
        if mtime >= 0:
            second = int(mtime)
            modify = modify_texts.get(second)
            if modify is None:
                modify = modify_texts[second] = format_time(second)
        else:
            modify = format_time(mtime)
        if stat_module.S_ISDIR(mode):
            kind, perm = "dir", perm_dir
        else:
            kind, perm = "file", perm_file
        if own and name in own:
            perm = perm_fact(session, virtual / name, kind == "dir")
        ino = getattr(info, "st_ino", 0)
        unique = f"unique={getattr(info, 'st_dev', 0):x}g{ino:x};" if ino else ""
        append(
            f"type={kind};size={info.st_size};modify={modify};perm={perm};"
            f"unix.mode={mode & 0o7777:04o};{unique} {name}"
        )
    return lines


def mlsx_line(session: Session, virtual: PurePosixPath, name: str, info: StatLike) -> str:
    is_dir = stat_module.S_ISDIR(info.st_mode)
    facts = facts_for_stat(info, perm=perm_fact(session, virtual, is_dir))
    wanted = session.mlst_facts
    chosen = {key: value for key, value in facts.items() if key in wanted}
    return format_facts(chosen, name)


def _encode(session: Session, lines: list[str]) -> bytes:
    if not lines:
        return b""
    return ("\r\n".join(lines) + "\r\n").encode(session.encoding, "surrogateescape")


async def _send_listing(
    session: Session, name: str, virtual: PurePosixPath, payload: bytes
) -> None:
    check_data_protection(session)

    async def work(channel: DataChannel) -> None:
        if payload:
            channel.send(payload)
            await channel.drain()

    if await run_transfer(
        session, name, virtual, work, opening=f"here comes the listing of {virtual}"
    ):
        await session.reply("226", "listing sent")


async def list_(session: Session, argument: str) -> None:
    _, path = split_list_options(argument)
    virtual = session.resolve(path)
    _, entries = await _entries(session, virtual)
    await _send_listing(session, "LIST", virtual, _encode(session, list_lines(entries)))


async def nlst(session: Session, argument: str) -> None:
    _, path = split_list_options(argument)
    virtual = session.resolve(path)
    is_dir, entries = await _entries(session, virtual)
    if not is_dir:
        names = [path or virtual.name]
    elif path:
        names = [f"{path.rstrip('/')}/{name}" for name, _ in entries]
    else:
        names = [name for name, _ in entries]
    await _send_listing(session, "NLST", virtual, _encode(session, names))


async def mlsd(session: Session, argument: str) -> None:
    virtual = session.resolve(argument)
    is_dir, entries = await _entries(session, virtual)
    if not is_dir:
        raise CommandError("501", "not a directory")
    lines = mlsd_lines(session, virtual, entries)
    await _send_listing(session, "MLSD", virtual, _encode(session, lines))


async def mlst(session: Session, argument: str) -> None:
    virtual = session.resolve(argument)
    info = await session.path_io.stat(session.real(virtual))
    line = mlsx_line(session, virtual, str(virtual), info)
    await session.reply("250", [f"listing {virtual}", line, "end"])


async def stat_path(session: Session, argument: str) -> None:
    """STAT with a path argument: the LIST lines over the control connection."""
    _, path = split_list_options(argument)
    virtual = session.resolve(path)
    session.require(virtual, "read")
    _, entries = await _entries(session, virtual)
    await session.reply("213", [f"status of {virtual}:", *list_lines(entries), "end of status"])


def mlst_feat(session: Session) -> str:
    facts = "".join(f"{fact}{'*' if fact in session.mlst_facts else ''};" for fact in DEFAULT_FACTS)
    return f"MLST {facts}"


def register(table: CommandTable) -> None:
    table.add(
        CommandSpec(
            "LIST",
            permission="read",
            transfer=True,
            path_of=_list_path,
            syntax="[-options] [<path>]",
            help="list a directory (ls -l)",
        ),
        list_,
    )
    table.add(
        CommandSpec(
            "NLST",
            permission="read",
            transfer=True,
            path_of=_list_path,
            syntax="[<path>]",
            help="list names",
        ),
        nlst,
    )
    table.add(
        CommandSpec(
            "MLSD",
            permission="read",
            transfer=True,
            syntax="[<path>]",
            help="list a directory with facts (RFC 3659)",
        ),
        mlsd,
    )
    table.add(
        CommandSpec(
            "MLST",
            permission="read",
            syntax="[<path>]",
            help="facts of one path (RFC 3659)",
            feat=mlst_feat,
        ),
        mlst,
    )

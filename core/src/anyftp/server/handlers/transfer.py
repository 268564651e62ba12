"""File transfers: RETR, STOR, APPE, STOU, and the shared data-connection routine.

Every transfer answers 150, opens the data connection, moves the bytes and then answers
226 only when all bytes moved *and* the file was closed successfully (for an upload:
the peer ended the connection cleanly and the storage accepted the close). A reset
connection is 426; a storage failure its mapped 4xx/5xx; ABOR (task cancellation) is 426
followed by the 226 the ABOR handler sends.

The fast path: a binary, unthrottled, clear-text RETR from a backend whose files have a
descriptor goes through the kernel's sendfile. Otherwise blocks of ``block_size`` bytes
are moved, reading the next block from storage while the previous one is being sent;
uploads are received straight into reusable buffers (see :mod:`..rawio`), and stored
from the loop's reader callback when the backend has ``write_sync``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
import stat as stat_module
import time
from collections.abc import Awaitable, Callable
from pathlib import PurePath, PurePosixPath

from ... import plugins
from ...common import Throttle
from ...errors import PathIOError, reply_for_path_error
from ...pathio import AsyncFile
from ..ascii import AsciiDecoder, AsciiEncoder
from ..commands import CommandSpec, CommandTable
from ..datachannel import DataChannel, SendfileUnavailable
from ..dataconn import DataConnectionError
from ..rawio import RawReceiver, send_file_raw
from ..session import CommandError, Session
from ..uploads import temporary_path, uses_temporary_name

__all__ = ("run_transfer", "check_data_protection", "register")

logger = logging.getLogger("anyftp.server")

#: Bytes handed to one sendfile call (each call is bounded by ``socket_timeout``).
SENDFILE_CHUNK = 4 * 1024 * 1024


def check_data_protection(session: Session) -> None:
    """Refuse a transfer in clear text when the server requires protected data."""
    if session.server.require_tls_data and session.prot != "P":
        raise CommandError("521", "data connections must be protected: use PROT P")
    if not session.data.configured:
        raise CommandError("425", "use PASV, EPSV, PORT or EPRT first")


async def run_transfer(
    session: Session,
    name: str,
    path: PurePosixPath | str,
    work: Callable[[DataChannel], Awaitable[None]],
    *,
    opening: str | None = None,
) -> bool:
    """150, data connection, *work*, close; True when every byte went through.

    On failure the reply (425/426/4xx) has been sent; on cancellation (ABOR) 426 has been
    sent and the cancellation goes on.
    """
    started = time.monotonic()
    channel: DataChannel | None = None
    result = "failed"
    info = session.active_info
    info.update(name=name, path=str(path), started=started)
    try:
        await session.reply("150", opening or f"opening data connection for {name} {path}")
        try:
            channel = await session.data.open()
        except DataConnectionError as exc:
            result = "no data connection"
            await session.reply("425", f"can not open data connection: {exc}")
            return False
        info["channel"] = channel
        await work(channel)
        await channel.flush()
        channel.close()
        result = "ok"
        return True
    except asyncio.CancelledError:
        result = "aborted"
        if channel is not None:
            channel.abort()
        session.sent_abort_reply = True
        session.response("426", "transfer aborted")
        raise
    except PathIOError as exc:
        if channel is not None:
            channel.abort()
        code, text = reply_for_path_error(exc)
        await session.reply(code, text)
        return False
    except (ConnectionError, ssl.SSLError, TimeoutError, OSError) as exc:
        result = f"connection failed ({type(exc).__name__}: {exc})"
        if channel is not None:
            channel.abort()
        await session.reply("426", "data connection failed; transfer aborted")
        return False
    finally:
        if channel is not None and result != "ok":
            channel.abort()  # whatever failed (even unforeseen), the client sees the end
        plugins.transfer_ended(session, result)
        user = session.user
        moved = 0 if channel is None else channel.bytes_in + channel.bytes_out
        logger.info(
            "transfer %s user=%s path=%s bytes=%d seconds=%.3f result=%s",
            name,
            (user.login or "anonymous") if user else "-",
            path,
            moved,
            time.monotonic() - started,
            result,
        )


async def send_file(session: Session, channel: DataChannel, file: AsyncFile, offset: int) -> None:
    throttles = session.limited("write")
    ascii_mode = session.transfer_type == "A"
    block_size = session.server.block_size
    if (
        not ascii_mode
        and not throttles
        and not channel.tls
        and session.path_io.capabilities.file_descriptor
    ):
        try:
            fd = file.fileno()
        except (OSError, ValueError):
            fd = -1
        # The kernel's sendfile called on the socket itself (less work per wait than
        # loop.sendfile, and uvloop has no loop.sendfile); the loop's as a fallback.
        if fd >= 0 and await send_file_raw(channel, fd, offset) is not None:
            return
        if fd >= 0:
            position = offset
            try:
                while True:
                    sent = await channel.sendfile(fd, position, SENDFILE_CHUNK)
                    position += sent
                    if sent < SENDFILE_CHUNK:
                        return
            except SendfileUnavailable:
                if position != offset:
                    raise
                await file.seek(offset)  # the loop can not either: copy blocks
    if throttles:
        smallest = min(t.limit or block_size for t in throttles)
        block_size = max(4096, min(block_size, smallest // 8))
    encoder = AsciiEncoder() if ascii_mode else None
    data = await file.read(block_size)
    while data:
        out: bytes | bytearray | memoryview = data if encoder is None else encoder.encode(data)
        for throttle in throttles:
            await throttle.wait()
        channel.send(out)
        for throttle in throttles:
            throttle.append(len(out))
        data = await file.read(block_size)
        await channel.drain()
    if encoder is not None:
        tail = encoder.flush()
        if tail:
            channel.send(tail)


async def receive_file(session: Session, channel: DataChannel, file: AsyncFile) -> None:
    throttles = session.limited("read")
    decoder = AsciiDecoder() if session.transfer_type == "A" else None
    # A backend whose files are not OS files might keep what it is given: hand it a copy.
    copy = not session.path_io.capabilities.file_descriptor
    raw = RawReceiver.for_channel(channel)
    if raw is not None:
        try:
            await _receive_raw(session, raw, file, throttles, decoder, copy)
        finally:
            raw.close()
        return
    while True:
        for throttle in throttles:
            await throttle.wait()
        view = await channel.receive()
        if not view:
            break
        if decoder is not None:
            await file.write(decoder.decode(view))
        elif copy:
            await file.write(bytes(view))
        else:
            await file.write(view)
        for throttle in throttles:
            throttle.append(len(view))
    if decoder is not None:
        tail = decoder.flush()
        if tail:
            await file.write(tail)


async def _receive_raw(
    session: Session,
    raw: RawReceiver,
    file: AsyncFile,
    throttles: list[Throttle],
    decoder: AsciiDecoder | None,
    copy: bool,
) -> None:
    """The upload loop on a clear connection: read the socket, store, repeat (see
    :mod:`..rawio`); a binary, unthrottled upload to a backend with ``write_sync`` is
    stored from the loop's reader callback instead. A buffer goes back to the pool only
    after storage is done with it; one a cancelled write may still use is dropped, so no
    other upload can ever read it."""
    pool = session.server.receive_buffers
    if decoder is None and not throttles:
        store = file.sync_writer()
        if store is not None:
            await raw.receive_inline(store, pool)
            return
    while True:
        for throttle in throttles:
            await throttle.wait()
        buffer = pool.take()
        count = raw.try_recv_into(buffer)
        if count is None:
            pool.give(buffer)
            await raw.wait_readable()
            continue
        if not count:
            pool.give(buffer)
            break
        view = memoryview(buffer)[:count]
        if decoder is not None:
            await file.write(decoder.decode(view))
        elif copy:
            await file.write(bytes(view))
        else:
            await file.write(view)  # an exception drops the buffer with the view
        view.release()
        pool.give(buffer)
        for throttle in throttles:
            throttle.append(count)
    if decoder is not None:
        tail = decoder.flush()
        if tail:
            await file.write(tail)


async def retr(session: Session, argument: str) -> None:
    offset = session.restart_offset
    session.restart_offset = 0
    virtual = session.resolve(argument)
    real = session.real(virtual)
    path_io = session.path_io
    info = await path_io.stat(real)
    if stat_module.S_ISDIR(info.st_mode):
        raise CommandError("550", "not a plain file")
    check_data_protection(session)
    file = await path_io.open(real, "rb")
    ok = False
    try:
        if offset:
            await file.seek(offset)

        async def work(channel: DataChannel) -> None:
            await send_file(session, channel, file, offset)

        mode = "ASCII" if session.transfer_type == "A" else "BINARY"
        ok = await run_transfer(
            session,
            "RETR",
            virtual,
            work,
            opening=f"opening {mode} mode data connection for {virtual} ({info.st_size} bytes)",
        )
    finally:
        await file.close()
    if ok:
        await session.reply("226", "transfer complete")


async def _store(
    session: Session,
    name: str,
    virtual: PurePosixPath,
    mode: str,
    offset: int = 0,
    opening: str | None = None,
    done_text: str = "transfer complete",
) -> None:
    path_io = session.path_io
    real = session.real(virtual)
    if await path_io.is_dir(real):
        raise CommandError("550", "is a directory")
    check_data_protection(session)
    if mode == "ab" and not path_io.capabilities.append:
        raise CommandError("502", "this storage can not append to files")
    if offset:
        if not path_io.capabilities.seek_write:
            raise CommandError("502", "this storage can not resume uploads with REST")
        if not await path_io.is_file(real):
            raise CommandError("550", "no such file to resume")
        mode = "r+b"
    # A new file is written under a temporary name and renamed when complete, unless
    # the backend discards aborted writes itself (see ..uploads).
    temporary = None
    if mode == "wb" and uses_temporary_name(path_io, session.server.atomic_uploads):
        temporary = temporary_path(real)
    file = await path_io.open(temporary or real, mode)
    try:
        if offset:
            await file.seek(offset)

        async def work(channel: DataChannel) -> None:
            await receive_file(session, channel, file)

        ok = await run_transfer(session, name, virtual, work, opening=opening)
    except BaseException:
        await asyncio.shield(_abort_quietly(file, temporary))
        raise
    if not ok:
        await _abort_quietly(file, temporary)
        return
    try:
        hung_up = await _control_hung_up(session)
    except BaseException:  # the session is closing: it cancelled us
        await asyncio.shield(_abort_quietly(file, temporary))
        raise
    if hung_up:
        # The client closed the control connection before the upload was confirmed: in
        # stream mode its data EOF can not be told from a cut, so nothing is published.
        await _abort_quietly(file, temporary)
        plugins.transfer_ended(session, "client hung up before the upload was confirmed")
        return
    try:
        await file.close()  # a failure here is answered by the session, never with 226
        if temporary is not None:
            await path_io.rename(temporary, real)
    except BaseException as exc:
        if temporary is not None:
            await asyncio.shield(_abort_quietly(file, temporary))
        plugins.transfer_ended(session, f"storage failed to close the file ({exc})", stored=True)
        raise
    plugins.transfer_ended(session, "ok", stored=True)
    await session.reply("226", done_text)


async def _control_hung_up(session: Session) -> bool:
    """Whether the client has closed the control connection (its FIN already arrived).

    Two loop turns let the loop read what the kernel holds for the control socket: the
    first turn polls for it, the second runs the callbacks the poll queued.
    """
    for _ in range(2):
        await asyncio.sleep(0)
    return session.reader.at_eof()


async def _abort_quietly(file: AsyncFile, temporary: PurePath | None = None) -> None:
    """Give up *file*; remove the *temporary* name it was written under, if any."""
    try:
        await file.abort()
    except PathIOError as exc:
        logger.warning("could not abort file %s: %s", file.path, exc)
    if temporary is None:
        return
    try:
        await file.path_io.unlink(temporary)
    except PathIOError as exc:
        if not isinstance(exc.cause, FileNotFoundError):
            logger.warning("could not remove unfinished upload %s: %s", temporary, exc)


async def stor(session: Session, argument: str) -> None:
    offset = session.restart_offset
    session.restart_offset = 0
    await _store(session, "STOR", session.resolve(argument), "wb", offset)


async def appe(session: Session, argument: str) -> None:
    session.restart_offset = 0
    await _store(session, "APPE", session.resolve(argument), "ab")


async def stou(session: Session, argument: str) -> None:
    session.restart_offset = 0
    base = session.resolve(argument) if argument.strip() else session.cwd / "file"
    path_io = session.path_io
    candidate = base
    for attempt in range(1, 100):
        if not await path_io.exists(session.real(candidate)):
            break
        candidate = base.with_name(f"{base.name}.{attempt}")
    else:
        candidate = base.with_name(f"{base.name}.{secrets.token_hex(6)}")
    session.require(candidate, "write")
    await _store(
        session,
        "STOU",
        candidate,
        "wb",
        opening=f"FILE: {candidate.name}",
        done_text=f"transfer complete (unique file name: {candidate.name})",
    )


def register(table: CommandTable) -> None:
    table.add(
        CommandSpec(
            "RETR",
            permission="read",
            argument="required",
            transfer=True,
            keeps_restart=True,
            syntax="<path>",
            help="download a file",
        ),
        retr,
    )
    table.add(
        CommandSpec(
            "STOR",
            permission="write",
            argument="required",
            transfer=True,
            keeps_restart=True,
            syntax="<path>",
            help="upload a file",
        ),
        stor,
    )
    table.add(
        CommandSpec(
            "APPE",
            permission="write",
            argument="required",
            transfer=True,
            syntax="<path>",
            help="append to a file",
        ),
        appe,
    )
    table.add(
        CommandSpec(
            "STOU",
            permission="write",
            transfer=True,
            path_of=lambda a: a or ".",
            syntax="[<name>]",
            help="upload under a unique name",
        ),
        stou,
    )

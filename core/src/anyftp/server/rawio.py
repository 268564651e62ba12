"""Direct socket I/O for clear (non-TLS) data connections: the upload fast path, and
sendfile on event loops without ``loop.sendfile`` (uvloop).

A :class:`~.datachannel.DataChannel` reads through its asyncio transport, which pauses and
resumes reading (two ``epoll_ctl`` calls) every time its buffers fill. For a clear TCP
upload :class:`RawReceiver` instead reads the socket itself, as a classic select-loop
server does: ``readv`` into a buffer while the kernel has data, and waits for readability
only when it has none. The kernel's socket buffer keeps receiving meanwhile, so the next
block is already there when storage took the previous one; no ``epoll_ctl`` per block.

When the storage stores without waiting (a backend with ``write_sync``: the local
disk), :meth:`RawReceiver.receive_inline` goes one step further: the loop's reader
callback reads and stores, with no task step at all, at most :data:`RECEIVE_BURST`
bytes per pass of the loop. Reading one socket for as long as it had data, as a task
does, left the others unread until their windows closed: 200 concurrent uploads then
stalled on zero-window probes (bench/PROFILE.md).

The transport's reading stays paused for the whole transfer (the channel never resumes
it). The receiver works on a duplicate of the socket's descriptor, because event loops
refuse a reader on a descriptor their transport owns.

:class:`BufferPool` lends receive buffers for one ``read, store`` step at a time. A
backend that stores without suspending (the local disk) gives the buffer back before any
other transfer runs, so all uploads share one buffer that stays in the CPU caches; a
backend that suspends keeps its buffer until its write ends, and the pool grows to the
number of writes in flight.

:func:`send_file_raw` sends a file with ``os.sendfile`` on a duplicate of the socket's
descriptor: the kernel moves file pages to the socket, as ``loop.sendfile`` does on
asyncio's own loop, but with the writer registered once per transfer, and in bursts of
:data:`SENDFILE_BURST` bytes between which other sessions get their turn. The socket
keeps at most about :data:`SENDFILE_UNSENT` bytes queued and not yet sent.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .datachannel import DataChannel

__all__ = ("BufferPool", "RawReceiver", "send_file_raw")


class BufferPool:
    """Reusable ``bytearray`` buffers of one size; at most *keep* idle ones are kept."""

    __slots__ = ("_free", "keep", "size")

    def __init__(self, size: int, keep: int = 8) -> None:
        self.size = size
        self.keep = keep
        self._free: list[bytearray] = []

    def take(self) -> bytearray:
        free = self._free
        return free.pop() if free else bytearray(self.size)

    def give(self, buffer: bytearray) -> None:
        if len(self._free) < self.keep and len(buffer) == self.size:
            self._free.append(buffer)

    @property
    def idle(self) -> int:
        """Buffers waiting to be lent."""
        return len(self._free)


def _watched_duplicate(fd: int, watch: Callable[[int], object]) -> int:
    """A non-blocking duplicate of socket descriptor *fd*, given to *watch* (the loop's
    ``add_reader``/``add_writer`` with its callback); closed again if that fails. Loops
    refuse a watcher on a descriptor their transport owns, hence the duplicate. The
    loop's own selector watches it, not the server's poller: in a nested epoll set every
    packet of a bulk transfer would cost the kernel a second wake-up chain."""
    duplicate = os.dup(fd)
    try:
        os.set_blocking(duplicate, False)  # as the loop keeps it; never block the loop
        watch(duplicate)
    except BaseException:
        os.close(duplicate)
        raise
    return duplicate


#: Bytes an upload stored from the reader callback may take per readiness of its socket
#: (whole reads; the socket is read until empty or past this) before the loop serves
#: others. Measured (bench/PROFILE.md): one read per readiness (256 KiB) cost a lone
#: 512 MiB STOR a quarter more CPU than reading while data lasts; 1 MiB costs it 10 %;
#: 4 MiB made 200 concurrent STORs unfair again (zero-window probes came back).
RECEIVE_BURST = 1 << 20


class _ProgressTimer:
    """Fails *done* with TimeoutError once no progress was noted for *timeout* seconds.

    Progress is noted by setting :attr:`last` to the loop's time; one timer, re-armed
    only when it fires, checks it (a timer per step would cost more than the step).
    """

    __slots__ = ("_done", "_handle", "_loop", "_timeout", "_what", "last")

    def __init__(self, done: asyncio.Future[Any], timeout: float | None, what: str) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._done = done
        self._timeout = timeout
        self._what = what
        self.last = loop.time()
        self._handle: asyncio.TimerHandle | None = None
        if timeout is not None:
            self._handle = loop.call_at(self.last + timeout, self._check)

    def _check(self) -> None:
        self._handle = None
        if self._done.done() or self._timeout is None:
            return
        due = self.last + self._timeout
        if self._loop.time() >= due:
            self._done.set_exception(
                TimeoutError(f"no progress on the data connection ({self._what})")
            )
        else:
            self._handle = self._loop.call_at(due, self._check)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


class _SocketWatch:
    """A duplicate of a socket's descriptor, read-watched by the loop for the whole transfer.

    The reader callback stays registered from start to end, so waiting costs
    no ``epoll_ctl``; it only completes the current waiter. Each wait is bounded by
    *timeout*, with one timer re-armed only when it fires before the current deadline
    (waits are many and short; a timer per wait would cost more than the wait).
    """

    __slots__ = ("_armed_for", "_deadline", "_loop", "_timer", "_waiter", "fd")

    def __init__(self, fd: int) -> None:
        loop = self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[None] | None = None
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = 0.0
        self.fd = _watched_duplicate(fd, lambda dup: loop.add_reader(dup, self._ready))

    def redirect(self, callback: Callable[[], None] | None) -> None:
        """Call *callback* on readiness instead of completing waiters (``None``: back to
        waiters). Both loops swap the callback of a watched descriptor in place, with
        no ``epoll_ctl``."""
        self._loop.add_reader(self.fd, callback or self._ready)

    def _ready(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float | None, what: str) -> None:
        waiter = self._waiter = self._loop.create_future()
        if timeout is not None:
            self._deadline = self._loop.time() + timeout
            self._arm()
        try:
            await waiter
        except TimeoutError:
            raise TimeoutError(f"no progress on the data connection ({what})") from None
        finally:
            self._waiter = None
            self._deadline = None

    def _arm(self) -> None:
        deadline = self._deadline
        if deadline is None:
            return
        timer = self._timer
        if timer is not None:
            if self._armed_for <= deadline:
                return
            timer.cancel()
        self._armed_for = deadline
        self._timer = self._loop.call_at(deadline, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        deadline = self._deadline
        waiter = self._waiter
        if deadline is None or waiter is None or waiter.done():
            return
        if deadline > self._armed_for:
            self._arm()
            return
        waiter.set_exception(TimeoutError())

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.fd >= 0:
            try:
                self._loop.remove_reader(self.fd)
            finally:
                os.close(self.fd)
                self.fd = -1


def _clear_socket(channel: DataChannel) -> Any:
    """The socket (or the loop's socket-like object) of a clear channel, or None (TLS,
    closing, no socket)."""
    transport = channel.transport
    if channel.tls or transport is None or transport.is_closing():
        return None
    if transport.get_extra_info("sslcontext") is not None:
        return None
    return transport.get_extra_info("socket")


def _fileno(sock: Any) -> int:
    """The descriptor of *sock* (from :func:`_clear_socket`), or -1."""
    try:
        return int(sock.fileno()) if sock is not None else -1
    except (OSError, ValueError, AttributeError):
        return -1


def _socket_fd(channel: DataChannel) -> int:
    """The descriptor of a clear channel's socket, or -1 (TLS, closing, no socket)."""
    return _fileno(_clear_socket(channel))


def _limit_unsent(sock: Any) -> None:
    """Set :data:`SENDFILE_UNSENT` on a TCP download's socket (other sockets, and systems
    without the option, are left as they are)."""
    if _NOTSENT_LOWAT is None:
        return
    try:
        sock.setsockopt(socket.IPPROTO_TCP, _NOTSENT_LOWAT, SENDFILE_UNSENT)
    except (OSError, AttributeError, TypeError):
        pass  # not TCP (a socket pair in tests), or a loop whose socket refuses options


class RawReceiver:
    """Reads a clear data connection straight from its socket (see the module docstring).

    Use :meth:`for_channel`, then :meth:`recv_into` until it returns 0 (the peer finished
    cleanly), and always :meth:`close`. Waiting for data is bounded by the channel's
    ``timeout``; a reset connection raises :class:`ConnectionError`.
    """

    __slots__ = ("_channel", "_early", "_watch")

    def __init__(self, channel: DataChannel, fd: int) -> None:
        self._channel = channel
        self._watch = _SocketWatch(fd)
        # What the transport read before the receiver took over: given out first.
        self._early = memoryview(b"")

    @classmethod
    def for_channel(cls, channel: DataChannel) -> RawReceiver | None:
        """A receiver for *channel*, or ``None`` when it must go through its transport
        (TLS, data already read by the transport, no socket descriptor)."""
        if channel.tls or channel.transport is None or channel.transport.is_closing():
            return None
        channel.stop_reading()
        fd = _socket_fd(channel)
        if fd < 0:
            return None
        # uvloop reads a new connection's first bytes whatever the channel asked (see
        # DataChannel.get_buffer): the receiver gives them out first. Falling back to the
        # transport for them would cost the upload the channel's two transfer buffers
        # (2 x block_size, 512 KiB by default) for its whole length.
        if channel.read_past_early:
            return None  # the channel holds what the transport read: use it
        try:
            receiver = cls(channel, fd)
        except (OSError, RuntimeError, NotImplementedError):
            return None  # the loop can not watch descriptors (or is out of them)
        receiver._early = channel.take_early()
        return receiver

    def try_recv_into(self, buffer: bytearray | memoryview) -> int | None:
        """Bytes read into *buffer* now (0: the peer finished); ``None`` if none are there."""
        early = self._early
        if early:
            count = min(len(buffer), len(early))
            buffer[:count] = early[:count]
            self._early = early[count:]
            return count  # the channel counted them in bytes_in when they came
        try:
            count = os.readv(self._watch.fd, [buffer])
        except (BlockingIOError, InterruptedError):
            return None
        self._channel.bytes_in += count
        return count

    async def wait_readable(self) -> None:
        """Wait until the socket has data (or EOF, or an error to report)."""
        if self._channel.is_lost:
            raise ConnectionAbortedError("data connection closed")
        await self._watch.wait(self._channel.timeout, "nothing received")

    async def recv_into(self, buffer: bytearray | memoryview) -> int:
        """Read into *buffer*, waiting for data if needed; 0 when the peer finished."""
        while True:
            count = self.try_recv_into(buffer)
            if count is not None:
                return count
            await self.wait_readable()

    async def receive_inline(self, store: Callable[[memoryview], None], pool: BufferPool) -> None:
        """Receive to the end, storing each block with *store* (a write that never
        suspends: :meth:`~anyftp.pathio.AsyncFile.sync_writer`) from the loop's reader
        callback, as a classic select-loop server does: up to :data:`RECEIVE_BURST`
        bytes of reads and stores per readiness of the socket, no task step. Every
        upload then gets its turn in each pass of the loop, so none is left unread (its
        window closed) while another is read for as long as it keeps sending.

        Returns when the peer finished; raises what *store* raised,
        :class:`ConnectionError`, or TimeoutError after the channel's ``timeout``
        without data."""
        early = self._early
        self._early = memoryview(b"")
        if early:
            store(early)  # the channel counted them in bytes_in when they came
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        progress = _ProgressTimer(done, self._channel.timeout, "nothing received")
        channel = self._channel
        fd = self._watch.fd

        def readable() -> None:
            if done.done():
                return
            burst = 0
            while burst < RECEIVE_BURST:
                buffer = pool.take()
                try:
                    count = os.readv(fd, [buffer])
                except (BlockingIOError, InterruptedError):
                    pool.give(buffer)
                    break
                except OSError as exc:
                    pool.give(buffer)
                    done.set_exception(exc)
                    return
                if not count:
                    pool.give(buffer)
                    done.set_result(None)
                    return
                burst += count
                channel.bytes_in += count
                view = memoryview(buffer)[:count]
                try:
                    store(view)
                except Exception as exc:
                    done.set_exception(exc)
                    return  # the buffer is dropped: storage may still hold the view
                view.release()
                pool.give(buffer)
            if burst:
                progress.last = loop.time()

        self._watch.redirect(readable)
        try:
            await done
        finally:
            progress.cancel()
            self._watch.redirect(None)

    def close(self) -> None:
        """Stop watching the socket and release the duplicate descriptor."""
        self._watch.close()


#: Bytes a download sends per readiness of its socket before the loop serves others: a
#: turn of the loop stays short however many downloads run, so the replies and set-up
#: steps of other sessions are not held up behind them. (Measured, bench/PROFILE.md:
#: 64 KiB bursts cost a lone 512 MiB download 10-15 % more CPU and did not help 200
#: concurrent ones.)
SENDFILE_BURST = 512 << 10

#: Bytes a download's socket may hold queued and not yet sent (``TCP_NOTSENT_LOWAT``):
#: sendfile hands the kernel only what the connection can send soon, and the socket is
#: reported writable again once that is nearly gone. Without a limit the kernel queues
#: up to its (autotuned, megabytes) send buffer per connection; those bytes then go out
#: later, from the peer's ACKs, in the receiver's context, and stay in memory meanwhile.
#: Measured on loopback (bench/PROFILE.md): one 512 MiB RETR 5.0-5.5 against 3.7 GB/s
#: and a third less server CPU; 200 concurrent 10 MiB RETRs 0.42-0.45 against 0.51-0.55
#: s. 4 KiB was as good for many downloads and worse for one; 64 KiB and more, worse.
SENDFILE_UNSENT = 16 << 10
_NOTSENT_LOWAT = getattr(socket, "TCP_NOTSENT_LOWAT", None)


async def send_file_raw(channel: DataChannel, fd: int, offset: int) -> int | None:
    """Send file descriptor *fd* from *offset* to its end over *channel* with the kernel's
    sendfile; the bytes sent, or ``None`` when the channel can not do it (TLS, no socket,
    no ``os.sendfile``), in which case nothing was sent.

    The loop's writer callback for the socket sends each burst itself (as a classic
    select-loop server does): no future, no task step per burst; the task waits once,
    for the end. Progress is bounded by the channel's ``timeout``: no byte taken by the
    socket for that long fails the transfer with TimeoutError.
    """
    if not hasattr(os, "sendfile"):
        return None
    sock = _clear_socket(channel)
    socket_fd = _fileno(sock)
    if socket_fd < 0:
        return None
    await channel.flush()  # what the transport holds goes first
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    sent = 0

    def writable() -> None:
        nonlocal sent
        burst = 0
        try:
            while burst < SENDFILE_BURST:
                count = os.sendfile(out, fd, offset + sent, SENDFILE_BURST - burst)
                if not count:
                    if not done.done():
                        done.set_result(None)
                    return
                sent += count
                burst += count
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            if not done.done():
                done.set_exception(exc)
            return
        finally:
            channel.bytes_out += burst
        if burst:
            progress.last = loop.time()

    try:
        out = _watched_duplicate(socket_fd, lambda dup: loop.add_writer(dup, writable))
    except OSError:
        return None
    _limit_unsent(sock)
    # Made before the loop can call writable(): no turn of the loop runs until the await.
    progress = _ProgressTimer(done, channel.timeout, "nothing sent")
    try:
        # The first burst goes now, in the turn that started the transfer, not one turn
        # of the loop later: with many downloads under way a turn takes a burst of each.
        writable()
        await done
    finally:
        progress.cancel()
        loop.remove_writer(out)
        os.close(out)
    return sent

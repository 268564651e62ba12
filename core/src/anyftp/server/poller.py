"""One epoll set for the server's control connections, itself watched by the event loop
as one reader.

asyncio's selector loop costs, per readiness event of each descriptor, a handle, a
selector-key lookup and a round through its ready queue, and per ``add_reader`` /
``remove_reader`` a transport lookup (a failed one: an exception). Control connections
are many, short and chatty, so those costs add up. The :class:`Poller` keeps their
descriptors in an epoll set of its own; the loop watches the set's descriptor, and when
it is readable :meth:`Poller._dispatch` calls the reader or writer of each ready
descriptor directly, as a classic select-loop server does.

Data connections stay with the loop: in a nested epoll set, every packet that makes a
member ready also wakes the outer set, a second wake-up chain in the kernel per packet,
which doubled the system time of 200 concurrent uploads.

Level-triggered, like the loop: a callback that leaves data (or room) is called again on
the next turn. An error or hang-up wakes both callbacks, as the loop does, so whoever
is waiting finds out. Linux only (``select.epoll``): :meth:`Poller.for_loop` returns
``None`` elsewhere, and callers use the loop's own readers and writers.

Lifetime: the listener that made it :meth:`~Poller.release`\\ s it when it closes; every
user :meth:`~Poller.retain`\\ s it while registered and :meth:`~Poller.drop`\\ s it after,
and the set closes when it is released and has no users left.
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import Callable

__all__ = ("Poller",)

_IN = select.EPOLLIN if hasattr(select, "epoll") else 1
_OUT = select.EPOLLOUT if hasattr(select, "epoll") else 4


class Poller:
    """An epoll set of readers and writers, dispatched from one reader of the loop."""

    __slots__ = ("_epoll", "_loop", "_masks", "_readers", "_released", "_users", "_writers")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._epoll = select.epoll()
        self._readers: dict[int, Callable[[], None]] = {}
        self._writers: dict[int, Callable[[], None]] = {}
        self._masks: dict[int, int] = {}
        self._users = 0
        self._released = False
        loop.add_reader(self._epoll.fileno(), self._dispatch)

    @classmethod
    def for_loop(cls, loop: asyncio.AbstractEventLoop) -> Poller | None:
        """A new poller for *loop*, or ``None`` where there is no epoll."""
        if not hasattr(select, "epoll"):
            return None
        return cls(loop)

    @property
    def closed(self) -> bool:
        return self._epoll.closed

    # --- interest -----------------------------------------------------------------------

    def _set(self, fd: int, mask: int) -> None:
        old = self._masks.get(fd, 0)
        if mask == old:
            return
        if not mask:
            del self._masks[fd]
            self._epoll.unregister(fd)
        elif old:
            self._masks[fd] = mask
            self._epoll.modify(fd, mask)
        else:
            self._epoll.register(fd, mask)  # first, so a refused fd is not remembered
            self._masks[fd] = mask

    def _add(
        self,
        callbacks: dict[int, Callable[[], None]],
        event: int,
        fd: int,
        callback: Callable[[], None],
    ) -> None:
        if self._epoll.closed:
            raise RuntimeError("the poller is closed")
        self._set(fd, self._masks.get(fd, 0) | event)
        callbacks[fd] = callback

    def _remove(self, callbacks: dict[int, Callable[[], None]], event: int, fd: int) -> None:
        if callbacks.pop(fd, None) is not None and not self._epoll.closed:
            self._set(fd, self._masks.get(fd, 0) & ~event)

    def add_reader(self, fd: int, reader: Callable[[], None]) -> None:
        """Call *reader* whenever *fd* is readable; RuntimeError once the set is closed."""
        self._add(self._readers, _IN, fd, reader)

    def remove_reader(self, fd: int) -> None:
        self._remove(self._readers, _IN, fd)

    def add_writer(self, fd: int, writer: Callable[[], None]) -> None:
        """Call *writer* whenever *fd* can take bytes; RuntimeError once the set is closed."""
        self._add(self._writers, _OUT, fd, writer)

    def remove_writer(self, fd: int) -> None:
        self._remove(self._writers, _OUT, fd)

    # --- lifetime -----------------------------------------------------------------------

    def retain(self) -> None:
        """Someone uses the poller (until :meth:`drop`)."""
        self._users += 1

    def drop(self) -> None:
        self._users -= 1
        if self._released and self._users <= 0:
            self._close()

    def release(self) -> None:
        """No new connections will come (the listener closed): close after the last user."""
        self._released = True
        if self._users <= 0:
            self._close()

    def _close(self) -> None:
        if not self._epoll.closed:
            self._loop.remove_reader(self._epoll.fileno())
            self._epoll.close()
            self._readers.clear()
            self._writers.clear()
            self._masks.clear()

    # --- dispatch -----------------------------------------------------------------------

    def _dispatch(self) -> None:
        try:
            ready = self._epoll.poll(0)
        except (InterruptedError, ValueError):  # pragma: no cover - closed meanwhile
            return
        readers = self._readers
        writers = self._writers
        for fd, events in ready:
            # A callback is looked up when its turn comes: an earlier one of this round
            # may have closed or unregistered the descriptor.
            if events & ~_OUT:  # readable, or an error or hang-up
                reader = readers.get(fd)
                if reader is not None:
                    self._call(reader, "reader")
            if events & ~_IN:  # writable, or an error or hang-up
                writer = writers.get(fd)
                if writer is not None:
                    self._call(writer, "writer")

    def _call(self, callback: Callable[[], None], what: str) -> None:
        try:
            callback()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._loop.call_exception_handler(
                {"message": f"error in a socket {what} of the server", "exception": exc}
            )

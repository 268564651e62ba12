"""A fault-injecting storage backend: any backend, with failures where a test plans them.

:func:`faulty` wraps an :class:`~anyftp.pathio.AbstractPathIO` subclass (or an installed
backend's name) in a subclass of :class:`FaultyPathIO` that forwards every call to an
instance of the real backend, except where a :class:`Fault` of its :class:`FaultPlan`
says otherwise. A fault can raise an ``OSError`` with a given ``errno`` (or any exception),
sleep first (to run into the server's ``path_timeout``), and, on ``write``, store only
part of the data before raising. The wrapped class is a normal backend: hand it to
``Server(path_io_factory=...)`` and drive the server with a real client::

    import errno
    from anyftp.testing.faults import Fault, FaultPlan, faulty

    plan = FaultPlan(Fault("write", on_call=2, error=errno.ENOSPC, partial=100))
    server = anyftp.Server(users, path_io_factory=faulty("memory", plan))
    # ... the second write of an upload stores 100 bytes, then fails: the client must
    # get 452, never 226.

Method names are those of :class:`~anyftp.pathio.AbstractPathIO`, with ``open`` for the
backend's ``_open``. Calls are counted per method across every instance made from the
wrapped class (all sessions of a server); :attr:`FaultPlan.calls` and
:attr:`FaultPlan.fired` let a test check that the fault it planned was reached.
"""

from __future__ import annotations

import asyncio
import builtins
import collections
import errno as errno_module
import io
import os
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, ClassVar

from ..pathio import AbstractPathIO, AsyncLister, StatLike

__all__ = ("Fault", "FaultPlan", "FaultyPathIO", "faulty", "FAULTABLE_METHODS")

#: Every method a fault can name (``open`` stands for the backend's ``_open``).
FAULTABLE_METHODS = frozenset(
    {
        "exists",
        "is_dir",
        "is_file",
        "mkdir",
        "rmdir",
        "unlink",
        "stat",
        "rename",
        "list",
        "list_with_stats",
        "set_mtime",
        "chmod",
        "open",
        "read",
        "write",
        "seek",
        "close",
        "abort",
        "fileno",
    }
)


@dataclass(frozen=True)
class Fault:
    """One planned failure of *method*.

    :param method: the method to fail (see :data:`FAULTABLE_METHODS`).
    :param on_call: the first call (counted from 1 per method) that fails.
    :param times: how many calls from there fail; ``None``: every later call.
    :param error: an ``errno`` number (raised as ``OSError(errno, strerror)``, so
        ``ENOENT`` becomes ``FileNotFoundError`` as the OS would raise it), an exception
        instance or class, or ``None`` to only delay.
    :param delay: seconds to sleep before failing (or before the real call when
        ``error`` is ``None``); use it to run into ``path_timeout``.
    :param partial: for ``write``: store this many leading bytes of the data through
        the real backend, then raise ``error``.
    :param match: only calls whose first path argument's string contains this text count
        (paths methods only; ``None``: every call).
    """

    method: str
    on_call: int = 1
    times: int | None = 1
    error: int | BaseException | type[BaseException] | None = errno_module.EIO
    delay: float = 0.0
    partial: int | None = None
    match: str | None = None

    def __post_init__(self) -> None:
        if self.method not in FAULTABLE_METHODS:
            raise ValueError(f"unknown method {self.method!r}; one of {sorted(FAULTABLE_METHODS)}")
        if self.on_call < 1:
            raise ValueError("on_call counts from 1")
        if self.partial is not None and self.method != "write":
            raise ValueError("partial applies to write only")
        if self.error is None and not self.delay:
            raise ValueError("a fault needs an error, a delay or both")

    def applies(self, call: int) -> bool:
        if call < self.on_call:
            return False
        return self.times is None or call < self.on_call + self.times

    def exception(self) -> BaseException | None:
        error = self.error
        if error is None:
            return None
        if isinstance(error, int):
            return OSError(error, os.strerror(error))
        if isinstance(error, BaseException):
            return error
        return error()


class FaultPlan:
    """The faults of one wrapped class, with call counters shared by its instances."""

    def __init__(self, *faults: Fault) -> None:
        self.faults: list[Fault] = list(faults)
        #: Calls seen so far, by method name.
        self.calls: collections.Counter[str] = collections.Counter()
        #: ``(method, call number, path or None)`` of every fault that fired.
        self.fired: list[tuple[str, int, str | None]] = []
        self._matched: collections.Counter[int] = collections.Counter()

    def add(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def reset(self) -> None:
        """Forget the counters and the record (the faults stay)."""
        self.calls.clear()
        self.fired.clear()
        self._matched.clear()

    def clear(self) -> None:
        """Drop every fault and reset."""
        self.faults.clear()
        self.reset()

    def next_fault(self, method: str, path: PurePath | None = None) -> Fault | None:
        """Count a call of *method* on *path*; the fault that applies to it, if any.

        Each fault counts the calls it matches (its method and, if given, its ``match``
        text) on its own, so ``on_call`` means "the n-th call this fault could hit".
        """
        self.calls[method] += 1
        text = None if path is None else str(path)
        hit: Fault | None = None
        for index, fault in enumerate(self.faults):
            if fault.method != method:
                continue
            if fault.match is not None and (text is None or fault.match not in text):
                continue
            self._matched[index] += 1
            if hit is None and fault.applies(self._matched[index]):
                hit = fault
                self.fired.append((method, self._matched[index], text))
        return hit

    def fired_on(self, method: str) -> int:
        """How many faults fired on *method*."""
        return sum(1 for name, _, _ in self.fired if name == method)


async def _strike(fault: Fault | None) -> None:
    """Delay and raise as *fault* says (nothing when there is no fault or no error)."""
    if fault is None:
        return
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.partial is None:
        exception = fault.exception()
        if exception is not None:
            raise exception


class FaultyPathIO(AbstractPathIO):
    """Base of the classes :func:`faulty` makes; forwards to ``inner_class``."""

    inner_class: ClassVar[type[AbstractPathIO]] = AbstractPathIO
    plan: ClassVar[FaultPlan] = FaultPlan()
    # The wrapped backend checks root containment itself (its own way: the local disk
    # resolves symlinks), so this wrapper does not check a second time.
    contains_paths_itself: ClassVar[bool] = True

    def __init__(
        self,
        timeout: float | None = None,
        connection: Any = None,
        state: Any = None,
        *,
        root: PurePath | str | None = None,
    ) -> None:
        super().__init__(timeout, connection, state, root=root)
        # The outer timeout bounds each call, delays included; the inner has none.
        self.inner = self.inner_class(None, connection, state, root=root)

    def _fault(self, method: str, path: PurePath | None = None) -> Fault | None:
        return self.plan.next_fault(method, path)

    @classmethod
    def create_state(cls, **options: Any) -> Any:
        return cls.inner_class.create_state(**options)

    @classmethod
    async def close_state(cls, state: Any) -> None:
        await cls.inner_class.close_state(state)

    def contain(self, path: PurePath) -> None:
        self.inner.contain(path)

    # --- paths ----------------------------------------------------------------------------

    async def exists(self, path: PurePath) -> bool:
        await _strike(self._fault("exists", path))
        return await self.inner.exists(path)

    async def is_dir(self, path: PurePath) -> bool:
        await _strike(self._fault("is_dir", path))
        return await self.inner.is_dir(path)

    async def is_file(self, path: PurePath) -> bool:
        await _strike(self._fault("is_file", path))
        return await self.inner.is_file(path)

    async def mkdir(self, path: PurePath, *, parents: bool = False, exist_ok: bool = False) -> None:
        await _strike(self._fault("mkdir", path))
        await self.inner.mkdir(path, parents=parents, exist_ok=exist_ok)

    async def rmdir(self, path: PurePath) -> None:
        await _strike(self._fault("rmdir", path))
        await self.inner.rmdir(path)

    async def unlink(self, path: PurePath) -> None:
        await _strike(self._fault("unlink", path))
        await self.inner.unlink(path)

    async def stat(self, path: PurePath) -> StatLike:
        await _strike(self._fault("stat", path))
        return await self.inner.stat(path)

    async def rename(self, source: PurePath, destination: PurePath) -> None:
        await _strike(self._fault("rename", source))
        await self.inner.rename(source, destination)

    def list(self, path: PurePath) -> AsyncLister[PurePath]:
        async def entries() -> AsyncIterator[PurePath]:
            await _strike(self._fault("list", path))
            async for child in self.inner.list(path):
                yield child

        return AsyncLister(entries())

    async def list_with_stats(self, path: PurePath) -> builtins.list[tuple[PurePath, StatLike]]:
        await _strike(self._fault("list_with_stats", path))
        return await self.inner.list_with_stats(path)

    async def set_mtime(self, path: PurePath, mtime: float) -> None:
        await _strike(self._fault("set_mtime", path))
        await self.inner.set_mtime(path, mtime)

    async def chmod(self, path: PurePath, mode: int) -> None:
        await _strike(self._fault("chmod", path))
        await self.inner.chmod(path, mode)

    # --- files ----------------------------------------------------------------------------

    async def _open(self, path: PurePath, mode: str) -> Any:
        await _strike(self._fault("open", path))
        return await self.inner._open(path, mode)

    async def read(self, file: Any, block_size: int = -1) -> bytes:
        await _strike(self._fault("read"))
        return await self.inner.read(file, block_size)

    async def write(self, file: Any, data: bytes | bytearray | memoryview) -> None:
        fault = self._fault("write")
        await _strike(fault)
        if fault is not None and fault.partial is not None:
            head = memoryview(data)[: fault.partial]
            if head:
                await self.inner.write(file, bytes(head))
            exception = fault.exception()
            if exception is not None:
                raise exception
            return  # a silent short write: the rest of the data is lost
        await self.inner.write(file, data)

    async def seek(self, file: Any, offset: int, whence: int = io.SEEK_SET) -> int:
        await _strike(self._fault("seek"))
        return await self.inner.seek(file, offset, whence)

    async def close(self, file: Any) -> None:
        fault = self._fault("close")
        if fault is not None:
            # A failed close still releases what the backend holds (as an OS close does).
            try:
                await _strike(fault)
            except BaseException:
                await self.inner.abort(file)
                raise
        await self.inner.close(file)

    async def abort(self, file: Any) -> None:
        fault = self._fault("abort")
        if fault is not None:
            try:
                await _strike(fault)
            except BaseException:
                await self.inner.abort(file)
                raise
        await self.inner.abort(file)

    def fileno(self, file: Any) -> int:
        fault = self._fault("fileno")
        if fault is not None:
            exception = fault.exception()
            if exception is not None:
                raise exception
        return self.inner.fileno(file)


def faulty(
    inner: type[AbstractPathIO] | str,
    plan: FaultPlan | Iterable[Fault] | None = None,
    *,
    name: str | None = None,
) -> type[FaultyPathIO]:
    """A backend class forwarding to *inner* (a class or an installed backend's name)
    with the failures of *plan*. The class's ``plan`` attribute is the plan."""
    if isinstance(inner, str):
        from ..registry import get_backend

        inner = get_backend(inner)
    if not isinstance(plan, FaultPlan):
        plan = FaultPlan(*(plan or ()))
    namespace: dict[str, Any] = {
        "inner_class": inner,
        "plan": plan,
        "capabilities": inner.capabilities,
        "path_class": inner.path_class,
        "__module__": __name__,
        "__doc__": f"{inner.__name__} with planned faults.",
    }
    return type(name or f"Faulty{inner.__name__}", (FaultyPathIO,), namespace)

"""Running blocking storage calls off the event loop, a bounded number at a time.

Synchronous fsspec filesystems (local disk, memory, sftp, zip) and the synchronous file
objects of async ones run their calls in a private thread pool. A per-loop semaphore
keeps at most ``max_workers`` calls in flight, so a flood of sessions queues on the loop
(where cancellation and timeouts work) instead of in the executor.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

__all__ = ("Offloader",)

T = TypeVar("T")


class Offloader:
    """A thread pool plus a semaphore per event loop."""

    def __init__(self, max_workers: int) -> None:
        if max_workers < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}")
        self.max_workers = max_workers
        self._executor: ThreadPoolExecutor | None = None
        self._semaphores: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            WeakKeyDictionary()
        )
        self._running: set[asyncio.Future[Any]] = set()

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self.max_workers, thread_name_prefix="anyftp-fsspec"
            )
        return self._executor

    def _semaphore(self, loop: asyncio.AbstractEventLoop) -> asyncio.Semaphore:
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.max_workers)
        return semaphore

    async def start(
        self, function: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> asyncio.Future[T]:
        """Start ``function(*args, **kwargs)`` in the pool once a slot is free.

        The returned future completes when the call has *finished in its thread*: it is
        not cancelled with whoever awaits it (a thread can not be stopped), and the slot
        stays taken until then, so the bound holds even after timeouts.
        """
        loop = asyncio.get_running_loop()
        semaphore = self._semaphore(loop)
        call = functools.partial(function, *args, **kwargs) if kwargs or args else function
        await semaphore.acquire()
        try:
            future: asyncio.Future[T] = loop.run_in_executor(self._pool(), call)
        except BaseException:
            semaphore.release()
            raise
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        future.add_done_callback(lambda done: _finished(done, semaphore))
        return future

    async def run(self, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Call ``function(*args, **kwargs)`` in the pool and wait for its result."""
        future = await self.start(function, *args, **kwargs)
        return await asyncio.shield(future)

    async def drain(self, timeout: float) -> None:
        """Wait (at most *timeout* seconds) for the calls still running in threads.

        A blocking file object of an async filesystem sends its requests to the loop and
        waits for them: it must finish while the loop still runs.
        """
        loop = asyncio.get_running_loop()
        running = [future for future in self._running if future.get_loop() is loop]
        if running:
            await asyncio.wait(running, timeout=timeout)

    def shutdown(self) -> None:
        """Stop the pool without waiting: a running call may be waiting on the loop."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


def _finished(future: asyncio.Future[Any], semaphore: asyncio.Semaphore) -> None:
    semaphore.release()
    if not future.cancelled():
        future.exception()  # retrieved here, so an abandoned failure is not logged

"""Start a task with its first step run now, in the caller's turn of the loop.

``loop.create_task`` runs a coroutine's first step on the loop's *next* turn. A transfer
started by a command therefore waited for every other callback of the current turn
before it could send its ``150`` and start sending; with a few hundred downloads under
way a turn is tens of milliseconds of ``sendfile`` bursts, and a RETR waited two of them
(the session's task, then the transfer's). Python 3.12 has eager tasks
(``Task(..., eager_start=True)``); :func:`start_task` gives the same on 3.11:

* the task is made as usual, around an :class:`_Resumed` coroutine;
* the wrapped coroutine's first step runs at once, inside the task's own context and
  with the task as :func:`asyncio.current_task` (so ``asyncio.timeout`` and friends bind
  to it, not to the caller);
* what that step gave (a future to wait for, a result, an exception) is handed to the
  task's first scheduled step, which goes on from there exactly as an ordinary task
  would. A cancellation that comes before that step is thrown into the wrapped
  coroutine at the point where it waits, so its ``finally`` blocks run as usual.

Python 3.12's own ``eager_start`` is not used: it runs the first step inside the
task's constructor, before the caller can record the task (a session must know its
transfer's task while that step runs).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine, Generator
from typing import Any, TypeVar

__all__ = ("start_task",)

T = TypeVar("T")

_enter_task: Any = getattr(asyncio.tasks, "_enter_task", None)
_leave_task: Any = getattr(asyncio.tasks, "_leave_task", None)


class _Resumed(Coroutine[Any, Any, T]):
    """A coroutine whose first step has already run (see :func:`start_task`).

    ``send``/``throw``/``close`` go to the wrapped coroutine, except that the first
    ``send`` gives back what the eager step yielded (or its outcome).
    """

    def __init__(self, inner: Coroutine[Any, Any, T]) -> None:
        self._inner = inner
        # Named as the wrapped coroutine (asyncio shows a task's coroutine by name).
        self.__name__ = getattr(inner, "__name__", type(inner).__name__)
        self.__qualname__ = getattr(inner, "__qualname__", self.__name__)
        self._started = False  # the task's first step has come
        self._yielded: Any = None
        self._outcome: Any = None  # (result,) once the eager step returned
        self._failure: BaseException | None = None

    def run_first_step(self) -> None:
        try:
            self._yielded = self._inner.send(None)
        except StopIteration as stop:
            self._outcome = (stop.value,)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # handed to the task's first step
            self._failure = exc

    def _first(self) -> Any:
        self._started = True
        failure = self._failure
        if failure is not None:
            self._failure = None
            raise failure
        if self._outcome is not None:
            raise StopIteration(self._outcome[0])
        yielded, self._yielded = self._yielded, None
        return yielded

    def send(self, value: Any) -> Any:
        if not self._started:
            return self._first()
        return self._inner.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        if not self._started:
            # Cancelled before the task's first step: the wrapped coroutine waits on what
            # it yielded; cancel that as a task would and let the coroutine see the error.
            self._started = True
            yielded, self._yielded = self._yielded, None
            if self._outcome is not None or self._failure is not None:
                self._outcome = self._failure = None
                raise typ if val is None else val
            if isinstance(yielded, asyncio.Future):
                yielded._asyncio_future_blocking = False
                yielded.cancel()
        if val is None:
            return self._inner.throw(typ)
        return self._inner.throw(val)

    def close(self) -> None:
        self._inner.close()

    # What asyncio's task repr and get_stack() read, from the wrapped coroutine.
    @property
    def cr_frame(self) -> Any:
        return getattr(self._inner, "cr_frame", None)

    @property
    def cr_code(self) -> Any:
        return getattr(self._inner, "cr_code", None)

    @property
    def cr_running(self) -> bool:
        return bool(getattr(self._inner, "cr_running", False))

    def __await__(self) -> Generator[Any, None, T]:
        raise TypeError("a _Resumed coroutine is driven by its task only")


def start_task(
    coro: Coroutine[Any, Any, T], created: Callable[[asyncio.Task[T]], None] | None = None
) -> asyncio.Task[T]:
    """A task for *coro* whose first step runs now, before this returns.

    *created* is called with the task before that step. Call this from a running task
    or callback on the running loop. Whatever the first step raises is raised by the
    task (awaiting it, or its result), never here.
    """
    loop = asyncio.get_running_loop()
    if _enter_task is None or _leave_task is None:  # pragma: no cover - other runtimes
        task = loop.create_task(coro)
        if created is not None:
            created(task)
        return task
    resumed: _Resumed[T] = _Resumed(coro)
    context = contextvars.copy_context()
    task = loop.create_task(resumed, context=context)
    if created is not None:
        created(task)
    caller = asyncio.current_task(loop)
    if caller is not None:
        _leave_task(loop, caller)
    _enter_task(loop, task)
    try:
        context.run(resumed.run_first_step)
    finally:
        _leave_task(loop, task)
        if caller is not None:
            _enter_task(loop, caller)
    return task

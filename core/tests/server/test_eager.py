"""start_task: a task whose first step runs in the caller's turn, and that otherwise
behaves as an ordinary task (result, errors, context, cancellation, timeouts)."""

from __future__ import annotations

import asyncio
import contextvars

import pytest

from anyftp.server.eager import start_task

pytestmark = pytest.mark.timeout(10)

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="caller")


async def test_the_first_step_runs_before_start_task_returns_as_the_new_task() -> None:
    seen: list[object] = []
    created: list[asyncio.Task[str]] = []

    async def work() -> str:
        seen.append(asyncio.current_task())
        seen.append(created[0] if created else None)  # *created* ran before this step
        await asyncio.sleep(0)
        seen.append(asyncio.current_task())
        return "done"

    caller = asyncio.current_task()
    task = start_task(work(), created.append)
    assert seen == [task, task]  # ran already, as the new task, after *created*
    assert asyncio.current_task() is caller
    assert await task == "done"
    assert seen == [task, task, task]


async def test_a_coroutine_done_in_its_first_step_gives_its_result_through_the_task() -> None:
    async def quick() -> int:
        return 42

    task = start_task(quick())
    assert not task.done()  # as an ordinary task: done after its first scheduled step
    assert await task == 42


async def test_an_error_in_the_first_step_is_raised_by_the_task_not_by_start_task() -> None:
    async def fails() -> None:
        raise ValueError("boom")

    task = start_task(fails())
    with pytest.raises(ValueError, match="boom"):
        await task


async def test_the_task_has_its_own_context() -> None:
    async def work() -> str:
        VAR.set("task")
        await asyncio.sleep(0)
        return VAR.get()

    task = start_task(work())
    assert VAR.get() == "caller"
    assert await task == "task"
    assert VAR.get() == "caller"


async def test_cancelled_before_its_first_scheduled_step_the_coroutine_cleans_up() -> None:
    steps: list[str] = []
    waited: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def work() -> None:
        try:
            steps.append("started")
            await waited
            steps.append("not reached")
        except asyncio.CancelledError:
            steps.append("cancelled")
            raise
        finally:
            await asyncio.sleep(0)  # a finally that awaits still runs whole
            steps.append("cleaned up")

    task = start_task(work())
    task.cancel()  # before the loop ran the task's first step
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert steps == ["started", "cancelled", "cleaned up"]
    assert waited.cancelled()  # what it waited for is cancelled, as an ordinary task does


async def test_cancelled_before_its_first_scheduled_step_after_finishing_eagerly() -> None:
    async def quick() -> int:
        return 1

    task = start_task(quick())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_cancelled_later_like_any_task() -> None:
    started = asyncio.Event()

    async def work() -> None:
        started.set()
        await asyncio.sleep(30)

    task = start_task(work())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert started.is_set()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_timeout_entered_in_the_first_step_belongs_to_the_new_task() -> None:
    async def work() -> str:
        try:
            async with asyncio.timeout(0.05):
                await asyncio.sleep(30)
        except TimeoutError:
            return "timed out"
        return "not timed out"

    task = start_task(work())
    await asyncio.sleep(0.2)  # the caller is not the one cancelled by the timeout
    assert await task == "timed out"


async def test_started_from_a_plain_callback() -> None:
    loop = asyncio.get_running_loop()
    made: asyncio.Future[asyncio.Task[object]] = loop.create_future()

    async def work() -> object:
        await asyncio.sleep(0)
        return asyncio.current_task()

    loop.call_soon(lambda: made.set_result(start_task(work())))
    task = await made
    assert await task is task


async def test_the_task_shows_the_wrapped_coroutine() -> None:
    release = asyncio.Event()

    async def named_work() -> None:
        await release.wait()

    task = start_task(named_work())
    await asyncio.sleep(0)
    assert "named_work" in repr(task)
    assert any(frame.f_code.co_name == "named_work" for frame in task.get_stack())
    release.set()
    await task

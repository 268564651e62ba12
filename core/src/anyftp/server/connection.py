"""The per-session state mapping handed to command methods, and connection counters.

:class:`Connection` is the ``connection`` argument of aioftp-style command methods: a
mapping from names to :class:`asyncio.Future` objects, so a method can *wait* for a value
(``await connection["data_connection"]``) or read one that is set
(``connection.current_directory``). Setting an attribute sets the future's result.
``connection.future.name`` is the future itself. The keys the server keeps there are
listed in the developer tutorial (``client_host``, ``path_io``, ``logged``, ``user``, ...).

:class:`AvailableConnections` counts users of a limited resource (``None``: unlimited).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

__all__ = ("Connection", "AvailableConnections")


class _FutureView:
    """``connection.future.name`` -> the future behind ``name``."""

    __slots__ = ("_storage",)

    def __init__(self, storage: Connection) -> None:
        object.__setattr__(self, "_storage", storage)

    def __getattr__(self, name: str) -> asyncio.Future[Any]:
        storage: Connection = object.__getattribute__(self, "_storage")
        return storage[name]

    def __delattr__(self, name: str) -> None:
        storage: Connection = object.__getattribute__(self, "_storage")
        storage.pop(name, None)


class Connection(collections.defaultdict[str, "asyncio.Future[Any]"]):
    """State of one control connection: names mapped to futures (see module docstring).

    ``connection["x"]`` / ``connection.future.x`` is the future; ``connection.x`` its
    result (AttributeError while unset); ``connection.x = v`` sets it (replacing a done
    future); ``del connection.x`` forgets it.
    """

    __slots__ = ("future",)

    future: _FutureView

    def __init__(self, **values: Any) -> None:
        super().__init__(self._new_future)
        object.__setattr__(self, "future", _FutureView(self))
        for name, value in values.items():
            self[name].set_result(value)

    @staticmethod
    def _new_future() -> asyncio.Future[Any]:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        return loop.create_future()

    def __getattr__(self, name: str) -> Any:
        if name in self:
            future = self[name]
            if future.done():
                return future.result()
        raise AttributeError(f"{name!r} is not set on this connection")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in Connection.__slots__:
            object.__setattr__(self, name, value)
            return
        future = self.get(name)
        if future is None or future.done():
            future = self[name] = self._new_future()
        future.set_result(value)

    def __delattr__(self, name: str) -> None:
        self.pop(name, None)

    def value(self, name: str, default: Any = None) -> Any:
        """The value of *name*, or *default* while it is unset."""
        future = self.get(name)
        if future is None or not future.done() or future.cancelled():
            return default
        return future.result()

    def is_set(self, name: str) -> bool:
        future = self.get(name)
        return future is not None and future.done() and not future.cancelled()

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={self.value(k, '<unset>')!r}" for k in self)
        return f"Connection({items})"


class AvailableConnections:
    """A counter of slots (``value=None``: unlimited). ``acquire`` past the limit raises."""

    __slots__ = ("maximum_value", "value")

    def __init__(self, value: int | None = None) -> None:
        self.value = value
        self.maximum_value = value

    def locked(self) -> bool:
        return self.value == 0

    def acquire(self) -> None:
        if self.value is None:
            return
        if self.value <= 0:
            raise ValueError("no connection slot left")
        self.value -= 1

    def release(self) -> None:
        if self.value is None:
            return
        if self.maximum_value is not None and self.value >= self.maximum_value:
            raise ValueError("released more slots than acquired")
        self.value += 1

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


_MISSING = object()


class Connection(collections.defaultdict[str, "asyncio.Future[Any]"]):
    """State of one control connection: names mapped to futures (see module docstring).

    (The hot paths reach the futures through ``dict``'s own methods: a ``super()`` call
    makes an object per call, and a session sets and reads these on every login.)

    ``connection["x"]`` / ``connection.future.x`` is the future; ``connection.x`` its
    result (AttributeError while unset); ``connection.x = v`` sets it (replacing a done
    future); ``del connection.x`` forgets it.

    A value set while nobody waits for it is kept as a plain value and becomes a (done)
    future only when someone asks for the future: a session sets about twenty values and
    mostly reads them back, so this spares a future per value and per change.
    """

    __slots__ = ("_values",)

    _values: dict[str, Any]

    def __init__(self, **values: Any) -> None:
        loop = values.get("loop")
        if isinstance(loop, asyncio.AbstractEventLoop):
            # Made for a session, on its loop: skip the loop lookup per future.
            factory: Any = loop.create_future
        else:
            factory = self._new_future
        super().__init__(factory)
        object.__setattr__(self, "_values", values)

    @classmethod
    def of_session(cls, values: dict[str, Any], loop: asyncio.AbstractEventLoop) -> Connection:
        """A mapping that takes *values* as they are (no copy, no keyword call), with
        futures made on *loop*: the server's constructor, once per connection."""
        self = cls.__new__(cls)
        collections.defaultdict.__init__(self, loop.create_future)
        object.__setattr__(self, "_values", values)
        return self

    @property
    def future(self) -> _FutureView:
        """``connection.future.name`` is the future of ``name`` (made when asked for: a
        view kept here would tie the mapping in a reference cycle)."""
        return _FutureView(self)

    @staticmethod
    def _new_future() -> asyncio.Future[Any]:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        return loop.create_future()

    # --- plain values become futures on demand ----------------------------------------------

    def _materialise(self, name: str) -> None:
        """Turn the plain value of *name* (if any) into a done future in the mapping."""
        values = self._values
        if name in values:
            future = self.default_factory()  # type: ignore[misc]
            future.set_result(values.pop(name))
            super().__setitem__(name, future)

    def _materialise_all(self) -> None:
        for name in list(self._values):
            self._materialise(name)

    def __getitem__(self, name: str) -> asyncio.Future[Any]:
        if name in self._values:
            self._materialise(name)
        return super().__getitem__(name)

    def __setitem__(self, name: str, future: asyncio.Future[Any]) -> None:
        self._values.pop(name, None)
        super().__setitem__(name, future)

    def __delitem__(self, name: str) -> None:
        if name in self._values:
            del self._values[name]
        else:
            super().__delitem__(name)

    def __contains__(self, name: object) -> bool:
        return name in self._values or dict.__contains__(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        if name in self._values:
            self._materialise(name)
        return super().get(name, default)

    def pop(self, name: str, *default: Any) -> Any:
        if name in self._values:
            self._materialise(name)
        return super().pop(name, *default)

    def forget(self, name: str) -> None:
        """Remove *name* if set (``pop(name, None)`` without making a future to return)."""
        if self._values.pop(name, _MISSING) is _MISSING:
            dict.pop(self, name, None)

    def setdefault(self, name: str, default: Any = None) -> Any:
        if name in self._values:
            self._materialise(name)
        return super().setdefault(name, default)

    def __iter__(self) -> Any:
        self._materialise_all()
        return super().__iter__()

    def __len__(self) -> int:
        return super().__len__() + len(self._values)

    def keys(self) -> Any:
        self._materialise_all()
        return super().keys()

    def values(self) -> Any:
        self._materialise_all()
        return super().values()

    def items(self) -> Any:
        self._materialise_all()
        return super().items()

    def copy(self) -> Any:
        self._materialise_all()
        return super().copy()

    def update(self, *args: Any, **kwargs: Any) -> None:
        for name, future in dict(*args, **kwargs).items():
            self[name] = future

    def popitem(self) -> Any:
        self._materialise_all()
        return super().popitem()

    def clear(self) -> None:
        self._values.clear()
        super().clear()

    def __eq__(self, other: object) -> bool:
        self._materialise_all()
        if isinstance(other, Connection):
            other._materialise_all()
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> Any:
        self._materialise_all()
        return super().__reduce__()

    # --- attribute access -------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name in Connection.__slots__:
            raise AttributeError(name)  # not made yet (only while unpickling)
        values = self._values
        if name in values:
            return values[name]
        future = dict.get(self, name)
        if future is not None and future.done():
            return future.result()
        raise AttributeError(f"{name!r} is not set on this connection")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in Connection.__slots__:
            object.__setattr__(self, name, value)
            return
        future = dict.get(self, name)
        if future is None or future.done():
            if future is not None:
                dict.__delitem__(self, name)
            self._values[name] = value
        else:
            future.set_result(value)  # someone waits for it

    def __delattr__(self, name: str) -> None:
        self.pop(name, None)

    def value(self, name: str, default: Any = None) -> Any:
        """The value of *name*, or *default* while it is unset."""
        values = self._values
        if name in values:
            return values[name]
        future = dict.get(self, name)
        if future is None or not future.done() or future.cancelled():
            return default
        return future.result()

    def is_set(self, name: str) -> bool:
        if name in self._values:
            return True
        future = dict.get(self, name)
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

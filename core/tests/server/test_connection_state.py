"""``Connection`` (the ``connection`` of aioftp-style command methods) behaves as a mapping
of names to futures, whether a value is kept plain until asked for or is a future already.
"""

from __future__ import annotations

import asyncio

import pytest

from anyftp.server import Connection

pytestmark = pytest.mark.asyncio


async def test_values_given_at_creation_read_as_attributes_and_as_done_futures() -> None:
    connection = Connection(client_host="127.0.0.1", restart_offset=0)
    assert connection.client_host == "127.0.0.1"
    assert connection.value("restart_offset") == 0
    assert connection.is_set("client_host")
    future = connection["client_host"]
    assert isinstance(future, asyncio.Future) and future.done()
    assert future.result() == "127.0.0.1"
    assert connection.future.restart_offset.result() == 0
    assert await connection["client_host"] == "127.0.0.1"


async def test_mapping_view_lists_plain_values_and_futures_alike() -> None:
    connection = Connection(a=1)
    connection.b = 2
    pending = connection["c"]  # asking for a missing name makes a pending future
    assert not pending.done()
    assert "a" in connection and "b" in connection and "c" in connection
    assert "d" not in connection
    assert len(connection) == 3
    assert sorted(connection) == ["a", "b", "c"]
    assert sorted(connection.keys()) == ["a", "b", "c"]
    assert {name: f.done() for name, f in connection.items()} == {
        "a": True,
        "b": True,
        "c": False,
    }
    assert all(isinstance(f, asyncio.Future) for f in connection.values())
    assert "a=1" in repr(connection) and "c='<unset>'" in repr(connection)


async def test_setting_a_value_wakes_whoever_waits_for_it() -> None:
    connection = Connection()
    waiter = asyncio.ensure_future(connection.future.data_connection)
    await asyncio.sleep(0)
    assert not waiter.done()
    connection.data_connection = "channel"
    async with asyncio.timeout(5):
        assert await waiter == "channel"
    assert connection.data_connection == "channel"


async def test_setting_again_replaces_the_value_and_old_futures_keep_theirs() -> None:
    connection = Connection(current_directory="/")
    old = connection["current_directory"]
    connection.current_directory = "/sub"
    assert connection.current_directory == "/sub"
    assert old.result() == "/"
    assert connection["current_directory"].result() == "/sub"
    connection.current_directory = "/other"
    assert connection.value("current_directory") == "/other"


async def test_unset_names_raise_attribute_error_and_read_as_default() -> None:
    connection = Connection()
    with pytest.raises(AttributeError):
        _ = connection.user
    assert connection.value("user", "nobody") == "nobody"
    assert not connection.is_set("user")
    connection["user"]  # a pending future is still unset
    with pytest.raises(AttributeError):
        _ = connection.user
    assert not connection.is_set("user")


async def test_forgetting_names_by_del_pop_and_item_deletion() -> None:
    connection = Connection(a=1, b=2, c=3, d=4)
    del connection.a
    assert "a" not in connection
    popped = connection.pop("b")
    assert popped.result() == 2 and "b" not in connection
    assert connection.pop("missing", None) is None
    with pytest.raises(KeyError):
        connection.pop("missing")
    del connection["c"]
    assert "c" not in connection
    connection.get("d")  # now a future in the mapping
    del connection.future.d
    assert "d" not in connection and len(connection) == 0
    connection.e = 5
    connection.clear()
    assert len(connection) == 0 and not connection.is_set("e")


async def test_get_setdefault_update_and_item_assignment() -> None:
    connection = Connection(a=1)
    assert connection.get("a").result() == 1
    assert connection.get("missing") is None
    assert "missing" not in connection
    assert connection.setdefault("a").result() == 1
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    future.set_result(7)
    connection["b"] = future
    assert connection.b == 7
    other: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    connection.update(a=other)
    assert connection["a"] is other and not connection.is_set("a")
    assert dict(connection)["b"] is future


async def test_a_cancelled_future_is_not_a_value() -> None:
    connection = Connection()
    connection["user"].cancel()
    assert connection.value("user", "default") == "default"
    assert not connection.is_set("user")
    connection.user = "someone"  # a done (cancelled) future is replaced
    assert connection.user == "someone"


async def test_forget_removes_plain_values_and_futures_alike() -> None:
    connection = Connection(a=1)
    connection["b"]
    connection.forget("a")
    connection.forget("b")
    connection.forget("never-set")
    assert "a" not in connection and "b" not in connection and len(connection) == 0


async def test_of_session_takes_the_values_as_given_with_futures_on_that_loop() -> None:
    loop = asyncio.get_running_loop()
    connection = Connection.of_session({"client_host": "127.0.0.1", "logged": False}, loop)
    assert connection.client_host == "127.0.0.1"
    assert connection.logged is False
    pending = connection["data_connection"]
    assert pending.get_loop() is loop and not pending.done()
    connection.data_connection = "channel"
    assert pending.result() == "channel"

"""Users, permissions (nearest parent wins), user managers and hashed passwords."""

from __future__ import annotations

import asyncio
from pathlib import PurePosixPath

import pytest

from anyftp.server import (
    GetUserResponse,
    MemoryUserManager,
    Permission,
    User,
    hash_password,
    verify_password,
)


def test_nearest_permission_wins() -> None:
    user = User(
        permissions=[
            Permission("/", readable=False, writable=False),
            Permission("/home", readable=True, writable=False),
            Permission("/home/guido", readable=True, writable=True),
        ]
    )
    assert not user.permission_for("/").readable
    assert not user.permission_for("/etc/passwd").readable
    assert user.permission_for("/home/x").readable
    assert not user.permission_for("/home/x").writable
    assert user.permission_for("/home/guido/a/b").writable
    assert not user.permission_for("/home/guidox").writable  # a prefix is not a parent
    assert asyncio.run(user.get_permissions(PurePosixPath("/home/guido"))).writable


def test_permission_defaults_to_read_only() -> None:
    assert Permission("/anon", readable=True).writable is False
    assert Permission().readable is True
    user = User(permissions=[Permission("/a", readable=True, writable=True)])
    assert user.permission_for("/b").readable and not user.permission_for("/b").writable


def test_default_user_is_anonymous_read_write_on_root() -> None:
    user = User()
    assert user.login is None and user.password is None
    assert user.home_path == PurePosixPath("/")
    permission = user.permission_for("/anything")
    assert permission.readable and permission.writable
    with pytest.raises(ValueError):
        User(home_path="relative")


def test_memory_user_manager_lookup() -> None:
    anonymous = User(home_path="/anon")
    guido = User("Guido", "secret")
    free = User("free")
    manager = MemoryUserManager([guido, anonymous, free])

    async def check() -> None:
        assert await manager.get_user("Guido") == (
            GetUserResponse.PASSWORD_REQUIRED,
            guido,
            "password required",
        )
        state, user, _ = await manager.get_user("someone")
        assert (state, user) == (GetUserResponse.OK, anonymous)
        state, user, _ = await manager.get_user("free")
        assert (state, user) == (GetUserResponse.OK, free)
        assert await manager.authenticate(guido, "secret")
        assert not await manager.authenticate(guido, "Secret")

    asyncio.run(check())
    assert asyncio.run(MemoryUserManager([guido]).get_user("x"))[0] == GetUserResponse.ERROR


@pytest.mark.parametrize("method", ["scrypt", "pbkdf2_sha256"])
def test_hashed_passwords(method: str) -> None:
    stored = hash_password("correct horse", method=method)
    assert stored.startswith(f"{method}$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "correct horse!")
    assert hash_password("x", method=method) != hash_password("x", method=method)  # salted


def test_plain_and_malformed_passwords() -> None:
    assert verify_password("plain", "plain")
    assert not verify_password("plain", "Plain")
    assert verify_password(None, "anything")
    assert not verify_password("scrypt$garbage", "x")
    assert not verify_password("pbkdf2_sha256$1$$", "x")
    with pytest.raises(ValueError):
        hash_password("x", method="md5")


def test_manager_checks_hashed_password() -> None:
    user = User("h", hash_password("pw", method="pbkdf2_sha256", iterations=1000))
    manager = MemoryUserManager([user])
    assert asyncio.run(manager.authenticate(user, "pw"))
    assert not asyncio.run(manager.authenticate(user, "nope"))

"""Bad input gives a clear exception, never a hang; odd but legal servers are coped with.

Driven against the scriptable server in fakeserver.py, on loopback.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
from collections.abc import Iterator

import pytest

import anyftp
from anyftp.errors import StatusCodeError

from .conftest import StartFake

pytestmark = pytest.mark.timeout(30)


async def logged_in(port: int, **options: object) -> anyftp.Client:
    settings: dict[str, object] = {"socket_timeout": 5, "connection_timeout": 5, **options}
    client = anyftp.Client(**settings)  # type: ignore[arg-type]
    await client.connect("127.0.0.1", port)
    await client.login("user", "secret")
    return client


@pytest.fixture
def refused_port() -> Iterator[int]:
    # A bound but not listening socket: connecting to it is refused, and the port can
    # not be taken by anything else while the test runs.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


async def test_connection_refused_raises_connection_refused_error(refused_port: int) -> None:
    client = anyftp.Client(connection_timeout=5)
    with pytest.raises(ConnectionRefusedError):
        await client.connect("127.0.0.1", refused_port)


async def test_silent_server_times_out_after_socket_timeout(start_fake: StartFake) -> None:
    server = await start_fake(greeting=None)
    client = anyftp.Client(socket_timeout=0.3)
    with pytest.raises(TimeoutError):
        await client.connect("127.0.0.1", server.port)


async def test_wrong_password_raises_status_code_error(start_fake: StartFake) -> None:
    server = await start_fake()
    client = anyftp.Client(socket_timeout=5)
    await client.connect("127.0.0.1", server.port)
    with pytest.raises(StatusCodeError) as error:
        await client.login("user", "wrong")
    assert error.value.received_codes == (anyftp.Code("530"),)
    assert error.value.info == [" login incorrect"]
    assert "PASS wrong" in server.commands
    client.close()


async def test_unparseable_greeting_raises_status_code_error(start_fake: StartFake) -> None:
    server = await start_fake(greeting="hello, I am not FTP")
    client = anyftp.Client(socket_timeout=5)
    with pytest.raises(StatusCodeError) as error:
        await client.connect("127.0.0.1", server.port)
    assert "malformed reply" in str(error.value.info)


async def test_unparseable_reply_mid_session_raises_status_code_error(
    start_fake: StartFake,
) -> None:
    server = await start_fake(replies={"PWD": "what?\r\n"})
    client = await logged_in(server.port)
    with pytest.raises(StatusCodeError):
        await client.get_current_directory()


async def test_server_closing_control_connection_raises_connection_reset(
    start_fake: StartFake,
) -> None:
    server = await start_fake(replies={"PWD": "<close>"})
    client = await logged_in(server.port)
    with pytest.raises(ConnectionResetError):
        await client.get_current_directory()


async def test_reply_cut_in_the_middle_raises_connection_reset(start_fake: StartFake) -> None:
    server = await start_fake(replies={"PWD": '257-"/" is\r\n still<close>'})
    client = await logged_in(server.port)
    with pytest.raises(ConnectionResetError):
        await client.get_current_directory()


async def test_server_closing_mid_transfer_raises_connection_reset(
    start_fake: StartFake, tmp_path: object
) -> None:
    server = await start_fake(retr_mode="close_all")
    server.files["f.bin"] = os.urandom(300000)
    client = await logged_in(server.port)
    with pytest.raises(ConnectionResetError):
        async with client.download_stream("f.bin") as stream:
            await stream.read_all()


async def test_transfer_failed_by_server_raises_status_code_error_and_session_continues(
    start_fake: StartFake,
) -> None:
    server = await start_fake(retr_mode="close_data_426")
    server.files["f.bin"] = os.urandom(300000)
    client = await logged_in(server.port)
    with pytest.raises(StatusCodeError) as error:
        async with client.download_stream("f.bin") as stream:
            data = await stream.read_all()
    assert error.value.received_codes == (anyftp.Code("426"),)
    assert len(data) == 150000
    assert await client.get_current_directory()


async def test_stalled_transfer_times_out_after_socket_timeout(start_fake: StartFake) -> None:
    server = await start_fake(retr_mode="stall")
    server.files["f.bin"] = os.urandom(300000)
    client = await logged_in(server.port, socket_timeout=0.5)
    with pytest.raises(TimeoutError):
        async with client.download_stream("f.bin") as stream:
            await stream.read_all()


@pytest.mark.parametrize("style", ["one", "two", "refuse"])
async def test_abort_keeps_control_connection_in_step_for_any_abor_reply(
    start_fake: StartFake, style: str
) -> None:
    server = await start_fake(abor_style=style, block=1024)
    data = os.urandom(2 * 1024 * 1024)
    server.files["big"] = data
    client = await logged_in(server.port)
    stream = await client.download_stream("big")
    await stream.read(100)
    await client.abort()
    stream.close()
    assert "ABOR" in server.commands
    assert str(await client.get_current_directory()) == "/"
    async with client.download_stream("big") as stream:
        assert hashlib.sha256(await stream.read_all()).digest() == hashlib.sha256(data).digest()


async def test_abort_from_another_task_while_reading(start_fake: StartFake) -> None:
    server = await start_fake(block=1024)
    server.files["big"] = os.urandom(4 * 1024 * 1024)
    client = await logged_in(server.port)
    received = 0
    aborting: asyncio.Task[None] | None = None

    def callback(block: bytes) -> None:
        nonlocal received, aborting
        received += len(block)
        if aborting is None:
            aborting = asyncio.ensure_future(client.abort())

    await client.retrieve("RETR big", "1xx", callback=callback)
    assert aborting is not None
    await aborting
    assert received < len(server.files["big"])
    assert await client.get_current_directory()


@pytest.mark.parametrize("code", ["500", "502", "550"])
async def test_mlsd_refusal_falls_back_to_list(start_fake: StartFake, code: str) -> None:
    server = await start_fake(mlsd_refusal=code)
    server.files["a.txt"] = b"12345"
    client = await logged_in(server.port)
    listing = await client.list()
    assert [(str(p), i["size"], i["type"]) for p, i in listing] == [("a.txt", "5", "file")]
    await client.list()
    expected_mlsd = 1 if code in ("500", "502") else 2  # "not implemented" is remembered
    assert sum(c.startswith("MLSD") for c in server.commands) == expected_mlsd
    assert sum(c.startswith("LIST") for c in server.commands) == 2


async def test_mlst_refusal_falls_back_to_listing_the_parent(start_fake: StartFake) -> None:
    server = await start_fake(mlst_refusal="500")
    server.files["a.txt"] = b"12345"
    client = await logged_in(server.port)
    assert (await client.stat("a.txt"))["size"] == "5"
    assert await client.is_file("a.txt")
    assert not await client.exists("b.txt")


async def test_mlst_and_mlsd_facts_are_used_when_offered(start_fake: StartFake) -> None:
    server = await start_fake()
    server.files["a.txt"] = b"12345"
    client = await logged_in(server.port)
    assert await client.stat("a.txt") == {"type": "file", "size": "5", "modify": "20240102030405"}
    assert [str(p) async for p, _ in client.list()] == ["a.txt"]
    assert not any(c.startswith("LIST") for c in server.commands)


async def test_epsv_refused_falls_back_to_pasv(start_fake: StartFake) -> None:
    server = await start_fake(epsv_refusal="502")
    server.files["f"] = b"data"
    client = await logged_in(server.port)
    for _ in range(2):
        async with client.download_stream("f") as stream:
            assert await stream.read_all() == b"data"
    assert server.commands.count("EPSV") == 1  # not asked again
    assert server.commands.count("PASV") == 2


@pytest.mark.parametrize(
    ("announced", "trust"),
    [("0,0,0,0", True), ("10,1,2,3", False), ("192,0,2,1", False), ("0,0,0,0", False)],
)
async def test_pasv_address_is_replaced_by_control_host(
    start_fake: StartFake, announced: str, trust: bool
) -> None:
    server = await start_fake(epsv_refusal="500", pasv_host=announced)
    server.files["f"] = b"data"
    client = await logged_in(server.port, trust_server_pasv_ipv4_address=trust)
    async with client.download_stream("f") as stream:
        assert await stream.read_all() == b"data"


async def test_trusted_pasv_address_is_used(start_fake: StartFake) -> None:
    server = await start_fake(epsv_refusal="500", pasv_host="127,0,0,1")
    server.files["f"] = b"data"
    client = await logged_in(server.port, trust_server_pasv_ipv4_address=True, connection_timeout=1)
    client._peer_host = "192.0.2.1"  # unreachable: used only if the reply were ignored
    async with client.download_stream("f") as stream:
        assert await stream.read_all() == b"data"


async def test_rest_offset_is_sent_before_transfer(start_fake: StartFake) -> None:
    server = await start_fake()
    server.files["f"] = b"0123456789"
    client = await logged_in(server.port)
    async with client.download_stream("f", offset=4) as stream:
        assert await stream.read_all() == b"456789"
    assert server.commands[-2:] == ["REST 4", "RETR f"]


async def test_type_is_sent_once_per_session(start_fake: StartFake) -> None:
    server = await start_fake()
    server.files["f"] = b"x"
    client = await logged_in(server.port)
    for _ in range(3):
        async with client.download_stream("f") as stream:
            await stream.read_all()
    assert server.commands.count("TYPE I") == 1


async def test_command_refuses_line_breaks(start_fake: StartFake) -> None:
    server = await start_fake()
    client = await logged_in(server.port)
    with pytest.raises(ValueError):
        await client.command("CWD a\r\nDELE b", "2xx")
    assert not any(c.startswith("DELE") for c in server.commands)


async def test_read_speed_limit_slows_download(start_fake: StartFake) -> None:
    server = await start_fake()
    server.files["f"] = os.urandom(150 * 1024)
    client = await logged_in(server.port, read_speed_limit=100 * 1024)
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with client.download_stream("f") as stream:
        assert len(await stream.read_all()) == 150 * 1024
    assert loop.time() - start >= 1.0  # 150 KiB at 100 KiB/s needs about 1.5 s


async def test_write_speed_limit_is_live_changeable(start_fake: StartFake) -> None:
    server = await start_fake()
    client = await logged_in(server.port)
    assert client.throttle.write.limit is None
    async with client.upload_stream("up") as stream:
        client.throttle.write.limit = 100 * 1024 * 1024
        await stream.write(b"x" * 1000)
        await stream.write(b"y" * 1000)
    assert client.throttle.write._sum == 2000
    assert server.files["up"] == b"x" * 1000 + b"y" * 1000


async def test_stream_left_by_exception_skips_its_final_reply_before_next_command(
    start_fake: StartFake,
) -> None:
    # The fake answers commands while a transfer runs (as real servers do with NOOP),
    # so only reading exactly the owed final reply keeps the conversation in step.
    server = await start_fake(block=1024)
    server.files["big"] = os.urandom(2 * 1024 * 1024)
    server.files["small"] = b"small"
    client = await logged_in(server.port)
    with pytest.raises(KeyError):
        async with client.download_stream("big") as stream:
            await stream.read(10)
            raise KeyError("user code failed")
    assert await client.stat("small") == {"type": "file", "size": "5", "modify": "20240102030405"}
    async with client.download_stream("small") as stream:
        assert await stream.read_all() == b"small"


async def test_stream_closed_without_finish_keeps_session_in_step(start_fake: StartFake) -> None:
    server = await start_fake(block=1024)
    server.files["big"] = os.urandom(1024 * 1024)
    server.files["small"] = b"small"
    client = await logged_in(server.port)
    stream = await client.download_stream("big")
    await stream.read(10)
    stream.close()
    async with client.download_stream("small") as stream:
        assert await stream.read_all() == b"small"
    assert await client.get_current_directory()

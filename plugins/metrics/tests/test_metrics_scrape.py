"""anyftp-metrics: real FTP sessions (ftplib) against a server with the plugin, then the
text scraped from its HTTP endpoint."""

from __future__ import annotations

import ftplib
import io
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

import anyftp
from anyftp.errors import PluginError
from anyftp.testing.servers import TIMEOUT, connect, in_thread
from anyftp.testing.servers import close_server as stop

pytestmark = pytest.mark.timeout(60)


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Sample name and labels -> value, from the text the endpoint serves."""
    with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scraped(server: anyftp.Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    await server.plugin_host.flush()  # every event so far went through the plugin
    metrics: Any = server.plugin_host.get("metrics")
    return await in_thread(lambda: scrape(metrics.url))


async def test_sessions_logins_bytes_transfers_and_command_latency(
    start_server: Any, root: Any
) -> None:
    server = await start_server(
        users=[anyftp.User("ann", "pw", base_path=root)],
        plugins=["metrics"],
        plugin_options={"metrics": {"port": 0}},
    )
    data = b"m" * 123_456

    def sessions() -> ftplib.FTP:
        ftp = connect(server)
        with pytest.raises(ftplib.error_perm):
            ftp.login("ann", "wrong")
        ftp.login("ann", "pw")
        ftp.storbinary("STOR f", io.BytesIO(data))
        ftp.retrbinary("RETR f", io.BytesIO().write)
        ftp.retrbinary("RETR f", io.BytesIO().write)
        with pytest.raises(ftplib.error_perm):
            ftp.sendcmd("FROB x")
        ftp.quit()
        still_open = connect(server)
        still_open.login("ann", "pw")
        return still_open

    still_open = await in_thread(sessions)
    values = await scraped(server)
    assert values[("anyftp_sessions_total", ())] == 2
    assert values[("anyftp_sessions_active", ())] == 1
    assert values[("anyftp_logins_total", (("result", "ok"),))] == 2
    assert values[("anyftp_logins_total", (("result", "failed"),))] == 1
    assert values[("anyftp_bytes_received_total", ())] == 123_456
    assert values[("anyftp_bytes_sent_total", ())] == 2 * 123_456
    upload_ok = (("direction", "upload"), ("result", "ok"))
    download_ok = (("direction", "download"), ("result", "ok"))
    assert values[("anyftp_transfers_total", upload_ok)] == 1
    assert values[("anyftp_transfers_total", download_ok)] == 2
    assert values[("anyftp_command_seconds_count", (("command", "RETR"),))] == 2
    assert values[("anyftp_command_seconds_count", (("command", "PASS"),))] == 3
    assert values[("anyftp_command_seconds_count", (("command", "other"),))] == 1
    assert values[("anyftp_command_seconds_sum", (("command", "STOR"),))] > 0
    assert not any(labels == (("command", "FROB"),) for _, labels in values)
    await in_thread(still_open.quit)
    await server.plugin_host.flush()
    assert (await scraped(server))[("anyftp_sessions_active", ())] == 0


async def test_an_aborted_download_counts_as_aborted(start_server: Any, root: Any) -> None:
    await in_thread(lambda: (root / "big").write_bytes(b"b" * 1_000_000))
    server = await start_server(
        plugins=["metrics"],
        plugin_options={"metrics": {"port": 0}},
        write_speed_limit_per_connection=100_000,
    )

    def session() -> None:
        ftp = connect(server)
        ftp.login()
        conn = ftp.transfercmd("RETR big")
        assert conn.recv(1000)
        conn.close()
        ftp.abort()
        ftp.quit()

    await in_thread(session)
    values = await scraped(server)
    aborted = (("direction", "download"), ("result", "aborted"))
    assert values[("anyftp_transfers_total", aborted)] == 1
    assert 0 < values[("anyftp_bytes_sent_total", ())] < 1_000_000


async def test_two_servers_have_their_own_metrics_and_endpoints(start_server: Any) -> None:
    first = await start_server(plugins=["metrics"], plugin_options={"metrics": {"port": 0}})
    second = await start_server(plugins=["metrics"], plugin_options={"metrics": {"port": 0}})

    def session() -> None:
        ftp = connect(first)
        ftp.login()
        ftp.quit()

    await in_thread(session)
    assert (await scraped(first))[("anyftp_sessions_total", ())] == 1
    assert (await scraped(second))[("anyftp_sessions_total", ())] == 0
    a: Any = first.plugin_host.get("metrics")
    b: Any = second.plugin_host.get("metrics")
    assert a.address != b.address


async def test_the_endpoint_stops_with_the_server(start_server: Any) -> None:
    server = await start_server(plugins=["metrics"], plugin_options={"metrics": {"port": 0}})
    metrics: Any = server.plugin_host.get("metrics")
    url = metrics.url
    await in_thread(lambda: scrape(url))
    await stop(server)
    with pytest.raises(OSError):
        await in_thread(lambda: scrape(url))


@pytest.mark.parametrize(
    ("options", "message"),
    [({"port": 70000}, "port must be"), ({"path": "/m"}, "unknown option")],
)
def test_bad_options_refuse_to_start(options: dict[str, Any], message: str, root: Any) -> None:
    with pytest.raises(PluginError, match=f"plugin 'metrics' refused its options: {message}"):
        anyftp.Server(
            [anyftp.User(base_path=root)], plugins=["metrics"], plugin_options={"metrics": options}
        )

"""What the benchmark measures: its sizes (full and smoke) and the list of result lines.

Every line has a key (used in JSON), a label built from the sizes, a unit, and whether a
higher value is better; throughput lines also name which loopback limit they are read
against.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

MiB = 1024 * 1024

__all__ = ("MiB", "BenchConfig", "Line", "lines", "client_lines")


@dataclass(frozen=True)
class BenchConfig:
    """Sizes and counts of one run."""

    big_size: int = 512 * MiB  # the single large file (STOR/RETR throughput)
    clients: int = 200  # concurrent clients
    small_size: int = 10 * MiB  # file each concurrent client transfers
    listing_files: int = 10_000  # entries of the directory listed with MLSD
    repeat: int = 5  # rounds per server; the table shows medians
    #: Times the short lines (connect + login, QUIT: tens of milliseconds, so the
    #: noisiest) are measured within each round; the round keeps their median.
    short_repeat: int = 9
    #: Rounds of the client lines (one transfer of the large file per client library and
    #: direction a round). A single download moves by 20-50 % from one to the next on
    #: a shared machine, and a round costs a few seconds, so they get more than ``repeat``.
    client_repeat: int = 9
    line_timeout: float = 300.0  # bound on any one measurement (seconds)
    block_size: int = MiB  # block size the client-side benchmarks ask for

    @classmethod
    def smoke(cls) -> BenchConfig:
        """A tiny configuration that exercises every line in seconds (CI)."""
        return cls(
            big_size=4 * MiB,
            clients=5,
            small_size=256 * 1024,
            listing_files=200,
            repeat=1,
            short_repeat=2,
            client_repeat=1,
            line_timeout=30.0,
            block_size=64 * 1024,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Line:
    """One row of the result table."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    limit: str | None = None  # "download" or "upload": loopback limit it is read against
    ftpbench: bool = True  # one of the lines modelled on pyftpdlib's ftpbench


def _size(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n // 1024} KiB"


def lines(config: BenchConfig) -> list[Line]:
    """The server-side lines, in the order they are measured and printed."""
    n, big, small = config.clients, _size(config.big_size), _size(config.small_size)
    return [
        Line("stor", f"STOR 1 file of {big}", "MiB/s", True, "upload"),
        Line("retr", f"RETR 1 file of {big}", "MiB/s", True, "download"),
        Line("login", f"{n} concurrent clients connect + login", "s", False),
        Line("stor_idle", f"STOR 1 file of {big}, {n} idle clients", "MiB/s", True, "upload"),
        Line("retr_idle", f"RETR 1 file of {big}, {n} idle clients", "MiB/s", True, "download"),
        Line("retr_many", f"{n} concurrent clients RETR {small} each", "s", False),
        Line("stor_many", f"{n} concurrent clients STOR {small} each", "s", False),
        Line("quit", f"{n} concurrent QUIT", "s", False),
        Line(
            "mlsd",
            f"MLSD of a directory of {config.listing_files:,} files",
            "s",
            False,
            ftpbench=False,
        ),
        Line(
            "rss_retr_many", f"peak server RSS, {n} concurrent RETR", "MiB", False, ftpbench=False
        ),
        Line(
            "rss_stor_many", f"peak server RSS, {n} concurrent STOR", "MiB", False, ftpbench=False
        ),
    ]


def client_lines(config: BenchConfig) -> list[Line]:
    """The client-side lines (each client library against the same server)."""
    big = _size(config.big_size)
    return [
        Line("download", f"client download of {big}", "MiB/s", True, "download", False),
        Line("upload", f"client upload of {big}", "MiB/s", True, "upload", False),
    ]

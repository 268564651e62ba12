"""The metrics of one server, fed by its events, served over HTTP by prometheus-client.

=============================== ========= ==================== ==============================
name                            type      labels               counts
=============================== ========= ==================== ==============================
anyftp_sessions_active          gauge                          control connections open now
anyftp_sessions_total           counter                        control connections admitted
anyftp_logins_total             counter   result (ok, failed)  login attempts
anyftp_bytes_received_total     counter                        upload bytes (complete or not)
anyftp_bytes_sent_total         counter                        download bytes (complete or not)
anyftp_transfers_total          counter   direction, result    file transfers: result ``ok``,
                                                               ``aborted`` or ``failed``
anyftp_command_seconds          histogram command              time to handle each command
                                                               (a transfer: until it ended)
=============================== ========= ==================== ==============================

Commands the server does not know are counted under ``command="other"``, so a client
cannot grow the label set. The hooks are plain functions: anyftp runs them in a thread of
this plugin's own, and prometheus-client's metrics are thread-safe.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from anyftp import events
from anyftp.hookspecs import hookimpl

__all__ = ("Metrics", "DEFAULT_HOST", "DEFAULT_PORT", "COMMAND_BUCKETS")

logger = logging.getLogger("anyftp.metrics")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 9721
#: Seconds: from a NOOP on loopback to a long transfer.
COMMAND_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)
_OPTIONS = {"host", "port"}


class Metrics:
    """The per-server plugin object (see the module docstring for the metrics)."""

    def __init__(self, server: Any = None, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT):
        if not 0 <= port < 65536:
            raise ValueError(f"port must be 0..65535, got {port}")
        self.server = server
        self.host = host
        self.port = port
        self.registry = CollectorRegistry(auto_describe=True)
        self.sessions_active = Gauge(
            "anyftp_sessions_active", "Control connections open now", registry=self.registry
        )
        self.sessions = Counter(
            "anyftp_sessions", "Control connections admitted", registry=self.registry
        )
        self.logins = Counter(
            "anyftp_logins", "Login attempts by result", ["result"], registry=self.registry
        )
        self.bytes_received = Counter(
            "anyftp_bytes_received", "Bytes received by uploads", registry=self.registry
        )
        self.bytes_sent = Counter(
            "anyftp_bytes_sent", "Bytes sent by downloads", registry=self.registry
        )
        self.transfers = Counter(
            "anyftp_transfers",
            "File transfers by direction and result",
            ["direction", "result"],
            registry=self.registry,
        )
        self.command_seconds = Histogram(
            "anyftp_command_seconds",
            "Seconds to handle a command (a transfer command: until the transfer ended)",
            ["command"],
            buckets=COMMAND_BUCKETS,
            registry=self.registry,
        )
        self._known: frozenset[str] | None = None
        self._http: Any = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_options(cls, server: Any, options: dict[str, Any]) -> Metrics:
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))}; known: host, port")
        return cls(
            server,
            host=str(options.get("host", DEFAULT_HOST)),
            port=int(options.get("port", DEFAULT_PORT)),
        )

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` the endpoint listens on (the real port when 0 was asked)."""
        if self._http is None:
            raise RuntimeError("the metrics endpoint is not running")
        return self.host, int(self._http.server_port)

    @property
    def url(self) -> str:
        host, port = self.address
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/metrics"

    # --- hooks -------------------------------------------------------------------------

    @hookimpl
    def anyftp_server_started(self) -> None:
        self._http, self._thread = start_http_server(self.port, self.host, self.registry)
        logger.info("metrics on %s", self.url)

    @hookimpl
    def anyftp_server_stopped(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    @hookimpl
    def anyftp_event(self, event: events.Event) -> None:
        if isinstance(event, events.Transfer):
            counter = self.bytes_received if event.direction == "upload" else self.bytes_sent
            counter.inc(event.bytes)
            self.transfers.labels(event.direction, event.result).inc()
        elif isinstance(event, events.Connected):
            self.sessions.inc()
            self.sessions_active.inc()
        elif isinstance(event, events.Disconnected):
            self.sessions_active.dec()
        elif isinstance(event, events.LoggedIn):
            self.logins.labels("ok").inc()
        elif isinstance(event, events.LoginFailed):
            self.logins.labels("failed").inc()

    @hookimpl
    def anyftp_command_done(self, event: events.CommandCompleted) -> None:
        command = event.command if event.command in self.known_commands() else "other"
        self.command_seconds.labels(command).observe(event.duration)

    def known_commands(self) -> frozenset[str]:
        if self._known is None:
            names: set[str] = set()
            commands = getattr(self.server, "commands", None)
            if commands is not None:
                names.update(commands.names())
            legacy = getattr(self.server, "legacy_command_names", None)
            if legacy is not None:
                names.update(legacy())
            self._known = frozenset(names)
        return self._known

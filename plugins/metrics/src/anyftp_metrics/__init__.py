"""anyftp-metrics: Prometheus metrics of an anyftp server on an HTTP endpoint of its own.

Enable it with ``Server(plugins=["metrics"], plugin_options={"metrics": {"port": 9721}})``
or ``anyftp serve --plugin metrics --plugin-option metrics.port=9721``. Options: ``host``
(default ``127.0.0.1``) and ``port`` (default 9721; 0 picks a free port, see
:attr:`Metrics.address`). Each server that enables the plugin gets its own
:class:`Metrics`, with its own registry and endpoint.
"""

from __future__ import annotations

from typing import Any

from anyftp.hookspecs import hookimpl

from .collector import DEFAULT_HOST, DEFAULT_PORT, Metrics

__all__ = ("Metrics", "DEFAULT_HOST", "DEFAULT_PORT", "anyftp_configure")


@hookimpl
def anyftp_configure(server: Any, options: dict[str, Any]) -> Metrics:
    return Metrics.from_options(server, options)

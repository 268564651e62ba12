"""An HTTP endpoint in front of moto that answers chosen requests with an S3 error.

:class:`FlakyEndpoint` runs an aiohttp server on 127.0.0.1 in the test's event loop. It
forwards requests to the real endpoint, except that the next ``failures`` requests (or
all, with ``failures=-1``) get ``status`` and an S3 error document with ``code`` -
what S3 does when it throttles (503 SlowDown) or refuses (403 AccessDenied).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web

__all__ = ("FlakyEndpoint",)

_HOP_BY_HOP = {
    "connection",
    "content-length",
    "transfer-encoding",
    "content-encoding",
    "keep-alive",
    "host",
}


class FlakyEndpoint:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.failures = 0
        self.status = 503
        self.code = "SlowDown"
        self.requests = 0
        self.failed = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, count: int, status: int = 503, code: str = "SlowDown") -> None:
        """Answer the next *count* requests (``-1``: every request) with an error."""
        self.failures, self.status, self.code = count, status, code

    async def start(self) -> FlakyEndpoint:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = await request.read()
        if self.failures:
            self.failures -= 1 if self.failures > 0 else 0
            self.failed += 1
            document = (
                f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{self.code}'
                f"</Code><Message>injected by the test</Message></Error>"
            )
            return web.Response(
                status=self.status, body=document.encode(), content_type="application/xml"
            )
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self._session.request(
            request.method, self.upstream + request.path_qs, headers=headers, data=body
        ) as upstream:
            payload = await upstream.read()
            reply_headers = {
                k: v for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP
            }
            return web.Response(status=upstream.status, body=payload, headers=reply_headers)

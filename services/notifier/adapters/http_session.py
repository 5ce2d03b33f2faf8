"""One aiohttp session per HTTP peer (intake, Notify, clinics), opened on first use inside
the running loop.

aiohttp, not httpx: at 32 requests in flight httpx's pool cost about 2 ms of
CPU per request on our machine, aiohttp 0.12 ms (`bench/RESULTS.md`, the notifier section)."""

from __future__ import annotations

import aiohttp


class LazySession:
    def __init__(self, *, timeout: float, connections: int, per_host: int = 0) -> None:
        """`per_host`: at most this many requests in flight to one host (0: no cap)."""
        self._timeout, self._connections, self._per_host = timeout, connections, per_host
        self._session: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                connector=aiohttp.TCPConnector(
                    limit=self._connections, limit_per_host=self._per_host
                ),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

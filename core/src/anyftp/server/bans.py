"""Per-address bans after repeated failed logins.

Within one connection, failed logins are slowed (``login_failure_delay``) and capped
(``max_login_attempts``); a guesser then simply reconnects. :class:`LoginBans` counts
failures per client address over a sliding window: ``failures`` of them within
``window`` seconds ban the address for ``duration`` seconds, during which a new
connection from it is answered 421 and closed, and a further failure on a connection
already open closes that one too. A successful login does not clear the count (or
anyone could reset it with the anonymous account).

Memory stays bounded: at most ``max_addresses`` addresses are tracked (the least recently
seen are forgotten first), and each keeps at most ``failures`` timestamps.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

__all__ = ("LoginBans",)


class LoginBans:
    """Failed-login counts and bans by client address (see the module docstring).

    ``failures=None`` (or 0) turns banning off.
    """

    def __init__(
        self,
        failures: int | None = 10,
        window: float = 300.0,
        duration: float = 600.0,
        *,
        max_addresses: int = 65536,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures = failures or None
        self.window = window
        self.duration = duration
        self.max_addresses = max_addresses
        self._clock = clock
        self._recent: collections.OrderedDict[str, collections.deque[float]] = (
            collections.OrderedDict()
        )
        self._until: collections.OrderedDict[str, float] = collections.OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.failures is not None and self.duration > 0

    def banned_for(self, address: str) -> float:
        """Seconds the ban on *address* still lasts (0 when it is not banned)."""
        until = self._until.get(address)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._until[address]
            return 0.0
        return left

    def failed(self, address: str) -> bool:
        """Count a failed login from *address*; True when the address is (now) banned."""
        if not self.enabled:
            return False
        if self.banned_for(address):
            return True
        assert self.failures is not None
        now = self._clock()
        times = self._recent.pop(address, None)
        if times is None:
            times = collections.deque(maxlen=self.failures)
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.failures:
            self._ban(address, now)
            return True
        self._recent[address] = times  # most recently seen last
        while len(self._recent) > self.max_addresses:
            self._recent.popitem(last=False)
        return False

    def _ban(self, address: str, now: float) -> None:
        self._until.pop(address, None)
        self._until[address] = now + self.duration
        while len(self._until) > self.max_addresses:
            self._until.popitem(last=False)

    def forgive(self, address: str) -> None:
        """Lift the ban on *address* and forget its failures."""
        self._until.pop(address, None)
        self._recent.pop(address, None)

    def __len__(self) -> int:
        """Addresses tracked (counting or banned)."""
        return len(self._recent.keys() | self._until.keys())

"""Replay pacing: map city time onto wall time with a speed factor.

``speed`` 1 replays in real time, 60 plays an hour of city time per minute, 0 means as fast
as possible (no waiting at all). The clock and the sleep are injected so tests run instantly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Pacer:
    """Waits until each record's publish time, scaled by ``speed``, has come in wall time."""

    city_start_ms: int
    speed: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _wall_start: float | None = field(default=None, init=False)

    def wait_for(self, publish_time_ms: int) -> float:
        """Sleep as needed; returns the seconds slept."""
        if self.speed <= 0:
            return 0.0
        now = self.clock()
        if self._wall_start is None:
            self._wall_start = now
        due = self._wall_start + (publish_time_ms - self.city_start_ms) / 1000 / self.speed
        delay = due - now
        if delay > 0:
            self.sleep(delay)
            return delay
        return 0.0


@dataclass
class RateLimiter:
    """At most ``rate`` items per second on average (0 = unlimited), checked per batch."""

    rate: float
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _start: float | None = field(default=None, init=False)
    _sent: int = field(default=0, init=False)

    def take(self, n: int = 1) -> None:
        """Account for ``n`` more items, sleeping if they would exceed the rate."""
        if self.rate <= 0:
            return
        now = self.clock()
        if self._start is None:
            self._start = now
        self._sent += n
        due = self._start + self._sent / self.rate
        if due > now:
            self.sleep(due - now)

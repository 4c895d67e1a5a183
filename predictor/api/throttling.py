"""DRF rate limits for the API, on the cache all workers share.

Rates come from settings (VIEWSITE_THROTTLE_ANON_RATE, VIEWSITE_THROTTLE_USER_RATE). Clients are
told apart as DRF does, through NUM_PROXIES trusted proxies, so an X-Forwarded-For written by the
client changes nothing. If the cache itself is down, requests are let through (and logged): the
outer wall, nginx's limit_req, still stands, and predictions keep being served.

Each client gets a window that opens with its first request and holds a counter in the shared
cache (Redis in production, viewsite.cache), where DRF's own throttles keep a list of every
request's time, read and rewritten whole on every request. A client can therefore send up to
twice its rate across the edge of two windows, never more.

A worker takes hits from a client's counter a block at a time and admits that client's requests
from its block until the block is used up or the window closes; a round trip to Redis cost a
quarter of a prediction request's time under load (bench/README.md). A block is a thousandth
of the limit, and at least one hit, so:

- a limit under 2,000 requests a window is counted exactly as before: a round trip a request;
- the counter never hands out more hits than the limit, so however many workers there are, no
  more requests than the limit are admitted in a window;
- a worker's unused block is lost when the window closes, so a client may be refused at most a
  block's worth of requests early for each worker: a thousandth of its limit per worker;
- once the limit is reached, a worker refuses that client until the window closes without
  asking again, so a flood of refused requests costs Redis nothing.
"""

import logging
import threading
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.core.signals import setting_changed
from django.dispatch import receiver
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)

try:  # Redis is optional: without REDIS_URL the cache is per process.
    from redis.exceptions import RedisError as CacheError
except ImportError:  # pragma: no cover
    CacheError = OSError

BLOCKS_PER_LIMIT = 1000
# Clients whose blocks a worker keeps; beyond that, the closed windows' blocks are dropped first.
MAX_LEASES = 10_000


@dataclass
class _Lease:
    """This worker's share of one client's window."""

    left: int  # hits claimed and not yet used
    closes_at: float  # time.monotonic() when the window closes
    limit_reached: bool  # the counter has handed out every hit of the window


_leases: dict[str, _Lease] = {}
_leases_lock = threading.Lock()


def take_hit(key: str, window: int, limit: int) -> tuple[bool, float]:
    """Admit or refuse one more request in `key`'s window of `window` seconds.

    Returns whether it is admitted and the seconds until the window closes.
    """
    now = time.monotonic()
    with _leases_lock:
        lease = _leases.get(key)
        if lease is not None and now < lease.closes_at:
            if lease.left > 0:
                lease.left -= 1
                return True, lease.closes_at - now
            if lease.limit_reached:
                return False, lease.closes_at - now
    block = max(1, limit // BLOCKS_PER_LIMIT)
    count, seconds_left = claim_hits(key, window, block)
    # The hits of this block that are within the limit (all of them, some, or none).
    granted = max(0, min(block, limit - (count - block)))
    lease = _Lease(
        left=max(granted - 1, 0), closes_at=now + seconds_left, limit_reached=count >= limit
    )
    with _leases_lock:
        if len(_leases) >= MAX_LEASES:
            _drop_closed(now)
        _leases[key] = lease
    return granted > 0, seconds_left


def _drop_closed(now: float) -> None:
    for key in [key for key, lease in _leases.items() if lease.closes_at <= now]:
        del _leases[key]
    if len(_leases) >= MAX_LEASES:
        # All still open: dropping them loses their unused hits (clients refused a little
        # early), never admits more.
        _leases.clear()


def claim_hits(key: str, window: int, hits: int) -> tuple[int, float]:
    """Add `hits` to `key`'s counter: (the count in the window so far, seconds it has left)."""
    if hasattr(cache, "claim_hits"):
        return cache.claim_hits(key, window, hits)
    # Any other cache (the per-process one of development): the same window in three calls.
    now = time.time()
    if cache.add(key, hits, timeout=window):
        cache.set(f"{key}:closes", now + window, timeout=window)
        return hits, float(window)
    try:
        count = cache.incr(key, hits)
    except ValueError:  # the window closed a moment ago
        return claim_hits(key, window, hits)
    return count, max(cache.get(f"{key}:closes", now) - now, 0.0)


def forget_leases() -> None:
    """Drop this process's blocks (their unused hits are lost: clients can only be refused)."""
    with _leases_lock:
        _leases.clear()


@receiver(setting_changed)
def _forget_leases_on_new_limits(*, setting, **kwargs):
    if setting in {"REST_FRAMEWORK", "CACHES"}:
        forget_leases()


class _WindowThrottle:
    def get_rate(self):
        # Read at request time (DRF reads it once, at import), so a settings change applies.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            allowed, self.seconds_left = take_hit(self.key, self.duration, self.num_requests)
        except (CacheError, OSError) as error:
            logger.error("rate limit cache unavailable, request allowed error=%s", error)
            return True
        return allowed

    def wait(self):
        return self.seconds_left


class AnonThrottle(_WindowThrottle, AnonRateThrottle):
    pass


class UserThrottle(_WindowThrottle, UserRateThrottle):
    def get_cache_key(self, request, view):
        # Anonymous clients are AnonThrottle's; counting them here too would only cost a round
        # trip to the cache on every request.
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)


def throttled_client(request) -> tuple[str, str]:
    """(scope, client) as the audit of refusals names them: a user id, or the client address."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return UserThrottle.scope, f"user:{user.pk}"
    return AnonThrottle.scope, AnonThrottle().get_ident(request)

"""DRF rate limits for the API, on the cache all workers share.

Rates come from settings (VIEWSITE_THROTTLE_ANON_RATE, VIEWSITE_THROTTLE_USER_RATE). Clients are
told apart as DRF does, through NUM_PROXIES trusted proxies, so an X-Forwarded-For written by the
client changes nothing. If the cache itself is down, requests are let through (and logged): the
outer wall, nginx's limit_req, still stands, and predictions keep being served.

Each client gets a window that opens with its first request and holds a counter: one round trip
to Redis per request (viewsite.cache), where DRF's own throttles keep a list of every request's
time, read and rewritten whole on every request. A client can therefore send up to twice its
rate across the edge of two windows, never more.
"""

import logging
import time

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)

try:  # Redis is optional: without REDIS_URL the cache is per process.
    from redis.exceptions import RedisError as CacheError
except ImportError:  # pragma: no cover
    CacheError = OSError


def count_hit(key: str, window: int) -> tuple[int, float]:
    """One more request in `key`'s window: (requests in the window so far, seconds it has left)."""
    if hasattr(cache, "count_hit"):
        return cache.count_hit(key, window)
    # Any other cache (the per-process one of development): the same window in three calls.
    now = time.time()
    if cache.add(key, 1, timeout=window):
        cache.set(f"{key}:closes", now + window, timeout=window)
        return 1, float(window)
    try:
        hits = cache.incr(key)
    except ValueError:  # the window closed a moment ago
        return count_hit(key, window)
    return hits, max(cache.get(f"{key}:closes", now) - now, 0.0)


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
            hits, self.seconds_left = count_hit(self.key, self.duration)
        except (CacheError, OSError) as error:
            logger.error("rate limit cache unavailable, request allowed error=%s", error)
            return True
        return hits <= self.num_requests

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

"""The API's rate limits: DRF's throttles, counting in the cache every worker and host shares.

Rates come from settings (VIEWSITE_THROTTLE_ANON_RATE, VIEWSITE_THROTTLE_USER_RATE, and
VIEWSITE_THROTTLE_PREVIEW_RATE for a view with its own `throttle_scope`); clients are told apart
by DRF's `get_ident`, through NUM_PROXIES trusted proxies. If the cache is down, requests are let
through and logged: nginx's limit_req, the outer wall, still stands.
"""

import logging
import time

from django_redis import get_redis_connection
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import RedisError
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)

CacheError = (ConnectionInterrupted, RedisError, OSError)


class FixedWindowMixin:
    """One counter per client and window, incremented in one round trip (one INCR on Redis); a
    window starts on the clock's multiples of its length, so a client may send twice its rate
    across a window's edge.

    Kept over DRF's SimpleRateThrottle: its list, read then written, drops counts (bench/README.md).
    """

    def get_rate(self):
        # Read at request time (DRF reads it once, at import), so a settings change applies.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        client_key = self.get_cache_key(request, view)
        if client_key is None:
            return True
        now = time.time()
        self.seconds_left = self.duration - now % self.duration
        key = f"{client_key}:{int(now // self.duration)}"
        try:
            count = self.count(key)
        except CacheError as error:
            logger.error("rate limit cache unavailable, request allowed error=%s", error)
            return True
        return count <= self.num_requests

    def count(self, key: str) -> int:
        """Add one to the window's counter; the first request of a window creates it."""
        try:
            redis = get_redis_connection()
        except NotImplementedError:  # no Redis (development): the cache's own counter
            return self.count_in_cache(key)
        # One INCR, the cheapest command Redis has: django-redis' `incr` runs a Lua script
        # (EVAL) to keep a key's TTL, which costs Redis more and this process a little more
        # (bench/README.md). The window's first request sets the key's expiry; a worker that
        # died between the two commands leaves a key without one, which names a window that
        # never comes again.
        key = self.cache.make_key(key)
        count = redis.incr(key)
        if count == 1:
            redis.expire(key, self.duration + 1)
        return count

    def count_in_cache(self, key: str) -> int:
        try:
            return self.cache.incr(key)
        except ValueError:  # no counter yet in this window
            if self.cache.add(key, 1, timeout=self.duration + 1):
                return 1
            return self.cache.incr(key)  # another worker created it a moment ago

    def wait(self):
        return self.seconds_left


class AnonThrottle(FixedWindowMixin, AnonRateThrottle):
    pass


class UserThrottle(FixedWindowMixin, UserRateThrottle):
    def get_cache_key(self, request, view):
        # Anonymous clients are AnonThrottle's; counting them here too would only cost a round
        # trip to the cache on every request.
        if not (request.user and request.user.is_authenticated):
            return None
        return super().get_cache_key(request, view)


class ScopedThrottle(FixedWindowMixin, ScopedRateThrottle):
    """The limit of a view that sets `throttle_scope` (the form's previews), per user or client
    address, counted apart from the anon and user limits."""

    def allow_request(self, request, view):
        # As ScopedRateThrottle does, the scope and its rate come from the view; then the fixed
        # window counts.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)


def throttled_client(request, view=None) -> tuple[str, str]:
    """(scope, client) as the audit of refusals names them: a user id, or the client address;
    the scope is the view's own where it has one."""
    user = getattr(request, "user", None)
    authenticated = user is not None and user.is_authenticated
    client = f"user:{user.pk}" if authenticated else AnonThrottle().get_ident(request)
    scope = getattr(view, ScopedThrottle.scope_attr, None)
    if scope:
        return scope, client
    return (UserThrottle.scope if authenticated else AnonThrottle.scope), client

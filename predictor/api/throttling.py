"""DRF rate limits for the API, on the cache all workers share.

Rates come from settings (VIEWSITE_THROTTLE_ANON_RATE, VIEWSITE_THROTTLE_USER_RATE). Clients are
told apart as DRF does, through NUM_PROXIES trusted proxies, so an X-Forwarded-For written by the
client changes nothing. If the cache itself is down, requests are let through (and logged): the
outer wall, nginx's limit_req, still stands, and predictions keep being served.
"""

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

logger = logging.getLogger(__name__)

try:  # Redis is optional: without REDIS_URL the cache is per process.
    from redis.exceptions import RedisError as CacheError
except ImportError:  # pragma: no cover
    CacheError = OSError


class _FailOpen:
    def get_rate(self):
        # Read at request time (DRF reads it once, at import), so a settings change applies.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except (CacheError, OSError) as error:
            logger.error("rate limit cache unavailable, request allowed error=%s", error)
            return True


class AnonThrottle(_FailOpen, AnonRateThrottle):
    pass


class UserThrottle(_FailOpen, UserRateThrottle):
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

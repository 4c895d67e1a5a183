"""Counting rate-limited requests per client and minute, without a write per request.

Each refusal increments a counter in the shared cache (Redis in production). The database row
for that client and minute is written when the first refusal arrives and then at most once a
second, always with the largest count seen, so a flood of refused requests costs a write a
second, not a write a request. The admin shows the cache's live count where it is ahead.
"""

import logging

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from .. import metrics
from ..models import ThrottledRequestCount

logger = logging.getLogger(__name__)

# Long enough to outlive the minute it counts; the database keeps the record after that.
_COUNTER_TTL = 180
_FLUSH_INTERVAL = 1


def record_throttled(*, scope: str, client: str) -> int:
    """Count one refused request; returns the client's refusals in this minute so far."""
    metrics.rate_limited(scope=scope)
    minute = timezone.now().replace(second=0, microsecond=0)
    key = _counter_key(scope, client, minute)
    count = 1 if cache.add(key, 1, timeout=_COUNTER_TTL) else cache.incr(key)
    if count == 1 or cache.add(f"{key}:flushed", 1, timeout=_FLUSH_INTERVAL):
        _store(scope=scope, client=client, minute=minute, count=count)
    return count


def live_count(row: ThrottledRequestCount) -> int:
    """The row's count, or the cache's, whichever is ahead (the last second may be unwritten)."""
    cached = cache.get(_counter_key(row.scope, row.client, row.minute)) or 0
    return max(row.count, cached)


def _store(*, scope: str, client: str, minute, count: int) -> None:
    rows = ThrottledRequestCount.objects.filter(scope=scope, client=client, minute=minute)
    if rows.update(count=Greatest(F("count"), count)):
        return
    try:
        with transaction.atomic():
            ThrottledRequestCount.objects.create(
                scope=scope, client=client, minute=minute, count=count
            )
    except IntegrityError:
        # Another worker created it a moment ago.
        rows.update(count=Greatest(F("count"), count))


def _counter_key(scope: str, client: str, minute) -> str:
    return f"throttled:{scope}:{client}:{minute:%Y%m%d%H%M}"

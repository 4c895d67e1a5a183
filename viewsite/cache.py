"""The Redis cache backend, with one client per connection pool instead of one per operation.

Django's RedisCacheClient builds a new `redis.Redis` for every cache call. Since redis-py 6 that
constructor fills a table of some 170 response callbacks, about 0.25 ms each time: with the
rate limit reading and writing the cache on every API request, it was a third of a request's CPU.
A `redis.Redis` is safe to share between threads (each command borrows a connection from the
pool) and redis-py's pool notices a fork, so one client per pool is enough.
"""

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class SharedClientRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class SharedClientRedisCache(RedisCache):
    """`django.core.cache.backends.redis.RedisCache`, reusing its clients, plus `count_hit`."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient

    def count_hit(self, key: str, window: int) -> tuple[int, float]:
        """Count one hit in a window of `window` seconds that opens with its first hit.

        Returns the hits so far in the window and the seconds until it closes, in one round
        trip: a rate limit checked on every request should cost one, not the two or three
        that `add`, `incr` and a read of the expiry would. MULTI/EXEC (in the same round trip)
        keeps the key from expiring between the SET and the INCR, which would leave a counter
        that never expires.
        """
        key = self.make_and_validate_key(key)
        pipeline = self._cache.get_client(key, write=True).pipeline(transaction=True)
        pipeline.set(key, 0, ex=window, nx=True)
        pipeline.incr(key)
        pipeline.pttl(key)
        _, hits, milliseconds_left = pipeline.execute()
        return hits, max(milliseconds_left, 0) / 1000

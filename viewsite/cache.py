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
    """`django.core.cache.backends.redis.RedisCache`, reusing its clients, plus `claim_hits`."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = SharedClientRedisCacheClient
        self._scripts = {}

    def claim_hits(self, key: str, window: int, hits: int) -> tuple[int, float]:
        """Add `hits` to a counter whose window of `window` seconds opens with its first claim.

        Returns the count so far in the window and the seconds until it closes, in one command:
        a rate limit should cost one round trip and one small reply, not the two or three that
        `add`, `incr` and a read of the expiry would. A Lua script runs atomically, so the key
        cannot expire between its INCRBY and its PEXPIRE and be left as a counter that never
        expires.
        """
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        script = self._claim_hits_script(client)
        count, milliseconds_left = script(keys=[key], args=[window * 1000, hits])
        return count, max(milliseconds_left, 0) / 1000

    def _claim_hits_script(self, client):
        # Sent by its sha1 (EVALSHA); redis-py sends the source again if the server lacks it.
        script = self._scripts.get(id(client))
        if script is None:
            script = self._scripts[id(client)] = client.register_script(_CLAIM_HITS_LUA)
        return script


_CLAIM_HITS_LUA = """
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
if count == tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return {count, redis.call('PTTL', KEYS[1])}
"""

"""The response cache: ``Client(cache=chatlane.Cache(store=...))``.

Stores: ``MemoryStore`` (an LRU with a byte cap and TTL, the default), ``SqliteStore`` (a file
that survives restarts and is shared by the processes of one machine) and ``RedisStore``
(shared by many machines; ``chatlane[redis]``). What goes into a key is documented in
:mod:`chatlane.cache.keys`; what is cached, in :mod:`chatlane.cache.piece`.
"""

from chatlane.cache.memory import MemoryStore
from chatlane.cache.piece import Cache
from chatlane.cache.redis_store import RedisStore
from chatlane.cache.sqlite import SqliteStore
from chatlane.cache.store import CacheStore

__all__ = ["Cache", "CacheStore", "MemoryStore", "RedisStore", "SqliteStore"]

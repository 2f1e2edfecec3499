"""The shared budget's Lua scripts, each run atomically by Redis.

KEYS: the totals hash, ``:open`` (reservation id -> ``"usd:tokens"``), ``:deadlines`` (when
each open reservation expires) and ``:expired`` (those that expired unsettled, for a day).
Every script first expires the overdue reservations, and each is keyed by the reservation's
id and does its work once, so that running it again (a retry after a lost reply, a kept
settlement applied later) counts nothing twice.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["SCRIPTS", "ScriptName"]

_EXPIRED_KEPT_MS = 24 * 3600 * 1000
"""How long an expired reservation is remembered, so its late settlement still counts."""

_PRELUDE = """
if redis.replicate_commands then redis.replicate_commands() end
local totals, open, deadlines, expired = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- Amounts travel as decimal strings: Lua would print a large number as 1e+15.
local function add(field, amount)
  if amount ~= '0' then redis.call('HINCRBY', totals, field, amount) end
end
local function sub(field, amount)
  if amount ~= '0' then redis.call('HINCRBY', totals, field, '-' .. amount) end
end
local function drop(id)
  local held = redis.call('HGET', open, id)
  if not held then return false end
  local usd, tokens = string.match(held, '^(%d+):(%d+)$')
  sub('reserved_usd', usd)
  sub('reserved_tokens', tokens)
  redis.call('HDEL', open, id)
  redis.call('ZREM', deadlines, id)
  return true
end
local now = now_ms()
for _, id in ipairs(redis.call('ZRANGEBYSCORE', deadlines, '-inf', now)) do
  if drop(id) then redis.call('ZADD', expired, now, id) end
end
redis.call('ZREMRANGEBYSCORE', expired, '-inf', now - EXPIRED_KEPT_MS)
local function n(value) return tonumber(value or '0') end
"""

# ARGV: id, usd, tokens, usd limit ('' for none), token limit ('' for none), ttl in ms.
_RESERVE = """
local id, usd, tokens = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HEXISTS', open, id) == 1 then return {'ok'} end
local s = redis.call('HMGET', totals, 'spent_usd', 'reserved_usd', 'spent_tokens',
  'reserved_tokens')
if ARGV[4] ~= '' and n(s[1]) + n(s[2]) + tonumber(usd) > tonumber(ARGV[4]) then
  return {'usd', s[1] or '0', s[2] or '0'}
end
if ARGV[5] ~= '' and n(s[3]) + n(s[4]) + tonumber(tokens) > tonumber(ARGV[5]) then
  return {'tokens', s[3] or '0', s[4] or '0'}
end
redis.call('HSET', open, id, usd .. ':' .. tokens)
redis.call('ZADD', deadlines, now + tonumber(ARGV[6]), id)
add('reserved_usd', usd)
add('reserved_tokens', tokens)
return {'ok'}
"""

# ARGV: id, usd, tokens, unpriced ('0' or '1'). Settling twice counts once.
_SETTLE = """
local id = ARGV[1]
if not drop(id) and redis.call('ZREM', expired, id) == 0 then return 0 end
add('spent_usd', ARGV[2])
add('spent_tokens', ARGV[3])
add('unpriced', ARGV[4])
return 1
"""

# ARGV: id.
_RELEASE = """
drop(ARGV[1])
redis.call('ZREM', expired, ARGV[1])
return 1
"""

_STATE = """
return redis.call('HMGET', totals, 'spent_usd', 'reserved_usd', 'spent_tokens',
  'reserved_tokens', 'unpriced')
"""

ScriptName = Literal["reserve", "settle", "release", "state"]
_BODIES: dict[ScriptName, str] = {
    "reserve": _RESERVE,
    "settle": _SETTLE,
    "release": _RELEASE,
    "state": _STATE,
}
SCRIPTS: dict[ScriptName, str] = {
    name: _PRELUDE.replace("EXPIRED_KEPT_MS", str(_EXPIRED_KEPT_MS)) + body
    for name, body in _BODIES.items()
}
"""Each script's Lua: the prelude (keys, helpers, expiring overdue reservations), then its
own body."""

-- count_sessions.lua: the live totals of one user, for the background statistics
-- reconciliation (never on a request path). Prunes dead sessions on the way, so that a
-- session it did not count is never subtracted from the counters again later.
--
-- KEYS[1] ts:{u:UID}:sessions   session index
-- KEYS[2] ts:{u:UID}:ver        token version
-- ARGV[1] now (ms)   ARGV[2] session key prefix ts:{u:UID}:s:
-- Returns {live sessions, unexpired grants of the live sessions}.
--
-- Reads (and deletes, when dead) the session keys named by the index, building them from
-- ARGV[2]: intentional, they share the hash tag and so the slot of KEYS.
local now = tonumber(ARGV[1])
prune_index(KEYS[1], ARGV[2], now)
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local ver = redis.call('GET', KEYS[2])
local sessions, grants = 0, 0
for _, m in ipairs(members) do
  local key = ARGV[2] .. m
  local f = redis.call('HMGET', key, 'l', 'i', 'x', 'g')
  if live_deadline(f[1], f[2], f[3], f[4], ver, now) then
    sessions = sessions + 1
    grants = grants + live_grants(key, now)
  else
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], m)
  end
end
return {sessions, grants}

-- list_sessions.lua: a user's live sessions; prunes dead index entries on the way.
--
-- KEYS[1] ts:{u:UID}:sessions   session index
-- KEYS[2] ts:{u:UID}:ver        token version
-- ARGV[1] now (ms)   ARGV[2] session key prefix ts:{u:UID}:s:
-- Returns a flat array: dS, dG (statistics changes: sessions and unexpired grants removed
-- with dead sessions), then 6 entries per live session, in index order:
-- SID, created_at, last_seen, deadline, absolute expiry (ms), attributes.
--
-- Reads (and deletes, when dead) the session keys named by the index, building them from
-- ARGV[2]: intentional, they share the hash tag and so the slot of KEYS.
local now = tonumber(ARGV[1])
local ds, dg = prune_index(KEYS[1], ARGV[2], now)
ds, dg = -ds, -dg
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local ver = redis.call('GET', KEYS[2])
local out = {0, 0}
for _, m in ipairs(members) do
  local f = redis.call('HMGET', ARGV[2] .. m, 'l', 'i', 'x', 'g', 'c', 'a', 'a1')
  local d = live_deadline(f[1], f[2], f[3], f[4], ver, now)
  if d then
    for _, v in ipairs({m, f[5], f[1], int(d), f[3], read_attrs(ARGV[2] .. m, f[6], f[7])}) do
      table.insert(out, v)
    end
  else
    dg = dg - live_grants(ARGV[2] .. m, now)
    redis.call('DEL', ARGV[2] .. m)
    ds = ds - redis.call('ZREM', KEYS[1], m)
  end
end
out[1], out[2] = ds, dg
return out

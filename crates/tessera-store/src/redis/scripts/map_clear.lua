-- map_clear.lua: remove a whole per-user map.
--
-- KEYS[1] ts:{u:UID}:m:MAP   hash: field -> exp8 .. value
-- Returns the number of entries that were stored (live or expired but not yet pruned).
local n = redis.call('HLEN', KEYS[1])
redis.call('DEL', KEYS[1])
return n

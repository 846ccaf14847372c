-- push_event.lua: record a recent security event of a user, trimmed by age and count.
--
-- KEYS[1] ts:{u:UID}:ev         recent events (zset: score = at (ms), member = encoded event)
-- ARGV[1] now (ms)   ARGV[2] at (ms)   ARGV[3] member (len(id) ':' id payload)
-- ARGV[4] retention (ms)   ARGV[5] max events kept
-- Returns the number of events kept.
--
-- Events with at <= now - retention are dropped, then the oldest beyond the maximum (by
-- score, ties by member). The key expires retention after its newest event.
local now = tonumber(ARGV[1])
local retention = tonumber(ARGV[4])
local max = tonumber(ARGV[5])
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', int(now - retention))
local n = redis.call('ZCARD', KEYS[1])
if n > max then
  redis.call('ZREMRANGEBYRANK', KEYS[1], 0, n - max - 1)
  n = max
end
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if top[2] then
  redis.call('PEXPIRE', KEYS[1], int(math.max(1, tonumber(top[2]) + retention - now)))
end
return n

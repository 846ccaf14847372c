-- map_put.lua: set one entry of a per-user map whose entries expire individually.
--
-- KEYS[1] ts:{u:UID}:m:MAP   hash: field -> exp8 .. value
-- ARGV[1] now (ms)   ARGV[2] field   ARGV[3] entry (exp8 .. value)   ARGV[4] exp (ms)
-- Returns the number of live entries after the write.
--
-- Expired entries (exp <= now) are pruned; the field is set, or removed when ARGV[4] <= now;
-- the key expires with its latest entry (an empty hash is gone by itself).
local now = tonumber(ARGV[1])
local field = ARGV[2]
local exp = tonumber(ARGV[4])
local all = redis.call('HGETALL', KEYS[1])
local latest = 0
local live = 0
for k = 1, #all, 2 do
  local e = rec_exp(all[k + 1])
  if not e or e <= now then
    redis.call('HDEL', KEYS[1], all[k])
  elseif all[k] ~= field then
    latest = math.max(latest, e)
    live = live + 1
  end
end
if exp > now then
  redis.call('HSET', KEYS[1], field, ARGV[3])
  latest = math.max(latest, exp)
  live = live + 1
else
  redis.call('HDEL', KEYS[1], field)
end
if latest > now then
  redis.call('PEXPIRE', KEYS[1], int(latest - now))
end
return live

-- throttle.lua: one GCRA step (distributed rate limiting), mirrored by ephemeral.rs Gcra::step.
--
-- KEYS[1] ts:{u:UID}:e:NAME or ts:{t:TAG}:e:NAME   bucket (string: exp8 = TAT, then the
--          latest arrival time seen, 8 bytes big-endian)
-- ARGV[1] now (ms)   ARGV[2] emission interval T (ms, >= 1)   ARGV[3] capacity T * burst (ms)
-- ARGV[4] cost (0 = peek)
-- Returns {allowed (1/0), retry_after (ms), remaining (cost-1 requests left now)}.
--
-- The bucket's theoretical arrival time (TAT) is its record's expiry: a missing or dead
-- record (TAT <= now) is a full bucket. A request of cost c is allowed when
-- max(TAT, now) + c*T - capacity <= now; it then stores the new TAT, which is also the key's
-- expiry (the time until the bucket is full again). A refused request stores nothing; cost 0
-- reports what a cost-1 request would see and stores nothing.
--
-- Each request's time is taken when it arrives, and concurrent requests may run here in
-- another order: a request is judged at the latest arrival time the bucket has seen when
-- that is later than its own, so an earlier timestamp run after a later one does not make
-- the bucket look one arrival short (never looser: that time is one some request had). Only
-- up to REORDER_MS later: a larger gap is another server's clock, not reordering.
local REORDER_MS = 1000
local now = tonumber(ARGV[1])
local r = redis.call('GET', KEYS[1])
local seen = type(r) == 'string' and #r >= 16 and rec_exp(string.sub(r, 9, 16)) or nil
if seen and seen > now and seen - now <= REORDER_MS then
  now = seen
end
local t = tonumber(ARGV[2])
local cap = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local tat = now
local e = rec_exp(r)
if e and e > now then
  tat = e
end
local function remaining(at)
  return math.floor(math.max(0, cap - (at - now)) / t)
end
local new_tat = tat + math.max(cost, 1) * t
local allow_at = new_tat - cap
if allow_at > now then
  return {0, math.min(allow_at - now, 1e15), remaining(tat)}
end
if cost == 0 then
  return {1, 0, remaining(tat)}
end
redis.call('SET', KEYS[1], rec_encode(new_tat, rec_encode(now, '')), 'PX', int(new_tat - now))
return {1, 0, remaining(new_tat)}

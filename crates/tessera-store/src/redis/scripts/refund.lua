-- refund.lua: give back what an allowed GCRA step took (throttle.lua), mirrored by
-- ephemeral.rs Gcra::refund.
--
-- KEYS[1] ts:{u:UID}:e:NAME or ts:{t:TAG}:e:NAME   bucket (string: exp8 = TAT, no payload)
-- ARGV[1] now (ms)   ARGV[2] emission interval T (ms, >= 1)   ARGV[3] cost to give back
-- Returns 1 when the bucket held something to give back, else 0.
--
-- A reservation is a throttle step taken before a slow check (a password, a code), so that
-- N concurrent guesses never get more than the burst checked; a check that succeeds gives
-- its reservation back. The TAT moves back by cost*T, never before now: a bucket cannot be
-- refilled beyond full. A TAT that reaches now is a full bucket, and its record is deleted.
local now = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local r = redis.call('GET', KEYS[1])
local e = rec_exp(r)
if not e or e <= now then
  return 0
end
local tat = e - cost * t
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  -- The latest arrival seen (throttle.lua) stays.
  redis.call('SET', KEYS[1], rec_encode(tat, string.sub(r, 9)), 'PX', int(tat - now))
end
return 1

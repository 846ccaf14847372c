-- put_if_absent.lua: write an ephemeral record unless a live one is there (claim once).
--
-- KEYS[1] ts:{u:UID}:e:NAME or ts:{t:TAG}:e:NAME   ephemeral record (string: exp8 .. payload)
-- ARGV[1] now (ms)   ARGV[2] exp (ms)   ARGV[3] the record to write (exp8 .. value)
-- Returns 1 written, 0 not written (a live record is there, or exp <= now).
--
-- A record whose expiry is <= now is dead and counts as missing (it is overwritten). The key
-- expires at exp (PX exp - now).
local now = tonumber(ARGV[1])
local exp = tonumber(ARGV[2])
if exp <= now then
  return 0
end
local e = rec_exp(redis.call('GET', KEYS[1]))
if e and e > now then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', int(exp - now))
return 1

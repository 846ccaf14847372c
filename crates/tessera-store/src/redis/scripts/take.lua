-- take.lua: atomic get + delete of an ephemeral record (single-use codes and tokens).
--
-- KEYS[1] ts:{u:UID}:e:NAME or ts:{t:TAG}:e:NAME   ephemeral record (string: exp8 .. payload)
-- ARGV[1] now (ms)
-- Returns the payload of the live record, or nil when there is none.
--
-- The key is deleted whenever it exists, live or dead, so of N concurrent takers exactly
-- one gets the value.
local r = redis.call('GET', KEYS[1])
if not r then
  return false
end
redis.call('DEL', KEYS[1])
local e = rec_exp(r)
if e and e > tonumber(ARGV[1]) then
  return string.sub(r, 9)
end
return false

-- count_attempt.lua: count one attempt in a fixed window (MFA attempts, lockouts).
--
-- KEYS[1] ts:{u:UID}:e:NAME or ts:{t:TAG}:e:NAME   counter (string: exp8 .. decimal count)
-- ARGV[1] now (ms)   ARGV[2] exp of a new window (ms)   ARGV[3] that exp as 8 bytes
-- Returns the count in the current window, this attempt included; an error reply
-- 'not an attempt counter' when a live record of another kind is there (nothing changes).
--
-- A live counter keeps its expiry (the window does not slide); a missing or dead one starts
-- a new window at 1 expiring at ARGV[2]. A window that is already over (exp <= now) is not
-- stored.
local now = tonumber(ARGV[1])
local r = redis.call('GET', KEYS[1])
local e = rec_exp(r)
local n, head, exp
if e and e > now then
  n = tonumber(string.sub(r, 9))
  if not n then
    return redis.error_reply('not an attempt counter')
  end
  n = n + 1
  head = string.sub(r, 1, 8)
  exp = e
else
  n = 1
  head = ARGV[3]
  exp = tonumber(ARGV[2])
end
if exp > now then
  redis.call('SET', KEYS[1], head .. int(n), 'PX', int(exp - now))
else
  redis.call('DEL', KEYS[1])
end
return n

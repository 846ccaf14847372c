-- restore_session.lua: put back a session from its durable copy, only if the store holds no
-- record of it (see SessionRestore::restore_session).
--
-- KEYS[1] ts:{u:UID}:s:SID      the session record (written only if absent)
-- KEYS[2] ts:{u:UID}:sessions   session index
-- KEYS[3] ts:{u:UID}:ver        token version (raised to ARGV[8] if lower or missing)
-- KEYS[4] ts:{u:UID}:gone:SID   tombstone of a session the store revoked on its own (theft,
--                                RFC 7009 by proof, eviction): a record too, so it is never
--                                restored from a copy whose deletion is still to come
-- KEYS[5..] ts:{u:UID}:deny:JTI  denylist entries to write back, their exps in ARGV[15..]
-- ARGV[1] now (ms)   ARGV[2] SID (index member)   ARGV[3] created (ms)   ARGV[4] last seen (ms)
-- ARGV[5] idle (ms)   ARGV[6] absolute expiry (ms)   ARGV[7] version the session was opened
-- under   ARGV[8] the user's durable token version   ARGV[9] current hash (16 bytes)
-- ARGV[10] previous hash ('' = none)   ARGV[11] seed ('' = none)
-- ARGV[12] refresh generation (decimal, '' = none)   ARGV[13] binding ('' = unbound)
-- ARGV[14] attributes   ARGV[15..] exp (ms) of each denylist entry KEYS[5..], in order
-- Returns {status, dS}: status 0 present (nothing changed), 1 restored, 2 dead (only the
-- version may have been raised); dS the change of the live-session count.
-- Publishes 'u:UID' on Prevocations (see prelude.lua) when an existing version is raised.
local now = tonumber(ARGV[1])
if redis.call('EXISTS', KEYS[1], KEYS[4]) > 0 then
  return {0, 0}
end
local want = tonumber(ARGV[8])
local ver = redis.call('GET', KEYS[3])
if not ver or tonumber(ver) < want then
  if ver then
    publish_revocation(KEYS[3], 'u')
  end
  ver = want
  redis.call('SET', KEYS[3], int(ver))
end
local deadline = live_deadline(ARGV[4], ARGV[5], ARGV[6], ARGV[7], ver, now)
if not deadline then
  return {2, 0}
end
redis.call('HSET', KEYS[1], 'c', ARGV[3], 'l', ARGV[4], 'i', ARGV[5], 'x', ARGV[6],
  'g', ARGV[7], 'h', ARGV[9], unpack(attrs_fields(ARGV[14])))
if ARGV[10] ~= '' then
  redis.call('HSET', KEYS[1], 'p', ARGV[10])
end
if ARGV[11] ~= '' then
  redis.call('HSET', KEYS[1], 's', ARGV[11])
end
if ARGV[12] ~= '' then
  redis.call('HSET', KEYS[1], 'n', ARGV[12])
end
if ARGV[13] ~= '' then
  redis.call('HSET', KEYS[1], 'b', ARGV[13])
end
redis.call('PEXPIRE', KEYS[1], int(deadline - now))
extend_index(KEYS[2], ARGV[2], deadline, now)
for k = 5, #KEYS do
  local exp = tonumber(ARGV[10 + k])
  if exp > now then
    redis.call('SET', KEYS[k], '1', 'PX', int(exp - now))
  end
end
return {1, 1}

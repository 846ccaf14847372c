-- revoke_user.lua: revoke every session of a user and bump the token version.
--
-- KEYS[1] ts:{u:UID}:ver        token version (INCR: created at 1 when missing)
-- KEYS[2] ts:{u:UID}:sessions   session index (deleted)
-- ARGV[1] session key prefix ts:{u:UID}:s:   ARGV[2] now (ms)
-- Returns {ver, dS, dG, dR}: the new token version, then the statistics changes (sessions,
-- unexpired grants, revoked tokens: the unexpired grants of the sessions that were alive).
-- Publishes 'u:UID' on Prevocations (see prelude.lua).
--
-- Deletes the session keys named by the index, building them from ARGV[1]: intentional,
-- they share the hash tag and so the slot of KEYS. A session missing from the index dies
-- anyway: its generation is now below the token version.
local now = tonumber(ARGV[2])
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
local old = redis.call('GET', KEYS[1])
local dg, dr = 0, 0
for _, m in ipairs(members) do
  local key = ARGV[1] .. m
  local f = redis.call('HMGET', key, 'l', 'i', 'x', 'g')
  local lg = live_grants(key, now)
  dg = dg - lg
  if live_deadline(f[1], f[2], f[3], f[4], old, now) then
    dr = dr + lg
  end
  redis.call('DEL', key)
end
redis.call('DEL', KEYS[2])
local new = redis.call('INCR', KEYS[1])
publish_revocation(KEYS[1], 'u')
return {new, -#members, dg, dr}

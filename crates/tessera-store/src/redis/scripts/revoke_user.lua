-- revoke_user.lua: revoke every session of a user and bump the token version.
--
-- KEYS[1] ts:{u:UID}:ver        token version (INCR: created at 1 when missing)
-- KEYS[2] ts:{u:UID}:sessions   session index (deleted)
-- ARGV[1] session key prefix ts:{u:UID}:s:
-- Returns the new token version.
--
-- Deletes the session keys named by the index, building them from ARGV[1]: intentional,
-- they share the hash tag and so the slot of KEYS. A session missing from the index dies
-- anyway: its generation is now below the token version.
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
for _, m in ipairs(members) do
  redis.call('DEL', ARGV[1] .. m)
end
redis.call('DEL', KEYS[2])
return redis.call('INCR', KEYS[1])

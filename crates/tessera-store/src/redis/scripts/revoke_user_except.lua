-- revoke_user_except.lua: revoke every session of a user but one (a password change keeps
-- the caller's session), in one step: a concurrent sign-in or refresh sees all the other
-- sessions alive or all of them gone, never a mix. The token version is not bumped (that
-- would end the kept session's access tokens too).
--
-- KEYS[1] ts:{u:UID}:ver        token version (read: which sessions were alive)
-- KEYS[2] ts:{u:UID}:sessions   session index
-- ARGV[1] session key prefix ts:{u:UID}:s:   ARGV[2] now (ms)
-- ARGV[3] SID to keep (compact, the index member)
-- Returns {revoked, dS, dG, dR}: how many live sessions were revoked, then the statistics
-- changes (sessions, unexpired grants, revoked tokens).
-- Publishes 's:UID:SID' on Prevocations (see prelude.lua) for every session it deletes.
--
-- Deletes the session keys named by the index, building them from ARGV[1]: intentional,
-- they share the hash tag and so the slot of KEYS. A session missing from the index (its
-- entry lost) is not found here; revoke_user, which bumps the version, is the step that
-- reaches those.
local now = tonumber(ARGV[2])
local keep = ARGV[3]
local members = redis.call('ZRANGE', KEYS[2], 0, -1)
local ver = redis.call('GET', KEYS[1])
local revoked, ds, dg, dr = 0, 0, 0, 0
for _, m in ipairs(members) do
  if m ~= keep then
    local key = ARGV[1] .. m
    local f = redis.call('HMGET', key, 'l', 'i', 'x', 'g')
    local lg = live_grants(key, now)
    dg = dg - lg
    if live_deadline(f[1], f[2], f[3], f[4], ver, now) then
      revoked = revoked + 1
      dr = dr + lg
    end
    redis.call('DEL', key)
    ds = ds - redis.call('ZREM', KEYS[2], m)
    publish_revocation(KEYS[1], 's', m)
  end
end
return {revoked, ds, dg, dr}

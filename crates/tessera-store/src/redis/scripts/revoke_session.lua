-- revoke_session.lua: revoke one session (record, refresh family, access allowlist, index
-- entry), unconditionally or only for the holder of one of its refresh tokens.
--
-- KEYS[1] ts:{u:UID}:s:SID      session record
-- KEYS[2] ts:{u:UID}:sessions   session index
-- KEYS[3] ts:{u:UID}:ver        token version
-- KEYS[4] ts:{u:UID}:gone:SID   tombstone, written when a proof revokes a live session (the
--                                store decided alone: see restore_session.lua)
-- ARGV[1] now (ms)   ARGV[2] SID (compact, the index member)
-- ARGV[3] proof: '' revokes unconditionally; otherwise the stored form (16 bytes) of a
--         refresh-token hash, and the session is revoked only when it is alive and that is its
--         current (h) or previous (p) token. The fingerprint binding (b) is not asked for:
--         ending the session is less than the holder could do by refreshing it.
-- Returns {alive, dS, dG, dR}: alive = 1 when a live session was revoked, else 0; then the
-- statistics changes (sessions, unexpired grants, revoked tokens).
-- Publishes 's:UID:SID' on Prevocations (see prelude.lua) whenever it deletes, alive or not;
-- a proof that does not match deletes and publishes nothing ({0, 0, 0, 0}).
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'l', 'i', 'x', 'g', 'h', 'p')
local ver = redis.call('GET', KEYS[3])
local alive = live_deadline(f[1], f[2], f[3], f[4], ver, now)
if ARGV[3] ~= '' then
  local held = ARGV[3] == f[5] or ARGV[3] == f[6]
  if not alive or not held then
    return {0, 0, 0, 0}
  end
end
local lg = live_grants(KEYS[1], now)
redis.call('DEL', KEYS[1])
if ARGV[3] ~= '' then
  bury(KEYS[4], alive, now)
end
local ds = redis.call('ZREM', KEYS[2], ARGV[2])
publish_revocation(KEYS[1], 's', ARGV[2])
if alive then
  return {1, -ds, -lg, lg}
end
return {0, -ds, -lg, 0}

-- revoke_session.lua: revoke one session (record, refresh family, access allowlist, index
-- entry).
--
-- KEYS[1] ts:{u:UID}:s:SID      session record
-- KEYS[2] ts:{u:UID}:sessions   session index
-- KEYS[3] ts:{u:UID}:ver        token version
-- ARGV[1] now (ms)   ARGV[2] SID
-- Returns {alive, dS, dG, dR}: alive = 1 when a live session was there, else 0; then the
-- statistics changes (sessions, unexpired grants, revoked tokens).
-- Publishes 's:UID:SID' on Prevocations (see prelude.lua), alive or not.
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'l', 'i', 'x', 'g')
local ver = redis.call('GET', KEYS[3])
local alive = live_deadline(f[1], f[2], f[3], f[4], ver, now)
local lg = live_grants(KEYS[1], now)
redis.call('DEL', KEYS[1])
local ds = redis.call('ZREM', KEYS[2], ARGV[2])
publish_revocation(KEYS[1], 's', ARGV[2])
if alive then
  return {1, -ds, -lg, lg}
end
return {0, -ds, -lg, 0}

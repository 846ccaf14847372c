-- revoke_access_token.lua: revoke one access token, leaving its session alive.
--
-- KEYS[1] ts:{u:UID}:s:SID      session record (allowlist entry = its 16-byte jti field)
-- KEYS[2] ts:{u:UID}:ver        token version
-- KEYS[3] ts:{u:UID}:deny:JTI   denylist entry (written in denylist mode, TTL = exp - now)
-- ARGV[1] now (ms)   ARGV[2] jti (16 bytes)   ARGV[3] the token's exp (ms)
-- ARGV[4] mode: 'a' allowlist, 'd' denylist
-- Returns {active, dG, dR}: active = 1 when the token was active before (session alive
-- and, in allowlist mode, allowlisted; in denylist mode not yet denied and not expired),
-- else 0; then the statistics changes (unexpired grants, revoked tokens: 1 when an
-- unexpired grant was removed or a new denylist entry written).
-- Publishes 't:UID:JTI' on Prevocations (see prelude.lua) when the session is alive (a dead
-- session's tokens are refused anyway).
local now = tonumber(ARGV[1])
local exp = tonumber(ARGV[3])
local f = redis.call('HMGET', KEYS[1], 'l', 'i', 'x', 'g', ARGV[2])
local ver = redis.call('GET', KEYS[2])
if not live_deadline(f[1], f[2], f[3], f[4], ver, now) then
  return {0, 0, 0}
end
local allowed = f[5] and tonumber(f[5]) > now
redis.call('HDEL', KEYS[1], ARGV[2])
publish_revocation(KEYS[1], 't', ARGV[2])
local dg = allowed and -1 or 0
if ARGV[4] == 'a' then
  return {allowed and 1 or 0, dg, -dg}
end
if exp <= now then
  return {0, dg, -dg}
end
local fresh = redis.call('SET', KEYS[3], '1', 'PX', int(exp - now), 'GET') == false
local dr = (allowed or fresh) and 1 or 0
return {fresh and 1 or 0, dg, dr}

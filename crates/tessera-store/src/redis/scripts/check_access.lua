-- check_access.lua: the revocation check of one access token (one round trip, read only).
--
-- KEYS[1] ts:{u:UID}:s:SID      session record (allowlist entries are its 16-byte fields)
-- KEYS[2] ts:{u:UID}:ver        token version
-- KEYS[3] ts:{u:UID}:deny:JTI   denylist entry (read in denylist mode only)
-- ARGV[1] now (ms)   ARGV[2] jti (16 bytes)   ARGV[3] the token's ver claim
-- ARGV[4] mode: 'a' allowlist, 'd' denylist
-- Returns 1 active, 0 revoked.
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'l', 'i', 'x', 'g', ARGV[2])
local ver = redis.call('GET', KEYS[2])
if not live_deadline(f[1], f[2], f[3], f[4], ver, now) then
  return 0
end
if tonumber(ARGV[3]) < tonumber(ver) then
  return 0
end
if ARGV[4] == 'a' then
  if not f[5] or tonumber(f[5]) <= now then
    return 0
  end
elseif redis.call('EXISTS', KEYS[3]) == 1 then
  return 0
end
return 1

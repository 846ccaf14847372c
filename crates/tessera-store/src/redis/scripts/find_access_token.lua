-- find_access_token.lua: which live session of a user holds a live access grant (read only).
--
-- KEYS[1] ts:{u:UID}:sessions   session index
-- KEYS[2] ts:{u:UID}:ver        token version
-- ARGV[1] now (ms)   ARGV[2] session key prefix ts:{u:UID}:s:   ARGV[3] jti (16 bytes)
-- Returns {SID, exp} for the first live session (index order) whose allowlist holds the jti
-- with exp > now, else {}.
--
-- Reads the session keys named by the index, building them from ARGV[2]: intentional, they
-- share the hash tag and so the slot of KEYS. Work: one HMGET per indexed live session of
-- this one user.
local now = tonumber(ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], '(' .. int(now), '+inf', 'BYSCORE')
local ver = redis.call('GET', KEYS[2])
for _, m in ipairs(members) do
  local f = redis.call('HMGET', ARGV[2] .. m, 'l', 'i', 'x', 'g', ARGV[3])
  if f[5] and tonumber(f[5]) > now and live_deadline(f[1], f[2], f[3], f[4], ver, now) then
    return {m, f[5]}
  end
end
return {}

-- create_session.lua: open a session with its first refresh hash and access token.
--
-- KEYS[1] ts:{u:UID}:ver        token version (raised to ARGV[6] if lower or missing)
-- KEYS[2] ts:{u:UID}:sessions   session index
-- KEYS[3] ts:{u:UID}:s:SID      the new session record
-- ARGV[1] now (ms)        ARGV[2] SID (index member)   ARGV[3] refresh hash (16 bytes)
-- ARGV[4] jti (16 bytes)  ARGV[5] jti exp (ms)         ARGV[6] token version from SQL
-- ARGV[7] idle (ms)       ARGV[8] absolute expiry (ms) ARGV[9] max sessions (0 = no limit)
-- ARGV[10] session key prefix ts:{u:UID}:s:            ARGV[11] attributes
-- ARGV[12] binding: fingerprint hash (16 bytes), or '' for an unbound session
-- ARGV[13] tombstone key prefix ts:{u:UID}:gone: (an evicted session's tombstone, kept
--          until it would have died: see restore_session.lua)
-- (hashes and bindings arrive in their stored form: 16 bytes, see stored.rs)
-- Returns {ver, dS, dG, dR, evicted SID, ...}: the token version, the statistics changes
-- (sessions, unexpired grants, revoked tokens) and the sessions evicted to honour max
-- sessions, oldest first.
--
-- Publishes on Prevocations (see prelude.lua) 's:UID:SID' for each evicted session, and
-- 'u:UID' when an existing token version is raised (tokens under the old one die).
--
-- Eviction reads and deletes other sessions of the same user, building their keys from
-- ARGV[10]: intentional, they share the hash tag and so the slot of KEYS.
local now = tonumber(ARGV[1])
local sid = ARGV[2]
local want = tonumber(ARGV[6])
local idle = tonumber(ARGV[7])
local absx = tonumber(ARGV[8])
local max = tonumber(ARGV[9])
local prefix = ARGV[10]

local ver = redis.call('GET', KEYS[1])
if not ver or tonumber(ver) < want then
  if ver then
    publish_revocation(KEYS[1], 'u')
  end
  ver = want
  redis.call('SET', KEYS[1], int(ver))
else
  ver = tonumber(ver)
end

local ds, dg = prune_index(KEYS[2], prefix, now)
ds, dg = -ds, -dg
local dr = 0
dg = dg - live_grants(KEYS[3], now)
redis.call('DEL', KEYS[3])
ds = ds - redis.call('ZREM', KEYS[2], sid)
local deadline = math.min(now + idle, absx)
if deadline <= now then
  return {ver, ds, dg, dr}
end
redis.call('HSET', KEYS[3], 'c', int(now), 'l', int(now), 'i', int(idle), 'x', int(absx),
  'g', int(ver), 'h', ARGV[3], unpack(attrs_fields(ARGV[11])))
local fixed = 6 + attr_fields(#ARGV[11])
if ARGV[12] ~= '' then
  redis.call('HSET', KEYS[3], 'b', ARGV[12])
  fixed = fixed + 1
end
local g = register_access(KEYS[3], ARGV[4], tonumber(ARGV[5]), now, fixed)
dg = dg + g
redis.call('PEXPIRE', KEYS[3], int(deadline - now))
redis.call('ZADD', KEYS[2], int(deadline), sid)
ds = ds + 1

local evicted = {}
if max > 0 then
  local members = redis.call('ZRANGE', KEYS[2], 0, -1)
  if #members > max then
    local others = {}
    for _, m in ipairs(members) do
      if m ~= sid then
        local f = redis.call('HMGET', prefix .. m, 'l', 'i', 'x', 'g', 'c')
        local dies = live_deadline(f[1], f[2], f[3], f[4], ver, now)
        if dies then
          table.insert(others, {tonumber(f[5]), m, dies})
        else
          dg = dg - live_grants(prefix .. m, now)
          redis.call('DEL', prefix .. m)
          ds = ds - redis.call('ZREM', KEYS[2], m)
        end
      end
    end
    table.sort(others, function(a, b)
      if a[1] ~= b[1] then return a[1] < b[1] end
      return a[2] < b[2]
    end)
    local excess = #others + 1 - max
    for k = 1, excess do
      local m = others[k][2]
      local lg = live_grants(prefix .. m, now)
      dg, dr = dg - lg, dr + lg
      redis.call('DEL', prefix .. m)
      bury(ARGV[13] .. m, others[k][3], now)
      ds = ds - redis.call('ZREM', KEYS[2], m)
      table.insert(evicted, m)
      publish_revocation(KEYS[1], 's', m)
    end
  end
end
refresh_index_ttl(KEYS[2], now)
local out = {ver, ds, dg, dr}
for _, m in ipairs(evicted) do
  table.insert(out, m)
end
return out

-- rotate_refresh.lua: rotate a refresh token, replay inside grace, or detect reuse.
--
-- KEYS[1] ts:{u:UID}:s:SID      session record
-- KEYS[2] ts:{u:UID}:sessions   session index
-- KEYS[3] ts:{u:UID}:ver        token version
-- KEYS[4] ts:{u:UID}:gone:SID   tombstone written on theft (see restore_session.lua)
-- ARGV[1] now (ms)   ARGV[2] SID   ARGV[3] presented hash (16 bytes, stored form)
-- ARGV[4] successor hash (16 bytes)   ARGV[5] successor seed (16 bytes)
-- ARGV[6] jti (16 bytes)   ARGV[7] jti exp (ms)   ARGV[8] grace (ms, 0 = off)
-- ARGV[9] idle timeout (ms)   ARGV[10] presented binding (16 bytes, '' = none)
-- ARGV[11] presented generation (decimal, verified by the server's MAC; '' = legacy token)
-- ARGV[12] successor generation (decimal)
-- (ARGV[1], ARGV[7], ARGV[9] and ARGV[12] are decimal integers: they are stored as given.)
-- Returns {status, dS, dG, dR, ...}: the status, then the statistics changes (sessions,
-- unexpired grants, revoked tokens), then per status:
-- {0, 0, 0, 0} invalid (nothing changed); {1, dS, dG, dR, ver, deadline, attributes}
-- rotated; {2, dS, dG, dR, ver, deadline, attributes, seed} grace replay (deadline: ms when
-- the session dies unless refreshed); {3, dS, dG, dR} reused (session deleted, its
-- tombstone KEYS[4] written until the session would have died; publishes 's:UID:SID' on
-- Prevocations, see prelude.lua).
--
-- A session with a binding (field b) requires ARGV[10] to equal it; a missing or different
-- one is invalid before anything else is looked at: no rotation, no access grant, no theft
-- verdict.
--
-- Theft (status 3) is the previous token (field p) after the grace window, or a token whose
-- hash is neither h nor p and whose generation ARGV[11] is below the family's current one
-- (field n, written by each rotation in its one HSET and read by the HMGET below: no extra
-- command). n is absent before the first rotation, when nothing is older than a sign-in's
-- generation 0; a legacy token (ARGV[11] = '') proves no age: such a hash is merely
-- invalid. One field, not a list of every hash ever issued: the generation is bound into
-- the token by a MAC the server verified, so an older generation can only come from a
-- token this family really held.
--
-- Rotated and grace replay register the access grant: at most MAX_LIVE_GRANTS stay; the
-- oldest beyond are revoked, counted in dG/dR, and each publishes 't:UID:JTI' (cap_grants
-- in prelude.lua). A rotation is one HSET (the new family state and the grant together),
-- HLEN, the session's PEXPIRE and the index update: this script runs on every refresh, and
-- on a shared machine each redis.call and each Lua helper call shows in the throughput.
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'l', 'i', 'x', 'g', 'h', 'p', 's', 'b', 'c', 'a', 'a1',
  'n')
local ver = redis.call('GET', KEYS[3])
local live = live_deadline(f[1], f[2], f[3], f[4], ver, now)
if not live then
  return {0, 0, 0, 0}
end
if f[8] and ARGV[10] ~= f[8] then
  return {0, 0, 0, 0}
end
local attrs = read_attrs(KEYS[1], f[10], f[11])
-- Fields present that are not grants (for cap_grants).
local fixed = f[10] and attr_fields(#attrs) or 0
for k = 1, 9 do
  if f[k] then
    fixed = fixed + 1
  end
end
if f[12] then
  fixed = fixed + 1
end
ver = tonumber(ver)
local presented = ARGV[3]

if presented == f[5] then
  local deadline = math.min(now + tonumber(ARGV[9]), tonumber(f[3]))
  if deadline <= now then
    return {0, 0, 0, 0}
  end
  -- p, s and n exist from now on.
  local added = (f[6] and 0 or 1) + (f[7] and 0 or 1) + (f[12] and 0 or 1)
  fixed = fixed + added
  local new = tonumber(ARGV[7]) > now
  local dg = 0
  if new then
    dg = redis.call('HSET', KEYS[1], 'p', f[5], 'h', ARGV[4], 's', ARGV[5], 'l', ARGV[1],
      'i', ARGV[9], 'n', ARGV[12], ARGV[6], ARGV[7]) - added
  else
    redis.call('HSET', KEYS[1], 'p', f[5], 'h', ARGV[4], 's', ARGV[5], 'l', ARGV[1],
      'i', ARGV[9], 'n', ARGV[12])
  end
  local cg, dr = cap_grants(KEYS[1], ARGV[6], new, now, fixed)
  redis.call('PEXPIRE', KEYS[1], int(deadline - now))
  extend_index(KEYS[2], ARGV[2], deadline, now)
  return {1, 0, dg + cg, dr, ver, int(deadline), attrs}
end

if presented == f[6] then
  local grace = tonumber(ARGV[8])
  -- The last rotation happened at l (last_seen): only a rotation moves it after sign-in.
  if grace > 0 and f[7] and now - tonumber(f[1]) <= grace then
    local dg, dr = register_access(KEYS[1], ARGV[6], tonumber(ARGV[7]), now, fixed)
    return {2, 0, dg, dr, ver, int(live), attrs, f[7]}
  end
elseif ARGV[11] == '' or not f[12] or tonumber(ARGV[11]) >= tonumber(f[12]) then
  return {0, 0, 0, 0}
end

-- Theft: the previous token after the window, or an older generation.
local lg = live_grants(KEYS[1], now)
redis.call('DEL', KEYS[1])
bury(KEYS[4], live, now)
local ds = redis.call('ZREM', KEYS[2], ARGV[2])
publish_revocation(KEYS[1], 's', ARGV[2])
return {3, -ds, -lg, lg}

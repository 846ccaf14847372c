-- prelude.lua: helpers prepended to every Tessera script (not a script of its own).
--
-- Key names (redis/keys.rs): UID, SID and JTI in keys and index members are compact ids, the
-- 16 bytes in base64url without padding (22 characters); notices carry hyphenated UUIDs.
--
-- Session record (hash, see redis/mod.rs): c created_at, l last_seen, i idle timeout,
-- x absolute expiry (all ms), g generation (token version at creation), h current refresh
-- hash, p previous refresh hash, s successor seed, a (a1, a2, …) attributes in 64-byte
-- chunks, b binding (l doubles as the time of the last rotation: only a rotation moves it
-- after sign-in); every
-- field whose name is 16 bytes long is an allowlisted access-token jti whose value is its exp
-- (at most MAX_LIVE_GRANTS unexpired ones, see register_access).
--
-- Statistics: every script that changes sessions or grants reports the change (sessions
-- opened minus ended, unexpired grants added minus removed, tokens revoked) in its reply;
-- the caller adds it to the global stats hash right after (a different slot on Cluster, so
-- it cannot be done atomically here).
--
-- Time is ARGV now (ms) from the caller, never the Redis clock: TTLs only reclaim memory,
-- every decision compares against now.

-- Integer formatting for redis.call arguments (tostring would switch to exponent notation).
local function int(x)
  return string.format('%d', x)
end

-- Ephemeral records (ephemeral.rs): a string whose first 8 bytes are the expiry (ms,
-- big-endian), followed by the payload. rec_exp returns that expiry, or nil for a missing or
-- malformed record; rec_encode builds a record.
local function rec_exp(r)
  if type(r) ~= 'string' or #r < 8 then
    return nil
  end
  local e = 0
  for k = 1, 8 do
    e = e * 256 + string.byte(r, k)
  end
  return e
end

local function rec_encode(exp, payload)
  local b = {}
  local e = exp
  for k = 8, 1, -1 do
    b[k] = string.char(e % 256)
    e = math.floor(e / 256)
  end
  return table.concat(b) .. payload
end

-- Session attributes are stored in chunks of at most 64 bytes, in fields 'a', 'a1', 'a2', …
-- (the last chunk is shorter than 64 bytes, or absent when the length is a multiple of 64):
-- a value longer than Redis's hash-max-listpack-value (default 64) would turn the whole
-- session hash from the compact listpack encoding into a hashtable (hundreds of bytes more
-- per session). attrs_fields gives the field/value pairs to HSET; read_attrs reassembles
-- them from the value of 'a' (false or nil: no attributes) and, when the caller fetched it
-- along (HMGET ... 'a', 'a1'), the value of 'a1' (false when missing; nil: not fetched).
local ATTR_CHUNK = 64

local function attrs_fields(attrs)
  local out = {'a', string.sub(attrs, 1, ATTR_CHUNK)}
  local n, k = 1, ATTR_CHUNK + 1
  while k <= #attrs do
    table.insert(out, 'a' .. n)
    table.insert(out, string.sub(attrs, k, k + ATTR_CHUNK - 1))
    n, k = n + 1, k + ATTR_CHUNK
  end
  return out
end

local function read_attrs(key, first, second)
  if not first then
    return ''
  end
  if #first < ATTR_CHUNK then
    return first
  end
  if second == false then
    return first
  end
  if second and #second < ATTR_CHUNK then
    return first .. second
  end
  local parts = {first}
  local last, n = first, 1
  while #last == ATTR_CHUNK do
    if n == 1 and second ~= nil then
      last = second
    else
      last = redis.call('HGET', key, 'a' .. n)
    end
    if not last then
      break
    end
    table.insert(parts, last)
    n = n + 1
  end
  return table.concat(parts)
end

-- Refresh-token hashes and bindings (fields h, p, b) are compared with plain `==`. Both sides
-- are 16-byte digests (StoredHash in stored.rs) of 256-bit random secrets, so how long a
-- comparison takes could tell at most how much of a digest an attacker's guess matches,
-- which does not help find a token that has that digest (a 2^128 preimage search). Lua 5.1
-- interns every string, so `==` on two strings is a pointer comparison anyway. A
-- byte-by-byte constant-time loop cost 45 000 instructions per rotation here (callgrind),
-- about a quarter of the whole script.

-- The deadline of a session whose fields l, i, x, g are given, or nil when it is dead at now:
-- missing, idle or absolute lifetime passed, or its generation older than the user's token
-- version ver (a missing ver means revoked).
local function live_deadline(l, i, x, g, ver, now)
  if not l or not i or not x or not g or not ver then
    return nil
  end
  if tonumber(g) < tonumber(ver) then
    return nil
  end
  local d = math.min(tonumber(l) + tonumber(i), tonumber(x))
  if now >= d then
    return nil
  end
  return d
end

-- Ids in key names and index members are compact (redis/keys.rs): the 16 bytes in base64url
-- without padding (22 characters). uncompact gives the 16 bytes back (nil when `s` is not
-- that form); uuid_text gives the hyphenated UUID of 16 bytes.
-- (The decoding table is built on first use: the prelude runs on every call, and only
-- revoking scripts need it.)
local B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
local B64URL_VALUE = nil

local function uncompact(s)
  if type(s) ~= 'string' or #s ~= 22 then
    return nil
  end
  if not B64URL_VALUE then
    B64URL_VALUE = {}
    for k = 1, 64 do
      B64URL_VALUE[string.byte(B64URL, k)] = k - 1
    end
  end
  local out, acc, bits = {}, 0, 0
  for k = 1, 22 do
    local v = B64URL_VALUE[string.byte(s, k)]
    if not v then
      return nil
    end
    acc, bits = acc * 64 + v, bits + 6
    if bits >= 8 then
      bits = bits - 8
      local scale = 2 ^ bits
      table.insert(out, string.char(math.floor(acc / scale)))
      acc = acc % scale
    end
  end
  return table.concat(out)
end

local function uuid_text(raw)
  local h = (string.gsub(raw, '.', function(c) return string.format('%02x', string.byte(c)) end))
  return string.sub(h, 1, 8) .. '-' .. string.sub(h, 9, 12) .. '-' .. string.sub(h, 13, 16)
    .. '-' .. string.sub(h, 17, 20) .. '-' .. string.sub(h, 21, 32)
end

-- The hyphenated UUID of a compact id (unchanged when it is not one).
local function uuid_of(s)
  local raw = uncompact(s)
  if not raw then
    return s
  end
  return uuid_text(raw)
end

-- Revocation notice for tessera-guard near-caches: PUBLISH on the channel
-- '<prefix>revocations', prefix and user id taken from `key` (any key of the user,
-- '<prefix>{u:UID}:...'). Messages: 'u:UID' (every session and token of the user),
-- 's:UID:SID' (one session; `id` is then the compact SID), 't:UID:JTI' (one access token;
-- `id` is then the 16-byte jti). Ids are sent as hyphenated UUIDs (the wire format of
-- invalidation.rs, independent of the compact ids in key names). PUBLISH is allowed in
-- scripts and reaches every node of a Cluster. Publishing never changes the outcome of a
-- script.
local function publish_revocation(key, kind, id)
  local prefix, uid = string.match(key, '^(.-){u:([^}]*)}')
  if not prefix then
    return
  end
  local msg = kind .. ':' .. uuid_of(uid)
  if kind == 't' then
    id = uuid_text(id)
  elseif id then
    id = uuid_of(id)
  end
  if id then
    msg = msg .. ':' .. id
  end
  redis.call('PUBLISH', prefix .. 'revocations', msg)
end

-- At most this many unexpired access grants per session (tessera_store::MAX_LIVE_GRANTS;
-- a unit test in scripts.rs keeps the two equal).
local MAX_LIVE_GRANTS = 16
-- register_access reads the whole hash (HGETALL) only when it holds more than this many
-- grant fields; below, it writes the new grant and nothing else. Small, so that expired
-- grants do not pile up in memory; any value <= MAX_LIVE_GRANTS keeps the cap exact.
local GRANT_SCAN_AT = 4

-- Number of attribute fields ('a', 'a1', …) that hold attributes of this length, stored by
-- attrs_fields: one field for up to 64 bytes (also for none), then one per 64 bytes.
local function attr_fields(len)
  return math.max(1, math.ceil(len / ATTR_CHUNK))
end

-- Enforces MAX_LIVE_GRANTS on the session hash `key` right after a grant for jti was written
-- (`new`: it was unexpired and written; false when its exp had passed and nothing was
-- written). `fixed` fields of the hash are known not to be grants (a count that is too low
-- is safe: it only makes scans more frequent). O(1) while the hash holds at most
-- GRANT_SCAN_AT grant fields (HLEN - fixed); beyond, one HGETALL drops the expired grants
-- and, if more than MAX_LIVE_GRANTS unexpired ones remain, revokes the oldest until
-- MAX_LIVE_GRANTS are left: smallest exp first (JWT exps are whole seconds, so ties are
-- common), ties in hash order, which is registration order (HSET appends a new field to a
-- listpack; a session hash is always a listpack, see attrs_fields). The grant just written
-- always stays. Each revoked grant publishes 't:UID:JTI'. The session must be alive at now
-- (the callers checked).
-- Returns dG, dR: -1 per revoked grant (expired grants were never live at now, so dropping
-- them changes nothing), and the number of grants revoked.
local function cap_grants(key, jti, new, now, fixed)
  if redis.call('HLEN', key) - fixed <= GRANT_SCAN_AT then
    return 0, 0
  end
  local all = redis.call('HGETALL', key)
  local live = {}
  for k = 1, #all, 2 do
    local f = all[k]
    if #f == 16 then
      local e = tonumber(all[k + 1])
      if e <= now then
        redis.call('HDEL', key, f)
      elseif not (new and f == jti) then
        table.insert(live, {e, f, k})
      end
    end
  end
  local keep = MAX_LIVE_GRANTS - (new and 1 or 0)
  if #live <= keep then
    return 0, 0
  end
  table.sort(live, function(a, b)
    if a[1] ~= b[1] then return a[1] < b[1] end
    return a[3] < b[3]
  end)
  local dr = #live - keep
  for k = 1, dr do
    redis.call('HDEL', key, live[k][2])
    publish_revocation(key, 't', live[k][2])
  end
  return -dr, dr
end

-- Registers jti until exp (if exp > now) in the session hash `key`, then enforces the cap
-- (cap_grants; `fixed` as there). Returns dG, dR: the change of the live-grant count (+1 for
-- a new unexpired grant, -1 per revoked one) and the number of grants revoked.
local function register_access(key, jti, exp, now, fixed)
  local dg = 0
  local new = exp > now
  if new then
    dg = redis.call('HSET', key, jti, int(exp))
  end
  local cg, dr = cap_grants(key, jti, new, now, fixed)
  return dg + cg, dr
end

-- Number of the session's access grants still unexpired at now (0 for a missing key).
-- bury(key, dies, now): the tombstone of a session the store revoked on its own (theft,
-- RFC 7009 by proof, eviction), kept until it would have died plus a minute (servers'
-- clocks differ): restore_session.lua refuses a session that has one.
local function bury(key, dies, now)
  redis.call('SET', key, '1', 'PX', int(dies - now) + 60000)
end

local function live_grants(key, now)
  local all = redis.call('HGETALL', key)
  local n = 0
  for k = 1, #all, 2 do
    if #all[k] == 16 and tonumber(all[k + 1]) > now then
      n = n + 1
    end
  end
  return n
end

-- Deletes the index entries whose deadline (score) is <= now and their session keys (built
-- from prefix). Returns the number of sessions removed and of their unexpired grants, for
-- the statistics counters.
local function prune_index(index, prefix, now)
  local dead = redis.call('ZRANGE', index, '-inf', int(now), 'BYSCORE')
  local grants = 0
  for _, m in ipairs(dead) do
    grants = grants + live_grants(prefix .. m, now)
    redis.call('DEL', prefix .. m)
  end
  if #dead > 0 then
    redis.call('ZREMRANGEBYSCORE', index, '-inf', int(now))
  end
  return #dead, grants
end

-- Sets the index TTL to its latest deadline (members' scores), or lets it go when empty.
local function refresh_index_ttl(index, now)
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if top[2] then
    redis.call('PEXPIRE', index, int(math.max(1, tonumber(top[2]) - now)))
  end
end

-- Moves `member`'s deadline in the index to `deadline` (ms) and keeps the index's TTL at
-- least deadline - now with one `PEXPIRE ... GT` (Redis >= 7.0) instead of reading the top
-- score. GT never shortens a TTL, so the index may outlive its last deadline by what earlier
-- deadlines held; it is pruned and its TTL recomputed by the next create_session. A member
-- that was missing (the index lost, or the member pruned) gets the full refresh_index_ttl,
-- because GT leaves a key without TTL without one.
local function extend_index(index, member, deadline, now)
  if redis.call('ZADD', index, int(deadline), member) == 1 then
    refresh_index_ttl(index, now)
  else
    redis.call('PEXPIRE', index, int(deadline - now), 'GT')
  end
end

-- prelude.lua: helpers prepended to every Tessera script (not a script of its own).
--
-- Session record (hash, see redis/mod.rs): c created_at, l last_seen, i idle timeout,
-- x absolute expiry (all ms), g generation (token version at creation), h current refresh
-- hash, p previous refresh hash, r rotated_at (ms), s successor seed, a attributes; every
-- field whose name is 16 bytes long is an allowlisted access-token jti whose value is its exp.
--
-- Time is ARGV now (ms) from the caller, never the Redis clock: TTLs only reclaim memory,
-- every decision compares against now.

-- Integer formatting for redis.call arguments (tostring would switch to exponent notation).
local function int(x)
  return string.format('%d', x)
end

-- Constant-time equality of two byte strings (false when either is missing).
local function ct_eq(a, b)
  if type(a) ~= 'string' or type(b) ~= 'string' or #a ~= #b then
    return false
  end
  local d = 0
  for k = 1, #a do
    d = bit.bor(d, bit.bxor(string.byte(a, k), string.byte(b, k)))
  end
  return d == 0
end

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

-- Drops the session's expired access grants, then registers jti until exp (if exp > now).
local function register_access(key, jti, exp, now)
  local all = redis.call('HGETALL', key)
  for k = 1, #all, 2 do
    if #all[k] == 16 and tonumber(all[k + 1]) <= now then
      redis.call('HDEL', key, all[k])
    end
  end
  if exp > now then
    redis.call('HSET', key, jti, int(exp))
  end
end

-- Sets the index TTL to its latest deadline (members' scores), or lets it go when empty.
local function refresh_index_ttl(index, now)
  local top = redis.call('ZRANGE', index, -1, -1, 'WITHSCORES')
  if top[2] then
    redis.call('PEXPIRE', index, int(math.max(1, tonumber(top[2]) - now)))
  end
end


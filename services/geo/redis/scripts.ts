/**
 * The geo store's Lua scripts. Each touches the keys of one hash tag (one Redis Cluster slot): a
 * vendor's bucket or one shard. Keys built in a script (`cell:<h3>` of a shard) carry the
 * shard's tag, so they are in the slot of the script's declared keys.
 */

/**
 * Positions of vendors of one bucket on their records, in order (ARGV: seen at, history length,
 * the bucket's `hist:` and `left:` prefixes, then id, JSON, ts, cell, shard per position). Each is
 * dropped when older than the record; else the record, last seen and history are written, and a
 * shard the vendor left while online goes on its `left` list. Returns per position {applied 0/1,
 * previous cell, previous online 1/0 (-1: no record), the `left` list as shard, ts, …}.
 */
export const RECORD = `
local seenAt, keep, histPrefix, leftPrefix = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local out = {}
for i = 5, #ARGV, 5 do
  local id, json, ts, cell, shard = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local prev = redis.call('HGET', KEYS[1], id)
  local online = redis.call('ZSCORE', KEYS[2], id) and 1 or 0
  local prevTs, prevCell, prevShard = 0, '', ''
  if prev then prevTs, prevCell, prevShard = string.match(prev, '^(%S+) (%S+) (%S+) ') end
  if tonumber(ts) < tonumber(prevTs) then
    out[#out + 1] = {0, prevCell, online, {}}
  else
    if prev and online == 1 and prevShard ~= shard then redis.call('HSET', leftPrefix .. id, prevShard, ts) end
    redis.call('HSET', KEYS[1], id, ts .. ' ' .. cell .. ' ' .. shard .. ' ' .. json)
    redis.call('ZADD', KEYS[2], seenAt, id)
    redis.call('LPUSH', histPrefix .. id, json)
    redis.call('LTRIM', histPrefix .. id, 0, keep - 1)
    out[#out + 1] = {1, prevCell, prev and online or -1, redis.call('HGETALL', leftPrefix .. id)}
  end
end
return out
`;

/**
 * Positions into one shard (ARGV: its `cell:` prefix, then id, JSON, ts, cell, lng, lat per
 * position), each unless the shard holds a newer one of the vendor or removed it at the same time
 * or later (writers racing across a border leave no ghost).
 */
export const PLACE = `
for i = 2, #ARGV, 6 do
  local id, json, ts, cell = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3]
  local prev = redis.call('HGET', KEYS[1], id)
  local place = true
  if prev then
    local pts, pcell = string.match(prev, '^(%S+) (%S+) ')
    if ts < tonumber(pts) then place = false
    elseif pcell ~= cell then redis.call('SREM', ARGV[1] .. pcell, id) end
  else
    local gone = redis.call('ZSCORE', KEYS[3], id)
    if gone and ts <= tonumber(gone) then place = false end
  end
  if place then
    redis.call('HSET', KEYS[1], id, ARGV[i + 2] .. ' ' .. cell .. ' ' .. json)
    redis.call('GEOADD', KEYS[2], ARGV[i + 4], ARGV[i + 5], id)
    redis.call('SADD', ARGV[1] .. cell, id)
  end
end
return 1
`;

/** The vendor out of a shard as of `ts` (not a newer position of it), leaving a tombstone. */
export const REMOVE = `
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if prev then
  local pts, pcell = string.match(prev, '^(%S+) (%S+) ')
  if tonumber(pts) > tonumber(ARGV[2]) then return 0 end
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('SREM', ARGV[3] .. pcell, ARGV[1])
end
redis.call('ZADD', KEYS[3], 'GT', ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return 1
`;

/** A shard of the `left` list done with, unless the vendor left it again since. */
export const LEFT_DONE = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
`;

/**
 * Offline, if still online, last seen at or before ARGV[3] (if given) and its record still at ts
 * ARGV[2] (a newer position keeps it online). Returns the record, or false.
 */
export const OFFLINE = `
local seen = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not seen then return false end
if ARGV[3] ~= '' and tonumber(seen) > tonumber(ARGV[3]) then return false end
local rec = redis.call('HGET', KEYS[1], ARGV[1])
if not rec or string.match(rec, '^(%S+) ') ~= ARGV[2] then return false end
redis.call('ZREM', KEYS[2], ARGV[1])
return rec
`;

/** The shard's values of `ids` (HMGET in chunks: Lua's unpack takes a few thousand at most). */
const VALUES_OF = `
local function valuesOf(hash, ids)
  local out = {}
  for i = 1, #ids, 1000 do
    local part = redis.call('HMGET', hash, unpack(ids, i, math.min(i + 999, #ids)))
    for _, v in ipairs(part) do out[#out + 1] = v end
  end
  return out
end
`;

/** Nearest in one shard and their values, in one call (the search alone is half the cost otherwise). */
export const NEARBY = `${VALUES_OF}
return valuesOf(KEYS[2], redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYRADIUS', ARGV[3], 'm', 'ASC', 'COUNT', ARGV[4]))
`;

/** The shard's vendors in a box (lng, lat, width, height in metres) and their values. */
export const IN_BOX = `${VALUES_OF}
return valuesOf(KEYS[2], redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2], 'BYBOX', ARGV[3], ARGV[4], 'm'))
`;

/** The values of the vendors in the shard's cells ARGV[2…] (ARGV[1]: its `cell:` prefix). */
export const IN_CELLS = `${VALUES_OF}
local ids = {}
for i = 2, #ARGV do
  for _, id in ipairs(redis.call('SMEMBERS', ARGV[1] .. ARGV[i])) do ids[#ids + 1] = id end
end
return valuesOf(KEYS[1], ids)
`;

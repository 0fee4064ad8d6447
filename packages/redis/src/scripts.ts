import { createHash } from 'node:crypto'

/**
 * The Lua scripts of the Redis broker. Each runs atomically on the Redis that owns the key
 * prefix's slot, so an event is in history exactly when it is in the live feed, and a replay sees
 * one consistent instant.
 *
 * Stream ids are `<ms>-<seq>`: the publish time in milliseconds (Redis `TIME`, never going
 * backwards within a log) and the hub-wide seq. Both grow along the log, so one id orders the live
 * feed and every channel's history, age trimming is `XTRIM MINID`, and the seq needs no field.
 *
 * Keys other than KEYS[] (channel streams, publisher-id keys) are derived from the same base and
 * share its hash tag, so they live in the slot the script was routed to: Redis Cluster allows that.
 */

/** One compiled script: its source and the SHA1 that `EVALSHA` names it by. */
export interface Script {
  readonly name: string
  readonly source: string
  readonly sha: string
}

function script(name: string, body: string): Script {
  const source = `${PRELUDE}\n${body}`
  return { name, source, sha: createHash('sha1').update(source).digest('hex') }
}

const PRELUDE = `
local function num(value) return tonumber(value) or 0 end
local function fmt(n) return string.format('%d', n) end
local function seq_of(id) return tonumber(string.match(id, '%-(%d+)$')) end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The epoch names the current log. A missing one means the log is new or its data was lost: start
-- a new epoch (from the caller's random candidate) and drop whatever a partial loss left behind.
local function ensure_epoch(base, candidate)
  local meta = base .. 'meta'
  local epoch = redis.call('HGET', meta, 'e')
  if epoch then return epoch end
  local chans = base .. 'chans'
  for _, name in ipairs(redis.call('ZRANGE', chans, 0, -1)) do
    redis.call('UNLINK', base .. 'c:' .. name)
  end
  redis.call('UNLINK', chans, base .. 'chmeta', base .. 'log')
  redis.call('HSET', meta, 'e', candidate, 's', 0, 'm', 0, 'fu', 0, 'fr', 't')
  return candidate
end

local function parse_info(info)
  local last_seq, last_ms, upto, reason = string.match(info, '^(%d+) (%d+) (%d+) (%a)$')
  return tonumber(last_seq), tonumber(last_ms), tonumber(upto), reason
end

-- What one channel has lost: every event at or below the returned seq, for the returned reason
-- ('t' trimmed, 'e' expired). Counts events past their age as lost even before they are deleted.
-- The third result is true when expired events are still stored (worth an XTRIM MINID).
local function channel_loss(base, name, info, cutoff, floor)
  if not info then
    local meta = base .. 'meta'
    if floor then return floor[1], floor[2], false end
    return num(redis.call('HGET', meta, 'fu')), redis.call('HGET', meta, 'fr') or 't', false
  end
  local last_seq, last_ms, upto, reason = parse_info(info)
  if upto >= last_seq then return upto, reason, false end
  if cutoff and last_ms <= cutoff then return last_seq, 'e', true end
  local key = base .. 'c:' .. name
  if cutoff then
    local newest = redis.call('XREVRANGE', key, fmt(cutoff) .. '-18446744073709551615', '-', 'COUNT', 1)
    if newest[1] then
      local expired = seq_of(newest[1][1])
      if expired > upto then return expired, 'e', true end
      return upto, reason, true
    end
  end
  -- History that should be there is not (evicted by maxmemory, deleted by hand): never a silent gap.
  if redis.call('EXISTS', key) == 0 then
    if cutoff then return last_seq, 'e', false end
    return last_seq, 't', false
  end
  return upto, reason, false
end

-- The seq a publisher id points to while its event is still in history, else nil.
local function lookup_id(base, value, epoch, cutoff)
  if not value then return nil end
  local e, s, ms, channel = string.match(value, '^(%w+) (%d+) (%d+) (.*)$')
  if e ~= epoch then return nil end
  if cutoff and tonumber(ms) <= cutoff then return nil end
  local id = ms .. '-' .. s
  if #redis.call('XRANGE', base .. 'c:' .. channel, id, id) == 0 then return nil end
  return tonumber(s)
end

-- Frees a publisher id whose event left history (unless a later event took the id meanwhile).
local function forget_id(base, pubid, seq)
  local key = base .. 'i:' .. pubid
  local value = redis.call('GET', key)
  if value and tonumber(string.match(value, '^%w+ (%d+) ')) == seq then redis.call('DEL', key) end
end

local function forget_ids(base, entries)
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    for k = 1, #fields, 2 do
      if fields[k] == 'i' then forget_id(base, fields[k + 1], seq_of(entry[1])) end
    end
  end
end
`

/**
 * Appends one event. KEYS: meta, log, chans, chmeta, the channel's stream [, the publisher id's key].
 * ARGV: base, candidate epoch, channel, history limit, ttl ms (0: none), feed limit, channel limit,
 * then the event's stream fields as name/value pairs (`d` data, and when present `e` event type,
 * `i` publisher id, `r` retry, `v` private).
 * Returns {epoch, seq, ms}, or {'dup'} when the publisher id is in history.
 */
export const PUBLISH = script(
  'publish',
  `
local base, candidate, channel = ARGV[1], ARGV[2], ARGV[3]
local limit, ttl, feed, max_channels = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local meta, log, chans, chmeta, stream, idkey = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local fields = {}
for i = 8, #ARGV do fields[#fields + 1] = ARGV[i] end

local epoch = ensure_epoch(base, candidate)
local now = now_ms()
-- Events at or before the cutoff have expired (none can have while the age exceeds the clock).
local cutoff = nil
if ttl > 0 and now > ttl then cutoff = now - ttl end
if idkey and lookup_id(base, redis.call('GET', idkey), epoch, cutoff) then return {'dup'} end

local seq = redis.call('HINCRBY', meta, 's', 1)
local last_ms = num(redis.call('HGET', meta, 'm'))
local ms = now
-- Ids never go backwards, whatever Redis's clock does (a failover to a node whose clock is behind).
if last_ms > now then ms = last_ms else redis.call('HSET', meta, 'm', fmt(ms)) end
local id = fmt(ms) .. '-' .. fmt(seq)

redis.call('XADD', log, 'MAXLEN', '~', feed, id, 'p', epoch, 'c', channel, unpack(fields))

local upto, reason, stale = channel_loss(base, channel, redis.call('HGET', chmeta, channel), cutoff, nil)
if limit > 0 then
  -- Expired entries are already counted in the loss above; their id keys expire on their own.
  if stale then redis.call('XTRIM', stream, 'MINID', fmt(cutoff + 1)) end
  local length = redis.call('XLEN', stream)
  if length >= limit then
    local dropped = redis.call('XRANGE', stream, '-', '+', 'COUNT', length - limit + 1)
    forget_ids(base, dropped)
    local last = seq_of(dropped[#dropped][1])
    if last > upto then upto, reason = last, 't' end
  end
  -- Exact trimming (no ~): what a replay calls trimmed must be exactly what is gone.
  redis.call('XADD', stream, 'MAXLEN', limit, id, unpack(fields))
  if ttl > 0 then redis.call('PEXPIRE', stream, ttl) end
  if idkey then
    local value = epoch .. ' ' .. fmt(seq) .. ' ' .. fmt(ms) .. ' ' .. channel
    if ttl > 0 then redis.call('SET', idkey, value, 'PX', ttl) else redis.call('SET', idkey, value) end
  end
else
  upto, reason = seq, 't'
end
redis.call('HSET', chmeta, channel, fmt(seq) .. ' ' .. fmt(ms) .. ' ' .. fmt(upto) .. ' ' .. reason)
redis.call('ZADD', chans, seq, channel)

-- Past the channel bound, forget the least recently published channel into the floor.
if redis.call('ZCARD', chans) > max_channels then
  local victim = redis.call('ZRANGE', chans, 0, 0)[1]
  local info = redis.call('HGET', chmeta, victim)
  if info then
    local last_seq, last_ms, lost_upto, lost_reason = parse_info(info)
    local lost = 't'
    if lost_upto >= last_seq then lost = lost_reason elseif cutoff and last_ms <= cutoff then lost = 'e' end
    if last_seq > num(redis.call('HGET', meta, 'fu')) then
      redis.call('HSET', meta, 'fu', fmt(last_seq), 'fr', lost)
    end
  end
  local key = base .. 'c:' .. victim
  forget_ids(base, redis.call('XRANGE', key, '-', '+'))
  redis.call('UNLINK', key)
  redis.call('HDEL', chmeta, victim)
  redis.call('ZREM', chans, victim)
end
return {epoch, seq, ms}
`,
)

/**
 * Reads history. KEYS: meta, log, chans, chmeta [, the publisher id's key].
 * ARGV: base, candidate epoch, mode ('none' | 'hub' | 'id'), after epoch, after seq, limit,
 * ttl ms (0: none), then the selectors.
 * Returns {status, epoch, head[, entries]}: status 'ok' or a reset reason ('unknown', 'epoch',
 * 'limit', 't' trimmed, 'e' expired); entries flat as channel, stream id, fields.
 */
export const REPLAY = script(
  'replay',
  `
local base, candidate, mode = ARGV[1], ARGV[2], ARGV[3]
local limit, ttl = tonumber(ARGV[6]), tonumber(ARGV[7])
local meta, chans, chmeta = KEYS[1], KEYS[3], KEYS[4]

local epoch = ensure_epoch(base, candidate)
local head = num(redis.call('HGET', meta, 's'))
if mode == 'none' then return {'ok', epoch, head, {}} end
local cutoff = nil
local now = now_ms()
if ttl > 0 and now > ttl then cutoff = now - ttl end

local after
if mode == 'hub' then
  if ARGV[4] ~= epoch then return {'epoch', epoch, head} end
  after = tonumber(ARGV[5])
  if after > head then return {'unknown', epoch, head} end
else
  after = lookup_id(base, redis.call('GET', KEYS[5]), epoch, cutoff)
  if not after then return {'unknown', epoch, head} end
end

local floor_upto, floor_reason = num(redis.call('HGET', meta, 'fu')), redis.call('HGET', meta, 'fr') or 't'
local floor = {floor_upto, floor_reason}
local function lost(name)
  local upto, reason = channel_loss(base, name, redis.call('HGET', chmeta, name), cutoff, floor)
  if upto > after then return reason end
  return nil
end

local exact, patterns = {}, {}
for i = 8, #ARGV do
  local selector = ARGV[i]
  if string.sub(selector, -1) == '*' then
    patterns[#patterns + 1] = string.sub(selector, 1, -2)
    if floor_upto > after then return {floor_reason, epoch, head} end
  else
    exact[#exact + 1] = selector
    local reason = lost(selector)
    if reason then return {reason, epoch, head} end
  end
end

-- Only channels with an event after the id can have lost or gained anything since.
local matched = {}
if #patterns > 0 then
  for _, name in ipairs(redis.call('ZRANGEBYSCORE', chans, '(' .. fmt(after), '+inf')) do
    for _, prefix in ipairs(patterns) do
      if string.sub(name, 1, #prefix) == prefix then
        local reason = lost(name)
        if reason then return {reason, epoch, head} end
        matched[#matched + 1] = name
        break
      end
    end
  end
end

local out, count, visited = {}, 0, {}
-- Newest first, in growing batches: the cost follows what is returned, not the channel's length.
local function collect(name)
  if visited[name] then return true end
  visited[name] = true
  local score = redis.call('ZSCORE', chans, name)
  if not score or tonumber(score) <= after then return true end
  local key, high, batch = base .. 'c:' .. name, '+', 8
  while true do
    local entries = redis.call('XREVRANGE', key, high, '-', 'COUNT', batch)
    for _, entry in ipairs(entries) do
      if seq_of(entry[1]) <= after then return true end
      count = count + 1
      if count > limit then return false end
      out[#out + 1] = name
      out[#out + 1] = entry[1]
      out[#out + 1] = entry[2]
    end
    if #entries < batch then return true end
    high = '(' .. entries[#entries][1]
    if batch < 1024 then batch = batch * 4 end
  end
end
for _, name in ipairs(exact) do
  if not collect(name) then return {'limit', epoch, head} end
end
for _, name in ipairs(matched) do
  if not collect(name) then return {'limit', epoch, head} end
end
return {'ok', epoch, head, out}
`,
)

/**
 * Where the live feed stands, for a reader to start from. KEYS: meta, log, chans, chmeta.
 * ARGV: base, candidate epoch. Returns {epoch, seq, id of the feed's last entry or '0-0'}.
 */
export const POSITION = script(
  'position',
  `
local epoch = ensure_epoch(ARGV[1], ARGV[2])
local seq = num(redis.call('HGET', KEYS[1], 's'))
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local id = '0-0'
if last[1] then id = last[1][1] end
return {epoch, seq, id}
`,
)

-- Evaluates a batch of decisions, in order, atomically; see src/redis_store.rs.
-- ARGV[1]: key prefix. ARGV[2]: number of limit specs, then 4 values per spec:
-- algorithm (1 token bucket, 2 leaking bucket, 3 fixed window, 4 sliding log,
-- 5 sliding counter), size (bucket/queue size or window limit), period in µs (the
-- interval between admissions for buckets, the window otherwise), shadow (0/1).
-- Then the number of decisions, and per decision: hits, number of limits, and 2 values
-- per limit: its spec's number (1-based) and its key (without the prefix).
-- State: buckets are one string per key (`prefix..key`, the theoretical arrival time),
-- the sliding log one sorted set per key; fixed windows and sliding counters keep one
-- hash per (algorithm, period, window) whose fields are the keys' counts
-- (`prefix..'3:'..period..':'..window`), so a whole batch reads each with one HMGET and
-- writes it with one HSET, and the hash expires when its window stops mattering.
-- Time is Redis's own clock (TIME, once per batch), shared by every app server.
-- Each decision sees the writes of the decisions before it; within a decision nothing
-- is written unless every non-shadow limit admits (all-or-nothing).
-- Returns 5 integers per limit, in order: allowed (1; 2 = this limit admits but another
-- denied), remaining, reset_after_us, retry_after_us (-1: never), wait_us.
--
-- Cost model (Redis 7.0 on this machine): a redis.call is ~0.5 µs, a table ~0.1 µs, and
-- a number turned into a string (concatenation, tostring, a number argument to
-- redis.call) 0.3-1 µs. So the per-limit path does no conversion and no call; names
-- and TTLs are built once per spec and window, not per limit.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local prefix = ARGV[1]
local floor, fmt, max = math.floor, string.format, math.max
-- unpack is bounded by Lua's C stack (8000): every multi-key call goes in chunks.
local CHUNK = 1000
local function ms(us) return floor(us / 1000) + 2 end

-- Values read once and written back once: `val` (field -> number), the fields to read
-- (`want`), and the fields changed (`dirty`).
local function cells(name, expire_us)
  return { name = name, expire = expire_us, val = {}, want = {}, dirty = {} }
end
-- `val[f]` is false from the request until the read fills it.
local function need(c, f)
  if c.val[f] == nil then c.val[f] = false; c.want[#c.want + 1] = f end
end
local strings = cells(nil, 0)
local groups, glist = {}, {}
local function group(name, expire_us)
  local g = groups[name]
  if not g then g = cells(name, expire_us); groups[name] = g; glist[#glist + 1] = g end
  if expire_us > g.expire then g.expire = expire_us end
  return g
end

-- The specs, each with its window hash(es) named once.
local specs = {}
local a = 3
for s = 1, tonumber(ARGV[2]) do
  local al, period = tonumber(ARGV[a]), tonumber(ARGV[a + 2])
  local sp = { algo = al, limit = tonumber(ARGV[a + 1]), period = period, shadow = ARGV[a + 3] == '1' }
  if al == 3 or al == 5 then
    local w = floor(now / period)
    local base = prefix .. ARGV[a] .. ':' .. ARGV[a + 2] .. ':'
    sp.w, sp.wend = w, (w + 1) * period
    if al == 3 then
      sp.cur = group(base .. fmt('%d', w), (w + 1) * period)
    else
      sp.cur = group(base .. fmt('%d', w), (w + 2) * period)
      sp.prev = group(base .. fmt('%d', w - 1), 0)
    end
  end
  specs[tostring(s)] = sp
  a = a + 4
end

-- Pass 1: every limit's spec and key; collect the reads.
local ndec = tonumber(ARGV[a])
a = a + 1
local dhits, dcount, lspec, lkey = {}, {}, {}, {}
local n = 0
for d = 1, ndec do
  dhits[d] = tonumber(ARGV[a])
  local count = tonumber(ARGV[a + 1])
  dcount[d] = count
  a = a + 2
  for _ = 1, count do
    n = n + 1
    local sp, k = specs[ARGV[a]], ARGV[a + 1]
    a = a + 2
    local al = sp.algo
    if al == 3 then
      need(sp.cur, k)
    elseif al == 5 then
      need(sp.cur, k)
      need(sp.prev, k)
    else
      k = prefix .. k
      if al ~= 4 then need(strings, k) end
    end
    lspec[n], lkey[n] = sp, k
  end
end

local function load(c, command)
  local want = c.want
  for i = 1, #want, CHUNK do
    local last = math.min(i + CHUNK - 1, #want)
    local got
    if c.name then
      got = redis.call(command, c.name, unpack(want, i, last))
    else
      got = redis.call(command, unpack(want, i, last))
    end
    for j = i, last do c.val[want[j]] = tonumber(got[j - i + 1]) or 0 end
  end
end
if #strings.want > 0 then load(strings, 'MGET') end
for _, g in ipairs(glist) do load(g, 'HMGET') end

local function longest(count, room, period)
  local v = floor(((room + 1) * period - 1) / max(count, 1))
  if v > period then v = period end
  return v
end

local function sliding_log(k, limit, period, hits)
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - period)
  local count = redis.call('ZCARD', k)
  if count + hits <= limit then
    return 1, limit - count - hits, period, 0, count
  end
  local reset, retry = 0, -1
  local last = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
  if last[2] then reset = tonumber(last[2]) + period - now end
  if hits <= limit then
    local idx = count + hits - limit - 1
    local e = redis.call('ZRANGE', k, idx, idx, 'WITHSCORES')
    retry = tonumber(e[2]) + period - now
  end
  return 0, max(limit - count, 0), reset, retry, count
end

local function log_append(k, count, hits, period)
  local j = 1
  while j <= hits do
    local members = {}
    for m = j, math.min(j + 499, hits) do
      members[#members + 1] = now
      members[#members + 1] = fmt('%d:%d', now, count + m)
    end
    redis.call('ZADD', k, unpack(members))
    j = j + 500
  end
  redis.call('PEXPIRE', k, ms(period))
end

-- Pass 2: decide in order. A decision's writes wait in `pc/pf/pv` (cells, field,
-- value; cells false = a log append to key pf after pv entries, window pp) until it is
-- known that none of its enforced limits denies.
local out = {}
local o = 0
local pc, pf, pv, pp = {}, {}, {}, {}
n = 0
for d = 1, ndec do
  local hits = dhits[d]
  local blocked, np, first = false, 0, o
  for _ = 1, dcount[d] do
    n = n + 1
    local sp, k = lspec[n], lkey[n]
    local al, limit, period = sp.algo, sp.limit, sp.period
    local allowed, remaining, reset, retry, wait = 0, 0, 0, 0, 0
    if al == 3 then
      local c = sp.cur
      local count = c.val[k]
      reset = sp.wend - now
      if count + hits <= limit then
        allowed, remaining = 1, limit - count - hits
        if hits > 0 then np = np + 1; pc[np], pf[np], pv[np] = c, k, count + hits end
      else
        remaining = max(limit - count, 0)
        if hits > limit then retry = -1 else retry = reset end
      end
    elseif al == 1 or al == 2 then
      local tol = limit * period
      local base = max(strings.val[k], now)
      local cost = hits * period
      local debt = base + cost - now
      if debt <= tol then
        allowed, remaining, reset = 1, floor((tol - debt) / period), debt
        if al == 2 then wait = base - now end
        if hits > 0 then np = np + 1; pc[np], pf[np], pv[np] = strings, k, base + cost end
      else
        remaining, reset = floor((tol - (base - now)) / period), base - now
        if cost > tol then retry = -1 else retry = debt - tol end
      end
    elseif al == 4 then
      local count
      allowed, remaining, reset, retry, count = sliding_log(k, limit, period, hits)
      if allowed == 1 and hits > 0 then
        np = np + 1; pc[np], pf[np], pv[np], pp[np] = false, k, count, period
      end
    else
      local c = sp.cur
      local cnt, p = c.val[k], sp.prev.val[k]
      local wend = sp.wend
      local share = floor(p * (wend - now) / period)
      if cnt + hits + share <= limit then
        allowed, remaining, reset = 1, limit - cnt - hits - share, wend + period - now
        if hits > 0 then np = np + 1; pc[np], pf[np], pv[np] = c, k, cnt + hits end
      else
        remaining = max(limit - cnt - share, 0)
        if cnt > 0 then reset = wend + period - now elseif p > 0 then reset = wend - now end
        if hits > limit then retry = -1 else
          local at
          if cnt + hits <= limit then at = wend - longest(p, limit - cnt - hits, period)
          else at = wend + period - longest(cnt, limit - hits, period) end
          retry = max(at - now, 1)
        end
      end
    end
    if allowed == 0 and not sp.shadow then blocked = true end
    out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5] = allowed, remaining, reset, retry, wait
    o = o + 5
  end
  if blocked then
    -- Denied decisions consume nothing: report what the admitted path would have said.
    for i = first + 1, o, 5 do
      if out[i] == 1 then out[i] = 2 end
    end
  else
    for i = 1, np do
      local c, f = pc[i], pf[i]
      if c then
        c.val[f] = pv[i]
        c.dirty[f] = true
      else
        log_append(f, pv[i], hits, pp[i])
      end
    end
  end
end

-- Write back: one SET per changed bucket (its own TTL: until it is full again), one
-- HSET and one PEXPIREAT per changed window hash.
for k in pairs(strings.dirty) do
  local tat = strings.val[k]
  redis.call('SET', k, tat, 'PX', ms(tat - now))
end
for _, g in ipairs(glist) do
  if next(g.dirty) then
    local pairs_, np_ = {}, 0
    for f in pairs(g.dirty) do
      pairs_[np_ + 1], pairs_[np_ + 2] = f, g.val[f]
      np_ = np_ + 2
      if np_ >= CHUNK then redis.call('HSET', g.name, unpack(pairs_, 1, np_)); np_ = 0 end
    end
    if np_ > 0 then redis.call('HSET', g.name, unpack(pairs_, 1, np_)) end
    redis.call('PEXPIREAT', g.name, fmt('%d', floor(g.expire / 1000) + 2))
  end
end
return out

-- Evaluates every matched limit of one request atomically; see src/redis_store.rs.
-- KEYS[i]: counter key of limit i. ARGV[1]: hits. Then 4 per limit:
-- algorithm (1 token bucket, 2 leaking bucket, 3 fixed window, 4 sliding log,
-- 5 sliding counter), size (bucket/queue size or window limit), period in µs
-- (the interval between admissions for buckets, the window otherwise), shadow (0/1).
-- Time is Redis's own clock (TIME), so all app servers share one clock.
-- Nothing is written unless every non-shadow limit admits (all-or-nothing).
-- Returns 5 integers per limit: allowed, remaining, reset_after_us, retry_after_us
-- (-1: never), wait_us.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local hits = tonumber(ARGV[1])
local out, writes, blocked = {}, {}, false
local function ms(us) return math.floor(us / 1000) + 2 end
-- Read every string-valued state (buckets, fixed windows) with one MGET: each
-- redis.call from Lua costs far more than the command itself.
local skeys, sindex = {}, {}
for i = 1, #KEYS do
  local a = 1 + (i - 1) * 4
  local algo, period = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 3])
  if algo == 1 or algo == 2 then
    skeys[#skeys + 1] = KEYS[i]
    sindex[i] = #skeys
  elseif algo == 3 then
    skeys[#skeys + 1] = KEYS[i] .. ':' .. math.floor(now / period)
    sindex[i] = #skeys
  end
end
local svalues = {}
if #skeys > 0 then svalues = redis.call('MGET', unpack(skeys)) end
for i = 1, #KEYS do
  local a = 1 + (i - 1) * 4
  local algo, limit, period = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local shadow = ARGV[a + 4] == '1'
  local key = KEYS[i]
  local allowed, remaining, reset, retry, wait = 0, 0, 0, 0, 0
  if algo == 1 or algo == 2 then
    local tol = limit * period
    local tat = tonumber(svalues[sindex[i]] or '0') or 0
    local base = math.max(tat, now)
    local cost = hits * period
    local debt = base + cost - now
    if debt <= tol then
      allowed, remaining, reset = 1, math.floor((tol - debt) / period), debt
      if algo == 2 then wait = base - now end
      if hits > 0 then writes[#writes + 1] = {1, key, base + cost, debt} end
    else
      remaining, reset = math.floor((tol - (base - now)) / period), base - now
      if cost > tol then retry = -1 else retry = debt - tol end
    end
  elseif algo == 3 then
    local w = math.floor(now / period)
    local wkey = skeys[sindex[i]]
    local count = tonumber(svalues[sindex[i]] or '0') or 0
    reset = (w + 1) * period - now
    if count + hits <= limit then
      allowed, remaining = 1, limit - count - hits
      if hits > 0 then writes[#writes + 1] = {3, wkey, hits, reset, count} end
    else
      remaining = math.max(limit - count, 0)
      if hits > limit then retry = -1 else retry = reset end
    end
  elseif algo == 4 then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
    local count = redis.call('ZCARD', key)
    if count + hits <= limit then
      allowed, remaining, reset = 1, limit - count - hits, period
      if hits > 0 then writes[#writes + 1] = {4, key, count, period} end
    else
      remaining = math.max(limit - count, 0)
      local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
      if last[2] then reset = tonumber(last[2]) + period - now end
      if hits > limit then retry = -1 else
        local idx = count + hits - limit - 1
        local e = redis.call('ZRANGE', key, idx, idx, 'WITHSCORES')
        retry = tonumber(e[2]) + period - now
      end
    end
  else
    local h = redis.call('HMGET', key, 'w', 'c', 'p')
    local w = math.floor(now / period)
    local sw, c, p = tonumber(h[1]), tonumber(h[2]) or 0, tonumber(h[3]) or 0
    if sw == nil then c, p = 0, 0 elseif sw ~= w then
      if sw == w - 1 then p = c else p = 0 end
      c = 0
    end
    local wend = (w + 1) * period
    local share = math.floor(p * (wend - now) / period)
    if c + hits + share <= limit then
      allowed, remaining, reset = 1, limit - c - hits - share, wend + period - now
      if hits > 0 then writes[#writes + 1] = {5, key, w, c + hits, p, wend + period - now} end
    else
      remaining = math.max(limit - c - share, 0)
      if c > 0 then reset = wend + period - now elseif p > 0 then reset = wend - now end
      if hits > limit then retry = -1 else
        local function longest(count, room)
          local v = math.floor(((room + 1) * period - 1) / math.max(count, 1))
          if v > period then v = period end
          return v
        end
        local at
        if c + hits <= limit then at = wend - longest(p, limit - c - hits)
        else at = wend + period - longest(c, limit - hits) end
        retry = math.max(at - now, 1)
      end
    end
  end
  if allowed == 0 and not shadow then blocked = true end
  out[#out + 1] = allowed
  out[#out + 1] = remaining
  out[#out + 1] = reset
  out[#out + 1] = retry
  out[#out + 1] = wait
end
if not blocked then
  for _, w in ipairs(writes) do
    local kind, key = w[1], w[2]
    if kind == 1 then
      redis.call('SET', key, string.format('%d', w[3]), 'PX', ms(w[4]))
    elseif kind == 3 then
      -- A new window's key is created with its TTL in one call; later hits keep it.
      if w[5] == 0 then
        redis.call('SET', key, w[3], 'PX', ms(w[4]))
      else
        redis.call('INCRBY', key, w[3])
      end
    elseif kind == 4 then
      -- One ZADD per 500 members: unpack is bounded by Lua's C stack.
      local j = 1
      while j <= hits do
        local members = {}
        for m = j, math.min(j + 499, hits) do
          members[#members + 1] = now
          members[#members + 1] = now .. ':' .. (w[3] + m)
        end
        redis.call('ZADD', key, unpack(members))
        j = j + 500
      end
      redis.call('PEXPIRE', key, ms(w[4]))
    else
      redis.call('HSET', key, 'w', w[3], 'c', w[4], 'p', w[5])
      redis.call('PEXPIRE', key, ms(w[6]))
    end
  end
else
  -- Denied requests consume nothing: report what the admitted path would have said.
  for i = 1, #KEYS do
    if out[(i - 1) * 5 + 1] == 1 then out[(i - 1) * 5 + 1] = 2 end
  end
end
return out

-- One decision whose limits are all fixed windows: the common case, without the general
-- script's batch set-up. The state is the general script's, so the two interleave
-- freely: per (period, window) one hash `prefix..'3:'..period..':'..window` whose
-- fields are the keys' counts, read with one HMGET and written with one HSET per hash
-- (inside a script a write costs Redis 3-4 µs, a read 1, on this machine's Redis 7.0).
-- ARGV[1]: key prefix. ARGV[2]: hits. Then 4 values per limit: period in µs (as the
-- general script gets it, so the hash names match), limit, shadow (0/1), key.
-- Returns the general script's 5 integers per limit: allowed (1; 2 = this limit admits
-- but another denied), remaining, reset_after_us, retry_after_us (-1: never), wait_us.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local prefix, hits = ARGV[1], tonumber(ARGV[2])
local floor = math.floor
local n = (#ARGV - 2) / 4
-- The limits' hashes, each with its fields (keys) and limits, in first-seen order.
local hashes, order, hash_of, counts, out = {}, {}, {}, {}, {}
for i = 1, n do
  local a = 3 + (i - 1) * 4
  local w = floor(now / tonumber(ARGV[a]))
  local name = prefix .. '3:' .. ARGV[a] .. ':' .. string.format('%d', w)
  local h = hashes[name]
  if not h then
    h = { name = name, window = w, period = tonumber(ARGV[a]), fields = {}, limits = {} }
    hashes[name] = h
    order[#order + 1] = h
  end
  h.fields[#h.fields + 1] = ARGV[a + 3]
  h.limits[#h.limits + 1] = i
  hash_of[i] = h
end
for _, h in ipairs(order) do
  local got = redis.call('HMGET', h.name, unpack(h.fields))
  for j, i in ipairs(h.limits) do counts[i] = tonumber(got[j]) or 0 end
end
local blocked = false
for i = 1, n do
  local a = 3 + (i - 1) * 4
  local h, limit, count = hash_of[i], tonumber(ARGV[a + 1]), counts[i]
  local reset = (h.window + 1) * h.period - now
  local o = (i - 1) * 5
  if count + hits <= limit then
    out[o + 1], out[o + 2], out[o + 4] = 1, limit - count - hits, 0
  else
    out[o + 1], out[o + 2] = 0, math.max(limit - count, 0)
    if hits > limit then out[o + 4] = -1 else out[o + 4] = reset end
    if ARGV[a + 2] ~= '1' then blocked = true end
  end
  out[o + 3], out[o + 5] = reset, 0
end
if blocked then
  -- Denied decisions consume nothing: report what the admitted path would have said.
  for i = 1, n do
    if out[(i - 1) * 5 + 1] == 1 then out[(i - 1) * 5 + 1] = 2 end
  end
elseif hits > 0 then
  for _, h in ipairs(order) do
    -- Each admitted key's count read plus the hits (two limits of the decision on one
    -- key both write that, as in the general script); a hash whose fields were all new
    -- gets the window's end as its expiry (one with counts already has it).
    local set, fresh = {}, true
    for j, i in ipairs(h.limits) do
      if out[(i - 1) * 5 + 1] == 1 then
        set[#set + 1] = h.fields[j]
        set[#set + 1] = counts[i] + hits
      end
      if counts[i] > 0 then fresh = false end
    end
    if #set > 0 then
      redis.call('HSET', h.name, unpack(set))
      if fresh then
        redis.call('PEXPIREAT', h.name, string.format('%d', floor((h.window + 1) * h.period / 1000) + 2))
      end
    end
  end
end
return out

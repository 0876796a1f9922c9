#!lua name=uhc_v3
-- uhc_apply_v3: the same transitions as uhc_apply_v1 (enrollment-svc/uhc_functions.lua, which
-- documents the participant record, unchanged), with a cheaper calling convention, less work per
-- event, the participant counts of an aggregate packed into one field, and the history of those
-- counts by event day. Library uhc_v1 stays loaded for the previous release's admin calls.
--
-- Aggregate hash `uhc:{<region>}:agg`, layout 2: field `c` holds the ten counts n1..n5
-- (participants per segment) and a1..a5 (active per segment), 4-byte big-endian signed integers
-- in that order; part and act are their sums. ver, last, pop, pop_asof, prio and dues are as in
-- layout 1. A hash of layout 1 (named fields n1..a5, part, act, written by uhc_apply_v1) moves to
-- layout 2 the first time uhc_apply_v3 changes it: its counts are read once, written into `c`,
-- and the named fields deleted, in the same call. Readers (ParseAggregate, AggregateFields in
-- common/redis/schema.cc) read both layouts. uhc_apply_v1 writes layout 1 and no history: stop
-- instances of the previous release before starting this one (docs/DEPLOY.md).
--
-- Day hash `uhc:{<region>}:days` (common/redis/history.h): field d<day> holds the change of the
-- ten counts, packed as `c`, made by the transitions applied whose occurred_at falls on that day
-- (days since 1970-01-01 in WIB, UTC+7); `from` is the first day kept after a trim; `enc` is a
-- marker that keeps the hash a hash table (see ENC). The changes of the region's current day
-- (the newest day it has changes on) are kept in its aggregate instead, fields `t` (the day) and
-- `e` (packed as `c`), and move to the day hash when a later day starts. The counts at the end of
-- day D are the live ones minus every change after D (the day hash's and `e` if t > D). Written
-- in the same call as the aggregate, so the two never disagree.
--
-- uhc_apply_v3
-- KEYS: the aggregate and bucket keys the events name (all of one hash tag in a cluster); every
-- aggregate key is followed at once by its region's day hash key.
-- ARGV[1]: the events, 24 bytes each, laid out as v1's per-event arguments: op, aggregate key
-- index, bucket key index (1-based into KEYS), participant field (8 bytes), occurred_at ms
-- (6 bytes), event id hash (4 bytes), argument byte.
-- Returns one result byte per event, as v1.
--
-- What makes it cheaper than v1 (measured in docs/BENCHMARKS.md): one argument instead of one per
-- event; an ENROLL or ENTER of a participant the bucket does not hold yet (most of them) is one
-- HSETNX instead of HGET + HSET; record flags decoded by table lookup; deltas in arrays indexed
-- by number; result bytes made in chunks instead of one string per event. The history costs two
-- more fields in the aggregate's read and write, and one HMGET and one HSET of the day hash only
-- for a region with late events in the call or whose current day ended.

-- Operation codes (TERMINATE is the last branch of the transitions below).
local ENROLL, STATUS, SEGMENT, LEAVE, ENTER, TERMINATE = 1, 2, 3, 4, 5, 6
local K_ENROLLED, K_STATUS, K_SEGMENT, K_RELOCATED, K_MOVED_OUT, K_TERMINATED = 1, 2, 3, 4, 5, 6
local APPLIED, DUPLICATE, STALE, NOT_FOUND, GONE, SKIPPED = 1, 2, 3, 4, 5, 6
local FROM_LEAVE = 255
local EVENT_BYTES = 24
local DAY_MS, WIB_MS = 86400000, 7 * 3600000
-- A day hash holds a field per day: up to two years of them. Kept as a listpack (a Redis hash
-- with at most hash-max-listpack-entries fields of at most hash-max-listpack-value bytes), every
-- lookup would scan it: measured +42 % Redis CPU per event at 730 days (docs/BENCHMARKS.md). A
-- value longer than hash-max-listpack-value (64 by default; keep it below 100) makes Redis keep
-- the hash as a hash table for good, so the marker field `enc` goes in with the first day.
local ENC = 'hash table on purpose: a day hash is looked up by field, never scanned (uhc_apply_v3)'

-- The packed counts: slot s = n<s> and slot 5 + s = a<s> for segments 1-5.
local COUNTS = '>i4i4i4i4i4i4i4i4i4i4'
local LAYOUT1 = {'n1', 'n2', 'n3', 'n4', 'n5', 'a1', 'a2', 'a3', 'a4', 'a5'}

-- Record flags byte -> segment, active, live (kind neither MOVED_OUT nor TERMINATED). Plain
-- arithmetic: no library but the language itself is reachable while the library loads.
local SEG, ACT, LIVE = {}, {}, {}
for flags = 0, 255 do
  local kind = ((flags - flags % 16) / 16) % 8
  SEG[flags] = flags % 8
  ACT[flags] = ((flags - flags % 8) / 8) % 2
  LIVE[flags] = kind ~= K_MOVED_OUT and kind ~= K_TERMINATED
end

local function apply(keys, args)
  -- Libraries are reachable only when the function runs, not while the library loads.
  local call, unpack_struct, pack_struct = redis.call, struct.unpack, struct.pack
  local char, concat, floor, min = string.char, table.concat, math.floor, math.min
  local s = args[1]
  local n = #s / EVENT_BYTES
  local applied, newest = {}, {}
  local days = {}  -- ai -> day -> ten deltas; an aggregate's delta is the sum over its days
  local day        -- the current event's day
  local out = {}
  local moved_seg, moved_act  -- what the last LEAVE of this call removed (nil: none)
  local pos = 1

  -- Adds sign to the counts of (seg, active) in aggregate ai, on the current event's day.
  local function count(ai, seg, active, sign)
    local by_day = days[ai]
    if not by_day then
      by_day = {}
      days[ai] = by_day
    end
    local h = by_day[day]
    if not h then
      h = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
      by_day[day] = h
    end
    h[seg] = h[seg] + sign
    if active == 1 then h[seg + 5] = h[seg + 5] + sign end
  end

  for i = 1, n do
    local op, ai, bi, field, ts, idh, arg
    op, ai, bi, field, ts, idh, arg, pos = unpack_struct('>BHHc8I6I4B', s, pos)
    day = floor((ts + WIB_MS) / DAY_MS)
    if op == LEAVE then moved_seg = nil end
    local bucket = keys[bi]
    local outcome, new_flags

    -- A new participant (ENROLL, or ENTER with a known segment): one HSETNX.
    local new_seg, new_active
    if op == ENROLL or (op == ENTER and arg ~= FROM_LEAVE) then
      new_seg, new_active = arg % 8, floor(arg / 8) % 2
    elseif op == ENTER then
      new_seg, new_active = moved_seg, moved_act
    end
    if new_seg ~= nil then
      new_flags = new_seg + new_active * 8 + (op == ENROLL and K_ENROLLED or K_RELOCATED) * 16
      if call('HSETNX', bucket, field, pack_struct('>BI6I4', new_flags, ts, idh)) == 1 then
        count(ai, new_seg, new_active, 1)
        outcome = APPLIED
        new_flags = nil  -- written already
      end
    end

    if not outcome then
      local rec = call('HGET', bucket, field)
      local flags, rts, ridh
      if rec then flags, rts, ridh = unpack_struct('>BI6I4', rec) end
      if rec and ts == rts and idh == ridh then
        outcome = DUPLICATE
        if op == LEAVE then moved_seg, moved_act = SEG[flags], ACT[flags] end
      elseif rec and (ts < rts or (ts == rts and idh < ridh)) then
        outcome = STALE
      elseif op == ENROLL or op == ENTER then
        if new_seg == nil then
          outcome = SKIPPED
        else
          if rec and LIVE[flags] then count(ai, SEG[flags], ACT[flags], -1) end
          count(ai, new_seg, new_active, 1)
          outcome = APPLIED
        end
      elseif not rec then
        outcome = NOT_FOUND
      elseif not LIVE[flags] then
        outcome = GONE
      else
        local seg, active = SEG[flags], ACT[flags]
        count(ai, seg, active, -1)
        if op == STATUS then
          new_flags = seg + arg * 8 + K_STATUS * 16
          count(ai, seg, arg, 1)
        elseif op == SEGMENT then
          new_flags = arg + active * 8 + K_SEGMENT * 16
          count(ai, arg, active, 1)
        elseif op == LEAVE then
          new_flags = seg + active * 8 + K_MOVED_OUT * 16
          moved_seg, moved_act = seg, active
        else
          new_flags = seg + active * 8 + K_TERMINATED * 16
        end
        outcome = APPLIED
      end
      if outcome == APPLIED then
        call('HSET', bucket, field, pack_struct('>BI6I4', new_flags, ts, idh))
      end
    end

    if op == ENTER then moved_seg = nil end
    if outcome == APPLIED then
      applied[ai] = (applied[ai] or 0) + 1
      local t = newest[ai]
      if not t or ts > t then newest[ai] = ts end
    end
    if op == LEAVE and (outcome == APPLIED or outcome == DUPLICATE) then
      outcome = outcome + moved_seg * 8 + moved_act * 64
    end
    out[i] = outcome
  end

  -- Each touched aggregate: one read and one write (two more the first time, for layout 1). The
  -- changes of its current day (`t`, the newest day it has changes on) ride along in its field
  -- `e`; only changes of earlier days (late events) and the change of a day that stops being
  -- current go to the day hash, so in the common case the history costs no call of its own.
  for ai, count_applied in pairs(applied) do
    local agg = keys[ai]
    local current = call('HMGET', agg, 'c', 'ver', 'last', 't', 'e')
    local c
    if current[1] then
      c = {unpack_struct(COUNTS, current[1])}
    else
      c = call('HMGET', agg, unpack(LAYOUT1))
      for slot = 1, 10 do c[slot] = tonumber(c[slot]) or 0 end
      call('HDEL', agg, 'part', 'act', unpack(LAYOUT1))
    end
    local by_day = days[ai] or {}
    local newest_day
    for d, h in pairs(by_day) do
      for slot = 1, 10 do c[slot] = c[slot] + h[slot] end
      if not newest_day or d > newest_day then newest_day = d end
    end
    local last = tonumber(current[3]) or 0
    if newest[ai] > last then last = newest[ai] end

    local t = tonumber(current[4])
    local e = current[5] and {unpack_struct(COUNTS, current[5])} or {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
    local names, changes, at = {}, {}, {}  -- for the day hash; at: day -> index in names
    local function to_days(d, h)
      local k = at[d]
      if k then  -- the day that stopped being current and late events of it, in one field
        local sum = changes[k]
        for slot = 1, 10 do sum[slot] = sum[slot] + h[slot] end
        return
      end
      for slot = 1, 10 do
        if h[slot] ~= 0 then  -- a day whose changes cancel out is left alone
          names[#names + 1] = 'd' .. d
          changes[#changes + 1] = {unpack(h, 1, 10)}
          at[d] = #names
          return
        end
      end
    end
    if newest_day and (not t or newest_day > t) then
      if t then to_days(t, e) end  -- the current day is over: its changes go to the day hash
      t, e = newest_day, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
    end
    for d, h in pairs(by_day) do
      if d == t then
        for slot = 1, 10 do e[slot] = e[slot] + h[slot] end
      else
        to_days(d, h)  -- an earlier day: a late event
      end
    end
    if t then
      -- The day as the text read when it did not change: a number is formatted (printf) anew.
      local t_text = (current[4] and tonumber(current[4]) == t) and current[4] or t
      call('HSET', agg, 'c', pack_struct(COUNTS, unpack(c, 1, 10)),
           'ver', (tonumber(current[2]) or 0) + count_applied, 'last', last,
           't', t_text, 'e', pack_struct(COUNTS, unpack(e, 1, 10)))
    else
      call('HSET', agg, 'c', pack_struct(COUNTS, unpack(c, 1, 10)),
           'ver', (tonumber(current[2]) or 0) + count_applied, 'last', last)
    end

    if #names > 0 then
      local hist = keys[ai + 1]
      local old = call('HMGET', hist, unpack(names))
      local update, new_day = {}, false
      for k = 1, #names do
        local h = changes[k]
        if old[k] then
          local o = {unpack_struct(COUNTS, old[k])}
          for slot = 1, 10 do h[slot] = h[slot] + o[slot] end
        else
          new_day = true
        end
        update[2 * k - 1] = names[k]
        update[2 * k] = pack_struct(COUNTS, unpack(h, 1, 10))
      end
      if new_day then  -- about once a day per region: keeps the hash a hash table
        update[#update + 1] = 'enc'
        update[#update + 1] = ENC
      end
      call('HSET', hist, unpack(update))
    end
  end

  -- Result bytes, a chunk at a time (string.char takes its bytes on the Lua stack).
  local chunks = {}
  for first = 1, n, 1000 do
    chunks[#chunks + 1] = char(unpack(out, first, min(first + 999, n)))
  end
  return concat(chunks)
end

-- Admin inputs with their history. Settings hash `uhc:{<region>}:settings`: p<YYYY-MM-DD> is
-- the population figure as of that date, s<YYYY-MM-DD> the status "<prio>|<dues>" from that day.
local function settings(agg)
  local v = redis.call('HMGET', agg, 'pop', 'pop_asof', 'prio', 'dues', 'ver')
  return {tonumber(v[1] or '0'), v[2] or '', tonumber(v[3] or '0'), v[4] or '', tonumber(v[5] or '0')}
end

-- KEYS[1] aggregate, KEYS[2] settings hash; ARGV population, as_of. The figure joins the
-- history; it becomes the live one unless a figure of a later as_of is live. Idempotent: the
-- version moves only on a change.
local function set_population(keys, args)
  local agg, hist, pop, as_of = keys[1], keys[2], args[1], args[2]
  local changed = redis.call('HGET', hist, 'p' .. as_of) ~= pop
  if changed then redis.call('HSET', hist, 'p' .. as_of, pop) end
  local cur = redis.call('HMGET', agg, 'pop', 'pop_asof')
  if (cur[2] == false or cur[2] <= as_of) and (cur[1] ~= pop or cur[2] ~= as_of) then
    redis.call('HSET', agg, 'pop', pop, 'pop_asof', as_of)
    changed = true
  end
  if changed then redis.call('HINCRBY', agg, 'ver', 1) end
  return settings(agg)
end

-- KEYS[1] aggregate, KEYS[2] settings hash; ARGV prio ("0"/"1"), dues ("YYYY-MM" or "" for the
-- one in force on that day), effective date "YYYY-MM-DD". The status joins the history from that
-- day; it becomes the live one unless a later one was set. A region whose status was set before
-- history was kept (live fields, no history) has that status recorded from the beginning first.
local function set_status(keys, args)
  local agg, hist, prio, dues, date = keys[1], keys[2], args[1], args[2], args[3]
  local latest, in_force, in_force_date = nil, nil, nil
  local names = redis.call('HKEYS', hist)
  local has_status = false
  for _, name in ipairs(names) do
    if string.sub(name, 1, 1) == 's' then
      has_status = true
      local d = string.sub(name, 2)
      if not latest or d > latest then latest = d end
      if d <= date and (not in_force_date or d > in_force_date) then in_force_date = d end
    end
  end
  if not has_status then
    local live = redis.call('HMGET', agg, 'prio', 'dues')
    if live[1] or live[2] then
      redis.call('HSET', hist, 's1970-01-01', (live[1] or '0') .. '|' .. (live[2] or ''))
      in_force_date = '1970-01-01'
      latest = '1970-01-01'
    end
  end
  if in_force_date then in_force = redis.call('HGET', hist, 's' .. in_force_date) end
  if dues == '' and in_force then dues = string.match(in_force, '|(.*)$') or '' end
  local value = prio .. '|' .. dues
  local changed = redis.call('HGET', hist, 's' .. date) ~= value
  if changed then redis.call('HSET', hist, 's' .. date, value) end
  if not latest or date >= latest then
    local cur = redis.call('HMGET', agg, 'prio', 'dues')
    if (cur[1] or '0') ~= prio or (dues ~= '' and cur[2] ~= dues) then
      redis.call('HSET', agg, 'prio', prio)
      if dues ~= '' then redis.call('HSET', agg, 'dues', dues) end
      changed = true
    end
  end
  if changed then redis.call('HINCRBY', agg, 'ver', 1) end
  return settings(agg)
end

-- KEYS[1] a day hash; ARGV[1] the first day number to keep. Deletes the older days and, if there
-- were any, records where history now starts. Returns the number of days deleted.
local function trim_days(keys, args)
  local keep = tonumber(args[1])
  local old = {}
  for _, name in ipairs(redis.call('HKEYS', keys[1])) do
    local d = tonumber(string.sub(name, 2))
    if string.sub(name, 1, 1) == 'd' and d and d < keep then old[#old + 1] = name end
  end
  for first = 1, #old, 1000 do
    redis.call('HDEL', keys[1], unpack(old, first, math.min(first + 999, #old)))
  end
  if #old > 0 then  -- answers before `keep` are no longer exact
    local from = tonumber(redis.call('HGET', keys[1], 'from'))
    if not from or from < keep then redis.call('HSET', keys[1], 'from', keep) end
  end
  return #old
end

redis.register_function('uhc_apply_v3', apply)
redis.register_function('uhc_set_population_v3', set_population)
redis.register_function('uhc_set_status_v3', set_status)
redis.register_function('uhc_trim_days_v3', trim_days)

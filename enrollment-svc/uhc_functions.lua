#!lua name=uhc_v1
-- Redis Functions of enrollment-svc, library version 1. Loaded with FUNCTION LOAD REPLACE at
-- start; an incompatible change gets a new library and function names (uhc_v2, ...).
--
-- Participant record (11 bytes, the value in a bucket hash `uhc:{<region>}:p:<bucket>` whose field
-- is 8 bytes of the NIK's keyed HMAC): flags (bits 0-2 segment, bit 3 active, bits 4-6 kind of the
-- last applied event), occurred_at in ms (6 bytes), hash of the last event id (4 bytes).
-- A record of kind MOVED_OUT or TERMINATED is a tombstone: it counts nowhere but remembers the last
-- event, so a retried relocation or termination is a DUPLICATE and older events are STALE.
--
-- Aggregate hash `uhc:{<region>}:agg`: n1..n5 participants and a1..a5 active per segment, part and
-- act (totals), ver (+1 per applied event or admin change), last (newest occurred_at applied, ms),
-- pop and pop_asof (population), prio (UHC Prioritas 0/1), dues (paid-through month YYYY-MM).

local ENROLL, STATUS, SEGMENT, LEAVE, ENTER, TERMINATE = 1, 2, 3, 4, 5, 6
local K_ENROLLED, K_STATUS, K_SEGMENT, K_RELOCATED, K_MOVED_OUT, K_TERMINATED = 1, 2, 3, 4, 5, 6
-- Outcome codes (low 3 bits of each result byte; a LEAVE also reports segment and active in bits
-- 3-5 and 6 so a caller applying the ENTER in another call can carry them).
local APPLIED, DUPLICATE, STALE, NOT_FOUND, GONE, SKIPPED = 1, 2, 3, 4, 5, 6
local FROM_LEAVE = 255

-- Aggregate field names by segment, built once: concatenating a number into a string would
-- format it with printf on every event.
local N, A = {}, {}
for seg = 0, 7 do
  N[seg] = 'n' .. seg
  A[seg] = 'a' .. seg
end

local function is_live(kind)
  return kind ~= K_MOVED_OUT and kind ~= K_TERMINATED
end

-- KEYS: the aggregate and bucket keys the events name (all of one hash tag in a cluster).
-- ARGV: one 24-byte event each: op, aggregate key index, bucket key index (1-based into KEYS),
-- participant field (8 bytes), occurred_at ms (6 bytes), event id hash (4 bytes), argument
-- (segment | active << 3 for ENROLL and ENTER, or 255: ENTER with what the preceding LEAVE
-- removed; segment for SEGMENT; active for STATUS).
-- Returns one result byte per event.
local function apply(keys, args)
  local deltas = {}
  local applied = {}
  local newest = {}
  local moved = nil
  local out = {}

  local function count(ai, seg, active, sign)
    local d = deltas[ai]
    if not d then
      d = {}
      deltas[ai] = d
    end
    local n = N[seg]
    d[n] = (d[n] or 0) + sign
    d.part = (d.part or 0) + sign
    if active == 1 then
      local a = A[seg]
      d[a] = (d[a] or 0) + sign
      d.act = (d.act or 0) + sign
    end
  end

  for i = 1, #args do
    local op, ai, bi, field, ts, idh, arg = struct.unpack('>BHHc8I6I4B', args[i])
    if op == LEAVE then moved = nil end
    local bucket = keys[bi]
    local rec = redis.call('HGET', bucket, field)
    local flags, rts, ridh, seg, active, kind
    if rec then
      flags, rts, ridh = struct.unpack('>BI6I4', rec)
      seg = flags % 8
      active = math.floor(flags / 8) % 2
      kind = math.floor(flags / 16) % 8
    end
    local outcome
    local new_seg, new_active, new_kind
    if rec and ts == rts and idh == ridh then
      outcome = DUPLICATE
      if op == LEAVE then moved = {seg, active} end
    elseif rec and (ts < rts or (ts == rts and idh < ridh)) then
      outcome = STALE
    elseif op == ENROLL or op == ENTER then
      if op == ENTER and arg == FROM_LEAVE then
        if moved then new_seg, new_active = moved[1], moved[2] end
      else
        new_seg, new_active = arg % 8, math.floor(arg / 8) % 2
      end
      if new_seg == nil then
        outcome = SKIPPED
      else
        if rec and is_live(kind) then count(ai, seg, active, -1) end
        count(ai, new_seg, new_active, 1)
        new_kind = (op == ENROLL) and K_ENROLLED or K_RELOCATED
        outcome = APPLIED
      end
    elseif not rec then
      outcome = NOT_FOUND
    elseif not is_live(kind) then
      outcome = GONE
    else
      count(ai, seg, active, -1)
      if op == STATUS then
        new_seg, new_active, new_kind = seg, arg, K_STATUS
      elseif op == SEGMENT then
        new_seg, new_active, new_kind = arg, active, K_SEGMENT
      elseif op == LEAVE then
        new_seg, new_active, new_kind = seg, active, K_MOVED_OUT
        moved = {seg, active}
      else
        new_seg, new_active, new_kind = seg, active, K_TERMINATED
      end
      if is_live(new_kind) then count(ai, new_seg, new_active, 1) end
      outcome = APPLIED
    end
    if op == ENTER then moved = nil end
    if outcome == APPLIED then
      redis.call('HSET', bucket, field,
                 struct.pack('>BI6I4', new_seg + new_active * 8 + new_kind * 16, ts, idh))
      applied[ai] = (applied[ai] or 0) + 1
      if not newest[ai] or ts > newest[ai] then newest[ai] = ts end
    end
    local code = outcome
    if op == LEAVE and (outcome == APPLIED or outcome == DUPLICATE) then
      code = code + moved[1] * 8 + moved[2] * 64
    end
    out[i] = string.char(code)
  end

  -- Each touched aggregate: one read and one write, whatever the number of fields changed.
  for ai, n in pairs(applied) do
    local agg = keys[ai]
    local fields = {'ver', 'last'}
    local d = deltas[ai] or {}
    for f, v in pairs(d) do
      if v ~= 0 then fields[#fields + 1] = f end
    end
    local current = redis.call('HMGET', agg, unpack(fields))
    local update = {'ver', (tonumber(current[1]) or 0) + n}
    local last = tonumber(current[2]) or 0
    if newest[ai] > last then last = newest[ai] end
    update[3] = 'last'
    update[4] = string.format('%d', last)
    for i = 3, #fields do
      update[#update + 1] = fields[i]
      update[#update + 1] = (tonumber(current[i]) or 0) + d[fields[i]]
    end
    redis.call('HSET', agg, unpack(update))
  end
  return table.concat(out)
end

local function settings(agg)
  local v = redis.call('HMGET', agg, 'pop', 'pop_asof', 'prio', 'dues', 'ver')
  return {tonumber(v[1] or '0'), v[2] or '', tonumber(v[3] or '0'), v[4] or '', tonumber(v[5] or '0')}
end

-- KEYS[1] aggregate; ARGV population, as_of. Idempotent: the version moves only on a change.
local function set_population(keys, args)
  local cur = redis.call('HMGET', keys[1], 'pop', 'pop_asof')
  if cur[1] ~= args[1] or cur[2] ~= args[2] then
    redis.call('HSET', keys[1], 'pop', args[1], 'pop_asof', args[2])
    redis.call('HINCRBY', keys[1], 'ver', 1)
  end
  return settings(keys[1])
end

-- KEYS[1] aggregate; ARGV prio ("0"/"1"), dues ("YYYY-MM" or "" to leave unchanged).
local function set_status(keys, args)
  local cur = redis.call('HMGET', keys[1], 'prio', 'dues')
  local changed = false
  if (cur[1] or '0') ~= args[1] then
    redis.call('HSET', keys[1], 'prio', args[1])
    changed = true
  end
  if args[2] ~= '' and cur[2] ~= args[2] then
    redis.call('HSET', keys[1], 'dues', args[2])
    changed = true
  end
  if changed then redis.call('HINCRBY', keys[1], 'ver', 1) end
  return settings(keys[1])
end

redis.register_function('uhc_apply_v1', apply)
redis.register_function('uhc_set_population_v1', set_population)
redis.register_function('uhc_set_status_v1', set_status)

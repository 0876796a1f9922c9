#!lua name=uhc_v3
-- uhc_apply_v3: the participant records and aggregates of the releases before timelines (the
-- transitions of the first library, uhc_apply_v1, with a cheaper calling convention, the counts of
-- an aggregate packed into one field, and the history of those counts by event day);
-- uhc_apply_v4: the timelines (below); the admin functions; and the one-time move of aggregates of
-- layouts 1 and 2 to layout 3 (uhc_migrate_layout_v3), which enrollment-svc runs at start.
--
-- Aggregate hash `uhc:{<region>}:agg`, layout 3: field `c` packs the ten counts n1..n5
-- (participants per segment) and a1..a5 (active per segment), the events applied, the newest
-- event_time applied, and the region's current day with the counts it began with (HEAD); part and act
-- are the counts' sums, the data version is `ver` plus the events applied in `c`. pop, pop_asof,
-- prio, dues and ver are as in layout 1 (ver now moved only by the admin functions). Layout 1
-- (named fields n1..a5, part, act, ver, last; uhc_apply_v1) and layout 2 (the ten counts alone in
-- a 40-byte `c`, with fields last, t, e beside it; the first uhc_apply_v3) are read only by
-- uhc_migrate_layout_v3, which enrollment-svc runs on every region when it starts, before it
-- records `layout` 3 in uhc:meta and serves; the applies refuse such an aggregate as malformed,
-- and the C++ readers know layout 3 only.
--
-- Day hash `uhc:{<region>}:days` (common/redis/history.h): field d<day> holds the change of the
-- ten counts, packed as COUNTS, made by the transitions applied whose event_time falls on that
-- day (days since 1970-01-01 in WIB, UTC+7); `from` is the first day kept after a trim; `enc` is a
-- marker that keeps the hash a hash table (see ENC). The changes of the region's current day
-- (the newest day it has changes on) are kept in its aggregate's `c` instead, and move to the day
-- hash when a later day starts. The counts at the end of day D are the live ones minus every
-- change after D (the day hash's, and the current day's if it is after D). Written in the same
-- call as the aggregate, so the two never disagree.
--
-- uhc_apply_v3
-- KEYS: the aggregate and bucket keys the events name (all of one hash tag in a cluster); every
-- aggregate key is followed at once by its region's day hash key.
-- ARGV[1]: the events, 24 bytes each, laid out as v1's per-event arguments: op, aggregate key
-- index, bucket key index (1-based into KEYS), participant field (8 bytes), event_time ms
-- (6 bytes), event id hash (4 bytes), argument byte.
-- Returns one result byte per event, as v1 (an ENROLL with PRIO_DECIDES: see there).
--
-- A call that fails changes nothing. Redis does not undo what a function wrote before an error,
-- so the function logs each participant record it writes and puts them back on any error (a key
-- of another type, a malformed stored value, a malformed call); the aggregates and day hashes are
-- read and checked before the first of them is written, and their writes cannot fail. No command
-- takes an unbounded number of arguments (HMGET and HSET go in chunks of CHUNK fields).
--
-- What makes it cheaper than v1 (measured in docs/BENCHMARKS.md): one argument instead of one per
-- event; an ENROLL or ENTER of a participant the bucket does not hold yet (most of them) is one
-- HSETNX instead of HGET + HSET; record flags decoded by table lookup; deltas in arrays indexed
-- by number, booked where the event's branches meet (no function call per event); result bytes
-- made in chunks instead of one string per event; each touched aggregate read and written as one
-- binary field (no number formatting), its changes added straight to the counts when all of them
-- fall on its current day. The history costs nothing more in that common case, and one HMGET and
-- one HSET of the day hash only for a region with late events in the call or whose current day
-- ended.

-- The constants shared with the module and the C++ (operation codes, record kinds, result codes,
-- FROM_LEAVE, PRIO_DECIDES, sizes, DAY_MS, WIB_MS, LAST_MS): one "local NAME = VALUE" line each,
-- generated at build time from common/redis/apply_constants.h, where they are described.
-- An ENROLL whose argument has PRIO_DECIDES set is active exactly when its region holds UHC
-- Prioritas (the aggregate's `prio` is "1") at the moment the call applies it; its result byte
-- then carries the status given (and a DUPLICATE's the status stored) in bit 6, as a LEAVE's.
-- @APPLY_CONSTANTS@
-- A Redis command takes its arguments on the Lua stack (at most about 8,000): HMGET and HSET of
-- many fields go in chunks of this many.
local CHUNK = 1000
local MALFORMED = 'ERR uhc_apply_v3: a stored value is malformed'
local BAD_CALL = 'ERR uhc_apply_v3: '
-- Days are keyed in 16 bits (`moves`): events from LAST_MS (the year 2149) on are refused.
-- A day hash holds a field per day: up to two years of them. Kept as a listpack (a Redis hash
-- with at most hash-max-listpack-entries fields of at most hash-max-listpack-value bytes), every
-- lookup would scan it: measured +42 % Redis CPU per event at 730 days (docs/BENCHMARKS.md). A
-- value longer than hash-max-listpack-value (64 by default; we run 192 so that participant
-- timelines stay listpacks; keep it below 256) makes Redis keep the hash as a hash table for good,
-- so the marker field `enc` (256 bytes) goes in with the first day.
local ENC =
  'hash table on purpose: a day hash is looked up by field, never scanned; this value is longer than hash-max-listpack-value (at most 255), so Redis keeps the hash a hash table for good (uhc_apply_v3.lua) ......................................................'

-- The packed counts: slot s = n<s> and slot 5 + s = a<s> for segments 1-5.
local COUNTS = '>i4i4i4i4i4i4i4i4i4i4'
local LAYOUT1 = {'n1', 'n2', 'n3', 'n4', 'n5', 'a1', 'a2', 'a3', 'a4', 'a5'}

-- Record flags byte -> segment, active, live (kind neither MOVED_OUT nor TERMINATED). Plain
-- arithmetic: no library but the language itself is reachable while the library loads.
-- A STATE is what a live record adds to the counts: segment + 5 * active (1-10), so it is the
-- slot of its active count when above 5; SEG_OF gives its segment's slot.
local SEG, ACT, LIVE, STATE, SEG_OF = {}, {}, {}, {}, {}
for flags = 0, 255 do
  local kind = ((flags - flags % 16) / 16) % 8
  SEG[flags] = flags % 8
  ACT[flags] = ((flags - flags % 8) / 8) % 2
  LIVE[flags] = kind ~= K_MOVED_OUT and kind ~= K_TERMINATED
  STATE[flags] = SEG[flags] + 5 * ACT[flags]
end
for state = 1, 10 do SEG_OF[state] = (state - 1) % 5 + 1 end
local STRIDE = 13  -- an aggregate's entries in apply's `counts`

-- Adds `times` records in STATE `state` (0: none) to the ten counts t.
local function add_state(t, state, times)
  if state == 0 or times == 0 then return end
  local seg = SEG_OF[state]
  t[seg] = t[seg] + times
  if state > 5 then t[state] = t[state] + times end
end

-- Aggregate layout 3: field `c` holds the counts (as COUNTS), the events applied by this layout
-- (6 bytes; the data version is `ver` plus these), the newest event_time applied in ms (6 bytes),
-- the current day (4 bytes, -1 for none), then the counts as they were when that day began (as
-- COUNTS): 96 bytes. The current day's changes are the counts minus those; a call whose events are
-- all of the current day (the common case) decodes and rewrites only the first 56 bytes (HEAD).
local HEAD = '>i4i4i4i4i4i4i4i4i4i4I6I6i4'

local function zeros() return {0, 0, 0, 0, 0, 0, 0, 0, 0, 0} end

-- An aggregate of layout 1 or 2 in layout 3 (the one reader of those layouts). Reads only: the
-- caller deletes the fields layout 3 replaces (LAYOUT3_GONE) when it writes `c`.
local function migrate(agg, packed)
  local c
  if packed then
    if #packed < 40 then error({err = MALFORMED}) end
    c = {struct.unpack(COUNTS, packed)}
  else
    c = redis.call('HMGET', agg, unpack(LAYOUT1))
    for slot = 1, 10 do c[slot] = tonumber(c[slot]) or 0 end
  end
  local old = redis.call('HMGET', agg, 'last', 't', 'e')
  local t = tonumber(old[2]) or NO_DAY
  local began = {unpack(c, 1, 10)}
  if old[2] and old[3] then
    if #old[3] < 40 then error({err = MALFORMED}) end
    local e = {struct.unpack(COUNTS, old[3])}
    for slot = 1, 10 do began[slot] = began[slot] - e[slot] end
  end
  -- `ver` keeps counting the events applied before
  return struct.pack(HEAD, c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], 0,
                     tonumber(old[1]) or 0, t) .. struct.pack(COUNTS, unpack(began, 1, 10))
end
local LAYOUT3_GONE = {'part', 'act', 'last', 't', 'e', 'n1', 'n2', 'n3', 'n4', 'n5', 'a1', 'a2', 'a3',
                      'a4', 'a5'}
-- A region's first aggregate: no counts, no events, no current day (made at the first call: no
-- library is reachable while the library loads).
local function new_aggregate()
  return struct.pack(HEAD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, NO_DAY) ..
           struct.pack(COUNTS, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
end

-- uhc_migrate_layout_v3: KEYS[1] an aggregate. Moves it to layout 3 if it is of layout 1 or 2
-- (counts, events applied and the current day's changes kept; the old fields deleted); returns 1
-- if it did, 0 if it was of layout 3 or has no counts (settings only, or no hash).
local function migrate_layout(keys)
  local agg = keys[1]
  local packed = redis.call('HGET', agg, 'c')
  if packed and #packed == LAYOUT3_BYTES then return 0 end
  if not packed and redis.call('HEXISTS', agg, 'part') == 0 and
     redis.call('HEXISTS', agg, 'n1') == 0 then
    return 0
  end
  local c = migrate(agg, packed)
  redis.call('HDEL', agg, unpack(LAYOUT3_GONE))
  redis.call('HSET', agg, 'c', c)
  return 1
end

-- Adds a day d's changes h (slots 1-10) of this call to the counts v and, for a day before the
-- current day t, to the counts the current day began with (`began`, decoded from `tail` when
-- first needed) and to later (day -> changes for the day hash, made when first needed). Returns
-- began and later.
local function book_day(v, began, tail, t, later, d, h)
  for slot = 1, 10 do v[slot] = v[slot] + h[slot] end
  if d >= t then return began, later end
  if not began then began = {struct.unpack(COUNTS, tail)} end
  for slot = 1, 10 do began[slot] = began[slot] + h[slot] end
  later = later or {}
  local sum = later[d]
  if sum then
    for slot = 1, 10 do sum[slot] = sum[slot] + h[slot] end
  else
    later[d] = {unpack(h, 1, 10)}
  end
  return began, later
end

-- The HSET arguments that add each day's changes in later to the day hash (nil: none); a day
-- whose changes cancel out is left alone. Reads only.
local function plan_days(hist, later)
  local names, deltas = {}, {}
  for d, h in pairs(later) do
    for slot = 1, 10 do
      if h[slot] ~= 0 then
        names[#names + 1] = 'd' .. d
        deltas[#deltas + 1] = h
        break
      end
    end
  end
  if #names == 0 then return nil end
  local update, new_day = {}, false
  for first = 1, #names, CHUNK do
    local last = math.min(first + CHUNK - 1, #names)
    local old = redis.call('HMGET', hist, unpack(names, first, last))
    for k = first, last do
      local h, o = deltas[k], old[k - first + 1]
      if o then
        if #o < 40 then error({err = MALFORMED}) end
        o = {struct.unpack(COUNTS, o)}
        for slot = 1, 10 do h[slot] = h[slot] + o[slot] end
      else
        new_day = true
      end
      update[2 * k - 1] = names[k]
      update[2 * k] = struct.pack(COUNTS, unpack(h, 1, 10))
    end
  end
  if new_day then  -- about once a day per region: keeps the hash a hash table
    update[#update + 1] = 'enc'
    update[#update + 1] = ENC
  end
  return update
end

-- HSET of a field list of any length, in chunks.
local function hset_all(key, update)
  for first = 1, #update, CHUNK do
    redis.call('HSET', key, unpack(update, first, math.min(first + CHUNK - 1, #update)))
  end
end

-- The end of an apply call, shared by uhc_apply_v3 and uhc_apply_v4: books the counted changes
-- in each touched aggregate and day hash and makes the result bytes. `counts`, `agg_of`, `moves`
-- and `first_day` as apply_logged fills them; `out` holds the n result codes.
local function finish(keys, counts, agg_of, moves, first_day, out, n)
  local call, unpack_struct, pack_struct = redis.call, struct.unpack, struct.pack
  local char, concat, min, sub = string.char, table.concat, math.min, string.sub
  -- The changes of other days than the first, by aggregate (b) and day: the ten changes each.
  local other_days = {}
  if moves then
    for k, times in pairs(moves) do
      local d = k % 65536
      local rest = (k - d) / 65536
      local code = rest % 128
      local b = (rest - code) / 128
      local to = code % 11
      local from = (code - to) / 11
      local by_day = other_days[b]
      if not by_day then
        by_day = {}
        other_days[b] = by_day
      end
      local h = by_day[d]
      if not h then
        h = zeros()
        by_day[d] = h
      end
      add_state(h, from, -times)
      add_state(h, to, times)
    end
  end

  -- Each touched aggregate: one HGET and one HSET of its field `c` (more the first time, for
  -- layouts 1 and 2). The changes of its current day ride along in `c`; only changes of earlier
  -- days (late events) and the change of a day that stops being current go to the day hash, so
  -- in the common case (all of the aggregate's events on its current day) the history costs
  -- nothing: the first day's changes go straight into the counts. Read and checked first, all of
  -- them; written after.
  local writes, named = {}, {}
  for b = 1, #counts, STRIDE do
    local ai = agg_of[b]
    local agg = keys[ai]
    -- Two indexes naming one aggregate would each write counts read before the other's write.
    if named[agg] then error({err = 'ERR uhc_apply_v3: a key is named twice'}) end
    named[agg] = true
    local w = {agg = agg}
    writes[#writes + 1] = w
    local packed = call('HGET', agg, 'c')
    if not packed then
      -- A new aggregate; one of layout 1 (named counts) was not migrated: refused, not misread.
      if call('HEXISTS', agg, 'part') == 1 then error({err = MALFORMED}) end
      packed = new_aggregate()
    elseif #packed ~= LAYOUT3_BYTES then
      error({err = MALFORMED})  -- layout 2, not migrated, or damaged
    end
    local v = {unpack_struct(HEAD, packed)}
    local tail = sub(packed, HEAD_BYTES + 1)
    local by_day = other_days[b]
    if not by_day and v[13] == first_day then  -- all its events on its current day: nearly always
      for state = 1, 10 do add_state(v, state, counts[b + state]) end
    else
      -- The first day's changes, if any, join the other days' (moves holds no first-day ones).
      by_day = by_day or {}
      local h = zeros()
      for state = 1, 10 do add_state(h, state, counts[b + state]) end
      for slot = 1, 10 do
        if h[slot] ~= 0 then
          by_day[first_day] = h
          break
        end
      end
      local t = v[13]
      local began, later  -- decoded only for late events or when the current day ends
      local newest_day = NO_DAY
      for d in pairs(by_day) do
        if d > newest_day then newest_day = d end
      end
      if newest_day > t then  -- the current day is over: its changes go to the day hash
        if t ~= NO_DAY then
          local was = {unpack_struct(COUNTS, tail)}
          for slot = 1, 10 do was[slot] = v[slot] - was[slot] end
          later = {[t] = was}
        end
        t = newest_day
        began = {unpack(v, 1, 10)}
        v[13] = t
      end
      for d, h in pairs(by_day) do began, later = book_day(v, began, tail, t, later, d, h) end
      if began then tail = pack_struct(COUNTS, unpack(began, 1, 10)) end
      if later then
        w.hist = keys[ai + 1]
        w.days = plan_days(w.hist, later)
      end
    end
    v[11] = v[11] + counts[b + 11]
    if counts[b + 12] > v[12] then v[12] = counts[b + 12] end
    w.c = pack_struct(HEAD, unpack(v, 1, 13)) .. tail
  end
  for _, w in ipairs(writes) do
    if w.days then hset_all(w.hist, w.days) end
    call('HSET', w.agg, 'c', w.c)
  end

  -- Result bytes, a chunk at a time (string.char takes its bytes on the Lua stack).
  local chunks = {}
  for first = 1, n, CHUNK do
    chunks[#chunks + 1] = char(unpack(out, first, min(first + CHUNK - 1, n)))
  end
  return concat(chunks)
end

-- Puts back what the per-event loop wrote, newest first: a call that fails changes nothing. The
-- undo log `u` holds, per record written, the index of the event that wrote it (its key and
-- field are read from the events again) and the record before, if there was one: on the common
-- path (a new participant) one number, and no string kept alive for the collector to walk.
local function roll_back(keys, s, u, event_bytes)
  for k = #u.event, 1, -1 do
    local _, _, bi, field = struct.unpack('>BHHc8', s, (u.event[k] - 1) * event_bytes + 1)
    if u.old[k] then
      redis.call('HSET', keys[bi], field, u.old[k])
    else
      redis.call('HDEL', keys[bi], field)
    end
  end
end

-- The call's work; `u` logs every participant record written. Every read and check that can
-- fail comes before the aggregates are written: the per-event loop reads and writes records
-- (logged), then each touched aggregate and day hash is read and checked and its writes made
-- ready, and only then are they written (HSET and HDEL of keys read as hashes, in chunks: these
-- cannot fail). `apply` rolls the records back if anything before that fails.
local function apply_logged(keys, args, u)
  -- Libraries are reachable only when the function runs, not while the library loads.
  local call, unpack_struct, pack_struct = redis.call, struct.unpack, struct.pack
  local char, concat, min, sub = string.char, table.concat, math.min, string.sub
  local u_event, u_old, nu = u.event, u.old, 0
  local s = args[1]
  if #s % EVENT_BYTES ~= 0 then error({err = BAD_CALL .. 'the events are not 24 bytes each'}) end
  local n = #s / EVENT_BYTES
  local nkeys = #keys
  -- The applied events, counted per touched aggregate in the array `counts`: the aggregate's
  -- entries start at b = base_of[its key index] (1, 1 + STRIDE, ... in the order aggregates
  -- come). b + 11 counts the events applied, b + 12 holds the newest event_time applied; for
  -- events of the call's first day (nearly all), b + state counts those that left a record in
  -- that STATE minus those that took one out of it (b + 0 absorbs "no state"). An event costs no
  -- hashing. The changes of events of other days (a call across midnight, late events) go to
  -- `moves` instead, keyed (b * 128 + from * 11 + to) * 65536 + day.
  local base_of, agg_of, counts = {}, {}, {}  -- key index -> b; b -> key index
  local prio_of = {}  -- aggregate key index -> 1 or 0, read at the first PRIO_DECIDES enrolment
  local moves  -- made at the first event of another day
  local day, first_day  -- the current event's day, the call's first
  local day_start, day_end = 0, -1  -- the current event's day in ms: [day_start, day_end)
  local out = {}
  local moved_seg, moved_act  -- what the last LEAVE of this call removed (nil: none)
  local pos = 1

  for i = 1, n do
    local op, ai, bi, field, ts, idh, arg
    op, ai, bi, field, ts, idh, arg, pos = unpack_struct('>BHHc8I6I4B', s, pos)
    -- What the module's Check refuses, refused here too (the call is then rolled back whole).
    if op < ENROLL or op > TERMINATE or ai < 1 or ai >= nkeys or bi < 1 or bi > nkeys then
      error({err = BAD_CALL .. 'an operation or key index out of range'})
    end
    if ts >= LAST_MS or (op == STATUS and arg > 1) or (op == SEGMENT and (arg < 1 or arg > 5)) or
       ((op == ENROLL or (op == ENTER and arg ~= FROM_LEAVE)) and (SEG[arg] < 1 or SEG[arg] > 5)) then
      error({err = BAD_CALL .. 'an argument byte or event_time out of range'})
    end
    if ts >= day_end or ts < day_start then
      local wib = ts + WIB_MS
      day = (wib - wib % DAY_MS) / DAY_MS
      day_start = day * DAY_MS - WIB_MS
      day_end = day_start + DAY_MS
      first_day = first_day or day
    end
    if op == LEAVE then moved_seg = nil end
    local decided = op == ENROLL and arg >= PRIO_DECIDES
    if decided then
      local p = prio_of[ai]
      if p == nil then
        p = call('HGET', keys[ai], 'prio') == '1' and 1 or 0
        prio_of[ai] = p
      end
      arg = SEG[arg] + 8 * p
    end
    local bucket = keys[bi]
    -- outcome; when APPLIED, the record's STATE before (0: none) and after, and its new flags
    -- unless written already.
    local outcome, from, to, new_flags
    local rec_active  -- a decided enrolment: the status given or stored

    -- A new participant (ENROLL, or ENTER with a known segment): one HSETNX.
    local new_seg, new_active
    if op == ENROLL or (op == ENTER and arg ~= FROM_LEAVE) then
      new_seg, new_active = SEG[arg], ACT[arg]
    elseif op == ENTER then
      new_seg, new_active = moved_seg, moved_act
    end
    if new_seg ~= nil then
      to = new_seg + 5 * new_active
      new_flags = new_seg + new_active * 8 + (op == ENROLL and K_ENROLLED or K_RELOCATED) * 16
      if call('HSETNX', bucket, field, pack_struct('>BI6I4', new_flags, ts, idh)) == 1 then
        nu = nu + 1
        u_event[nu] = i
        outcome, from, new_flags, rec_active = APPLIED, 0, nil, new_active
      end
    end

    if not outcome then
      local rec = call('HGET', bucket, field)
      local flags, rts, ridh
      if rec then
        -- Every record a release writes has 11 bytes and a segment 1-5.
        if #rec ~= 11 then error({err = MALFORMED}) end
        flags, rts, ridh = unpack_struct('>BI6I4', rec)
        if SEG[flags] < 1 or SEG[flags] > 5 then error({err = MALFORMED}) end
      end
      if rec and ts == rts and idh == ridh then
        outcome, rec_active = DUPLICATE, ACT[flags]
        if op == LEAVE then moved_seg, moved_act = SEG[flags], ACT[flags] end
      elseif rec and (ts < rts or (ts == rts and idh < ridh)) then
        outcome = STALE
      elseif op == ENROLL or op == ENTER then
        if new_seg == nil then
          outcome = SKIPPED
        else
          outcome, from, rec_active = APPLIED, (rec and LIVE[flags]) and STATE[flags] or 0, new_active
        end
      elseif not rec then
        outcome = NOT_FOUND
      elseif not LIVE[flags] then
        outcome = GONE
      else
        local seg, active = SEG[flags], ACT[flags]
        outcome, from = APPLIED, STATE[flags]
        if op == STATUS then
          new_flags, to = seg + arg * 8 + K_STATUS * 16, seg + 5 * arg
        elseif op == SEGMENT then
          new_flags, to = arg + active * 8 + K_SEGMENT * 16, arg + 5 * active
        elseif op == LEAVE then
          new_flags, to = seg + active * 8 + K_MOVED_OUT * 16, 0
          moved_seg, moved_act = seg, active
        else
          new_flags, to = seg + active * 8 + K_TERMINATED * 16, 0
        end
      end
      if outcome == APPLIED then
        call('HSET', bucket, field, pack_struct('>BI6I4', new_flags, ts, idh))
        nu = nu + 1
        u_event[nu] = i
        if rec then u_old[nu] = rec end
      end
    end

    if outcome == APPLIED then
      local b = base_of[ai]
      if not b then
        b = #counts + 1
        base_of[ai] = b
        agg_of[b] = ai
        for x = b, b + STRIDE - 2 do counts[x] = 0 end
        counts[b + STRIDE - 1] = ts
      end
      if day == first_day then
        counts[b + to] = counts[b + to] + 1
        counts[b + from] = counts[b + from] - 1
      else
        local k = (b * 128 + from * 11 + to) * 65536 + day
        moves = moves or {}
        moves[k] = (moves[k] or 0) + 1
      end
      counts[b + 11] = counts[b + 11] + 1
      if ts > counts[b + 12] then counts[b + 12] = ts end
    end

    if op == ENTER then moved_seg = nil end
    if op == LEAVE and (outcome == APPLIED or outcome == DUPLICATE) then
      outcome = outcome + moved_seg * 8 + moved_act * 64
    elseif decided and rec_active then
      outcome = outcome + rec_active * 64
    end
    out[i] = outcome
  end

  return finish(keys, counts, agg_of, moves, first_day, out, n)
end

-- Redis keeps what a function wrote before an error: a call that fails (a key of another type, a
-- malformed stored value or call) puts back every record it wrote and answers the error.
local function apply(keys, args)
  local u = {event = {}, old = {}}
  local ok, result = pcall(apply_logged, keys, args, u)
  if ok then return result end
  roll_back(keys, args[1], u, EVENT_BYTES)
  if type(result) == 'table' and result.err then return redis.error_reply(result.err) end
  return redis.error_reply('ERR uhc_apply_v3: ' .. tostring(result))
end

-- ---- uhc_apply_v4: exact whatever the order (issue #26; the rule, the layout and the proofs are
-- in common/domain/timeline.h, which the module runs; this states the same in Lua, and
-- tests/integration/apply_v4_test.cc keeps the two byte-equal).
--
-- A bucket field's value is the participant's timeline in the region: a header byte (the base
-- state: segment | active << 3; bit 7: a varint of the folded entries' weight follows), then per
-- entry event_time ms (6 bytes), event id hash (4), op << 4 | arg (1), and for a LEAVE the
-- length of its destination's code (1) and the code. An ENTER is stored with op 7 and then its
-- version and its upgrades (varints: how often a larger version replaced it here); one stored
-- with op 5 (the first release of timelines) has its version only, taken as its upgrades too. An
-- 11-byte value is a uhc_apply_v3 record: read as one entry (its last event: an ENROLL of its
-- state if live, else a TERMINATE) and written back as a timeline when the participant changes.
--
-- KEYS: as uhc_apply_v3.
-- ARGV[1]: the events, 28 bytes each: uhc_apply_v3's 24, then 4 more: an ENTER's version, a
-- LEAVE's destination (1-based index into ARGV[2]), 0 otherwise. An ENTER's argument is the
-- carried state (segment | active << 3, 0: none); it replaces an ENTER of the same event kept
-- with a smaller version.
-- ARGV[2]: the LEAVEs' destination region codes, each preceded by its length (1 byte).
-- ARGV[3]: fold before, ms ("0": none): a timeline the call writes first folds its entries
-- before this instant (the history window's first, whose older events enrollment-svc refuses)
-- into its base state, so a timeline holds what the window needs.
-- Returns the result byte of each event (APPLIED: kept; DUPLICATE: kept already; an ENROLL with
-- PRIO_DECIDES carries the status in bit 6, as uhc_apply_v3), then the follow-ups: for every
-- event, every LEAVE at or after its place in the timeline (applied or not), the ENTER to send
-- to its destination: event index (4 bytes, 0-based), event_time (6), event id hash (4), carried
-- state (1), version (4), the destination code's length (1) and the code.

-- Writes `v` as a varint (7 bits a byte, low first) into the list `parts`.
local function put_varint(parts, v)
  while v >= 128 do
    local low = v % 128
    parts[#parts + 1] = string.char(128 + low)
    v = (v - low) / 128
  end
  parts[#parts + 1] = string.char(v)
end

local function get_varint(rec, pos)
  local v, scale = 0, 1
  for _ = 1, 5 do
    local b = string.byte(rec, pos)
    if not b then error({err = MALFORMED}) end
    pos = pos + 1
    if b < 128 then
      v = v + b * scale
      if v > 4294967295 then error({err = MALFORMED}) end
      return v, pos
    end
    v = v + (b - 128) * scale
    scale = scale * 128
  end
  error({err = MALFORMED})
end

-- A state byte: 0, or segment 1-5 with the active bit (below 16).
local function valid_state(b) return b == 0 or (b < 16 and SEG[b] >= 1 and SEG[b] <= 5) end

local function valid_arg(op, arg)
  if op == ENROLL then return arg ~= 0 and valid_state(arg) end
  if op == STATUS then return arg <= 1 end
  if op == SEGMENT then return arg >= 1 and arg <= 5 end
  if op == ENTER or op == STORED_ENTER then return valid_state(arg) end
  return (op == LEAVE or op == TERMINATE) and arg == 0
end

-- A stored value as a timeline: base, folded, n, and per entry ts, id, op, arg, ver, up, to.
local function tl_new()
  return {base = 0, folded = 0, n = 0, ts = {}, id = {}, op = {}, arg = {}, ver = {}, up = {}, to = {}}
end

local function tl_decode(rec)
  local t = tl_new()
  local len = #rec
  if len == 11 then
    local flags, ts, idh = struct.unpack('>BI6I4', rec)
    if SEG[flags] < 1 or SEG[flags] > 5 then error({err = MALFORMED}) end
    t.n, t.ts[1], t.id[1], t.ver[1], t.up[1] = 1, ts, idh, 0, 0
    if LIVE[flags] then
      t.op[1], t.arg[1] = ENROLL, SEG[flags] + 8 * ACT[flags]
    else
      t.op[1], t.arg[1] = TERMINATE, 0
    end
    return t
  end
  if len == 0 then error({err = MALFORMED}) end
  local header = string.byte(rec, 1)
  local base = header % 128
  if not valid_state(base) then error({err = MALFORMED}) end
  t.base = base
  local pos = 2
  if header >= 128 then
    t.folded, pos = get_varint(rec, pos)
    if t.folded == 0 then error({err = MALFORMED}) end
  end
  local n = 0
  while pos <= len do
    if len - pos + 1 < 11 then error({err = MALFORMED}) end
    local ts, idh, code = struct.unpack('>I6I4B', rec, pos)
    pos = pos + 11
    local arg = code % 16
    local op = (code - arg) / 16
    if not valid_arg(op, arg) or ts >= LAST_MS then error({err = MALFORMED}) end
    local ver, up, to = 0, 0, nil
    if op == ENTER or op == STORED_ENTER then
      ver, pos = get_varint(rec, pos)
      up = ver
      if op == STORED_ENTER then up, pos = get_varint(rec, pos) end
      op = ENTER
    end
    if op == LEAVE then
      local l = string.byte(rec, pos)
      if not l or l == 0 or len - pos < l then error({err = MALFORMED}) end
      to = string.sub(rec, pos + 1, pos + l)
      pos = pos + 1 + l
    end
    if n > 0 and (ts < t.ts[n] or (ts == t.ts[n] and idh <= t.id[n])) then
      error({err = MALFORMED})
    end
    n = n + 1
    t.ts[n], t.id[n], t.op[n], t.arg[n], t.ver[n], t.up[n], t.to[n] = ts, idh, op, arg, ver, up, to
  end
  t.n = n
  return t
end

local function tl_encode(t)
  local parts = {string.char(t.base + (t.folded > 0 and 128 or 0))}
  if t.folded > 0 then put_varint(parts, t.folded) end
  for k = 1, t.n do
    local op = t.op[k]
    parts[#parts + 1] = struct.pack('>I6I4B', t.ts[k], t.id[k],
                                    (op == ENTER and STORED_ENTER or op) * 16 + t.arg[k])
    if op == ENTER then
      put_varint(parts, t.ver[k])
      put_varint(parts, t.up[k])
    end
    if op == LEAVE then parts[#parts + 1] = string.char(#t.to[k]) .. t.to[k] end
  end
  return table.concat(parts)
end

-- The state after an entry, given the state before it (state bytes; 0: not a participant).
local function step(s, op, arg)
  if op == ENROLL then return arg end
  if op == STATUS then return s ~= 0 and SEG[s] + 8 * arg or s end
  if op == SEGMENT then return s ~= 0 and arg + 8 * ACT[s] or s end
  if op == ENTER then return arg ~= 0 and arg or s end
  return 0  -- LEAVE, TERMINATE
end

local function weight(t, k) return 1 + (t.op[k] == ENTER and t.up[k] or 0) end

-- Folds the entries before `before` into the base state (their weights into `folded`).
local function tl_compact(t, before)
  local k, s, w = 0, t.base, t.folded
  while k < t.n and t.ts[k + 1] < before do
    k = k + 1
    w = w + weight(t, k)
    s = step(s, t.op[k], t.arg[k])
  end
  if k == 0 then return end
  t.base, t.folded = s, w
  for x = 1, t.n do
    local y = x + k
    t.ts[x], t.id[x], t.op[x], t.arg[x], t.ver[x], t.up[x], t.to[x] =
      t.ts[y], t.id[y], t.op[y], t.arg[y], t.ver[y], t.up[y], t.to[y]
  end
  t.n = t.n - k
end

-- Folds entries from..n starting from state s (the state before `from`) and weight w (the
-- versions' sum before `from`): adds sign to net[day, from, to] for each transition and, when
-- `ups` is given, appends every LEAVE's follow-up (event index i) to it.
local function tl_fold(t, from, s, w, sign, net, ups, i)
  for k = from, t.n do
    local op = t.op[k]
    w = w + weight(t, k)
    if op == LEAVE and ups then
      ups[#ups + 1] = struct.pack('>I4I6I4BI4B', i - 1, t.ts[k], t.id[k], s, w, #t.to[k]) .. t.to[k]
    end
    local after = step(s, op, t.arg[k])
    if net and STATE[after] ~= STATE[s] then
      local wib = t.ts[k] + WIB_MS
      local key = ((wib - wib % DAY_MS) / DAY_MS * 11 + STATE[s]) * 11 + STATE[after]
      net[key] = (net[key] or 0) + sign
    end
    s = after
  end
end

local function apply4_logged(keys, args, u)
  local call, unpack_struct = redis.call, struct.unpack
  local u_event, u_old, nu = u.event, u.old, 0
  local s = args[1]
  if #s % EVENT4_BYTES ~= 0 then error({err = BAD_CALL .. 'the events are not 28 bytes each'}) end
  local n = #s / EVENT4_BYTES
  local nkeys = #keys
  -- The destinations, and the fold point: checked before anything, as the module does.
  local dest = {}
  local d, p = args[2] or '', 1
  while p <= #d do
    local l = string.byte(d, p)
    if l == 0 or p + l > #d then error({err = BAD_CALL .. 'malformed destinations'}) end
    dest[#dest + 1] = string.sub(d, p + 1, p + l)
    p = p + 1 + l
  end
  if not string.match(args[3] or '', '^%d+$') or #args[3] > 18 then
    error({err = BAD_CALL .. 'fold before is not a number of ms'})
  end
  local fold_before = tonumber(args[3])
  local base_of, agg_of, counts = {}, {}, {}
  local prio_of = {}
  local moves
  local first_day
  local out, ups = {}, {}
  local pos = 1
  for i = 1, n do
    local op, ai, bi, field, ts, idh, arg, extra
    op, ai, bi, field, ts, idh, arg, extra, pos = unpack_struct('>BHHc8I6I4BI4', s, pos)
    if op < ENROLL or op > TERMINATE or ai < 1 or ai >= nkeys or bi < 1 or bi > nkeys then
      error({err = BAD_CALL .. 'an operation or key index out of range'})
    end
    local decided = op == ENROLL and arg >= PRIO_DECIDES
    if decided then arg = arg - PRIO_DECIDES end
    if op == LEAVE or op == TERMINATE then arg = 0 end
    if ts >= LAST_MS or not valid_arg(op, arg) then
      error({err = BAD_CALL .. 'an argument byte or event_time out of range'})
    end
    local to
    if op == LEAVE then
      to = dest[extra]
      if not to then error({err = BAD_CALL .. 'a destination index out of range'}) end
    end
    local wib = ts + WIB_MS
    local day = (wib - wib % DAY_MS) / DAY_MS
    first_day = first_day or day
    if decided then
      local p = prio_of[ai]
      if p == nil then
        p = call('HGET', keys[ai], 'prio') == '1' and 1 or 0
        prio_of[ai] = p
      end
      arg = arg % 8 + 8 * p
    end
    local ver = op == ENTER and extra or 0
    local bucket = keys[bi]
    local outcome, rec_active
    local net  -- (day * 11 + from) * 11 + to -> times

    -- A participant the bucket does not hold yet: one HSETNX.
    if op == ENROLL or op == ENTER then
      local value
      if op == ENTER then
        local parts = {string.char(0), struct.pack('>I6I4B', ts, idh, STORED_ENTER * 16 + arg)}
        put_varint(parts, ver)
        parts[#parts + 1] = string.char(0)  -- no upgrades
        value = table.concat(parts)
      else
        value = string.char(0) .. struct.pack('>I6I4B', ts, idh, op * 16 + arg)
      end
      if call('HSETNX', bucket, field, value) == 1 then
        nu = nu + 1
        u_event[nu] = i
        outcome, rec_active = APPLIED, ACT[arg]
        if arg ~= 0 then net = {[(day * 11) * 11 + STATE[arg]] = 1} end
      end
    end

    if not outcome then
      local rec = call('HGET', bucket, field)
      local t = rec and tl_decode(rec) or tl_new()
      -- k: the first entry after the event (n + 1: none), found: the entry of the same event.
      local k = t.n + 1
      while k > 1 and (t.ts[k - 1] > ts or (t.ts[k - 1] == ts and t.id[k - 1] > idh)) do k = k - 1 end
      local found = k > 1 and t.ts[k - 1] == ts and t.id[k - 1] == idh
      local at = found and k - 1 or k
      local st, w = t.base, t.folded
      for x = 1, at - 1 do
        st = step(st, t.op[x], t.arg[x])
        w = w + weight(t, x)
      end
      if found and not (op == ENTER and t.op[at] == ENTER and ver > t.ver[at]) then
        outcome = DUPLICATE
        rec_active = t.op[at] == ENROLL and ACT[t.arg[at]] or 0
        tl_fold(t, at, st, w, 0, nil, ups, i)
      else
        outcome, rec_active = APPLIED, ACT[arg]
        net = {}
        tl_fold(t, at, st, w, -1, net, nil, i)
        if found then
          t.arg[at], t.ver[at], t.up[at] = arg, ver, t.up[at] + 1
        else
          for x = t.n, at, -1 do
            t.ts[x + 1], t.id[x + 1], t.op[x + 1], t.arg[x + 1], t.ver[x + 1], t.up[x + 1], t.to[x + 1] =
              t.ts[x], t.id[x], t.op[x], t.arg[x], t.ver[x], t.up[x], t.to[x]
          end
          t.ts[at], t.id[at], t.op[at], t.arg[at], t.ver[at], t.up[at], t.to[at] =
            ts, idh, op, arg, ver, 0, to
          t.n = t.n + 1
        end
        tl_fold(t, at, st, w, 1, net, ups, i)
        if fold_before > 0 then tl_compact(t, fold_before) end
        call('HSET', bucket, field, tl_encode(t))
        nu = nu + 1
        u_event[nu] = i
        if rec then u_old[nu] = rec end
      end
    end

    if outcome == APPLIED then
      local b = base_of[ai]
      if not b then
        b = #counts + 1
        base_of[ai] = b
        agg_of[b] = ai
        for x = b, b + STRIDE - 2 do counts[x] = 0 end
        counts[b + STRIDE - 1] = ts
      end
      for key, times in pairs(net or {}) do
        if times ~= 0 then
          local to_state = key % 11
          local rest = (key - to_state) / 11
          local from_state = rest % 11
          local d = (rest - from_state) / 11
          if d == first_day then
            counts[b + to_state] = counts[b + to_state] + times
            counts[b + from_state] = counts[b + from_state] - times
          else
            local mk = (b * 128 + from_state * 11 + to_state) * 65536 + d
            moves = moves or {}
            moves[mk] = (moves[mk] or 0) + times
          end
        end
      end
      counts[b + 11] = counts[b + 11] + 1
      if ts > counts[b + 12] then counts[b + 12] = ts end
    end
    out[i] = decided and outcome + rec_active * 64 or outcome
  end
  return finish(keys, counts, agg_of, moves, first_day, out, n) .. table.concat(ups)
end

local function apply4(keys, args)
  local u = {event = {}, old = {}}
  local ok, result = pcall(apply4_logged, keys, args, u)
  if ok then return result end
  roll_back(keys, args[1], u, EVENT4_BYTES)
  if type(result) == 'table' and result.err then
    return redis.error_reply(string.gsub(result.err, 'uhc_apply_v3', 'uhc_apply_v4'))
  end
  return redis.error_reply('ERR uhc_apply_v4: ' .. tostring(result))
end

-- Admin inputs with their history. Settings hash `uhc:{<region>}:settings`: p<YYYY-MM-DD> is
-- the population figure as of that date, s<YYYY-MM-DD> the status "<prio>|<dues>" from that day.
local function settings(agg)
  local v = redis.call('HMGET', agg, 'pop', 'pop_asof', 'prio', 'dues', 'ver', 'c')
  local version = tonumber(v[5] or '0')
  if v[6] and #v[6] == LAYOUT3_BYTES then version = version + struct.unpack('>I6', v[6], 41) end
  return {tonumber(v[1] or '0'), v[2] or '', tonumber(v[3] or '0'), v[4] or '', version}
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
redis.register_function('uhc_apply_v4', apply4)
redis.register_function('uhc_set_population_v3', set_population)
redis.register_function('uhc_set_status_v3', set_status)
redis.register_function('uhc_trim_days_v3', trim_days)
redis.register_function('uhc_migrate_layout_v3', migrate_layout)

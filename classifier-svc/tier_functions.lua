#!lua name=uhc_tiers_v2
-- Redis Functions of classifier-svc, library version 2.
--
-- Every key of tier changes shares the hash tag {tiers}: one slot, so a change is recorded, kept
-- in its region's history and appended to the change log in one atomic call, in Redis Cluster
-- too (tier changes are few: at most a handful per refresh).
--   uhc:{tiers}:recorded        hash  "<region>|<policy>" -> the last recorded tier
--   uhc:{tiers}:history:<region> list  serialized uhc.v1.TierChange, newest first
--   uhc:{tiers}:log             stream, field "c" = serialized uhc.v1.TierChange; the entry ID is
--                               the WatchTierChanges resume token
--   uhc:{tiers}:trimmed         string: log entries with IDs below "<this>-0" may be trimmed
--
-- uhc_record_tier_v2: records a tier change once, however many classifier replicas see it.
-- KEYS: recorded, history of the region, log, trimmed.
-- ARGV: "<region>|<policy>", the tier the caller believes is recorded ("" for none yet), the new
-- tier, the serialized change, the history length to keep, the log's oldest ms to keep.
-- Compare-and-set: only the caller whose belief matches records; returns the log entry ID if it
-- did, else false (a nil reply).
local function record_tier(keys, args)
  local current = redis.call('HGET', keys[1], args[1]) or ''
  if current ~= args[2] then return false end
  redis.call('HSET', keys[1], args[1], args[3])
  redis.call('LPUSH', keys[2], args[4])
  redis.call('LTRIM', keys[2], 0, tonumber(args[5]) - 1)
  local id = redis.call('XADD', keys[3], '*', 'c', args[4])
  local keep_from = tonumber(args[6])
  if redis.call('XTRIM', keys[3], 'MINID', keep_from .. '-0') > 0 then
    local before = tonumber(redis.call('GET', keys[4]) or '0')
    if keep_from > before then redis.call('SET', keys[4], keep_from) end
  end
  return id
end

-- uhc_import_history_v2: the one-time move of a region's version-1 history
-- (uhc:{<region>}:history) to KEYS[1]; ARGV are its entries, newest first. Does nothing if the
-- new list exists (another replica moved it first). Returns 1 if it moved them.
local function import_history(keys, args)
  if redis.call('EXISTS', keys[1]) == 1 then return 0 end
  redis.call('RPUSH', keys[1], unpack(args))
  return 1
end

redis.register_function('uhc_record_tier_v2', record_tier)
redis.register_function('uhc_import_history_v2', import_history)

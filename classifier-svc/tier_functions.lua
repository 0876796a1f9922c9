#!lua name=uhc_tiers_v1
-- Redis Functions of classifier-svc, library version 1.
--
-- uhc_record_tier_v1: records a tier change once, however many classifier replicas see it.
-- KEYS[1] `uhc:{<region>}:tier` (hash: policy id -> last recorded tier),
-- KEYS[2] `uhc:{<region>}:history` (list, newest first, of serialized uhc.v1.TierChange).
-- ARGV: policy id, the tier the caller believes is recorded ("" for none yet), the new tier,
-- the serialized change, the history length to keep.
-- Compare-and-set: only the caller whose belief matches records; returns 1 if it did, else 0.
local function record_tier(keys, args)
  local current = redis.call('HGET', keys[1], args[1]) or ''
  if current ~= args[2] then return 0 end
  redis.call('HSET', keys[1], args[1], args[3])
  redis.call('LPUSH', keys[2], args[4])
  redis.call('LTRIM', keys[2], 0, tonumber(args[5]) - 1)
  return 1
end

redis.register_function('uhc_record_tier_v1', record_tier)

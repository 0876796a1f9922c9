#!lua
-- Records cut-off ARGV[1] in one atomic step: its figures and its index entry together.
-- KEYS[1] = uhc:{cutoffs}:index (hash id -> Cutoff record), KEYS[2] = uhc:{cutoffs}:data:<id>.
-- ARGV[2] = the Cutoff record, ARGV[3] = the figures (EncodeFrozen), ARGV[4] = the index entry the
-- caller checked has this cut-off's date ("" if it saw none).
--
-- The shebang without flags makes Redis refuse the whole script before it starts when memory is
-- over maxmemory (OOM), so an OOM writes nothing; once started it writes both keys.
-- An index entry never changes: with one present, only missing figures are written (an earlier
-- release could leave an entry without them), and only to the entry the caller checked: one
-- written since, maybe of another date, is left as it is and returned.
-- Figures without an index entry were never visible and are replaced.
-- Returns the index entry as it now stands.
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  redis.call('SET', KEYS[2], ARGV[3])
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
elseif redis.call('EXISTS', KEYS[2]) == 0 and redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[4] then
  redis.call('SET', KEYS[2], ARGV[3])
end
return redis.call('HGET', KEYS[1], ARGV[1])

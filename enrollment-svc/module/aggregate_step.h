#pragma once

#include <cstdint>
#include <vector>

#include "enrollment-svc/module/module_support.h"

namespace uhc::redis_module {

// What the aggregate step writes for one touched aggregate.
struct AggregateWrite {
  int agg = 0;                           // key index; its day hash follows it
  std::vector<RedisModuleString*> days;  // HSET arguments for the day hash (none: no write)
  RedisModuleString* c = nullptr;        // the new `c`
};

// The aggregate step for one touched aggregate (the Lua's last loop over `counts`), reads only:
// its counts, events applied, newest event and current day in `c`, and its day hash when a day
// ends or late events arrive, into `w`. False if a stored value it reads is shorter than its
// layout (`c`, layout 2's `e`, a day).
bool PlanAggregate(Call& call, Touched& r, int32_t first_day, AggregateWrite* w);

// Writes what PlanAggregate planned (HDEL, HSET of keys read as hashes: cannot fail).
void WriteAggregate(Call& call, const AggregateWrite& w);

}  // namespace uhc::redis_module

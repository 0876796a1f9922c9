#pragma once

#include <cstdint>

#include "enrollment-svc/module/module_support.h"

namespace uhc::redis_module {

// The aggregate step for one touched aggregate (the Lua's last loop over `counts`): its counts,
// events applied, newest event and current day in `c`, and its day hash when a day ends or late
// events arrive. False if a stored value it reads is shorter than its layout (`c`, layout 2's
// `e`, a day): its `c` is then not written.
bool UpdateAggregate(Call& call, Touched& r, int32_t first_day);

}  // namespace uhc::redis_module

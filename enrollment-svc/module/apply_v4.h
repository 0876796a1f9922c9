#pragma once

#include "enrollment-svc/module/redis_module_api.h"

namespace uhc::redis_module {

// uhc.apply_v4 <numkeys> <key>... <events> <destinations> <fold before ms>: what the Redis function
// uhc_apply_v4 (enrollment-svc/uhc_apply_v3.lua, which documents the call) does, with the fold of
// common/domain/timeline.h. Checks the whole call first; a call that fails changes nothing.
int ApplyV4(RedisModuleCtx* ctx, RedisModuleString** argv, int argc);

}  // namespace uhc::redis_module

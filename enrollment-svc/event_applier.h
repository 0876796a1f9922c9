#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/redis/client.h"
#include "common/domain/event_rules.h"
#include "uhc/v1/enrollment.pb.h"

namespace uhc {

// The Lua library of uhc_functions.lua, embedded at build time.
extern const char kUhcFunctionsLua[];

// One 24-byte event argument of uhc_apply_v1 (layout in uhc_functions.lua); key indexes are
// 1-based positions in the call's KEYS.
std::string EncodeApplyArg(ApplyOp op, uint16_t aggregate_key, uint16_t bucket_key,
                           const PreparedEvent& event, uint8_t arg);

// Applies a batch of prepared events through uhc_apply_v1 and fills one EventResult per event
// (rejected ones included, in index order) and the counts of `response`. The events go in order
// in calls of at most `events_per_call` events (in a cluster, one region per call), each round of
// calls in one pipeline; a relocation's two halves stay in one call unless a cluster puts its
// regions apart. Only fully confirmed pipelines (by `wait_replicas` replicas, when > 0) fill
// `response`: on any error nothing is reported applied (Redis may still have applied a prefix; a
// retry is safe, events are idempotent).
absl::Status ApplyEvents(RedisClient& redis, const std::vector<PreparedEvent>& events,
                         int events_per_call, int wait_replicas,
                         v1::IngestEventsResponse* response);

}  // namespace uhc

#pragma once

#include <string>
#include <vector>

#include "common/domain/identity.h"
#include "common/redis/client.h"
#include "tests/support/reference_model.h"

namespace uhc::testing {

// Every region's aggregate hash (part, act, n1..n5, a1..a5) equals the model's counts
// (gtest expectations, one per field that differs).
void ExpectAggregatesEqualModel(RedisClient& redis, const ReferenceModel& model,
                                const std::vector<std::string>& regions);

// Every participant record of the model, tombstones included, is in its bucket with the model's
// segment, status, kind and time. Returns how many records were compared.
size_t ExpectRecordsEqualModel(RedisClient& redis, const ReferenceModel& model,
                               const NikKeyer& keyer);

}  // namespace uhc::testing

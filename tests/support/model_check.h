#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/domain/identity.h"
#include "common/redis/client.h"
#include "tests/support/reference_model.h"
#include "uhc/v1/common.pb.h"

namespace uhc::testing {

// Every region's aggregate hash (part, act, n1..n5, a1..a5) equals the model's counts
// (gtest expectations, one per field that differs).
void ExpectAggregatesEqualModel(RedisClient& redis, const ReferenceModel& model,
                                const std::vector<std::string>& regions);

// Every participant record of the model, tombstones included, is in its bucket with the model's
// segment, status, kind and time. Returns how many records were compared.
size_t ExpectRecordsEqualModel(RedisClient& redis, const ReferenceModel& model,
                               const NikKeyer& keyer);

// Every day's counts of every region, from WIB day `first` to `last` (days since the epoch), read
// from the day history as as-of answers are, equal the model's (stops at the first difference).
// Returns how many (region, day) pairs were compared.
int ExpectEveryDayEqualsModel(RedisClient& redis, const ReferenceModel& model,
                              const std::vector<std::string>& regions, int64_t first, int64_t last);

// The first and last WIB day (days since the epoch) of the events.
std::pair<int64_t, int64_t> DaysOf(const std::vector<v1::ParticipantEvent>& events);

}  // namespace uhc::testing

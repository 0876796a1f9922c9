#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "uhc/v1/common.pb.h"

namespace uhc::testing {

// A valid, distinct NIK for every i in [0, 50,000,000): province 12, regency 19, a district,
// a date in 1980-2004 (women every other), and a serial.
std::string TestNik(int64_t i);

// Event builders. `ts` is seconds since the epoch (after 2014); ms adds precision.
v1::ParticipantEvent Enrolled(const std::string& id, const std::string& nik,
                              const std::string& region, int64_t ts, v1::Segment segment,
                              bool active);
v1::ParticipantEvent StatusChanged(const std::string& id, const std::string& nik,
                                   const std::string& region, int64_t ts, bool active);
v1::ParticipantEvent SegmentChanged(const std::string& id, const std::string& nik,
                                    const std::string& region, int64_t ts, v1::Segment segment);
v1::ParticipantEvent Relocated(const std::string& id, const std::string& nik,
                               const std::string& region, int64_t ts, const std::string& to);
v1::ParticipantEvent Terminated(const std::string& id, const std::string& nik,
                                const std::string& region, int64_t ts);

// 2025-01-01T00:00:00Z, a base for test timestamps.
inline constexpr int64_t kBaseTime = 1735689600;

// A random but valid history of `events` events of `participants` people over `regions`
// (enrolments, status and segment changes, relocations, terminations, re-enrolments), then
// mixed: 10 % exact duplicates re-sent up to 500 events later and 5 % of events overtaken by the
// next event of the same participant. Each participant's events are 1 to `max_step_seconds`
// apart. Deterministic for a seed.
std::vector<v1::ParticipantEvent> GenerateHistory(const std::vector<std::string>& regions,
                                                  int participants, int events, uint32_t seed,
                                                  int max_step_seconds = 86400);

}  // namespace uhc::testing

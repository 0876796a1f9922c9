#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "uhc/v1/enrollment.grpc.pb.h"

namespace uhc::testing {

// How the same events are delivered (issue #26): whatever the way, the figures must not change.
enum class Delivery {
  kInOrder,    // by event_time, one stream
  kShuffled,   // a random permutation, one stream
  kReversed,   // latest first, one stream
  kResent,     // shuffled, a tenth resent, in random batches, one stream
  kConcurrent  // shuffled, a tenth resent, dealt at random to four concurrent streams
};
const char* DeliveryName(Delivery d);

// The streams of `events` for `delivery` (random parts from `seed`).
std::vector<std::vector<v1::ParticipantEvent>> Deal(std::vector<v1::ParticipantEvent> events,
                                                    Delivery delivery, uint64_t seed);

// What the service answered.
struct Delivered {
  int applied = 0;
  int duplicate = 0;
  int other = 0;            // any other outcome
  std::string first_other;  // the first of them, with its message
  int failed = 0;           // streams or batches that failed
};

// Sends each stream on its own IngestEvents stream, all at once, in batches of 1 to `max_batch`
// events (random from `seed`).
Delivered DeliverConcurrently(v1::EnrollmentService::Stub* stub,
                              const std::vector<std::vector<v1::ParticipantEvent>>& streams,
                              uint64_t seed, int max_batch = 400);

}  // namespace uhc::testing

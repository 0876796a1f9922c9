#include "tests/support/delivery.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <random>
#include <thread>

namespace uhc::testing {

const char* DeliveryName(Delivery d) {
  switch (d) {
    case Delivery::kInOrder:
      return "InOrder";
    case Delivery::kShuffled:
      return "Shuffled";
    case Delivery::kReversed:
      return "Reversed";
    case Delivery::kResent:
      return "Resent";
    case Delivery::kConcurrent:
      return "Concurrent";
  }
  return "?";
}

std::vector<std::vector<v1::ParticipantEvent>> Deal(std::vector<v1::ParticipantEvent> events,
                                                    Delivery delivery, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto by_time = [](const v1::ParticipantEvent& a, const v1::ParticipantEvent& b) {
    return std::make_pair(a.event_time().seconds(), a.event_time().nanos()) <
           std::make_pair(b.event_time().seconds(), b.event_time().nanos());
  };
  switch (delivery) {
    case Delivery::kInOrder:
      std::stable_sort(events.begin(), events.end(), by_time);
      return {events};
    case Delivery::kReversed:
      std::stable_sort(events.begin(), events.end(), by_time);
      std::reverse(events.begin(), events.end());
      return {events};
    case Delivery::kShuffled:
      std::shuffle(events.begin(), events.end(), rng);
      return {events};
    case Delivery::kResent:
    case Delivery::kConcurrent: {
      const size_t n = events.size();
      for (size_t k = 0; k < n / 10; ++k) events.push_back(events[rng() % n]);
      std::shuffle(events.begin(), events.end(), rng);
      if (delivery == Delivery::kResent) return {events};
      std::vector<std::vector<v1::ParticipantEvent>> streams(4);
      for (const auto& e : events) streams[rng() % 4].push_back(e);
      return streams;
    }
  }
  return {};
}

Delivered DeliverConcurrently(v1::EnrollmentService::Stub* stub,
                              const std::vector<std::vector<v1::ParticipantEvent>>& streams,
                              uint64_t seed, int max_batch) {
  std::atomic<int> applied{0}, duplicate{0}, other{0}, failed{0};
  std::mutex mu;
  std::string first_other;
  std::vector<std::thread> threads;
  for (size_t s = 0; s < streams.size(); ++s) {
    threads.emplace_back([&, s] {
      std::mt19937_64 rng(seed + s);
      grpc::ClientContext context;
      auto stream = stub->IngestEvents(&context);
      const std::vector<v1::ParticipantEvent>& events = streams[s];
      for (size_t start = 0; start < events.size();) {
        const size_t end = std::min(events.size(), start + 1 + rng() % max_batch);
        v1::IngestEventsRequest request;
        for (size_t k = start; k < end; ++k) *request.add_events() = events[k];
        v1::IngestEventsResponse response;
        if (!stream->Write(request) || !stream->Read(&response)) {
          ++failed;
          return;
        }
        for (const auto& r : response.results()) {
          if (r.outcome() == v1::EVENT_OUTCOME_APPLIED) {
            ++applied;
          } else if (r.outcome() == v1::EVENT_OUTCOME_DUPLICATE) {
            ++duplicate;
          } else if (other++ == 0) {
            const std::lock_guard<std::mutex> lock(mu);
            first_other = r.ShortDebugString();
          }
        }
        start = end;
      }
      stream->WritesDone();
      if (!stream->Finish().ok()) ++failed;
    });
  }
  for (std::thread& t : threads) t.join();
  return {applied.load(), duplicate.load(), other.load(), first_other, failed.load()};
}

}  // namespace uhc::testing

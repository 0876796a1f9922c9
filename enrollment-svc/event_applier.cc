#include "enrollment-svc/event_applier.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/observability/log.h"
#include "common/redis/history.h"
#include "common/redis/schema.h"

namespace uhc {
namespace {

using apply_abi::kApplied;
using apply_abi::kDuplicate;
using apply_abi::kEnterFromLeave;
using apply_abi::kGone;
using apply_abi::kNotFound;
using apply_abi::kStale;

uint8_t AbiOp(ApplyOp op) {
  switch (op) {
    case ApplyOp::kEnroll:
      return apply_abi::kEnroll;
    case ApplyOp::kStatus:
      return apply_abi::kStatus;
    case ApplyOp::kSegment:
      return apply_abi::kSegment;
    case ApplyOp::kLeave:
      return apply_abi::kLeave;
    case ApplyOp::kEnter:
      return apply_abi::kEnter;
    case ApplyOp::kTerminate:
      return apply_abi::kTerminate;
  }
  std::abort();  // every enumerator is handled above
}

// One FCALL under construction: its keys (deduplicated) and its 24-byte events, packed into one
// argument.
struct Call {
  std::vector<std::string> keys;
  // (region, bucket) -> 1-based KEYS index; the aggregate is bucket kAggregate. Key strings are
  // built once per call, not per event.
  absl::flat_hash_map<std::pair<const Region*, uint32_t>, uint16_t> key_index;
  std::string packed;
  std::vector<int> event_of_arg;  // index into `events` for each packed event
  std::vector<bool> is_enter;     // whether each packed event is a relocation's ENTER
  int events = 0;  // the batch's events in the call: a LEAVE and the ENTER after it are one

  size_t size() const { return event_of_arg.size(); }

  static constexpr uint32_t kAggregate = 0xffffffff;

  uint16_t KeyIndex(const Region& region, uint32_t bucket) {
    auto [it, inserted] =
        key_index.emplace(std::make_pair(&region, bucket), static_cast<uint16_t>(keys.size() + 1));
    if (inserted && bucket == kAggregate) {
      keys.push_back(AggregateKey(region.code));
      keys.push_back(DaysKey(region.code));  // uhc_apply_v3: right after its aggregate
    } else if (inserted) {
      keys.push_back(BucketKey(region.code, bucket));
    }
    return it->second;
  }

  void Add(int event, ApplyOp op, const Region& region, const PreparedEvent& e, uint8_t arg) {
    uint16_t agg = KeyIndex(region, kAggregate);
    uint16_t bucket = KeyIndex(region, e.key.bucket);
    packed += EncodeApplyArg(op, agg, bucket, e, arg);
    event_of_arg.push_back(event);
    is_enter.push_back(op == ApplyOp::kEnter);
    if (!(op == ApplyOp::kEnter && arg == kEnterFromLeave)) ++events;
  }
};

v1::EventOutcome Combine(uint8_t leave, uint8_t enter) {
  if (leave == kApplied) return v1::APPLIED;
  if (leave == kDuplicate) {
    if (enter == kApplied) return v1::APPLIED;
    return enter == kStale ? v1::STALE : v1::DUPLICATE;
  }
  return leave == kStale ? v1::STALE : v1::REJECTED;
}

// The error Redis answers for a command it does not have.
bool IsUnknownCommand(const redisReply* reply) {
  return reply && reply->type == REDIS_REPLY_ERROR &&
         absl::StartsWith(absl::string_view(reply->str, reply->len), "ERR unknown command");
}

void Reject(v1::EventResult* result, const std::string& field, const std::string& reason) {
  result->set_outcome(v1::REJECTED);
  result->set_field(field);
  result->set_reason(reason);
}

}  // namespace

std::optional<ApplyEngine> ParseApplyEngine(absl::string_view name) {
  if (name == "function") return ApplyEngine::kFunction;
  if (name == "module") return ApplyEngine::kModule;
  if (name == "auto") return ApplyEngine::kAuto;
  return std::nullopt;
}

bool EngineChoice::UseModule(absl::Time now) const {
  if (configured_ != ApplyEngine::kAuto) return configured_ == ApplyEngine::kModule;
  return absl::ToUnixNanos(now) >= function_until_ns_.load(std::memory_order_relaxed);
}

void EngineChoice::ModuleMissing(absl::Time now) {
  function_until_ns_.store(absl::ToUnixNanos(now + retry_after_), std::memory_order_relaxed);
  if (!missing_.exchange(true)) {
    LogInfo("Redis has no uhc.apply_v3 (uhc_module.so): applying with the Redis function",
            {{"module_retry_seconds", absl::ToInt64Seconds(retry_after_)}});
  }
}

void EngineChoice::ModuleServed() {
  if (missing_.exchange(false)) LogInfo("Redis has uhc.apply_v3 again: applying with the module");
}

std::string EncodeApplyArg(ApplyOp op, uint16_t aggregate_key, uint16_t bucket_key,
                           const PreparedEvent& e, uint8_t arg) {
  return apply_abi::EncodeEventArg(AbiOp(op), aggregate_key, bucket_key,
                                   absl::string_view(e.key.field.data(), e.key.field.size()),
                                   e.occurred_at_ms, e.event_id_hash, arg);
}

std::vector<std::vector<ApplyStep>> PlanRounds(const std::vector<PreparedEvent>& events,
                                               bool per_region, int events_per_call) {
  std::vector<std::vector<ApplyStep>> rounds(1);
  if (!per_region) {
    for (size_t i = 0; i < events.size(); ++i) {
      const PreparedEvent& e = events[i];
      if (e.rejected) continue;
      const int event = static_cast<int>(i);
      rounds[0].push_back({event, e.op, e.region, e.arg, false});
      if (e.op == ApplyOp::kLeave) {
        rounds[0].push_back({event, ApplyOp::kEnter, e.to_region, kEnterFromLeave, false});
      }
    }
    return rounds;
  }
  std::vector<absl::flat_hash_map<const Region*, int>> load(1);  // steps per region and round
  absl::flat_hash_map<uint64_t, size_t> round_of;  // participants held back to a later round
  // The first round from `from` where `region`'s call has room for one more step.
  const auto place = [&](size_t from, const Region* region) {
    for (size_t r = from;; ++r) {
      if (r == rounds.size()) {
        rounds.emplace_back();
        load.emplace_back();
      }
      int& n = load[r][region];
      if (n == 0 || n < events_per_call) {
        ++n;
        return r;
      }
    }
  };
  for (size_t i = 0; i < events.size(); ++i) {
    const PreparedEvent& e = events[i];
    if (e.rejected) continue;
    const int event = static_cast<int>(i);
    uint64_t participant = 0;
    std::memcpy(&participant, e.key.field.data(), sizeof(participant));
    size_t r = 0;
    if (auto it = round_of.find(participant); it != round_of.end()) r = it->second;
    r = place(r, e.region);
    rounds[r].push_back({event, e.op, e.region, e.arg, false});
    if (e.op == ApplyOp::kLeave) {  // the validator guarantees to_region != region
      r = place(r + 1, e.to_region);
      rounds[r].push_back({event, ApplyOp::kEnter, e.to_region, 0, true});
    }
    if (r > 0) round_of[participant] = r;
  }
  return rounds;
}

absl::Status ApplyEvents(RedisClient& redis, const std::vector<PreparedEvent>& events,
                         int events_per_call, int wait_replicas, EngineChoice* engine,
                         v1::IngestEventsResponse* response, std::vector<uint8_t>* result_bytes) {
  const bool per_region = redis.cluster();
  const std::vector<std::vector<ApplyStep>> rounds =
      PlanRounds(events, per_region, events_per_call);

  // codes: the whole result byte of each event's own operation (a LEAVE's carries segment and
  // status); enter_codes: the outcome of a relocation's ENTER.
  std::vector<uint8_t> codes(events.size(), 0), enter_codes(events.size(), 0);
  // A call Redis refused (an error reply) changed nothing. The batch then fails, but the other
  // calls' later rounds still run, so that a relocation whose LEAVE was applied gets its ENTER
  // (else a batch failing for another region's sake would leave the participant in neither region,
  // and every retry would fail the same way); the later steps of participants with an event in a
  // refused call are left out, so that no participant's events apply out of order.
  absl::Status refused;
  absl::flat_hash_set<uint64_t> held;  // participants with an event in a refused call
  const auto participant_of = [&](int event) {
    uint64_t participant = 0;
    std::memcpy(&participant, events[event].key.field.data(), sizeof(participant));
    return participant;
  };
  for (const std::vector<ApplyStep>& round : rounds) {
    std::vector<Call> calls;
    absl::flat_hash_map<const Region*, size_t> open_call;  // per region, or one (nullptr)
    size_t current = 0;
    for (const ApplyStep& step : round) {
      if (!held.empty() && held.contains(participant_of(step.event))) continue;
      uint8_t arg = step.arg;
      if (step.carry) {
        const uint8_t leave = codes[step.event];
        const uint8_t left = apply_abi::Outcome(leave);
        if (left != kApplied && left != kDuplicate) continue;  // nothing moved
        arg = apply_abi::CarriedEnterArg(leave);
      }
      // A LEAVE and its ENTER in one call are never split across calls.
      if (!(step.op == ApplyOp::kEnter && arg == kEnterFromLeave)) {
        auto [it, inserted] = open_call.try_emplace(per_region ? step.region : nullptr, 0);
        if (inserted || (!per_region && calls[it->second].events >= events_per_call)) {
          it->second = calls.size();
          calls.emplace_back();
        }
        current = it->second;
      }
      calls[current].Add(step.event, step.op, *step.region, events[step.event], arg);
    }
    if (calls.empty()) continue;

    // Argument views point into `calls` and `key_counts`, which outlive the pipeline.
    std::vector<std::string> key_counts;
    key_counts.reserve(calls.size());
    for (const Call& call : calls) key_counts.push_back(std::to_string(call.keys.size()));
    // Runs calls `which` in one pipeline; their replies in the same order.
    const auto run = [&](const std::vector<size_t>& which, bool module) {
      RedisCommands commands(which.size());
      for (size_t w = 0; w < which.size(); ++w) {
        const Call& call = calls[which[w]];
        RedisArgv& cmd = commands[w];
        cmd.reserve(4 + call.keys.size());
        if (module) {
          cmd.push_back(apply_abi::kApplyCommand);
        } else {
          cmd.push_back("FCALL");
          cmd.push_back(apply_abi::kApplyFunction);
        }
        cmd.push_back(key_counts[which[w]]);
        for (const std::string& k : call.keys) cmd.push_back(k);
        cmd.push_back(call.packed);
      }
      return redis.Pipeline(commands, wait_replicas);
    };
    std::vector<size_t> all(calls.size());
    for (size_t c = 0; c < calls.size(); ++c) all[c] = c;
    const bool module = engine->UseModule(absl::Now());
    absl::StatusOr<std::vector<ReplyPtr>> replies = run(all, module);
    if (!replies.ok()) return replies.status();
    if (module && engine->falls_back()) {
      // A Redis without uhc_module.so changed nothing for those calls: for them, and for a while,
      // the function (calls of one round touch different participants or one server).
      std::vector<size_t> again;
      for (size_t c = 0; c < calls.size(); ++c) {
        if (IsUnknownCommand((*replies)[c].get())) again.push_back(c);
      }
      if (again.empty()) {
        engine->ModuleServed();
      } else {
        engine->ModuleMissing(absl::Now());
        absl::StatusOr<std::vector<ReplyPtr>> retried = run(again, false);
        if (!retried.ok()) return retried.status();
        for (size_t a = 0; a < again.size(); ++a) (*replies)[again[a]] = std::move((*retried)[a]);
      }
    }
    for (size_t c = 0; c < calls.size(); ++c) {
      const redisReply* reply = (*replies)[c].get();
      if (absl::Status s = ReplyStatus(reply); !s.ok()) {
        if (refused.ok()) refused = s;
        for (int event : calls[c].event_of_arg) held.insert(participant_of(event));
        continue;
      }
      if (reply->type != REDIS_REPLY_STRING || reply->len != calls[c].size()) {
        return absl::InternalError(absl::StrCat(apply_abi::kApplyFunction, ": malformed reply"));
      }
      for (size_t a = 0; a < calls[c].size(); ++a) {
        const int event = calls[c].event_of_arg[a];
        const auto code = static_cast<uint8_t>(reply->str[a]);
        if (calls[c].is_enter[a]) {
          enter_codes[event] = apply_abi::Outcome(code);
        } else {
          codes[event] = code;
        }
      }
    }
  }

  if (!refused.ok()) return refused;
  response->clear_results();
  for (size_t i = 0; i < events.size(); ++i) {
    const PreparedEvent& e = events[i];
    v1::EventResult* result = response->add_results();
    result->set_index(e.index);
    if (e.rejected) {
      Reject(result, e.field, e.reason);
      continue;
    }
    const uint8_t code = apply_abi::Outcome(codes[i]);
    if (e.op == ApplyOp::kLeave) {
      v1::EventOutcome outcome = Combine(code, enter_codes[i]);
      if (outcome != v1::REJECTED) {
        result->set_outcome(outcome);
        continue;
      }
    }
    switch (code) {
      case kApplied:
        result->set_outcome(v1::APPLIED);
        break;
      case kDuplicate:
        result->set_outcome(v1::DUPLICATE);
        break;
      case kStale:
        result->set_outcome(v1::STALE);
        break;
      case kNotFound:
        Reject(result, "nik",
               absl::StrCat("no participant with this NIK in region ", e.region->code));
        break;
      case kGone:
        Reject(result, "nik",
               absl::StrCat("the participant has left region ", e.region->code,
                            " (relocated or terminated)"));
        break;
      default:
        return absl::InternalError(
            absl::StrCat(apply_abi::kApplyFunction, ": unexpected result ", code));
    }
  }
  CountOutcomes(response);
  if (result_bytes) *result_bytes = std::move(codes);
  return absl::OkStatus();
}

void CountOutcomes(v1::IngestEventsResponse* response) {
  int counts[5] = {0, 0, 0, 0, 0};
  for (const v1::EventResult& r : response->results()) ++counts[r.outcome()];
  response->set_applied(counts[v1::APPLIED]);
  response->set_duplicate(counts[v1::DUPLICATE]);
  response->set_stale(counts[v1::STALE]);
  response->set_rejected(counts[v1::REJECTED]);
}

}  // namespace uhc

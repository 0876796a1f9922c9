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

// One uhc_apply_v4 call under construction: its keys (deduplicated), its 28-byte events packed
// into one argument, and the LEAVEs' destinations.
struct Call {
  std::vector<std::string> keys;
  // (region, bucket) -> 1-based KEYS index; the aggregate is bucket kAggregate. Key strings are
  // built once per call, not per event.
  absl::flat_hash_map<std::pair<std::string, uint32_t>, uint16_t> key_index;
  absl::flat_hash_map<std::string, uint32_t> destination_index;
  std::string packed;
  std::string destinations;
  std::vector<size_t> steps;  // the step of each packed event

  static constexpr uint32_t kAggregate = 0xffffffff;

  uint16_t KeyIndex(const std::string& region, uint32_t bucket) {
    auto [it, inserted] =
        key_index.emplace(std::make_pair(region, bucket), static_cast<uint16_t>(keys.size() + 1));
    if (inserted && bucket == kAggregate) {
      keys.push_back(AggregateKey(region));
      keys.push_back(DaysKey(region));  // uhc_apply_v4: right after its aggregate
    } else if (inserted) {
      keys.push_back(BucketKey(region, bucket));
    }
    return it->second;
  }

  void Add(size_t index, const CallStep& s) {
    const uint16_t agg = KeyIndex(s.region, kAggregate);
    const uint16_t bucket = KeyIndex(s.region, s.bucket);
    uint32_t extra = s.op == ApplyOp::kEnter ? s.version : 0;
    if (s.op == ApplyOp::kLeave) {
      auto [it, inserted] =
          destination_index.emplace(s.to, static_cast<uint32_t>(destination_index.size() + 1));
      if (inserted) {
        destinations.push_back(static_cast<char>(s.to.size()));
        destinations += s.to;
      }
      extra = it->second;
    }
    apply_abi::AppendEventArgV4(&packed, AbiOp(s.op), agg, bucket, s.field, s.occurred_at_ms,
                                s.event_id_hash, s.arg, extra);
    steps.push_back(index);
  }
};

// The follow-ups after a reply's result bytes, as ENTER steps of `call`'s participants.
absl::Status ParseFollowUps(absl::string_view reply, const Call& call,
                            const std::vector<CallStep>& steps, std::vector<CallStep>* out) {
  const auto big = [&](size_t at, int bytes) {
    uint64_t v = 0;
    for (int b = 0; b < bytes; ++b) v = v << 8 | static_cast<uint8_t>(reply[at + b]);
    return v;
  };
  for (size_t p = call.steps.size(); p < reply.size();) {
    if (reply.size() - p < 20) return absl::InternalError("uhc_apply_v4: malformed follow-up");
    const uint64_t index = big(p, 4);
    const size_t length = static_cast<uint8_t>(reply[p + 19]);
    if (index >= call.steps.size() || length == 0 || reply.size() - p - 20 < length) {
      return absl::InternalError("uhc_apply_v4: malformed follow-up");
    }
    const CallStep& from = steps[call.steps[index]];
    CallStep enter;
    enter.op = ApplyOp::kEnter;
    enter.region = std::string(reply.substr(p + 20, length));
    enter.field = from.field;
    enter.bucket = from.bucket;
    enter.occurred_at_ms = big(p + 4, 6);
    enter.event_id_hash = static_cast<uint32_t>(big(p + 10, 4));
    enter.arg = static_cast<uint8_t>(reply[p + 14]);
    enter.version = static_cast<uint32_t>(big(p + 15, 4));
    out->push_back(std::move(enter));
    p += 20 + length;
  }
  return absl::OkStatus();
}

// The error Redis answers for a command it does not have.
bool IsUnknownCommand(const redisReply* reply) {
  return reply && reply->type == REDIS_REPLY_ERROR &&
         absl::StartsWith(absl::string_view(reply->str, reply->len), "ERR unknown command");
}

void Reject(v1::EventResult* result, const std::string& field, const std::string& reason) {
  result->set_outcome(v1::EVENT_OUTCOME_REJECTED);
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
    LogInfo("Redis has no uhc.apply_v4 (uhc_module.so): applying with the Redis function",
            {{"module_retry_seconds", absl::ToInt64Seconds(retry_after_)}});
  }
}

void EngineChoice::ModuleServed() {
  if (missing_.exchange(false)) LogInfo("Redis has uhc.apply_v4 again: applying with the module");
}

std::vector<std::vector<size_t>> GroupCalls(const std::vector<CallStep>& steps, bool per_region,
                                            int events_per_call) {
  std::vector<std::vector<size_t>> calls;
  absl::flat_hash_map<std::string, size_t> open;  // region ("" standalone) -> call
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string slot = per_region ? steps[i].region : std::string();
    auto [it, inserted] = open.try_emplace(slot, calls.size());
    if (inserted || calls[it->second].size() >= static_cast<size_t>(events_per_call)) {
      it->second = calls.size();
      calls.emplace_back();
    }
    calls[it->second].push_back(i);
  }
  return calls;
}

absl::Status ApplyEvents(RedisClient& redis, const std::vector<PreparedEvent>& events,
                         int events_per_call, int wait_replicas, EngineChoice* engine,
                         v1::IngestEventsResponse* response, std::vector<uint8_t>* result_bytes,
                         uint64_t fold_before_ms) {
  const bool per_region = redis.cluster();
  const std::string fold_before = std::to_string(fold_before_ms);
  std::vector<CallStep> steps;
  steps.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const PreparedEvent& e = events[i];
    if (e.rejected) continue;
    CallStep s;
    s.event = static_cast<int>(i);
    s.op = e.op;
    s.region = e.region->code;
    if (e.op == ApplyOp::kLeave) s.to = e.to_region->code;
    s.field.assign(e.key.field.begin(), e.key.field.end());
    s.bucket = e.key.bucket;
    s.occurred_at_ms = e.occurred_at_ms;
    s.event_id_hash = e.event_id_hash;
    s.arg = e.op == ApplyOp::kLeave ? 0 : e.arg;
    steps.push_back(std::move(s));
  }

  std::vector<uint8_t> codes(events.size(), 0);  // each event's own result byte
  // A call Redis refused (an error reply) changed nothing; the batch then fails, but the other
  // calls' follow-ups still go, so no relocation stays half done.
  absl::Status refused;
  // The largest version of each ENTER sent so far (destination, field, event_time, event id
  // hash): every call re-reports the LEAVEs after its events (so a retry heals a lost follow-up),
  // so a chain of moves back and forth would otherwise send the same ENTER many times over.
  absl::flat_hash_map<std::string, uint32_t> sent;
  for (int round = 0; !steps.empty(); ++round) {
    if (round > kMaxFollowUpRounds) {
      return absl::InternalError("uhc_apply_v4: follow-ups did not end");
    }
    const std::vector<std::vector<size_t>> groups = GroupCalls(steps, per_region, events_per_call);
    std::vector<Call> calls;
    calls.reserve(groups.size());
    for (const std::vector<size_t>& group : groups) {
      Call& call = calls.emplace_back();
      call.packed.reserve(group.size() * apply_abi::kEventArgBytesV4);
      call.steps.reserve(group.size());
      for (size_t index : group) call.Add(index, steps[index]);
    }
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
        cmd.reserve(6 + call.keys.size());
        if (module) {
          cmd.push_back(apply_abi::kApplyCommandV4);
        } else {
          cmd.push_back("FCALL");
          cmd.push_back(apply_abi::kApplyFunctionV4);
        }
        cmd.push_back(key_counts[which[w]]);
        for (const std::string& k : call.keys) cmd.push_back(k);
        cmd.push_back(call.packed);
        cmd.push_back(call.destinations);
        cmd.push_back(fold_before);
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
      // the function.
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
    std::vector<CallStep> follow_ups;
    for (size_t c = 0; c < calls.size(); ++c) {
      const redisReply* reply = (*replies)[c].get();
      if (absl::Status s = ReplyStatus(reply); !s.ok()) {
        if (refused.ok()) refused = s;
        continue;
      }
      if (reply->type != REDIS_REPLY_STRING || reply->len < calls[c].steps.size()) {
        return absl::InternalError(absl::StrCat(apply_abi::kApplyFunctionV4, ": malformed reply"));
      }
      for (size_t a = 0; a < calls[c].steps.size(); ++a) {
        const int event = steps[calls[c].steps[a]].event;
        if (event >= 0) codes[event] = static_cast<uint8_t>(reply->str[a]);
      }
      if (absl::Status s = ParseFollowUps(absl::string_view(reply->str, reply->len), calls[c],
                                          steps, &follow_ups);
          !s.ok()) {
        return s;
      }
    }
    // One ENTER per LEAVE: the largest version this round named, unless one as large was sent.
    absl::flat_hash_map<std::string, size_t> best;  // key -> index into follow_ups
    std::vector<std::string> order;
    for (size_t f = 0; f < follow_ups.size(); ++f) {
      const CallStep& step = follow_ups[f];
      std::string key = absl::StrCat(step.region, "|", step.field, "|", step.occurred_at_ms, "|",
                                     step.event_id_hash);
      auto [it, inserted] = best.try_emplace(key, f);
      if (inserted) {
        order.push_back(std::move(key));
      } else if (follow_ups[it->second].version < step.version) {
        it->second = f;
      }
    }
    steps.clear();
    for (const std::string& key : order) {
      CallStep& f = follow_ups[best[key]];
      auto [it, inserted] = sent.try_emplace(key, f.version);
      if (!inserted && it->second >= f.version) continue;
      it->second = f.version;
      steps.push_back(std::move(f));
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
    switch (apply_abi::Outcome(codes[i])) {
      case kApplied:
        result->set_outcome(v1::EVENT_OUTCOME_APPLIED);
        break;
      case kDuplicate:
        result->set_outcome(v1::EVENT_OUTCOME_DUPLICATE);
        break;
      default:
        return absl::InternalError(absl::StrCat(apply_abi::kApplyFunctionV4, ": unexpected result ",
                                                apply_abi::Outcome(codes[i])));
    }
  }
  CountOutcomes(response);
  if (result_bytes) *result_bytes = std::move(codes);
  return absl::OkStatus();
}

void CountOutcomes(v1::IngestEventsResponse* response) {
  int applied = 0, duplicate = 0, stale = 0, rejected = 0;
  for (const v1::EventResult& r : response->results()) {
    switch (r.outcome()) {
      case v1::EVENT_OUTCOME_APPLIED:
        ++applied;
        break;
      case v1::EVENT_OUTCOME_DUPLICATE:
        ++duplicate;
        break;
      case v1::EVENT_OUTCOME_STALE:
        ++stale;
        break;
      case v1::EVENT_OUTCOME_REJECTED:
        ++rejected;
        break;
      default:  // never set: every result gets one of the four
        break;
    }
  }
  response->set_applied(applied);
  response->set_duplicate(duplicate);
  response->set_stale(stale);
  response->set_rejected(rejected);
}

}  // namespace uhc

#include "absl/strings/string_view.h"
#include "enrollment-svc/event_applier.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace uhc {
namespace {

// Result codes of uhc_apply_v1 (low 3 bits of each result byte).
enum ResultCode : uint8_t {
  kApplied = 1,
  kDuplicate = 2,
  kStale = 3,
  kNotFound = 4,
  kGone = 5,
  kSkipped = 6,
};

constexpr uint8_t kEnterFromLeave = 255;

// One FCALL under construction: its keys (deduplicated) and 24-byte event arguments.
struct Call {
  std::vector<std::string> keys;
  // (region, bucket) -> 1-based KEYS index; the aggregate is bucket kAggregate. Key strings are
  // built once per call, not per event.
  absl::flat_hash_map<std::pair<const Region*, uint32_t>, uint16_t> key_index;
  std::vector<std::string> args;
  std::vector<int> event_of_arg;  // index into `events` for each arg

  static constexpr uint32_t kAggregate = 0xffffffff;

  uint16_t KeyIndex(const Region& region, uint32_t bucket) {
    auto [it, inserted] =
        key_index.emplace(std::make_pair(&region, bucket), static_cast<uint16_t>(keys.size() + 1));
    if (inserted) {
      keys.push_back(bucket == kAggregate ? AggregateKey(region.code)
                                          : BucketKey(region.code, bucket));
    }
    return it->second;
  }

  void Add(int event, ApplyOp op, const Region& region, const PreparedEvent& e, uint8_t arg) {
    uint16_t agg = KeyIndex(region, kAggregate);
    uint16_t bucket = KeyIndex(region, e.key.bucket);
    std::string a = EncodeApplyArg(op, agg, bucket, e, arg);
    args.push_back(std::move(a));
    event_of_arg.push_back(event);
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

void Reject(v1::EventResult* result, const std::string& field, const std::string& reason) {
  result->set_outcome(v1::REJECTED);
  result->set_field(field);
  result->set_reason(reason);
}

}  // namespace

std::string EncodeApplyArg(ApplyOp op, uint16_t aggregate_key, uint16_t bucket_key,
                           const PreparedEvent& e, uint8_t arg) {
  std::string a(24, '\0');
  a[0] = static_cast<char>(op);
  a[1] = static_cast<char>(aggregate_key >> 8);
  a[2] = static_cast<char>(aggregate_key);
  a[3] = static_cast<char>(bucket_key >> 8);
  a[4] = static_cast<char>(bucket_key);
  std::copy(e.key.field.begin(), e.key.field.end(), a.begin() + 5);
  for (int i = 0; i < 6; ++i) a[13 + i] = static_cast<char>(e.occurred_at_ms >> (8 * (5 - i)));
  for (int i = 0; i < 4; ++i) a[19 + i] = static_cast<char>(e.event_id_hash >> (8 * (3 - i)));
  a[23] = static_cast<char>(arg);
  return a;
}

absl::Status LoadFunctions(RedisConnection& connection) {
  absl::StatusOr<ReplyPtr> reply =
      connection.Command({"FUNCTION", "LOAD", "REPLACE", kUhcFunctionsLua});
  if (!reply.ok()) return reply.status();
  return ReplyStatus(reply->get());
}

absl::Status ApplyEvents(RedisConnection& connection, const std::vector<PreparedEvent>& events,
                         int events_per_call, v1::IngestEventsResponse* response) {
  std::vector<Call> calls;
  for (size_t i = 0; i < events.size(); ++i) {
    const PreparedEvent& e = events[i];
    if (e.rejected) continue;
    if (calls.empty() || static_cast<int>(calls.back().args.size()) >= events_per_call) {
      calls.emplace_back();
    }
    Call& call = calls.back();
    call.Add(static_cast<int>(i), e.op, *e.region, e, e.arg);
    if (e.op == ApplyOp::kLeave) {
      call.Add(static_cast<int>(i), ApplyOp::kEnter, *e.to_region, e, kEnterFromLeave);
    }
  }

  // Argument views point into `calls` and `key_counts`, which outlive the pipeline.
  std::vector<std::string> key_counts;
  key_counts.reserve(calls.size());
  std::vector<std::vector<absl::string_view>> commands(calls.size());
  for (size_t c = 0; c < calls.size(); ++c) {
    key_counts.push_back(std::to_string(calls[c].keys.size()));
    std::vector<absl::string_view>& cmd = commands[c];
    cmd.reserve(3 + calls[c].keys.size() + calls[c].args.size());
    cmd.push_back("FCALL");
    cmd.push_back("uhc_apply_v1");
    cmd.push_back(key_counts.back());
    for (const std::string& k : calls[c].keys) cmd.push_back(k);
    for (const std::string& a : calls[c].args) cmd.push_back(a);
  }

  std::vector<uint8_t> codes(events.size(), 0), enter_codes(events.size(), 0);
  if (!commands.empty()) {
    absl::StatusOr<std::vector<ReplyPtr>> replies = connection.Pipeline(commands);
    if (!replies.ok()) return replies.status();
    for (size_t c = 0; c < calls.size(); ++c) {
      const redisReply* reply = (*replies)[c].get();
      if (absl::Status s = ReplyStatus(reply); !s.ok()) return s;
      if (reply->type != REDIS_REPLY_STRING || reply->len != calls[c].args.size()) {
        return absl::InternalError("uhc_apply_v1: malformed reply");
      }
      for (size_t a = 0; a < calls[c].args.size(); ++a) {
        int event = calls[c].event_of_arg[a];
        uint8_t code = static_cast<uint8_t>(reply->str[a]) & 7;
        bool is_enter = static_cast<uint8_t>(calls[c].args[a][0]) ==
                        static_cast<uint8_t>(ApplyOp::kEnter);
        (is_enter ? enter_codes : codes)[event] = code;
      }
    }
  }

  response->clear_results();
  for (size_t i = 0; i < events.size(); ++i) {
    const PreparedEvent& e = events[i];
    v1::EventResult* result = response->add_results();
    result->set_index(e.index);
    if (e.rejected) {
      Reject(result, e.field, e.reason);
      continue;
    }
    uint8_t code = codes[i];
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
        Reject(result, "nik", absl::StrCat("no participant with this NIK in region ",
                                           e.region->code));
        break;
      case kGone:
        Reject(result, "nik", absl::StrCat("the participant has left region ", e.region->code,
                                           " (relocated or terminated)"));
        break;
      default:
        return absl::InternalError(absl::StrCat("uhc_apply_v1: unexpected result ", code));
    }
  }
  int counts[5] = {0, 0, 0, 0, 0};
  for (const v1::EventResult& r : response->results()) ++counts[r.outcome()];
  response->set_applied(counts[v1::APPLIED]);
  response->set_duplicate(counts[v1::DUPLICATE]);
  response->set_stale(counts[v1::STALE]);
  response->set_rejected(counts[v1::REJECTED]);
  return absl::OkStatus();
}

}  // namespace uhc

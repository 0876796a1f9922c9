#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/domain/event_rules.h"
#include "common/redis/client.h"
#include "uhc/v1/enrollment.pb.h"

namespace uhc {

// The Lua library, embedded at build time with its constants generated: uhc_apply_v3.lua (uhc_v3:
// the apply, uhc_apply_v4, the admin functions, the layout migration, and the previous release's
// uhc_apply_v3).
extern const char kUhcApplyV3Lua[];

// One operation of an apply call (uhc_apply_v4): a batch event's own, or an ENTER a LEAVE sent
// (a follow-up, event -1).
struct CallStep {
  int event = -1;  // index into the batch; -1 for a follow-up
  ApplyOp op = ApplyOp::kEnroll;
  std::string region;  // code
  std::string to;      // a LEAVE's destination code
  std::string field;   // the participant's 8-byte key field
  uint32_t bucket = 0;
  uint64_t occurred_at_ms = 0;
  uint32_t event_id_hash = 0;
  uint8_t arg = 0;       // as PreparedEvent::arg; an ENTER's carried state (0: none)
  uint32_t version = 0;  // an ENTER's
};

// The calls (indexes into `steps`) that apply `steps`, all sent in one pipeline. Standalone
// (`per_region` false): consecutive runs of at most `events_per_call`. Redis Cluster: a call holds
// the keys of one region (one hash slot), at most `events_per_call` of its steps. Order does not
// matter (the apply is exact whatever the order), so calls of one slot may go in any order. Pure.
std::vector<std::vector<size_t>> GroupCalls(const std::vector<CallStep>& steps, bool per_region,
                                            int events_per_call);

// What applies a call's events: the Redis function uhc_apply_v4 (uhc_apply_v3.lua), or the command
// uhc.apply_v4 of the Redis module uhc_module.so (enrollment-svc/module/), which does exactly the
// same with less Redis CPU; kAuto is the module while Redis has it, else the function.
enum class ApplyEngine { kFunction, kModule, kAuto };
// "function", "module" or "auto" (enrollment-svc's --apply_engine); nullopt for anything else.
std::optional<ApplyEngine> ParseApplyEngine(absl::string_view name);

// The engine calls go to now. kFunction and kModule are fixed. kAuto sends calls to the module
// until Redis answers that it has no such command, then to the function for `retry_after`, then
// tries the module again (a Redis restarted with it, or given it by an operator, gets it without a
// restart of the service). Logs each change. Thread-safe.
class EngineChoice {
 public:
  explicit EngineChoice(ApplyEngine configured, absl::Duration retry_after = absl::Minutes(1))
      : configured_(configured), retry_after_(retry_after) {}

  // Whether calls sent at `now` go to the module.
  bool UseModule(absl::Time now) const;
  // Whether a call the module refused as an unknown command is re-sent to the function.
  bool falls_back() const { return configured_ == ApplyEngine::kAuto; }
  // Redis lacked the module at `now`: the function until now + retry_after.
  void ModuleMissing(absl::Time now);
  // The module applied a call.
  void ModuleServed();
  // Whether the module applies (as far as the last call knew): uhc_apply_module's value.
  bool module_applies() const {
    return configured_ != ApplyEngine::kFunction && !missing_.load(std::memory_order_relaxed);
  }

 private:
  const ApplyEngine configured_;
  const absl::Duration retry_after_;
  std::atomic<int64_t> function_until_ns_{0};  // kAuto: Unix ns before which the function applies
  std::atomic<bool> missing_{false};           // kAuto: the last answer was "unknown command"
};

// Applies a batch of prepared events through uhc_apply_v4 (as `engine` says) and fills one
// EventResult per event (rejected ones included, in index order) and the counts of `response`:
// APPLIED (kept) or DUPLICATE (kept already). The events go in calls of at most
// `events_per_call` (GroupCalls), all in one pipeline; then the ENTERs the LEAVEs named
// (follow-ups) go the same way, round after round, until none is left (a chain of moves; at most
// kMaxFollowUpRounds; an ENTER already sent with a version as large is not sent again). Only fully
// confirmed pipelines (by `wait_replicas` replicas, when > 0) fill `response`: on any error nothing
// is reported applied (Redis may have applied some whole calls: a call that fails changes nothing;
// a retry is safe and sends the follow-ups again, so a crash between the rounds is healed by the
// producer's retry). After a call Redis refused, the other calls' follow-ups still go.
// `result_bytes`, when given, gets each event's own result byte (0 for a rejected one), for what an
// outcome alone does not say (the status a kPrioDecides enrolment was given).
inline constexpr int kMaxFollowUpRounds = 1000;
// `fold_before_ms` > 0: timelines written fold their entries before it into their base state (the
// history window's first instant; 0: none).
absl::Status ApplyEvents(RedisClient& redis, const std::vector<PreparedEvent>& events,
                         int events_per_call, int wait_replicas, EngineChoice* engine,
                         v1::IngestEventsResponse* response,
                         std::vector<uint8_t>* result_bytes = nullptr, uint64_t fold_before_ms = 0);

// Sets the applied, duplicate, stale and rejected counts of `response` from its results.
void CountOutcomes(v1::IngestEventsResponse* response);

}  // namespace uhc

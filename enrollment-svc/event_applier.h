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

// The Lua libraries, embedded at build time: uhc_functions.lua (uhc_v1: admin functions and the
// previous release's uhc_apply_v1) and uhc_apply_v3.lua (uhc_v3: the apply and admin functions in
// use).
extern const char kUhcFunctionsLua[];
extern const char kUhcApplyV3Lua[];

// One 24-byte event of uhc_apply_v1 and uhc_apply_v3 (layout in uhc_apply_v3.lua); key indexes
// are 1-based positions in the call's KEYS.
std::string EncodeApplyArg(ApplyOp op, uint16_t aggregate_key, uint16_t bucket_key,
                           const PreparedEvent& event, uint8_t arg);

// One operation of a round: an event's own operation, or a relocation's ENTER.
struct ApplyStep {
  int event;  // index into the batch
  ApplyOp op;
  const Region* region;
  uint8_t arg;
  bool carry;  // an ENTER whose segment and status come from its LEAVE's result byte
};

// The rounds (one pipeline each) that apply a batch, in order; rejected events are left out.
// Standalone (`per_region` false): one round, each LEAVE followed by its ENTER in the same call
// (the ENTER's argument says "what the LEAVE removed"). Redis Cluster: a call holds the keys of
// one region (one hash slot) and a round holds at most one call per region, because two calls
// of one slot in one pipeline could be reordered by a redirect (the first gets TRYAGAIN during a
// migration, the second runs). A region's steps beyond `events_per_call` and a relocation's
// ENTER go to later rounds, the ENTER carrying what its LEAVE reported; a participant's later
// events follow it, so every participant's events stay in batch order. Pure.
std::vector<std::vector<ApplyStep>> PlanRounds(const std::vector<PreparedEvent>& events,
                                               bool per_region, int events_per_call);

// What applies a call's events: the Redis function uhc_apply_v3 (uhc_apply_v3.lua), or the command
// uhc.apply_v3 of the Redis module uhc_module.so (enrollment-svc/module/), which does exactly the
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

// Applies a batch of prepared events through uhc_apply_v3 (as `engine` says) and fills one
// EventResult per event (rejected ones included, in index order) and the counts of `response`. The
// events go in order in calls of at most `events_per_call` events (a relocation counts once, though
// it is a LEAVE and an ENTER: a group of that many events is one call; in a cluster, one region per
// call and the ENTER in the new region's call, each counted), each round of calls in one pipeline;
// a relocation's two halves stay in one call unless a cluster puts its regions apart. Only fully
// confirmed pipelines (by `wait_replicas` replicas, when > 0) fill `response`: on any error nothing
// is reported applied (Redis may still have applied some whole calls: a call that fails changes
// nothing; a retry is safe, events are idempotent). After a call Redis refused, the other calls'
// later rounds (a relocation's ENTER) still run; the refused call's participants' do not.
// `result_bytes`, when given, gets each event's own result byte (0 for a rejected one), for what an
// outcome alone does not say (the status a kPrioDecides enrolment was given).
absl::Status ApplyEvents(RedisClient& redis, const std::vector<PreparedEvent>& events,
                         int events_per_call, int wait_replicas, EngineChoice* engine,
                         v1::IngestEventsResponse* response,
                         std::vector<uint8_t>* result_bytes = nullptr);

// Sets the applied, duplicate, stale and rejected counts of `response` from its results.
void CountOutcomes(v1::IngestEventsResponse* response);

}  // namespace uhc

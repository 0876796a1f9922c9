// uhcctl ingest: streams a JSON Lines file of ParticipantEvents through IngestEvents.
#include <unistd.h>

#include <condition_variable>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"

namespace uhc::cli {
namespace {

struct Batch {
  v1::IngestEventsRequest request;
  std::vector<int> lines;  // input line of each event
};

struct Totals {
  int64_t applied = 0, duplicate = 0, stale = 0, rejected = 0;
  std::vector<std::pair<int, std::string>> rejections;  // (line, "line N: field: reason")
};

// Streams batches[first..] on one IngestEvents call with up to `window` batches unacknowledged.
// Returns the call's status; *acked advances with every ack received.
grpc::Status StreamFrom(v1::EnrollmentService::Stub* stub, const std::vector<Batch>& batches,
                        size_t* acked, int window, Totals* totals, bool progress,
                        int64_t total_events, absl::Time start) {
  grpc::ClientContext context;
  Authenticate(&context);
  auto stream = stub->IngestEvents(&context);
  std::mutex mu;
  std::condition_variable cv;
  size_t first = *acked;
  size_t done = first;  // guarded by mu
  std::thread writer([&] {
    for (size_t i = first; i < batches.size(); ++i) {
      {
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return i < done + window; });
      }
      if (!stream->Write(batches[i].request)) return;
    }
    stream->WritesDone();
  });
  v1::IngestEventsResponse response;
  int64_t events_done = 0;
  for (size_t b = 0; b < first; ++b) events_done += batches[b].request.events_size();
  while (stream->Read(&response)) {
    const Batch& batch = batches[*acked];
    for (const v1::EventResult& r : response.results()) {
      if (r.outcome() != v1::EVENT_OUTCOME_REJECTED) continue;
      int line = r.index() >= 0 && r.index() < static_cast<int>(batch.lines.size())
                     ? batch.lines[r.index()]
                     : -1;
      std::string field = r.field();
      if (size_t dot = field.find("]."); dot != std::string::npos) field = field.substr(dot + 2);
      totals->rejections.emplace_back(
          line, absl::StrCat("line ", line, ": ", field.empty() ? "" : field + ": ", r.reason()));
    }
    totals->applied += response.applied();
    totals->duplicate += response.duplicate();
    totals->stale += response.stale();
    totals->rejected += response.rejected();
    events_done += batch.request.events_size();
    {
      std::lock_guard<std::mutex> lock(mu);
      done = ++*acked;
    }
    cv.notify_all();
    if (progress) {
      double seconds = absl::ToDoubleSeconds(absl::Now() - start);
      std::cerr << absl::StrFormat(
          "\ringested %s / %s events (%d%%), %s events/s   ", Thousands(events_done),
          Thousands(total_events), total_events ? 100 * events_done / total_events : 100,
          Thousands(static_cast<int64_t>(events_done / std::max(seconds, 1e-3))));
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = batches.size() + window;  // release the writer if it waits
  }
  cv.notify_all();
  grpc::Status status = stream->Finish();
  writer.join();
  return status;
}

}  // namespace

int RunIngest(const std::vector<std::string>& args) {
  Command cmd("ingest",
              "Streams a JSON Lines file (one uhc.v1.ParticipantEvent per line, protobuf JSON\n"
              "mapping) through EnrollmentService.IngestEvents, shows progress on a terminal and\n"
              "prints a summary by outcome. Batches not acknowledged when the stream breaks are\n"
              "resent (events are idempotent). Exits 1 if any event was rejected (each with its\n"
              "line number), 2 for bad usage.",
              "FILE",
              {EnrollmentAddressOption(),
               {"batch-size", "N", "events per batch", "1000"},
               {"window", "N", "batches in flight on the stream", "4"},
               {"retries", "N", "reconnections after a broken stream", "10"},
               {"quiet", "", "no progress line", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (cmd.positional().size() != 1) return cmd.UsageError("expects exactly one FILE");
  auto batch_size = cmd.GetInt("batch-size", 1, 10000);
  auto window = cmd.GetInt("window", 1, 64);
  auto retries = cmd.GetInt("retries", 0, 1000);
  if (!batch_size || !window || !retries) return kExitUsage;
  std::ifstream in(cmd.positional()[0]);
  if (!in) return cmd.UsageError(absl::StrCat("cannot read ", cmd.positional()[0]));

  Totals totals;
  std::vector<Batch> batches;
  std::string line;
  int line_number = 0;
  int64_t total_events = 0, unparsable = 0;
  google::protobuf::util::JsonParseOptions parse;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    v1::ParticipantEvent event;
    auto status = google::protobuf::util::JsonStringToMessage(line, &event, parse);
    if (!status.ok()) {
      ++totals.rejected;
      ++unparsable;
      totals.rejections.emplace_back(
          line_number, absl::StrCat("line ", line_number,
                                    ": not a ParticipantEvent: ", status.message().as_string()));
      continue;
    }
    if (batches.empty() || batches.back().request.events_size() >= *batch_size) {
      batches.emplace_back();
      batches.back().request.set_batch_id(std::to_string(batches.size() - 1));
    }
    *batches.back().request.add_events() = std::move(event);
    batches.back().lines.push_back(line_number);
    ++total_events;
  }

  auto channel = Connect(cmd.Get("enrollment"));
  auto stub = v1::EnrollmentService::NewStub(channel);
  bool progress = !cmd.Flag("quiet") && isatty(STDERR_FILENO);
  absl::Time start = absl::Now();
  size_t acked = 0;
  int attempts = 0;
  absl::Duration backoff = absl::Milliseconds(100);
  while (acked < batches.size()) {
    grpc::Status status = StreamFrom(stub.get(), batches, &acked, static_cast<int>(*window),
                                     &totals, progress, total_events, start);
    if (acked == batches.size()) break;
    bool retryable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                     status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                     status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED || status.ok();
    if (!retryable || attempts++ >= *retries) {
      if (progress) std::cerr << "\n";
      std::cerr << "uhcctl ingest: stopped after " << acked << " of " << batches.size()
                << " batches: " << status.error_message() << "\n";
      return status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ? kExitUsage : kExitFailure;
    }
    std::cerr << (progress ? "\n" : "") << "uhcctl ingest: stream broke (" << status.error_message()
              << "); resending from batch " << acked << "\n";
    absl::SleepFor(backoff);  // backoff before reconnecting, not synchronisation
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
  if (progress) std::cerr << "\n";
  double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  // Every non-blank line is an event, the unparsable ones included (they count as rejected).
  const int64_t lines_total = total_events + unparsable;
  std::cout << absl::StrFormat(
      "%s events in %s s (%s events/s): applied %s, duplicate %s, stale %s, rejected %s\n",
      Thousands(lines_total), Decimal(seconds, 2),
      Thousands(static_cast<int64_t>(lines_total / std::max(seconds, 1e-3))),
      Thousands(totals.applied), Thousands(totals.duplicate), Thousands(totals.stale),
      Thousands(totals.rejected));
  if (totals.rejected > 0) {
    std::stable_sort(totals.rejections.begin(), totals.rejections.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    size_t shown = std::min<size_t>(totals.rejections.size(), 20);
    for (size_t i = 0; i < shown; ++i)
      std::cerr << "rejected " << totals.rejections[i].second << "\n";
    if (shown < totals.rejections.size()) {
      std::cerr << "... and " << totals.rejections.size() - shown << " more\n";
    }
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace uhc::cli

// uhcctl watch / history: recorded tier changes, as they happen and afterwards.
#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "google/protobuf/util/time_util.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"
#include "tools/uhcctl/query.h"

namespace uhc::cli {

using google::protobuf::util::TimeUtil;

namespace {

// "  in effect from 2025-06-01 (back-dated)": the day the change took effect by event time.
std::string InEffect(const v1::TierChange& c) {
  if (c.effective_date().empty()) return "";
  return absl::StrCat("  in effect from ", c.effective_date(),
                      c.backdated() ? " (back-dated)" : "");
}

}  // namespace

int RunWatch(const std::vector<std::string>& args) {
  Command cmd("watch",
              "Prints tier changes as they are recorded, until interrupted. Reconnects by itself "
              "(servers end connections every few minutes) and resumes where it stopped, so no "
              "change is missed or printed twice.",
              "[--region R] [--province P] [--policy ID] [--json]",
              {ClassifierAddressOption(),
               PolicyOption(),
               {"region", "R", "only this region (code or name)", ""},
               {"province", "P", "only this province and its kab/kota (code or name)", ""},
               {"json", "", "one JSON object per line", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  v1::WatchTierChangesRequest request;
  request.set_policy_id(PolicyOf(cmd));
  // The server would wait forever for changes of a region or policy that does not exist: check
  // them first, as tier and plan do (the lookup also checks --policy).
  for (const char* flag : {"region", "province", "policy"}) {
    if (cmd.Has(flag) && cmd.Get(flag).empty()) {
      return cmd.UsageError(absl::StrCat("--", flag, " is empty"));
    }
  }
  std::string code;
  if (cmd.Has("region")) {
    if (int e = Resolve(cmd, stub.get(), cmd.Get("region"), false, &code); e != kExitOk) return e;
    request.set_region_code(code);
  }
  if (cmd.Has("province")) {
    if (int e = Resolve(cmd, stub.get(), cmd.Get("province"), true, &code); e != kExitOk) return e;
    request.set_province_code(code);
  }
  if (!cmd.Has("region") && !cmd.Has("province") && cmd.Has("policy")) {
    if (int e = Resolve(cmd, stub.get(), "ID", false, &code); e != kExitOk) return e;  // --policy
  }
  std::cerr << "watching tier changes of "
            << (!request.region_code().empty() ? "region " + request.region_code()
                : !request.province_code().empty()
                    ? "province " + request.province_code() + " and its kab/kota"
                    : std::string("every region"))
            << ", policy " << (request.policy_id().empty() ? "all" : request.policy_id()) << ", on "
            << cmd.Get("classifier") << " (Ctrl-C to stop)" << std::endl;
  // Backoff between failed attempts: 100 ms doubling to 5 s, reset by any message received.
  auto backoff = std::chrono::milliseconds(100);
  for (;;) {
    grpc::ClientContext context;
    Authenticate(&context);
    auto reader = stub->WatchTierChanges(&context, request);
    v1::WatchTierChangesResponse message;
    bool received = false;
    while (reader->Read(&message)) {
      received = true;
      if (!message.resume_token().empty()) request.set_resume_token(message.resume_token());
      if (!message.has_change()) continue;
      const v1::TierChange& c = message.change();
      if (cmd.Flag("json")) {
        std::cout << ToJson(c) << std::endl;
      } else {
        std::cout << TimeUtil::ToString(c.change_time()) << "  " << c.region_code() << "  "
                  << c.policy_id() << "  " << c.from_tier() << " -> " << c.to_tier() << InEffect(c)
                  << std::endl;
      }
    }
    grpc::Status status = reader->Finish();
    switch (status.error_code()) {
      case grpc::StatusCode::INVALID_ARGUMENT:
      case grpc::StatusCode::NOT_FOUND:
      case grpc::StatusCode::UNAUTHENTICATED:
      case grpc::StatusCode::PERMISSION_DENIED:
        return ReportRpcError(cmd, status);
      case grpc::StatusCode::OUT_OF_RANGE:
        std::cerr << "uhcctl watch: " << status.error_message()
                  << "\nuhcctl watch: changes while disconnected may be missing (see uhcctl "
                     "history); watching live again"
                  << std::endl;
        request.clear_resume_token();
        break;
      default:
        if (received) {
          backoff = std::chrono::milliseconds(100);  // a normal end: the connection's age
        } else {
          std::cerr << "uhcctl watch: " << status.error_message() << "; retrying in "
                    << backoff.count() << " ms" << std::endl;
          std::this_thread::sleep_for(backoff);
          backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(5));
        }
    }
  }
}

int RunHistory(const std::vector<std::string>& args) {
  Command cmd("history", "The recorded tier changes of a region, newest first.",
              "REGION [--policy ID] [--limit N] [--json]",
              {ClassifierAddressOption(),
               PolicyOption(),
               {"limit", "N", "at most N changes", "100"},
               {"json", "", "one JSON object per line", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (cmd.positional().size() != 1) return cmd.UsageError("expects one REGION");
  auto limit = cmd.GetInt("limit", 1, 1000);
  if (!limit) return kExitUsage;
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  std::string region;
  if (int e = Resolve(cmd, stub.get(), cmd.positional()[0], false, &region); e != kExitOk) {
    return e;
  }
  v1::ListTierChangesRequest request;
  request.set_region_code(region);
  request.set_policy_id(PolicyOf(cmd));
  request.set_page_size(static_cast<int>(*limit));
  v1::ListTierChangesResponse response;
  grpc::ClientContext context;
  Authenticate(&context);
  context.set_deadline(Deadline(10));
  grpc::Status status = stub->ListTierChanges(&context, request, &response);
  if (!status.ok()) return ReportRpcError(cmd, status);
  for (const v1::TierChange& c : response.changes()) {
    if (cmd.Flag("json")) {
      std::cout << ToJson(c) << "\n";
    } else {
      std::cout << TimeUtil::ToString(c.change_time()) << "  " << c.policy_id() << "  "
                << c.from_tier() << " -> " << c.to_tier() << InEffect(c) << "\n";
    }
  }
  if (response.changes().empty() && !cmd.Flag("json")) std::cout << "no recorded changes\n";
  return kExitOk;
}

}  // namespace uhc::cli

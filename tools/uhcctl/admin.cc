// uhcctl population import / region-status / cutoff: the RegionAdminService calls.
#include <fstream>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/domain/text.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"

namespace uhc::cli {
namespace {

// Reads a CSV of at least `columns` columns; skips a header starting with "region_code".
// Calls row(line_number, fields) for each data row; stops at the first error it returns.
bool ReadCsv(const Command& cmd, const std::string& path, size_t columns,
             const std::function<bool(int, const std::vector<std::string>&)>& row) {
  std::ifstream in(path);
  if (!in) {
    cmd.UsageError(absl::StrCat("cannot read ", path));
    return false;
  }
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || absl::StartsWith(text, "region_code")) continue;
    std::vector<std::string> fields = absl::StrSplit(text, ',');
    if (fields.size() < columns) {
      cmd.UsageError(absl::StrCat(path, ":", n, ": expected ", columns, " columns"));
      return false;
    }
    for (auto& f : fields) f = std::string(absl::StripAsciiWhitespace(f));
    if (!row(n, fields)) return false;
  }
  return true;
}

std::string Today() {
  return absl::FormatTime("%Y-%m-%d", absl::Now(), absl::FixedTimeZone(7 * 3600));
}

// "2026-12-02 10:50 WIB": the programme's calendar.
std::string Wib(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d %H:%M WIB", absl::FromUnixSeconds(t.seconds()),
                          absl::FixedTimeZone(7 * 3600));
}

}  // namespace

int RunPopulation(const std::vector<std::string>& args) {
  Command cmd(
      "population",
      "Sets official populations (Dukcapil) from a CSV file with columns\n"
      "region_code,population (a header line is allowed), one SetPopulation call per row.",
      "import FILE.csv [--as-of YYYY-MM-DD]",
      {EnrollmentAddressOption(), {"as-of", "YYYY-MM-DD", "date of the figures", "today (WIB)"}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (cmd.positional().size() != 2 || cmd.positional()[0] != "import") {
    return cmd.UsageError("usage: uhcctl population import FILE.csv");
  }
  std::string as_of = cmd.Has("as-of") ? cmd.Get("as-of") : Today();
  auto stub = v1::RegionAdminService::NewStub(Connect(cmd.Get("enrollment")));
  int rows = 0, failed = 0;
  bool ok = ReadCsv(cmd, cmd.positional()[1], 2, [&](int n, const std::vector<std::string>& f) {
    v1::SetPopulationRequest request;
    request.set_region_code(f[0]);
    int64_t population = 0;
    if (!absl::SimpleAtoi(f[1], &population)) {
      cmd.UsageError(absl::StrCat("line ", n, ": population '", f[1], "' is not an integer"));
      return false;
    }
    request.set_population(population);
    request.set_as_of_date(as_of);
    v1::RegionSettings response;
    grpc::ClientContext context;
    Authenticate(&context);
    context.set_deadline(Deadline(10));
    grpc::Status status = stub->SetPopulation(&context, request, &response);
    if (!status.ok()) {
      std::cerr << "line " << n << ": ";
      ReportRpcError(cmd, status);
      ++failed;
      return status.error_code() == grpc::StatusCode::INVALID_ARGUMENT;
    }
    ++rows;
    return true;
  });
  std::cout << "set the population of " << Count(rows, "region", "regions") << " (as of " << as_of
            << ")\n";
  if (!ok) return failed > 0 ? kExitFailure : kExitUsage;
  return failed > 0 ? kExitFailure : kExitOk;
}

int RunRegionStatus(const std::vector<std::string>& args) {
  Command cmd("region-status",
              "Sets a region's UHC Prioritas status and PBPU Pemda dues paid-through month, or\n"
              "many regions' from a CSV file with columns region_code,uhc_prioritas(0/1),\n"
              "dues_paid_through(YYYY-MM or empty).",
              "REGION [--uhc-prioritas | --no-uhc-prioritas] [--dues-paid-through YYYY-MM] | "
              "--file FILE.csv [--effective YYYY-MM-DD]",
              {EnrollmentAddressOption(),
               {"uhc-prioritas", "", "the region holds UHC Prioritas", ""},
               {"no-uhc-prioritas", "", "the region does not hold (or lost) UHC Prioritas", ""},
               {"dues-paid-through", "YYYY-MM", "last month fully paid", ""},
               {"file", "FILE.csv", "set many regions", ""},
               {"effective", "YYYY-MM-DD",
                "the day from which the status holds (every row of --file); a back-dated status "
                "changes answers as of that day on, and now unless a later one was set",
                "today (WIB)"}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  std::optional<std::string> effective = cmd.GetDate("effective");
  if (!effective) return kExitUsage;
  auto stub = v1::RegionAdminService::NewStub(Connect(cmd.Get("enrollment")));
  auto set = [&](const std::string& region, bool prioritas, const std::string& dues) {
    v1::SetRegionStatusRequest request;
    request.set_region_code(region);
    request.set_uhc_prioritas(prioritas);
    request.set_dues_paid_through(dues);
    request.set_effective_date(*effective);
    v1::RegionSettings response;
    grpc::ClientContext context;
    Authenticate(&context);
    context.set_deadline(Deadline(10));
    return stub->SetRegionStatus(&context, request, &response);
  };
  if (cmd.Has("file")) {
    int rows = 0;
    bool ok = ReadCsv(cmd, cmd.Get("file"), 3, [&](int n, const std::vector<std::string>& f) {
      grpc::Status status = set(f[0], f[1] == "1", f[2]);
      if (!status.ok()) {
        std::cerr << "line " << n << ": ";
        ReportRpcError(cmd, status);
        return false;
      }
      ++rows;
      return true;
    });
    std::cout << "set the status of " << Count(rows, "region", "regions") << "\n";
    return ok ? kExitOk : kExitFailure;
  }
  if (cmd.positional().size() != 1) return cmd.UsageError("expects one REGION (or --file)");
  if (cmd.Flag("uhc-prioritas") == cmd.Flag("no-uhc-prioritas")) {
    return cmd.UsageError("give exactly one of --uhc-prioritas and --no-uhc-prioritas");
  }
  grpc::Status status =
      set(cmd.positional()[0], cmd.Flag("uhc-prioritas"), cmd.Get("dues-paid-through"));
  if (!status.ok()) return ReportRpcError(cmd, status);
  std::cout << "ok\n";
  return kExitOk;
}

int RunCutoff(const std::vector<std::string>& args) {
  Command cmd(
      "cutoff",
      "Freezes every region's figures as of the end of a day (WIB), as known now, under an id:\n"
      "tier, tiers and awards with --cutoff ID answer from it, unchanged by events that arrive\n"
      "later. Creating an existing id with its own date again is harmless; another date is an\n"
      "error (a cut-off never changes). `cutoff list` shows every cut-off, oldest first.",
      "create ID --as-of YYYY-MM-DD [--description TEXT] | list",
      {EnrollmentAddressOption(),
       {"as-of", "YYYY-MM-DD", "the day whose end-of-day figures are frozen (create)", ""},
       {"description", "TEXT", "what it is for, e.g. \"UHC Awards 2026\" (create)", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  const std::vector<std::string>& words = cmd.positional();
  const bool create = !words.empty() && words[0] == "create";
  if (words.empty() || (create && words.size() != 2) ||
      (!create && words != std::vector<std::string>{"list"})) {
    return cmd.UsageError(
        "usage: uhcctl cutoff create ID --as-of YYYY-MM-DD [--description TEXT] | uhcctl cutoff "
        "list");
  }
  auto stub = v1::RegionAdminService::NewStub(Connect(cmd.Get("enrollment")));
  grpc::ClientContext context;
  Authenticate(&context);
  if (!create) {
    if (cmd.Has("as-of") || cmd.Has("description")) {
      return cmd.UsageError("--as-of and --description are for cutoff create");
    }
    context.set_deadline(Deadline(10));
    v1::ListCutoffsResponse response;
    grpc::Status status = stub->ListCutoffs(&context, v1::ListCutoffsRequest(), &response);
    if (!status.ok()) return ReportRpcError(cmd, status);
    if (response.cutoffs().empty()) {
      std::cout << "no cut-offs (uhcctl cutoff create ID --as-of YYYY-MM-DD makes one)\n";
      return kExitOk;
    }
    std::cout << absl::StrFormat("%-24s %-10s  %-20s %7s  %s\n", "id", "as of", "created",
                                 "regions", "description");
    for (const v1::Cutoff& c : response.cutoffs()) {
      std::string row =
          absl::StrFormat("%-24s %-10s  %-20s %7s  %s", Printable(c.cutoff_id()), c.as_of_date(),
                          Wib(c.create_time()), Thousands(c.regions()), Printable(c.description()));
      std::cout << absl::StripTrailingAsciiWhitespace(row) << "\n";
    }
    std::cout << Count(response.cutoffs_size(), "cut-off", "cut-offs") << "\n";
    return kExitOk;
  }
  std::optional<std::string> as_of = cmd.GetDate("as-of");
  if (!as_of) return kExitUsage;
  if (as_of->empty()) return cmd.UsageError("--as-of YYYY-MM-DD is required: the day to freeze");
  v1::CreateCutoffRequest request;
  request.set_cutoff_id(words[1]);
  request.set_as_of_date(*as_of);
  request.set_description(cmd.Get("description"));
  // Reads the history of every region: a few seconds on a national dataset.
  context.set_deadline(Deadline(60));
  v1::Cutoff cutoff;
  grpc::Status status = stub->CreateCutoff(&context, request, &cutoff);
  if (!status.ok()) return ReportRpcError(cmd, status);
  std::cout << "cut-off " << Printable(cutoff.cutoff_id()) << ": the figures of "
            << Count(cutoff.regions(), "region", "regions") << " as of " << cutoff.as_of_date()
            << " (end of day, WIB), frozen " << Wib(cutoff.create_time()) << "\n";
  return kExitOk;
}

}  // namespace uhc::cli

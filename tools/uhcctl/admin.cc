// uhcctl population import / region-status: the RegionAdminService calls.
#include <fstream>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
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
    request.set_as_of(as_of);
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
              "--file FILE.csv",
              {EnrollmentAddressOption(),
               {"uhc-prioritas", "", "the region holds UHC Prioritas", ""},
               {"no-uhc-prioritas", "", "the region does not hold (or lost) UHC Prioritas", ""},
               {"dues-paid-through", "YYYY-MM", "last month fully paid", ""},
               {"file", "FILE.csv", "set many regions", ""}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  auto stub = v1::RegionAdminService::NewStub(Connect(cmd.Get("enrollment")));
  auto set = [&](const std::string& region, bool prioritas, const std::string& dues) {
    v1::SetRegionStatusRequest request;
    request.set_region_code(region);
    request.set_uhc_prioritas(prioritas);
    request.set_dues_paid_through(dues);
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

}  // namespace uhc::cli

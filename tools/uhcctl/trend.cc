// uhcctl trend: a region's figures and tier over time (ClassifierService.GetRegionTrend), with
// a sparkline per indicator.
#include <algorithm>
#include <iostream>
#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "tools/uhcctl/client.h"
#include "tools/uhcctl/commands.h"
#include "tools/uhcctl/national.h"
#include "tools/uhcctl/query.h"

namespace uhc::cli {
namespace {

// The widest sparkline: a year of days still fits a terminal, a mark per few days.
constexpr size_t kSparklineWidth = 96;

// One indicator's sparkline with its range: "coverage     ▁▃▆█  min 0,00% (2025-01-31), max ...".
std::string SparklineRow(const std::string& label, const v1::RegionTrend& trend,
                         int64_t (v1::RegionMetrics::*bp)() const) {
  std::vector<long long> values;
  for (const v1::TrendPoint& p : trend.points()) values.push_back((p.metrics().*bp)());
  // The first day of each extreme: when it was reached.
  const auto lo = std::min_element(values.begin(), values.end());
  const auto hi = std::max_element(values.begin(), values.end());
  const std::string& lo_date = trend.points(static_cast<int>(lo - values.begin())).date();
  const std::string& hi_date = trend.points(static_cast<int>(hi - values.begin())).date();
  std::string range = *lo == *hi ? absl::StrCat("flat at ", Percent(*lo))
                                 : absl::StrCat("min ", Percent(*lo), " (", lo_date, "), max ",
                                                Percent(*hi), " (", hi_date, ")");
  std::string line = Sparkline(values, kSparklineWidth);
  if (values.size() > kSparklineWidth) {
    absl::StrAppend(&range, "; a mark is the mean of about ",
                    (values.size() + kSparklineWidth - 1) / kSparklineWidth, " points");
  }
  return absl::StrFormat("%-12s %s  %s\n", label, line, range);
}

}  // namespace

int RunTrend(const std::vector<std::string>& args) {
  Command cmd("trend",
              "A region's figures and tier at the end of each month (or day) of a date range, by\n"
              "event time (late events count on the day they occurred): a table, a sparkline of\n"
              "coverage, activity and pemda share, and since when the region holds its last tier.\n"
              "REGION is a code or a name, as for uhcctl tier.",
              "REGION [--policy ID] [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--interval month|day] "
              "[--format table|csv|json]",
              {ClassifierAddressOption(),
               PolicyOption(),
               {"from", "YYYY-MM-DD", "first day",
                "twelve months to --to: the 1st of the month 11 before its month"},
               {"to", "YYYY-MM-DD", "last day, not in the future", "today (WIB)"},
               {"interval", "I",
                "month (a point on each month's last day, and on --to) or day (at most 1.000 "
                "points)",
                "month"},
               {"format", "F", "table, csv or json", "table"}});
  int exit_code = 0;
  if (!cmd.Parse(args, &exit_code)) return exit_code;
  if (cmd.positional().size() != 1) return cmd.UsageError("expects one REGION");
  std::string format = cmd.Get("format");
  if (format != "table" && format != "csv" && format != "json") {
    return cmd.UsageError(absl::StrCat("--format: '", format, "' is not table, csv or json"));
  }
  v1::GetRegionTrendRequest request;
  std::string interval = cmd.Get("interval");
  if (interval == "month") {
    request.set_interval(v1::TREND_INTERVAL_MONTH);
  } else if (interval == "day") {
    request.set_interval(v1::TREND_INTERVAL_DAY);
  } else {
    return cmd.UsageError(absl::StrCat("--interval: '", interval, "' is not month or day"));
  }
  std::optional<std::string> from = cmd.GetDate("from"), to = cmd.GetDate("to");
  if (!from || !to) return kExitUsage;
  if (!from->empty() && !to->empty() && *from > *to) {  // YYYY-MM-DD sorts as dates do
    return cmd.UsageError(absl::StrCat("--from ", *from, " is after --to ", *to));
  }
  request.set_from_date(*from);
  request.set_to_date(*to);
  request.set_policy_id(PolicyOf(cmd));
  auto stub = v1::ClassifierService::NewStub(Connect(cmd.Get("classifier")));
  std::string region;
  if (int e = Resolve(cmd, stub.get(), cmd.positional()[0], false, &region); e != kExitOk) {
    return e;
  }
  request.set_region_code(region);
  v1::RegionTrend trend;
  grpc::ClientContext context;
  Authenticate(&context);
  context.set_deadline(Deadline(30));
  grpc::Status status = stub->GetRegionTrend(&context, request, &trend);
  if (!status.ok()) return ReportRpcError(cmd, status);
  if (format == "json") {
    std::cout << ToJson(trend) << "\n";
    return kExitOk;
  }
  if (format == "csv") {
    std::cout << "region_code,date,tier,population,participants,active,pemda_registered,"
                 "coverage_bp,activity_bp,pemda_share_bp,uhc_prioritas,dues_paid_through\n";
    for (const v1::TrendPoint& p : trend.points()) {
      const v1::RegionMetrics& m = p.metrics();
      std::cout << trend.region_code() << "," << p.date() << "," << p.tier() << ","
                << m.population() << "," << m.participants() << "," << m.active() << ","
                << m.pemda_registered() << "," << m.coverage_bp() << "," << m.activity_bp() << ","
                << m.pemda_share_bp() << "," << (m.uhc_prioritas() ? 1 : 0) << ","
                << m.dues_paid_through() << "\n";
    }
    return kExitOk;
  }
  std::map<std::string, std::string> names;  // tier id -> "UHC Madya"
  for (const TierLabel& t : PolicyTiers(stub.get(), trend.policy_id())) names[t.id] = t.name;
  auto name = [&](const std::string& tier) {
    auto it = names.find(tier);
    return it == names.end() || it->second.empty() ? tier : it->second;
  };
  const bool nation = region == "ID";
  std::cout << trend.region_name() << " (" << trend.region_code() << ") [" << trend.policy_id()
            << "], at the end of each " << interval << " (WIB)"
            << (nation ? "; tiers are awarded to kab/kota and provinces, not the nation" : "")
            << "\n";
  std::cout << absl::StrFormat("%-10s  %-12s %9s %9s %9s %13s\n", "date", "tier", "coverage",
                               "activity", "pemda", "participants");
  for (const v1::TrendPoint& p : trend.points()) {
    const v1::RegionMetrics& m = p.metrics();
    std::cout << absl::StrFormat("%-10s  %s %9s %9s %9s %13s\n", p.date(),
                                 Fit(nation ? "-" : name(p.tier()), 12), Percent(m.coverage_bp()),
                                 Percent(m.activity_bp()), Percent(m.pemda_share_bp()),
                                 Thousands(m.participants()));
  }
  if (trend.points().empty()) return kExitOk;
  std::cout << "\n"
            << SparklineRow("coverage", trend, &v1::RegionMetrics::coverage_bp)
            << SparklineRow("activity", trend, &v1::RegionMetrics::activity_bp)
            << SparklineRow("pemda share", trend, &v1::RegionMetrics::pemda_share_bp);
  if (nation) return kExitOk;
  const std::string& tier = trend.points(trend.points_size() - 1).tier();
  const std::string held = tier == "none" ? "no tier" : "held " + name(tier);
  std::cout << "\n"
            << held
            << (trend.held_since().empty()
                    ? " at every point (since " + trend.points(0).date() + " at least)"
                    : " since " + trend.held_since())
            << "\n";
  return kExitOk;
}

}  // namespace uhc::cli

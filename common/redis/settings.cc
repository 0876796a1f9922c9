#include "common/redis/settings.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/domain/errors.h"
#include "common/observability/log.h"
#include "common/redis/schema.h"

namespace uhc {
namespace {

struct Wanted {
  const char* setting;
  const char* value;
  bool loses_data;
  bool at_least;  // a number: at least `value`
};

constexpr Wanted kWanted[] = {
    {"maxmemory-policy", "noeviction", true, false},
    {"appendonly", "yes", false, false},
    {"hash-max-listpack-entries", "1024", false, true},
};

}  // namespace

absl::StatusOr<int> StoredDataLayout(RedisClient& redis) {
  absl::StatusOr<ReplyPtr> stored = redis.Command({"HGET", kMetaKey, kMetaLayout});
  if (!stored.ok()) return stored.status();
  if (absl::Status s = ReplyStatus(stored->get()); !s.ok()) return s;
  if ((*stored)->type != REDIS_REPLY_STRING) return 0;
  int layout = 0;
  if (!absl::SimpleAtoi(absl::string_view((*stored)->str, (*stored)->len), &layout)) {
    return absl::FailedPreconditionError("uhc:meta layout is not a number");
  }
  if (layout > kDataLayout) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the data in Redis is of layout ", layout, ", newer than this release's ", kDataLayout,
        " (uhc:meta layout): this release needs data of layout ", kDataLayout,
        " or older; run the release that wrote it, or restore a backup of the older data "
        "(docs/DEPLOY.md, rollback)"));
  }
  return layout;
}

absl::StatusOr<std::vector<SettingFinding>> CheckRedisSettings(RedisClient& redis) {
  std::vector<SettingFinding> findings;
  absl::Status read = redis.ForEachPrimary([&findings](RedisConnection& node) {
    for (const Wanted& w : kWanted) {
      absl::StatusOr<ReplyPtr> r = node.Command({"CONFIG", "GET", w.setting});
      if (!r.ok()) return r.status();
      if (absl::Status s = ReplyStatus(r->get()); !s.ok()) {
        if (absl::IsUnavailable(s)) return s;
        // CONFIG refused (an ACL without +config|get, a managed Redis that renames it): unknown,
        // said, but not taken as wrong.
        findings.push_back(
            {node.address(), w.setting, absl::StrCat("unreadable: ", s.message()), w.value, false});
        continue;
      }
      std::string value;
      if ((*r)->type == REDIS_REPLY_ARRAY && (*r)->elements == 2) {
        value.assign((*r)->element[1]->str, (*r)->element[1]->len);
      }
      bool ok = value == w.value;
      if (w.at_least) {
        int64_t have = 0, need = 0;
        ok = absl::SimpleAtoi(value, &have) && absl::SimpleAtoi(w.value, &need) && have >= need;
      }
      if (!ok) {
        findings.push_back({node.address(), w.setting, value,
                            w.at_least ? absl::StrCat(">= ", w.value) : w.value, w.loses_data});
      }
    }
    return absl::OkStatus();
  });
  if (!read.ok()) return read;
  return findings;
}

RedisSettingsMonitor::RedisSettingsMonitor(MetricsRegistry* metrics) {
  for (const Wanted& w : kWanted) {
    Gauge* gauge = metrics == nullptr
                       ? nullptr
                       : metrics->AddGauge("uhc_redis_setting_ok",
                                           "1 when every Redis primary has the setting the "
                                           "services rely on (DEPLOY.md, the data tier), else 0.",
                                           {{"setting", w.setting}});
    gauges_.emplace_back(w.setting, gauge);
  }
}

absl::Status RedisSettingsMonitor::Check(RedisClient& redis) {
  absl::StatusOr<std::vector<SettingFinding>> findings = CheckRedisSettings(redis);
  if (!findings.ok()) return findings.status();
  std::vector<std::string> seen;
  absl::Status refuse;
  for (const SettingFinding& f : *findings) {
    seen.push_back(absl::StrCat(f.node, "|", f.setting, "|", f.value));
    if (f.loses_data && refuse.ok()) {
      refuse = WithReason(
          absl::FailedPreconditionError(absl::StrCat(
              "Redis ", f.node, " has ", f.setting, " ", f.value, " (wanted ", f.wanted,
              "): it would silently drop participants; writes are refused until it is fixed")),
          reason::kStoreMisconfigured);
    }
  }
  if (seen != logged_) {
    for (const SettingFinding& f : *findings) {
      LogWarning(
          f.loses_data ? "redis setting loses data"
                       : "redis setting differs from what sizing and recovery assume",
          {{"node", f.node}, {"setting", f.setting}, {"value", f.value}, {"wanted", f.wanted}});
    }
    if (findings->empty() && !logged_.empty()) LogInfo("redis settings as relied on");
    logged_ = std::move(seen);
  }
  for (const auto& [setting, gauge] : gauges_) {
    if (gauge == nullptr) continue;
    bool ok = true;
    for (const SettingFinding& f : *findings) ok = ok && f.setting != setting;
    gauge->Set(ok ? 1 : 0);
  }
  return refuse;
}

}  // namespace uhc

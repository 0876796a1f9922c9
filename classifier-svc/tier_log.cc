#include "classifier-svc/tier_log.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/observability/log.h"
#include "common/redis/schema.h"

namespace uhc {
namespace {

constexpr char kTokenPrefix[] = "t1.";
constexpr int kV1HistoryLength = 1000;

std::optional<LogPosition> ParseStreamId(absl::string_view id) {
  std::vector<absl::string_view> parts = absl::StrSplit(id, '-');
  LogPosition p;
  if (parts.size() != 2 || parts[0].empty() || parts[0].size() > 20 || parts[1].empty() ||
      parts[1].size() > 20 || !absl::SimpleAtoi(parts[0], &p.ms) ||
      !absl::SimpleAtoi(parts[1], &p.seq)) {
    return std::nullopt;
  }
  return p;
}

absl::string_view Text(const redisReply* r) { return absl::string_view(r->str, r->len); }

// Parses an XRANGE / XREVRANGE reply.
absl::StatusOr<std::vector<LoggedChange>> ParseEntries(const redisReply* reply) {
  if (absl::Status s = ReplyStatus(reply); !s.ok()) return s;
  if (reply->type != REDIS_REPLY_ARRAY) return absl::InternalError("tier log: not an array");
  std::vector<LoggedChange> out;
  out.reserve(reply->elements);
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* entry = reply->element[i];
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING ||
        entry->element[1]->type != REDIS_REPLY_ARRAY) {
      return absl::InternalError("tier log: malformed entry");
    }
    std::optional<LogPosition> position = ParseStreamId(Text(entry->element[0]));
    if (!position) return absl::InternalError("tier log: malformed entry ID");
    LoggedChange logged{*position, {}};
    const redisReply* fields = entry->element[1];
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
      if (Text(fields->element[f]) != tier_abi::kLogChangeField) continue;
      if (!logged.change.ParseFromArray(fields->element[f + 1]->str,
                                        static_cast<int>(fields->element[f + 1]->len))) {
        return absl::InternalError("tier log: unreadable change");
      }
    }
    logged.change.set_resume_token(ResumeToken(*position));
    out.push_back(std::move(logged));
  }
  return out;
}

// Moves version-1 recorded tiers and histories to the version-2 keys. HSETNX and the import
// function's EXISTS check make it safe when several replicas do it at once.
absl::Status MigrateV1(RedisClient& redis, const RegionRegistry& regions) {
  RedisCommands reads;
  std::vector<std::string> keys;
  keys.reserve(2 * regions.all().size());
  for (const Region* r : regions.all()) {
    keys.push_back(V1TierKey(r->code));
    keys.push_back(V1HistoryKey(r->code));
  }
  for (size_t i = 0; i < keys.size(); i += 2) {
    reads.push_back({"HGETALL", keys[i]});
    reads.push_back({"LRANGE", keys[i + 1], "0", "-1"});
  }
  absl::StatusOr<std::vector<ReplyPtr>> replies = redis.Pipeline(reads);
  if (!replies.ok()) return replies.status();
  const std::string recorded = RecordedTiersKey();
  std::vector<std::string> storage;
  std::vector<std::vector<absl::string_view>> writes;
  int regions_moved = 0;
  for (size_t i = 0; i < regions.all().size(); ++i) {
    const std::string& code = regions.all()[i]->code;
    const redisReply* tiers = (*replies)[2 * i].get();
    const redisReply* history = (*replies)[2 * i + 1].get();
    if (absl::Status s = ReplyStatus(tiers); !s.ok()) return s;
    if (absl::Status s = ReplyStatus(history); !s.ok()) return s;
    if (tiers->elements == 0 && history->elements == 0) continue;
    ++regions_moved;
    for (size_t j = 0; j + 1 < tiers->elements; j += 2) {
      storage.push_back(absl::StrCat(code, "|", Text(tiers->element[j])));
    }
    storage.push_back(TierHistoryKey(code));
  }
  if (regions_moved == 0) return absl::OkStatus();
  // Second pass: views into `storage`, which no longer grows.
  size_t next = 0;
  RedisCommands commands;
  for (size_t i = 0; i < regions.all().size(); ++i) {
    const redisReply* tiers = (*replies)[2 * i].get();
    const redisReply* history = (*replies)[2 * i + 1].get();
    if (tiers->elements == 0 && history->elements == 0) continue;
    for (size_t j = 0; j + 1 < tiers->elements; j += 2) {
      commands.push_back({"HSETNX", recorded, storage[next++], Text(tiers->element[j + 1])});
    }
    const std::string& history_key = storage[next++];
    if (history->elements == 0) continue;
    RedisArgv call = {"FCALL", tier_abi::kImportHistoryFunction, "1", history_key};
    for (size_t j = 0; j < history->elements && j < kV1HistoryLength; ++j) {
      call.push_back(Text(history->element[j]));
    }
    commands.push_back(std::move(call));
  }
  absl::StatusOr<std::vector<ReplyPtr>> done = redis.Pipeline(commands);
  if (!done.ok()) return done.status();
  for (const ReplyPtr& r : *done) {
    if (absl::Status s = ReplyStatus(r.get()); !s.ok()) return s;
  }
  LogInfo("tier changes moved to the version-2 keys", {{"regions", regions_moved}});
  return absl::OkStatus();
}

}  // namespace

std::string LogPosition::StreamId() const { return absl::StrCat(ms, "-", seq); }

std::string ResumeToken(LogPosition position) {
  return absl::StrCat(kTokenPrefix, position.StreamId());
}

std::optional<LogPosition> ParseResumeToken(absl::string_view token) {
  if (token.size() > 64 || !absl::ConsumePrefix(&token, kTokenPrefix)) return std::nullopt;
  return ParseStreamId(token);
}

std::vector<std::string> RecordTierCall(const v1::TierChange& change, const std::string& believed,
                                        int history_length, absl::Time keep_since) {
  return {"FCALL",
          tier_abi::kRecordFunction,
          "4",
          RecordedTiersKey(),
          TierHistoryKey(change.region_code()),
          TierLogKey(),
          TierLogTrimmedKey(),
          absl::StrCat(change.region_code(), "|", change.policy_id()),
          believed,
          change.to_tier(),
          change.SerializeAsString(),
          std::to_string(history_length),
          std::to_string(std::max<int64_t>(0, absl::ToUnixMillis(keep_since)))};
}

absl::StatusOr<std::map<std::string, std::map<std::string, std::string>>> ReadRecordedTiers(
    RedisClient& redis, const RegionRegistry& regions) {
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<ReplyPtr> reply = redis.Command({"HGETALL", RecordedTiersKey()});
    if (!reply.ok()) return reply.status();
    if (absl::Status s = ReplyStatus(reply->get()); !s.ok()) return s;
    if ((*reply)->elements == 0 && attempt == 0) {
      if (absl::Status s = MigrateV1(redis, regions); !s.ok()) return s;
      continue;
    }
    std::map<std::string, std::map<std::string, std::string>> recorded;
    for (size_t j = 0; j + 1 < (*reply)->elements; j += 2) {
      absl::string_view field = Text((*reply)->element[j]);
      size_t bar = field.find('|');
      if (bar == absl::string_view::npos) continue;
      recorded[std::string(field.substr(0, bar))][std::string(field.substr(bar + 1))] =
          std::string(Text((*reply)->element[j + 1]));
    }
    return recorded;
  }
}

absl::StatusOr<LogPosition> LastLogPosition(RedisClient& redis) {
  absl::StatusOr<ReplyPtr> reply =
      redis.Command({"XREVRANGE", TierLogKey(), "+", "-", "COUNT", "1"});
  if (!reply.ok()) return reply.status();
  absl::StatusOr<std::vector<LoggedChange>> entries = ParseEntries(reply->get());
  if (!entries.ok()) return entries.status();
  return entries->empty() ? LogPosition{} : entries->front().position;
}

absl::StatusOr<std::vector<LoggedChange>> ReadLogAfter(RedisClient& redis, LogPosition after,
                                                       int count) {
  absl::StatusOr<ReplyPtr> reply =
      redis.Command({"XRANGE", TierLogKey(), absl::StrCat("(", after.StreamId()), "+", "COUNT",
                     std::to_string(count)});
  if (!reply.ok()) return reply.status();
  return ParseEntries(reply->get());
}

absl::StatusOr<bool> LogTrimmedAfter(RedisClient& redis, LogPosition after) {
  absl::StatusOr<ReplyPtr> reply = redis.Command({"GET", TierLogTrimmedKey()});
  if (!reply.ok()) return reply.status();
  if (absl::Status s = ReplyStatus(reply->get()); !s.ok()) return s;
  if ((*reply)->type != REDIS_REPLY_STRING) return false;  // never trimmed
  uint64_t kept_from_ms = 0;
  if (!absl::SimpleAtoi(Text(reply->get()), &kept_from_ms)) {
    return absl::InternalError("tier log: malformed trim mark");
  }
  // Entries below kept_from_ms-0 may be gone; `after` is safe only if it is at least as new.
  return after.ms < kept_from_ms;
}

std::string TierChangeKey(const v1::TierChange& change) {
  return absl::StrCat(change.change_time().seconds(), ".", change.change_time().nanos(), "|",
                      change.policy_id(), "|", change.data_version(), "|", change.to_tier());
}

absl::StatusOr<std::vector<v1::TierChange>> ReadTierHistory(RedisClient& redis,
                                                            const std::string& region,
                                                            const std::string& policy) {
  absl::StatusOr<ReplyPtr> reply =
      redis.Command({"LRANGE", TierHistoryKey(region), "0", std::to_string(kV1HistoryLength - 1)});
  if (!reply.ok()) return reply.status();
  if (absl::Status s = ReplyStatus(reply->get()); !s.ok()) return s;
  std::vector<v1::TierChange> out;
  for (size_t i = 0; i < (*reply)->elements; ++i) {
    v1::TierChange change;
    if (!change.ParseFromArray((*reply)->element[i]->str,
                               static_cast<int>((*reply)->element[i]->len))) {
      continue;
    }
    if (policy.empty() || change.policy_id() == policy) out.push_back(std::move(change));
  }
  return out;
}

}  // namespace uhc

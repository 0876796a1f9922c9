#include "tools/backup/backup.h"

#include <openssl/evp.h>

#include <deque>
#include <map>
#include <ostream>
#include <set>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/redis/history.h"
#include "common/redis/schema.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "uhc/backup/v1/backup.pb.h"

namespace uhc::backup {
namespace {

using ::uhc::backup::v1::Record;

// Commands a pipeline sends at most: an export or import of the whole country is a few thousand.
constexpr size_t kChunk = 1000;

absl::string_view Text(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
             ? absl::string_view(r->str, r->len)
             : absl::string_view();
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(digest), static_cast<size_t>(size)));
}

// Lines out, counted and hashed for the trailer.
class Writer {
 public:
  explicit Writer(std::ostream& out) : out_(out) {}
  absl::Status Add(const Record& record) {
    std::string line;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    if (auto s = google::protobuf::util::MessageToJsonString(record, &line, options); !s.ok()) {
      return absl::InternalError(std::string(s.message()));
    }
    line.push_back('\n');
    written_.append(line);
    out_ << line;
    ++records_;
    return absl::OkStatus();
  }
  absl::Status Finish() {
    Record trailer;
    trailer.mutable_trailer()->set_records(records_);
    trailer.mutable_trailer()->set_sha256(Sha256Hex(written_));
    if (absl::Status s = Add(trailer); !s.ok()) return s;
    out_.flush();
    return out_ ? absl::OkStatus() : absl::DataLossError("the export could not be written");
  }

 private:
  std::ostream& out_;
  std::string written_;
  int64_t records_ = 0;
};

// Sends `commands` in chunks; every reply checked. `keep` owns what the commands point into.
absl::StatusOr<std::vector<ReplyPtr>> Send(RedisClient& redis, const RedisCommands& commands) {
  std::vector<ReplyPtr> replies;
  for (size_t start = 0; start < commands.size(); start += kChunk) {
    RedisCommands chunk(
        commands.begin() + static_cast<std::ptrdiff_t>(start),
        commands.begin() + static_cast<std::ptrdiff_t>(std::min(commands.size(), start + kChunk)));
    absl::StatusOr<std::vector<ReplyPtr>> r = redis.Pipeline(chunk);
    if (!r.ok()) return r.status();
    for (ReplyPtr& reply : *r) {
      if (absl::Status s = ReplyStatus(reply.get()); !s.ok()) return s;
      replies.push_back(std::move(reply));
    }
  }
  return replies;
}

// "1|2025-09" (settings hash) -> status.
void ParseStatus(absl::string_view value, bool* prio, std::string* dues) {
  std::pair<std::string, std::string> parts = absl::StrSplit(value, absl::MaxSplits('|', 1));
  *prio = parts.first == "1";
  *dues = parts.second;
}

absl::Status ExportRegions(RedisClient& redis, const RegionRegistry& regions, Writer& w,
                           Counts* counts) {
  std::deque<std::string> keys;
  RedisCommands commands;
  for (const Region* region : regions.all()) {
    keys.push_back(AggregateKey(region->code));
    commands.push_back({"HMGET", keys.back(), agg::kPopulation, agg::kPopulationAsOf,
                        agg::kPrioritas, agg::kDuesPaidThrough});
    keys.push_back(SettingsKey(region->code));
    commands.push_back({"HGETALL", keys.back()});
  }
  absl::StatusOr<std::vector<ReplyPtr>> r = Send(redis, commands);
  if (!r.ok()) return r.status();
  for (size_t i = 0; i < regions.all().size(); ++i) {
    const redisReply* live = (*r)[2 * i].get();
    const redisReply* settings = (*r)[2 * i + 1].get();
    Record record;
    v1::RegionInputs& in = *record.mutable_region_inputs();
    in.set_region_code(regions.all()[i]->code);
    bool any = false;
    if (live->type == REDIS_REPLY_ARRAY && live->elements == 4) {
      int64_t population = 0;
      if (absl::SimpleAtoi(Text(live->element[0]), &population)) {
        in.set_population(population);
        in.set_population_as_of(std::string(Text(live->element[1])));
        any = true;
      }
      if (live->element[2]->type == REDIS_REPLY_STRING ||
          live->element[3]->type == REDIS_REPLY_STRING) {
        in.set_has_status(true);
        in.set_uhc_prioritas(Text(live->element[2]) == "1");
        in.set_dues_paid_through(std::string(Text(live->element[3])));
        any = true;
      }
    }
    std::map<std::string, std::string> fields;  // sorted: dates ascending
    for (size_t f = 0; settings->type == REDIS_REPLY_ARRAY && f + 1 < settings->elements; f += 2) {
      fields.emplace(Text(settings->element[f]), Text(settings->element[f + 1]));
    }
    for (const auto& [name, value] : fields) {
      if (name.size() < 2) continue;
      if (name[0] == 'p') {
        v1::DatedPopulation* p = in.add_populations();
        p->set_as_of(name.substr(1));
        int64_t population = 0;
        if (!absl::SimpleAtoi(value, &population)) {
          return absl::DataLossError(
              absl::StrCat("region ", in.region_code(), ": population '", value, "' is no number"));
        }
        p->set_population(population);
      } else if (name[0] == 's') {
        v1::DatedStatus* s = in.add_statuses();
        s->set_effective(name.substr(1));
        bool prio = false;
        std::string dues;
        ParseStatus(value, &prio, &dues);
        s->set_uhc_prioritas(prio);
        s->set_dues_paid_through(dues);
      }
    }
    if (!any && in.populations().empty() && in.statuses().empty()) continue;
    if (absl::Status s = w.Add(record); !s.ok()) return s;
    ++counts->regions;
  }
  return absl::OkStatus();
}

absl::Status ExportCutoffs(RedisClient& redis, Writer& w, Counts* counts) {
  absl::StatusOr<std::vector<uhc::v1::Cutoff>> cutoffs = ReadCutoffs(redis);
  if (!cutoffs.ok()) return cutoffs.status();
  for (const uhc::v1::Cutoff& listed : *cutoffs) {
    absl::StatusOr<FrozenCutoff> frozen = ReadCutoff(redis, listed.cutoff_id());
    if (!frozen.ok()) return frozen.status();
    Record record;
    v1::FrozenCutoff& out = *record.mutable_cutoff();
    *out.mutable_cutoff() = frozen->meta;
    for (const auto& [code, a] : frozen->figures) {
      v1::FrozenFigures& f = *out.add_figures();
      f.set_region_code(code);
      f.set_population(a.counts.population);
      for (int s = 1; s <= 5; ++s) {
        f.add_participants(a.counts.participants[s]);
        f.add_active(a.counts.active[s]);
      }
      f.set_uhc_prioritas(a.counts.uhc_prioritas);
      f.set_dues_paid_through(a.counts.dues_paid_through);
      f.set_version(a.version);
    }
    if (absl::Status s = w.Add(record); !s.ok()) return s;
    ++counts->cutoffs;
  }
  return absl::OkStatus();
}

absl::Status ExportTiers(RedisClient& redis, const RegionRegistry& regions, Writer& w,
                         Counts* counts) {
  // Recorded tiers ("<region>|<policy>" -> tier), in a stable order.
  absl::StatusOr<ReplyPtr> recorded = redis.Command({"HGETALL", RecordedTiersKey()});
  if (!recorded.ok()) return recorded.status();
  if (absl::Status s = ReplyStatus(recorded->get()); !s.ok()) return s;
  std::map<std::string, std::string> tiers;
  for (size_t f = 0; f + 1 < (*recorded)->elements; f += 2) {
    tiers.emplace(Text((*recorded)->element[f]), Text((*recorded)->element[f + 1]));
  }
  for (const auto& [key, tier] : tiers) {
    std::pair<std::string, std::string> parts = absl::StrSplit(key, absl::MaxSplits('|', 1));
    Record record;
    record.mutable_recorded_tier()->set_region_code(parts.first);
    record.mutable_recorded_tier()->set_policy_id(parts.second);
    record.mutable_recorded_tier()->set_tier(tier);
    if (absl::Status s = w.Add(record); !s.ok()) return s;
    ++counts->recorded_tiers;
  }
  // Histories, newest first as kept.
  std::deque<std::string> keys;
  RedisCommands commands;
  for (const Region* region : regions.all()) {
    keys.push_back(TierHistoryKey(region->code));
    commands.push_back({"LRANGE", keys.back(), "0", "-1"});
  }
  absl::StatusOr<std::vector<ReplyPtr>> r = Send(redis, commands);
  if (!r.ok()) return r.status();
  for (size_t i = 0; i < regions.all().size(); ++i) {
    const redisReply* list = (*r)[i].get();
    if (list->elements == 0) continue;
    Record record;
    v1::TierHistory& h = *record.mutable_tier_history();
    h.set_region_code(regions.all()[i]->code);
    for (size_t e = 0; e < list->elements; ++e) {
      if (!h.add_changes()->ParseFromArray(list->element[e]->str,
                                           static_cast<int>(list->element[e]->len))) {
        return absl::DataLossError(
            absl::StrCat("region ", h.region_code(), ": a tier history entry is malformed"));
      }
    }
    if (absl::Status s = w.Add(record); !s.ok()) return s;
    ++counts->tier_histories;
  }
  // The change log, oldest first, in pages.
  absl::StatusOr<ReplyPtr> trimmed = redis.Command({"GET", TierLogTrimmedKey()});
  if (!trimmed.ok()) return trimmed.status();
  int64_t trimmed_before = 0;
  (void)absl::SimpleAtoi(Text(trimmed->get()), &trimmed_before);
  std::string from = "-";
  while (true) {
    absl::StatusOr<ReplyPtr> page =
        redis.Command({"XRANGE", TierLogKey(), from, "+", "COUNT", "1000"});
    if (!page.ok()) return page.status();
    if (absl::Status s = ReplyStatus(page->get()); !s.ok()) return s;
    if ((*page)->elements == 0) break;
    for (size_t e = 0; e < (*page)->elements; ++e) {
      const redisReply* entry = (*page)->element[e];
      Record record;
      v1::TierLogEntry& out = *record.mutable_tier_log_entry();
      out.set_position(std::string(Text(entry->element[0])));
      const redisReply* fields = entry->element[1];
      bool parsed = false;
      for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        if (Text(fields->element[f]) != tier_abi::kLogChangeField) continue;
        parsed = out.mutable_change()->ParseFromArray(
            fields->element[f + 1]->str, static_cast<int>(fields->element[f + 1]->len));
      }
      if (!parsed) {
        return absl::DataLossError(
            absl::StrCat("tier log entry ", out.position(), " is malformed"));
      }
      if (counts->log_entries == 0) out.set_trimmed_before_ms(trimmed_before);
      if (absl::Status s = w.Add(record); !s.ok()) return s;
      ++counts->log_entries;
      from = absl::StrCat("(", out.position());
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string Counts::Summary() const {
  return absl::StrCat(regions, " regions' inputs, ", cutoffs, " cut-offs, ", recorded_tiers,
                      " recorded tiers, ", tier_histories, " tier histories, ", log_entries,
                      " tier log entries");
}

absl::StatusOr<Counts> Export(RedisClient& redis, const RegionRegistry& regions, absl::Time now,
                              std::ostream& out) {
  Counts counts;
  Writer w(out);
  absl::StatusOr<ReplyPtr> meta =
      redis.Command({"HMGET", kMetaKey, kMetaNikKey, kMetaBucketBits, kMetaLayout});
  if (!meta.ok()) return meta.status();
  if (absl::Status s = ReplyStatus(meta->get()); !s.ok()) return s;
  Record header;
  v1::Header& h = *header.mutable_header();
  h.set_format(kFormat);
  h.set_version(kFormatVersion);
  *h.mutable_exported_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
  h.set_nik_key_fingerprint(std::string(Text((*meta)->element[0])));
  int bits = 0, layout = 0;
  (void)absl::SimpleAtoi(Text((*meta)->element[1]), &bits);
  (void)absl::SimpleAtoi(Text((*meta)->element[2]), &layout);
  h.set_bucket_bits(bits);
  h.set_data_layout(layout);
  if (absl::Status s = w.Add(header); !s.ok()) return s;
  if (absl::Status s = ExportRegions(redis, regions, w, &counts); !s.ok()) return s;
  if (absl::Status s = ExportCutoffs(redis, w, &counts); !s.ok()) return s;
  if (absl::Status s = ExportTiers(redis, regions, w, &counts); !s.ok()) return s;
  if (absl::Status s = w.Finish(); !s.ok()) return s;
  return counts;
}

namespace {

// The file's records, checked against its trailer and header.
absl::StatusOr<std::vector<Record>> ReadRecords(const std::string& text) {
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.size() < 2) return absl::InvalidArgumentError("not an export: fewer than two lines");
  std::vector<Record> records;
  size_t offset = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    Record record;
    google::protobuf::util::JsonParseOptions options;
    // Format version 1 named two fields the old way. A key is `"name":` with bare quotes, which a
    // JSON string value cannot contain (its quotes are escaped), so the mapping touches keys only.
    const std::string line = absl::StrReplaceAll(
        lines[i],
        {{"\"created_at\":", "\"create_time\":"}, {"\"changed_at\":", "\"change_time\":"}});
    if (auto s = google::protobuf::util::JsonStringToMessage(line, &record, options); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", i + 1, ": not a record: ", std::string(s.message())));
    }
    if (i + 1 < lines.size()) offset += lines[i].size() + 1;
    records.push_back(std::move(record));
  }
  const Record& last = records.back();
  if (!last.has_trailer()) {
    return absl::InvalidArgumentError("the export is cut short: its last line is no trailer");
  }
  if (last.trailer().records() != static_cast<int64_t>(records.size() - 1) ||
      last.trailer().sha256() != Sha256Hex(absl::string_view(text).substr(0, offset))) {
    return absl::InvalidArgumentError(
        "the export does not match its trailer (records or SHA-256): it was cut or edited");
  }
  records.pop_back();
  const Record& first = records.front();
  if (!first.has_header() || first.header().format() != kFormat) {
    return absl::InvalidArgumentError("not an export: the first line is no uhc-export header");
  }
  if (first.header().version() > kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat("the export is of format version ",
                                                   first.header().version(), "; this release ",
                                                   "reads up to ", kFormatVersion));
  }
  return records;
}

// The encoded figures of a cut-off.
absl::StatusOr<std::string> Frozen(const RegionRegistry& regions, const v1::FrozenCutoff& c) {
  std::map<std::string, RegionAggregate, std::less<>> figures;
  for (const v1::FrozenFigures& f : c.figures()) {
    if (regions.Find(f.region_code()) == nullptr || f.participants_size() != 5 ||
        f.active_size() != 5) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cut-off ", c.cutoff().cutoff_id(), ": figures of '", f.region_code(), "' malformed"));
    }
    RegionAggregate& a = figures[f.region_code()];
    a.counts.population = f.population();
    for (int s = 1; s <= 5; ++s) {
      a.counts.participants[s] = f.participants(s - 1);
      a.counts.active[s] = f.active(s - 1);
    }
    a.counts.uhc_prioritas = f.uhc_prioritas();
    a.counts.dues_paid_through = f.dues_paid_through();
    a.version = f.version();
  }
  return EncodeFrozen(figures);
}

}  // namespace

absl::StatusOr<Counts> Import(RedisClient& redis, const RegionRegistry& regions,
                              const std::string& text, bool rekey) {
  absl::StatusOr<std::vector<Record>> records = ReadRecords(text);
  if (!records.ok()) return records.status();
  const v1::Header& header = records->front().header();

  // Everything the import writes, built and checked before the first write. Commands hold
  // string_views: every string they name is kept in `keep`, never a temporary.
  std::deque<std::string> keep;
  auto held = [&keep](std::string s) -> absl::string_view {
    return keep.emplace_back(std::move(s));
  };
  RedisCommands writes;
  const absl::string_view cutoff_index = held(CutoffIndexKey());
  const absl::string_view recorded = held(RecordedTiersKey());
  const absl::string_view log = held(TierLogKey());
  RedisCommands checks = {{"HMGET", kMetaKey, kMetaNikKey, kMetaBucketBits},
                          {"EXISTS", cutoff_index},
                          {"EXISTS", recorded},
                          {"EXISTS", log}};
  Counts counts;
  bool first_log_entry = true;
  for (size_t i = 1; i < records->size(); ++i) {
    const Record& record = (*records)[i];
    switch (record.kind_case()) {
      case Record::kRegionInputs: {
        const v1::RegionInputs& in = record.region_inputs();
        if (regions.Find(in.region_code()) == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("unknown region '", in.region_code(), "' in the export"));
        }
        absl::string_view settings = held(SettingsKey(in.region_code()));
        absl::string_view aggregate = held(AggregateKey(in.region_code()));
        checks.push_back({"EXISTS", settings});
        for (const v1::DatedPopulation& p : in.populations()) {
          writes.push_back(
              {"HSET", settings, held("p" + p.as_of()), held(std::to_string(p.population()))});
        }
        for (const v1::DatedStatus& s : in.statuses()) {
          writes.push_back(
              {"HSET", settings, held("s" + s.effective()),
               held(absl::StrCat(s.uhc_prioritas() ? "1" : "0", "|", s.dues_paid_through()))});
        }
        if (!in.population_as_of().empty()) {
          writes.push_back({"HSET", aggregate, agg::kPopulation,
                            held(std::to_string(in.population())), agg::kPopulationAsOf,
                            held(in.population_as_of())});
        }
        if (in.has_status()) {
          writes.push_back({"HSET", aggregate, agg::kPrioritas, in.uhc_prioritas() ? "1" : "0"});
          if (!in.dues_paid_through().empty()) {
            writes.push_back(
                {"HSET", aggregate, agg::kDuesPaidThrough, held(in.dues_paid_through())});
          }
        }
        // Readers take a new version as "read me again".
        writes.push_back({"HINCRBY", aggregate, agg::kVersion, "1"});
        ++counts.regions;
        break;
      }
      case Record::kCutoff: {
        const v1::FrozenCutoff& c = record.cutoff();
        absl::StatusOr<std::string> figures = Frozen(regions, c);
        if (!figures.ok()) return figures.status();
        writes.push_back({"SET", held(CutoffDataKey(c.cutoff().cutoff_id())), held(*figures)});
        writes.push_back({"HSET", cutoff_index, held(c.cutoff().cutoff_id()),
                          held(c.cutoff().SerializeAsString())});
        ++counts.cutoffs;
        break;
      }
      case Record::kRecordedTier: {
        const v1::RecordedTier& t = record.recorded_tier();
        writes.push_back({"HSET", recorded, held(absl::StrCat(t.region_code(), "|", t.policy_id())),
                          held(t.tier())});
        ++counts.recorded_tiers;
        break;
      }
      case Record::kTierHistory: {
        const v1::TierHistory& h = record.tier_history();
        if (regions.Find(h.region_code()) == nullptr) {
          return absl::InvalidArgumentError(
              absl::StrCat("unknown region '", h.region_code(), "' in the export"));
        }
        absl::string_view key = held(TierHistoryKey(h.region_code()));
        checks.push_back({"EXISTS", key});
        for (const uhc::v1::TierChange& change : h.changes()) {
          writes.push_back({"RPUSH", key, held(change.SerializeAsString())});
        }
        ++counts.tier_histories;
        break;
      }
      case Record::kTierLogEntry: {
        const v1::TierLogEntry& e = record.tier_log_entry();
        if (first_log_entry && e.trimmed_before_ms() > 0) {
          writes.push_back(
              {"SET", held(TierLogTrimmedKey()), held(std::to_string(e.trimmed_before_ms()))});
        }
        first_log_entry = false;
        writes.push_back({"XADD", log, held(e.position()), tier_abi::kLogChangeField,
                          held(e.change().SerializeAsString())});
        ++counts.log_entries;
        break;
      }
      default:
        return absl::InvalidArgumentError(absl::StrCat("line ", i + 1, ": unexpected record"));
    }
  }

  // The target: the same key and layout, or none yet; nothing of what is imported.
  absl::StatusOr<std::vector<ReplyPtr>> found = Send(redis, checks);
  if (!found.ok()) return found.status();
  const redisReply* meta = (*found)[0].get();
  const absl::string_view key = Text(meta->element[0]);
  const absl::string_view bits = Text(meta->element[1]);
  if (!rekey && !key.empty() && !header.nik_key_fingerprint().empty() &&
      key != header.nik_key_fingerprint()) {
    return absl::FailedPreconditionError(
        "the target Redis holds data of another NIK key (uhc:meta nik_key differs from the "
        "export's): participants replayed there would be counted apart");
  }
  if (!bits.empty() && header.bucket_bits() != 0 && bits != std::to_string(header.bucket_bits())) {
    return absl::FailedPreconditionError(absl::StrCat("the target Redis uses bucket_bits ", bits,
                                                      ", the export ", header.bucket_bits()));
  }
  for (size_t i = 1; i < found->size(); ++i) {
    if ((*found)[i]->integer != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the target Redis already holds ", checks[i][1],
          ": an import goes into an empty Redis (after a failed import, flush it and run again)"));
    }
  }
  if (!rekey && !header.nik_key_fingerprint().empty()) {
    writes.push_back({"HSETNX", kMetaKey, kMetaNikKey, header.nik_key_fingerprint()});
  }
  if (header.bucket_bits() != 0) {
    writes.push_back(
        {"HSETNX", kMetaKey, kMetaBucketBits, held(std::to_string(header.bucket_bits()))});
  }
  absl::StatusOr<std::vector<ReplyPtr>> written = Send(redis, writes);
  if (!written.ok()) return written.status();
  return counts;
}

}  // namespace uhc::backup

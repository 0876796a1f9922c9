#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/domain/errors.h"
#include "common/domain/policy.h"
#include "common/domain/region_counts.h"
#include "common/domain/text.h"
#include "common/observability/log.h"
#include "common/redis/history.h"
#include "common/redis/schema.h"
#include "common/server/page_token.h"
#include "enrollment-svc/enrollment_service.h"
#include "google/protobuf/util/time_util.h"

namespace uhc {
namespace {

// Admin calls take a kab/kota or a province (not the nation). A code that names no region is
// NOT_FOUND (returned); a missing code or the nation is a field violation (added).
absl::Status CheckAdminRegion(const RegionRegistry& regions, const std::string& code,
                              std::vector<FieldViolation>* violations) {
  if (code.empty()) {
    violations->push_back({"region_code", "is required"});
    return absl::OkStatus();
  }
  const Region* region = regions.Find(code);
  if (region == nullptr) return regions.RegionNotFound(code);
  if (region->level == RegionLevel::kNation) {
    violations->push_back({"region_code", "is the nation; name a province or kab/kota"});
  }
  return absl::OkStatus();
}

// The settings every admin function returns: population, as of, prioritas, dues, version.
absl::Status DecodeSettings(const redisReply* reply, const std::string& region_code,
                            v1::RegionSettings* response) {
  if (absl::Status s = ReplyStatus(reply); !s.ok()) return s;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5) {
    return absl::InternalError("malformed settings reply");
  }
  redisReply** e = reply->element;
  // population, as of, prioritas, dues, version: integer, string, integer, string, integer (a
  // string never set may come as nil, read as empty).
  for (int i = 0; i < 5; ++i) {
    const bool ok = i % 2 == 0 ? e[i]->type == REDIS_REPLY_INTEGER
                               : e[i]->type == REDIS_REPLY_STRING || e[i]->type == REDIS_REPLY_NIL;
    if (!ok) return absl::InternalError("malformed settings reply");
  }
  response->set_region_code(region_code);
  response->set_population(e[0]->integer);
  response->set_population_as_of_date(
      e[1]->type == REDIS_REPLY_NIL ? "" : std::string(e[1]->str, e[1]->len));
  response->set_uhc_prioritas(e[2]->integer == 1);
  response->set_dues_paid_through(
      e[3]->type == REDIS_REPLY_NIL ? "" : std::string(e[3]->str, e[3]->len));
  response->set_version(e[4]->integer);
  return absl::OkStatus();
}

}  // namespace

std::string SettingsText(const v1::RegionSettings& s) {
  return absl::StrCat("population ", s.population(), " as of ", s.population_as_of_date(),
                      ", uhc_prioritas ", s.uhc_prioritas() ? "yes" : "no", ", dues paid through ",
                      s.dues_paid_through());
}

grpc::ServerUnaryReactor* RegionAdminServiceImpl::Call(grpc::CallbackServerContext* context,
                                                       const char* rpc, std::string request,
                                                       const std::string& region_code,
                                                       std::vector<std::string> command,
                                                       v1::RegionSettings* response) {
  const int wait_replicas = enrollment_->wait_replicas();
  CallerIdentity who = IdentifyCaller(*context);
  return enrollment_->calls().OnExecutor(
      context, Role::kAdmin,
      [rpc, request = std::move(request), who = std::move(who), region_code,
       command = std::move(command), response, wait_replicas](RedisClient& redis) {
        // The settings before, read just ahead of the write on the same connection, for the
        // audit line.
        const std::string aggregate = AggregateKey(region_code);
        RedisArgv before = {"HMGET",          aggregate,
                            agg::kPopulation, agg::kPopulationAsOf,
                            agg::kPrioritas,  agg::kDuesPaidThrough};
        RedisArgv argv(command.begin(), command.end());
        absl::StatusOr<std::vector<ReplyPtr>> replies =
            redis.Pipeline({before, argv}, wait_replicas);
        if (!replies.ok()) return replies.status();
        absl::Status decoded = DecodeSettings((*replies)[1].get(), region_code, response);
        if (!decoded.ok()) return decoded;
        std::string old = "none";
        if (const redisReply* r = (*replies)[0].get();
            r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
          auto text = [r](size_t i) {
            return r->element[i]->type == REDIS_REPLY_STRING
                       ? std::string(r->element[i]->str, r->element[i]->len)
                       : std::string();
          };
          old = absl::StrCat("population ", text(0).empty() ? "0" : text(0), " as of ", text(1),
                             ", uhc_prioritas ", text(2) == "1" ? "yes" : "no",
                             ", dues paid through ", text(3));
        }
        LogInfo("audit", {{"rpc", rpc},
                          {"role", "admin"},
                          {"peer", who.peer},
                          {"token", who.token},
                          {"region", region_code},
                          {"request", request},
                          {"old", old},
                          {"new", SettingsText(*response)}});
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* RegionAdminServiceImpl::SetPopulation(
    grpc::CallbackServerContext* context, const v1::SetPopulationRequest* request,
    v1::RegionSettings* response) {
  std::vector<FieldViolation> violations;
  if (absl::Status s = CheckAdminRegion(*regions_, request->region_code(), &violations); !s.ok()) {
    return enrollment_->calls().Answer(context, Role::kAdmin, [s] { return s; });
  }
  if (request->population() < 0 || request->population() > kMaxPopulation) {
    violations.push_back(
        {"population", absl::StrCat(request->population(), " is outside 0..", kMaxPopulation,
                                    " (Indonesia has about 285 million people)")});
  }
  // A figure as of a later day would be the live one from now on (and outlive every figure set
  // before that day), so it is refused as SetRegionStatus and CreateCutoff refuse future dates.
  const absl::CivilDay today = WibToday(absl::Now());
  if (std::optional<absl::CivilDay> day = ParseDate(request->as_of_date()); !day) {
    violations.push_back({"as_of_date", "must be a date YYYY-MM-DD"});
  } else if (*day > today) {
    violations.push_back({"as_of_date", absl::StrCat("is after today (", FormatDate(today),
                                                     " WIB); set a population when it holds")});
  }
  if (!violations.empty()) {
    return enrollment_->calls().Answer(context, Role::kAdmin,
                                       [&] { return InvalidFields(violations); });
  }
  // A kab/kota's participants live in its 2^bucket_bits buckets: past their capacity the buckets
  // leave Redis's compact encoding and memory per participant grows several times, and the layout
  // cannot change once data is written. Refused before anything is stored.
  if (absl::StrContains(request->region_code(), '.') && request->population() > kabkota_capacity_) {
    const int64_t population = request->population();
    const int64_t capacity = kabkota_capacity_;
    return enrollment_->calls().Answer(context, Role::kAdmin, [population, capacity] {
      return WithReason(
          absl::FailedPreconditionError(absl::StrCat(
              "a population of ", population,
              " does not fit this deployment's bucket layout (at most ", capacity,
              " participants per kab/kota in compact buckets: --bucket_bits times "
              "--max_participants_per_bucket); the layout is fixed once data is written: deploy "
              "with more --bucket_bits (14 for the country, docs/DEPLOY.md) on new data")),
          reason::kCapacityExceeded);
    });
  }
  return Call(context, "SetPopulation",
              absl::StrCat("population ", request->population(), " as of ", request->as_of_date()),
              request->region_code(),
              {"FCALL", apply_abi::kSetPopulationFunction, "2",
               AggregateKey(request->region_code()), SettingsKey(request->region_code()),
               std::to_string(request->population()), request->as_of_date()},
              response);
}

grpc::ServerUnaryReactor* RegionAdminServiceImpl::SetRegionStatus(
    grpc::CallbackServerContext* context, const v1::SetRegionStatusRequest* request,
    v1::RegionSettings* response) {
  std::vector<FieldViolation> violations;
  if (absl::Status s = CheckAdminRegion(*regions_, request->region_code(), &violations); !s.ok()) {
    return enrollment_->calls().Answer(context, Role::kAdmin, [s] { return s; });
  }
  if (!request->dues_paid_through().empty() && ParseYearMonth(request->dues_paid_through()) == 0) {
    violations.push_back({"dues_paid_through", "must be a month YYYY-MM"});
  }
  const absl::CivilDay today = WibToday(absl::Now());
  std::string effective = request->effective_date();
  if (effective.empty()) {
    effective = FormatDate(today);
  } else if (std::optional<absl::CivilDay> day = ParseDate(effective); !day) {
    violations.push_back({"effective_date", "must be a date YYYY-MM-DD"});
  } else if (*day > today) {
    violations.push_back({"effective_date", absl::StrCat("is after today (", FormatDate(today),
                                                         " WIB); set a status when it holds")});
  }
  if (!violations.empty()) {
    return enrollment_->calls().Answer(context, Role::kAdmin,
                                       [&] { return InvalidFields(violations); });
  }
  return Call(
      context, "SetRegionStatus",
      absl::StrCat("uhc_prioritas ", request->uhc_prioritas() ? "yes" : "no",
                   ", dues paid through ", request->dues_paid_through(), ", from ", effective),
      request->region_code(),
      {"FCALL", apply_abi::kSetStatusFunction, "2", AggregateKey(request->region_code()),
       SettingsKey(request->region_code()), request->uhc_prioritas() ? "1" : "0",
       request->dues_paid_through(), effective},
      response);
}

grpc::ServerUnaryReactor* RegionAdminServiceImpl::CreateCutoff(
    grpc::CallbackServerContext* context, const v1::CreateCutoffRequest* request,
    v1::Cutoff* response) {
  std::vector<FieldViolation> violations;
  CheckCutoffId("cutoff_id", request->cutoff_id(), &violations);
  const absl::CivilDay today = WibToday(absl::Now());
  std::optional<absl::CivilDay> day = ParseDate(request->as_of_date());
  if (!day) {
    violations.push_back({"as_of_date", "must be a date YYYY-MM-DD"});
  } else if (*day > today) {
    violations.push_back({"as_of_date", absl::StrCat("is after today (", FormatDate(today),
                                                     " WIB): nothing to freeze yet")});
  }
  CheckFreeText("description", request->description(), kMaxCutoffDescriptionBytes, &violations);
  if (!violations.empty()) {
    return enrollment_->calls().Answer(context, Role::kAdmin,
                                       [&] { return InvalidFields(violations); });
  }
  v1::Cutoff meta;
  meta.set_cutoff_id(request->cutoff_id());
  meta.set_as_of_date(request->as_of_date());
  meta.set_description(request->description());
  *meta.mutable_create_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
  std::vector<std::string> codes;
  for (const Region* r : regions_->all()) {
    if (r->level != RegionLevel::kNation) codes.push_back(r->code);
  }
  meta.set_regions(static_cast<int32_t>(codes.size()));
  CallerIdentity who = IdentifyCaller(*context);
  return enrollment_->calls().OnExecutor(
      context, Role::kAdmin,
      [meta, codes, response, who = std::move(who)](RedisClient& redis) -> absl::Status {
        absl::StatusOr<v1::Cutoff> made = FreezeCutoff(redis, meta, codes);
        if (!made.ok()) return made.status();
        *response = *std::move(made);
        LogInfo("audit",
                {{"rpc", "CreateCutoff"},
                 {"role", "admin"},
                 {"peer", who.peer},
                 {"token", who.token},
                 {"region", "all"},
                 {"request", absl::StrCat(meta.cutoff_id(), " as of ", meta.as_of_date())},
                 {"old", "none (a cut-off never changes)"},
                 {"new", absl::StrCat(response->cutoff_id(), " as of ", response->as_of_date(),
                                      ", ", response->regions(), " regions")}});
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* RegionAdminServiceImpl::GetCutoff(grpc::CallbackServerContext* context,
                                                            const v1::GetCutoffRequest* request,
                                                            v1::Cutoff* response) {
  std::vector<FieldViolation> violations;
  CheckCutoffId("cutoff_id", request->cutoff_id(), &violations);
  if (!violations.empty()) {
    return enrollment_->calls().Answer(context, Role::kRead,
                                       [&] { return InvalidFields(violations); });
  }
  return enrollment_->calls().OnExecutor(
      context, Role::kRead, [request, response](RedisClient& redis) -> absl::Status {
        absl::StatusOr<std::vector<v1::Cutoff>> cutoffs = ReadCutoffs(redis);
        if (!cutoffs.ok()) return cutoffs.status();
        for (v1::Cutoff& c : *cutoffs) {
          if (c.cutoff_id() == request->cutoff_id()) {
            *response = std::move(c);
            return absl::OkStatus();
          }
        }
        return NotFound(
            reason::kCutoffNotFound, {"uhc.v1.Cutoff", request->cutoff_id()},
            absl::StrCat("no cut-off '", request->cutoff_id(), "' (ListCutoffs shows them)"));
      });
}

grpc::ServerUnaryReactor* RegionAdminServiceImpl::ListCutoffs(grpc::CallbackServerContext* context,
                                                              const v1::ListCutoffsRequest* request,
                                                              v1::ListCutoffsResponse* response) {
  const std::string listing = Listing({"ListCutoffs"});
  absl::StatusOr<PageRequest> page = ReadPage(request->page_size(), request->page_token(), listing);
  if (!page.ok()) {
    return enrollment_->calls().Answer(context, Role::kRead, [&] { return page.status(); });
  }
  return enrollment_->calls().OnExecutor(
      context, Role::kRead,
      [response, listing, page = *std::move(page)](RedisClient& redis) -> absl::Status {
        absl::StatusOr<std::vector<v1::Cutoff>> cutoffs = ReadCutoffs(redis);
        if (!cutoffs.ok()) return cutoffs.status();
        // Oldest first; a page starts after the previous page's last id (cut-offs are never
        // removed, so the id is always found).
        size_t i = 0;
        if (!page.after.empty()) {
          while (i < cutoffs->size() && (*cutoffs)[i].cutoff_id() != page.after) ++i;
          ++i;
        }
        for (; i < cutoffs->size(); ++i) {
          if (response->cutoffs_size() == page.size) {
            response->set_next_page_token(
                NextPageToken(listing, response->cutoffs().rbegin()->cutoff_id()));
            break;
          }
          *response->add_cutoffs() = std::move((*cutoffs)[i]);
        }
        return absl::OkStatus();
      });
}

}  // namespace uhc

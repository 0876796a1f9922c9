// The time dimension against the reference model: events spread over months, delivered late and
// out of order (with duplicates, relocations and terminations) through enrollment-svc; the
// classifier's answers as of past days, its trends and a frozen cut-off equal what the model
// says, exactly, before and after late events change the past.
#include "common/redis/history.h"

#include <set>

#include "classifier-svc/classifier_server.h"
#include "common/config/files.h"
#include "common/domain/policy.h"
#include "common/domain/policy_set.h"
#include "tests/integration/classifier_options.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/events.h"
#include "tests/support/reference_model.h"
#include "uhc/v1/classifier.grpc.pb.h"

namespace uhc::testing {
namespace {

constexpr char kPolicy[] = "uhc-awards-2026";

int64_t Day(const std::string& date) { return DayNumberOf(*ParseDate(date)); }

class HistoryTest : public EnrollmentFixture {
 protected:
  void SetUp() override {
    EnrollmentFixture::SetUp();
    auto server = ClassifierServer::Start(TestClassifierOptions(*redis_));
    ASSERT_TRUE(server.ok()) << server.status();
    classifier_server_ = *std::move(server);
    classifier_ = v1::ClassifierService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(classifier_server_->port()),
                            grpc::InsecureChannelCredentials()));
    registry_ = std::make_unique<RegionRegistry>(*LoadRegions(UHC_SOURCE_DIR "/data"));
  }
  void TearDown() override {
    classifier_.reset();
    classifier_server_.reset();
    EnrollmentFixture::TearDown();
  }

  // Every kab/kota of province 12 and of province 11.
  std::vector<std::string> Regions() const {
    std::vector<std::string> out;
    for (const char* p : {"11", "12"}) {
      for (const Region* r : registry_->Children(p)) out.push_back(r->code);
    }
    return out;
  }

  void IngestAll(const std::vector<v1::ParticipantEvent>& events, size_t from, size_t to) {
    for (size_t start = from; start < to; start += 1000) {
      std::vector<v1::ParticipantEvent> batch(events.begin() + start,
                                              events.begin() + std::min(to, start + 1000));
      v1::IngestEventsResponse r = Ingest(batch);
      ASSERT_EQ(r.results_size(), static_cast<int>(batch.size()));
    }
  }

  // Until the live snapshot holds everything ingested (so that kept past answers are renewed).
  void AwaitLive(const ReferenceModel& model) {
    int64_t total = 0;
    for (const auto& [code, c] : model.regions()) total += c.Participants();
    ASSERT_TRUE(WaitFor(
        [&] {
          const SnapshotEntry* nation = classifier_server_->refresher().snapshot()->Find("ID");
          return nation != nullptr && nation->counts.Participants() == total;
        },
        10000));
  }

  grpc::Status List(const std::string& as_of, const std::string& cutoff,
                    v1::ListRegionTiersResponse* out) {
    v1::ListRegionTiersRequest request;
    request.set_policy_id(kPolicy);
    request.set_as_of_date(as_of);
    request.set_cutoff_id(cutoff);
    request.set_page_size(1000);
    request.set_view(v1::REGION_TIER_VIEW_FULL);
    grpc::ClientContext context;
    return classifier_->ListRegionTiers(&context, request, out);
  }

  grpc::Status Get(const std::string& region, const std::string& as_of, v1::RegionTier* out,
                   const std::string& cutoff = "") {
    v1::GetRegionTierRequest request;
    request.set_region_code(region);
    request.set_policy_id(kPolicy);
    request.set_as_of_date(as_of);
    request.set_cutoff_id(cutoff);
    grpc::ClientContext context;
    return classifier_->GetRegionTier(&context, request, out);
  }

  // Every kab/kota, province and the nation of an answer equal `expected` (kab/kota counts).
  void ExpectEqual(const v1::ListRegionTiersResponse& answer,
                   const std::map<std::string, RegionCounts>& expected, const std::string& what) {
    ASSERT_EQ(answer.regions_size(), 553) << what;
    std::map<std::string, RegionCounts> sums;  // provinces and nation
    for (const auto& [code, c] : expected) {
      sums[registry_->Find(code)->parent_code].AddCounts(c);
      sums["ID"].AddCounts(c);
    }
    int mismatches = 0;
    for (const v1::RegionTier& t : answer.regions()) {
      const RegionCounts& want =
          t.level() == v1::REGION_LEVEL_REGENCY
              ? (expected.count(t.region_code()) ? expected.at(t.region_code()) : RegionCounts{})
              : sums[t.region_code()];
      if (t.metrics().participants() != want.Participants() ||
          t.metrics().active() != want.Active() ||
          t.metrics().pemda_registered() != want.PemdaRegistered()) {
        if (++mismatches <= 5) {
          ADD_FAILURE() << what << " " << t.region_code() << ": participants "
                        << t.metrics().participants() << " want " << want.Participants()
                        << ", active " << t.metrics().active() << " want " << want.Active();
        }
      }
    }
    EXPECT_EQ(mismatches, 0) << what;
  }

  std::map<std::string, RegionCounts> ModelOn(const ReferenceModel& model,
                                              const std::string& date) {
    std::map<std::string, RegionCounts> out;
    for (const std::string& code : Regions()) out[code] = model.CountsOn(code, Day(date));
    return out;
  }

  std::unique_ptr<ClassifierServer> classifier_server_;
  std::unique_ptr<v1::ClassifierService::Stub> classifier_;
  std::unique_ptr<RegionRegistry> registry_;
};

TEST_F(HistoryTest, AsOfTrendsAndCutoffsEqualTheModelWhileLateEventsChangeThePast) {
  // 3,000 people over the 56 kab/kota of two provinces, 1-30 days between a person's events:
  // about five months of history from 2025-01-01, interleaved so that every batch carries
  // events weeks older than others already applied (late arrivals), plus duplicates and
  // overtaken events (STALE).
  std::vector<v1::ParticipantEvent> events =
      GenerateHistory(Regions(), 3000, 40000, 15, 30 * 86400);
  ReferenceModel model;
  const size_t half = events.size() / 2;
  for (size_t i = 0; i < half; ++i) model.Apply(events[i]);
  IngestAll(events, 0, half);
  AwaitLive(model);

  const std::vector<std::string> dates = {"2024-12-31", "2025-01-15", "2025-02-28", "2025-04-10"};
  for (const std::string& date : dates) {
    v1::ListRegionTiersResponse answer;
    ASSERT_TRUE(List(date, "", &answer).ok()) << date;
    ExpectEqual(answer, ModelOn(model, date), "first half, as of " + date);
    EXPECT_EQ(answer.regions(0).as_of_date(), date);
  }
  // Nothing before the first event; the model agrees (zeros, not an error).
  for (const auto& [code, c] : ModelOn(model, "2024-12-31")) ASSERT_EQ(c.Participants(), 0);

  // A cut-off freezes 2025-02-28 as known now.
  const std::map<std::string, RegionCounts> frozen = ModelOn(model, "2025-02-28");
  v1::CreateCutoffRequest create;
  create.set_cutoff_id("round-1");
  create.set_as_of_date("2025-02-28");
  create.set_description("test round");
  v1::Cutoff cutoff;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(admin_->CreateCutoff(&context, create, &cutoff).ok());
  }
  EXPECT_EQ(cutoff.regions(), 552);

  // The second half: late events change the past.
  for (size_t i = half; i < events.size(); ++i) model.Apply(events[i]);
  IngestAll(events, half, events.size());
  AwaitLive(model);
  int changed = 0;
  for (const auto& [code, c] : ModelOn(model, "2025-02-28")) {
    if (c.Participants() != frozen.at(code).Participants() ||
        c.Active() != frozen.at(code).Active()) {
      ++changed;
    }
  }
  ASSERT_GT(changed, 10) << "the second half must change February for the test to mean anything";
  for (const std::string& date : dates) {
    v1::ListRegionTiersResponse answer;
    ASSERT_TRUE(List(date, "", &answer).ok()) << date;
    ExpectEqual(answer, ModelOn(model, date), "second half, as of " + date);
  }
  // Today equals the live figures.
  {
    v1::ListRegionTiersResponse answer;
    ASSERT_TRUE(List(FormatDate(WibToday(absl::Now())), "", &answer).ok());
    ExpectEqual(answer, model.regions(), "today");
  }
  // The cut-off did not move.
  {
    v1::ListRegionTiersResponse answer;
    ASSERT_TRUE(List("", "round-1", &answer).ok());
    ExpectEqual(answer, frozen, "cut-off round-1");
    EXPECT_EQ(answer.regions(0).cutoff_id(), "round-1");
    EXPECT_EQ(answer.regions(0).as_of_date(), "2025-02-28");
  }
  // Idempotent for the same date; another date under the id is refused.
  {
    grpc::ClientContext context;
    v1::Cutoff again;
    ASSERT_TRUE(admin_->CreateCutoff(&context, create, &again).ok());
    EXPECT_EQ(again.create_time().seconds(), cutoff.create_time().seconds());
  }
  {
    grpc::ClientContext context;
    v1::Cutoff other;
    create.set_as_of_date("2025-03-31");
    EXPECT_EQ(admin_->CreateCutoff(&context, create, &other).error_code(),
              grpc::StatusCode::ALREADY_EXISTS);
  }
  {
    grpc::ClientContext context;
    v1::ListCutoffsResponse list;
    ASSERT_TRUE(admin_->ListCutoffs(&context, v1::ListCutoffsRequest(), &list).ok());
    ASSERT_EQ(list.cutoffs_size(), 1);
    EXPECT_EQ(list.cutoffs(0).cutoff_id(), "round-1");
  }

  // Trends of a kab/kota, a province and the nation: the month ends, from the model.
  for (const std::string& region : {Regions()[3], std::string("12"), std::string("ID")}) {
    v1::GetRegionTrendRequest request;
    request.set_region_code(region);
    request.set_policy_id(kPolicy);
    request.set_from_date("2024-12-01");
    request.set_to_date("2025-06-15");
    grpc::ClientContext context;
    v1::RegionTrend trend;
    ASSERT_TRUE(classifier_->GetRegionTrend(&context, request, &trend).ok()) << region;
    ASSERT_EQ(trend.points_size(), 7) << region;  // Dec .. May month ends, then 15 June
    EXPECT_EQ(trend.points(0).date(), "2024-12-31");
    EXPECT_EQ(trend.points(6).date(), "2025-06-15");
    for (const v1::TrendPoint& point : trend.points()) {
      int64_t want = 0;
      for (const auto& [code, c] : ModelOn(model, point.date())) {
        const Region* r = registry_->Find(code);
        if (region == "ID" || code == region || r->parent_code == region) want += c.Participants();
      }
      EXPECT_EQ(point.metrics().participants(), want) << region << " " << point.date();
    }
  }
}

// Issue #26: a tier change carries the WIB day it took effect by the events' time. Changes that
// late events make (deactivations dated months back, then reactivations) are recorded with their
// day, back-dated, and the day equals a walk over every day of the reference's figures.
TEST_F(HistoryTest, TierChangesCarryTheDayTheyTookEffectByEventTime) {
  const std::string region = "12.19";
  {
    v1::SetPopulationRequest request;
    request.set_region_code(region);
    request.set_population(100);
    request.set_as_of_date("2025-01-01");
    grpc::ClientContext context;
    v1::RegionSettings settings;
    ASSERT_TRUE(admin_->SetPopulation(&context, request, &settings).ok());
    v1::SetRegionStatusRequest status;
    status.set_region_code(region);
    status.set_uhc_prioritas(true);
    status.set_dues_paid_through("2027-12");
    status.set_effective_date("2025-01-01");
    grpc::ClientContext c2;
    ASSERT_TRUE(admin_->SetRegionStatus(&c2, status, &settings).ok());
  }
  const PolicySet policies = *LoadPolicies(UHC_SOURCE_DIR "/config/policies");
  const v1::PolicyConfig& policy = *policies.Find(kPolicy);
  ReferenceModel model;
  // The reference: the tier at the end of every day, walked back from today.
  const auto held_since = [&](const std::string& tier) {
    const int64_t today = DayNumberOf(WibToday(absl::Now()));
    for (int64_t day = today; day > Day("2025-01-01"); --day) {
      RegionCounts counts = model.CountsOn(region, day - 1);
      counts.population = 100;
      counts.uhc_prioritas = true;
      counts.dues_paid_through = 202712;
      v1::RegionTier evaluated;
      EvaluatePolicy(policy, counts, &evaluated);
      if (evaluated.tier() != tier) return FormatDate(CivilDayOf(day));
    }
    return std::string("2025-01-01");
  };
  const auto ingest = [&](const std::vector<v1::ParticipantEvent>& events) {
    for (const auto& e : events) model.Apply(e);
    ASSERT_EQ(Ingest(events).applied(), static_cast<int>(events.size()));
  };
  // The tier the reference gives today.
  const auto tier_now = [&] {
    RegionCounts counts = model.regions().at(region);
    counts.population = 100;
    counts.uhc_prioritas = true;
    counts.dues_paid_through = 202712;
    v1::RegionTier evaluated;
    EvaluatePolicy(policy, counts, &evaluated);
    return evaluated.tier();
  };
  // Waits for a change of the policy after the `seen` recorded so far, to the reference's tier of
  // today (the classifier may see a batch half applied and record a step on the way); returns it.
  int seen = 0;
  const auto change = [&] {
    const std::string want = tier_now();
    v1::ListTierChangesResponse response;
    EXPECT_TRUE(WaitFor(
        [&] {
          v1::ListTierChangesRequest request;
          request.set_region_code(region);
          request.set_policy_id(kPolicy);
          grpc::ClientContext context;
          response.Clear();
          return classifier_->ListTierChanges(&context, request, &response).ok() &&
                 response.changes_size() > seen && response.changes(0).to_tier() == want;
        },
        10000))
        << "no change to " << want;
    seen = response.changes_size();
    return seen > 0 ? response.changes(0) : v1::TierChange();
  };
  const int64_t march = kBaseTime + 68 * 86400, june = kBaseTime + 151 * 86400,
                september = kBaseTime + 243 * 86400;
  std::vector<v1::ParticipantEvent> enrol, leave, back;
  for (int i = 0; i < 99; ++i) {
    enrol.push_back(Enrolled("e" + std::to_string(i), TestNik(i), region, march + i * 60,
                             v1::SEGMENT_PBPU_PEMDA, true));
    if (i < 40) {
      leave.push_back(StatusChanged("l" + std::to_string(i), TestNik(i), region, june, false));
      back.push_back(StatusChanged("b" + std::to_string(i), TestNik(i), region, september, true));
    }
  }
  ingest(enrol);
  const v1::TierChange first = change();
  EXPECT_NE(first.to_tier(), "none");
  EXPECT_EQ(first.effective_date(), held_since(first.to_tier()));
  EXPECT_EQ(first.effective_date(), "2025-03-10") << "the 99th enrolment's day";
  EXPECT_TRUE(first.backdated());

  ingest(leave);  // 40 deactivations dated June 2025, seen today
  const v1::TierChange second = change();
  EXPECT_NE(second.to_tier(), first.to_tier());
  EXPECT_EQ(second.effective_date(), "2025-06-01");
  EXPECT_EQ(second.effective_date(), held_since(second.to_tier()));
  EXPECT_TRUE(second.backdated());

  ingest(back);  // and their reactivations, dated September
  const v1::TierChange third = change();
  EXPECT_EQ(third.to_tier(), first.to_tier());
  EXPECT_EQ(third.effective_date(), "2025-09-01");
  EXPECT_EQ(third.effective_date(), held_since(third.to_tier()));
}

TEST_F(HistoryTest, PopulationAndStatusHoldFromTheirDates) {
  auto population = [&](int64_t figure, const std::string& as_of) {
    v1::SetPopulationRequest request;
    request.set_region_code("12.19");
    request.set_population(figure);
    request.set_as_of_date(as_of);
    grpc::ClientContext context;
    v1::RegionSettings settings;
    EXPECT_TRUE(admin_->SetPopulation(&context, request, &settings).ok());
    return settings;
  };
  population(4000, "2025-01-01");
  population(5000, "2025-06-30");
  // A back-dated figure joins the history but does not replace the newer live one.
  EXPECT_EQ(population(4500, "2025-03-31").population(), 5000);

  v1::SetRegionStatusRequest status;
  status.set_region_code("12.19");
  status.set_uhc_prioritas(true);
  status.set_dues_paid_through("2025-09");
  status.set_effective_date("2025-05-01");
  {
    grpc::ClientContext context;
    v1::RegionSettings settings;
    ASSERT_TRUE(admin_->SetRegionStatus(&context, status, &settings).ok());
    EXPECT_TRUE(settings.uhc_prioritas());
  }
  {
    status.set_effective_date(FormatDate(WibToday(absl::Now()) + 1));
    grpc::ClientContext context;
    v1::RegionSettings settings;
    EXPECT_EQ(admin_->SetRegionStatus(&context, status, &settings).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT);
  }

  struct Want {
    std::string date;
    int64_t population;
    bool prioritas;
    std::string dues;
  };
  for (const Want& w : std::vector<Want>{{"2024-12-31", 0, false, ""},
                                         {"2025-02-01", 4000, false, ""},
                                         {"2025-04-30", 4500, false, ""},
                                         {"2025-05-01", 4500, true, "2025-09"},
                                         {"2025-07-01", 5000, true, "2025-09"}}) {
    v1::RegionTier tier;
    ASSERT_TRUE(Get("12.19", w.date, &tier).ok()) << w.date;
    EXPECT_EQ(tier.metrics().population(), w.population) << w.date;
    EXPECT_EQ(tier.metrics().uhc_prioritas(), w.prioritas) << w.date;
    EXPECT_EQ(tier.metrics().dues_paid_through(), w.dues) << w.date;
    // The province sums its kab/kota's population figures (it has none of its own).
    ASSERT_TRUE(Get("12", w.date, &tier).ok()) << w.date;
    EXPECT_EQ(tier.metrics().population(), w.population) << w.date;
  }
}

// Days older than the history kept (800 by default) are trimmed at start; answers before them are
// OUT_OF_RANGE, answers after them stay exact. Dates relative to today, as the trim's are.
TEST_F(HistoryTest, OldDaysAreTrimmedAndAnswersAfterThemStayExact) {
  const int64_t today = DayNumberOf(WibToday(absl::Now()));
  const int64_t old_day = today - 900, recent = today - 300, hour = 3600;
  const auto date = [](int64_t day) { return FormatDate(CivilDayOf(day)); };
  ASSERT_EQ(
      Ingest({Enrolled("old", TestNik(1), "12.19", old_day * 86400 + hour, v1::SEGMENT_PPU, true),
              Enrolled("new", TestNik(2), "12.19", recent * 86400 + hour, v1::SEGMENT_PPU, true)})
          .applied(),
      2);
  StopService();
  EnrollmentServerOptions options = Options();
  options.history_days = EnrollmentServerOptions().history_days;
  ASSERT_EQ(options.history_days, 800);
  StartService(options);  // trims at start
  std::unique_ptr<RedisConnection> redis = redis_->Connect();
  ASSERT_TRUE(WaitFor(
      [&] {
        auto from = redis->Command({"HGET", DaysKey("12.19"), "from"});
        return from.ok() && (*from)->type == REDIS_REPLY_STRING;
      },
      10000));
  auto days = redis->Command({"HLEN", DaysKey("12.19")});
  ASSERT_TRUE(days.ok());
  // `from` and the marker `enc`: the recent day is the current one, kept in the aggregate.
  EXPECT_EQ((*days)->integer, 2);
  v1::RegionTier tier;
  EXPECT_EQ(Get("12.19", date(today - 850), &tier).error_code(), grpc::StatusCode::OUT_OF_RANGE);
  ASSERT_TRUE(Get("12.19", date(recent - 1), &tier).ok());
  EXPECT_EQ(tier.metrics().participants(), 1);
  ASSERT_TRUE(Get("12.19", date(recent), &tier).ok());
  EXPECT_EQ(tier.metrics().participants(), 2);
}

TEST_F(HistoryTest, BadDatesAndCutoffsAreClearErrors) {
  v1::RegionTier tier;
  const std::string tomorrow = FormatDate(WibToday(absl::Now()) + 1);
  for (const std::string& date :
       {tomorrow, std::string("2025-02-30"), std::string("25-01-01"), std::string("2025-1-1")}) {
    grpc::Status s = Get("12.19", date, &tier);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << date;
    EXPECT_NE(s.error_message().find("as_of_date"), std::string::npos) << s.error_message();
  }
  EXPECT_EQ(Get("12.19", "2025-01-01", &tier, "round-1").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get("12.19", "", &tier, "no-such-cutoff").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Get("99.99", "2025-01-01", &tier).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::CreateCutoffRequest create;
  create.set_cutoff_id("Bad Id");
  create.set_as_of_date(tomorrow);
  grpc::ClientContext context;
  v1::Cutoff cutoff;
  grpc::Status s = admin_->CreateCutoff(&context, create, &cutoff);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("cutoff_id"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("as_of_date"), std::string::npos) << s.error_message();

  v1::GetRegionTrendRequest trend;
  trend.set_region_code("12.19");
  trend.set_from_date("2025-06-01");
  trend.set_to_date("2025-01-01");
  grpc::ClientContext trend_context;
  v1::RegionTrend out;
  EXPECT_EQ(classifier_->GetRegionTrend(&trend_context, trend, &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace uhc::testing

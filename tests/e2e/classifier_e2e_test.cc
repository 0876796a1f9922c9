// End to end through real processes: redis-server, enrollment-svc and classifier-svc binaries.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include "common/config/files.h"
#include "common/domain/plan.h"
#include "common/domain/policy.h"
#include "common/domain/policy_set.h"
#include "common/redis/schema.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/events.h"
#include "tests/support/process.h"
#include "tests/support/redis_server.h"
#include "tests/support/reference_model.h"
#include "uhc/v1/classifier.grpc.pb.h"
#include "uhc/v1/enrollment.grpc.pb.h"

namespace uhc::testing {
namespace {

constexpr char kSecret[] = "e2e-secret-0123456789abcdef-0123456";

class ClassifierE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = std::make_unique<RedisServer>();
    char pattern[] = "/tmp/uhc-e2e-XXXXXX";
    dir_ = mkdtemp(pattern);
    enrollment_port_ = FreePort();
    enrollment_ = StartEnrollment();
    classifiers_.push_back(StartClassifier());
    channel_ = grpc::CreateChannel(Address(enrollment_port_), grpc::InsecureChannelCredentials());
    ingest_ = v1::EnrollmentService::NewStub(channel_);
    admin_ = v1::RegionAdminService::NewStub(channel_);
    classifier_ = v1::ClassifierService::NewStub(
        grpc::CreateChannel(Address(classifier_ports_[0]), grpc::InsecureChannelCredentials()));
    policies_ = std::make_unique<PolicySet>(*LoadPolicies(UHC_SOURCE_DIR "/config/policies"));
  }

  void TearDown() override {
    classifiers_.clear();
    enrollment_.reset();
    std::error_code ec;
    if (HasFailure()) {  // the services' last words, before their logs go
      for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
        if (entry.path().extension() != ".log") continue;
        std::ifstream log(entry.path());
        std::vector<std::string> lines;
        for (std::string line; std::getline(log, line);) lines.push_back(line);
        std::cerr << "--- last lines of " << entry.path().filename() << "\n";
        for (size_t i = lines.size() > 20 ? lines.size() - 20 : 0; i < lines.size(); ++i) {
          std::cerr << lines[i] << "\n";
        }
      }
    }
    std::filesystem::remove_all(dir_, ec);
  }

  static std::string Address(int port) { return "127.0.0.1:" + std::to_string(port); }

  std::unique_ptr<Process> StartEnrollment() {
    auto p = std::make_unique<Process>(
        std::vector<std::string>{UHC_ENROLLMENT_SVC, "--listen", Address(enrollment_port_),
                                 "--plaintext", "--metrics_port", "-1", "--redis_port",
                                 std::to_string(redis_->port()), "--data_dir",
                                 UHC_SOURCE_DIR "/data", "--bucket_bits", "4"},
        std::vector<std::string>{std::string("UHC_NIK_HMAC_SECRET=") + kSecret},
        dir_ + "/enrollment.log");
    EXPECT_TRUE(WaitServing(Address(enrollment_port_), 15000));
    return p;
  }

  std::unique_ptr<Process> StartClassifier() {
    int port = FreePort();
    classifier_ports_.push_back(port);
    auto p = std::make_unique<Process>(
        std::vector<std::string>{
            UHC_CLASSIFIER_SVC, "--listen", Address(port), "--plaintext", "--metrics_port", "-1",
            "--redis_port", std::to_string(redis_->port()), "--data_dir", UHC_SOURCE_DIR "/data",
            "--policy_dir", UHC_SOURCE_DIR "/config/policies", "--keepalive_seconds", "1"},
        std::vector<std::string>{}, dir_ + "/classifier" + std::to_string(port) + ".log");
    EXPECT_TRUE(WaitServing(Address(port), 15000));
    return p;
  }

  void SetRegion(const std::string& code, int64_t population, bool prioritas = true,
                 const std::string& dues = "2025-09") {
    v1::SetPopulationRequest pop;
    pop.set_region_code(code);
    pop.set_population(population);
    pop.set_as_of_date("2025-12-31");
    v1::RegionSettings out;
    grpc::ClientContext c1;
    ASSERT_TRUE(admin_->SetPopulation(&c1, pop, &out).ok());
    v1::SetRegionStatusRequest status;
    status.set_region_code(code);
    status.set_uhc_prioritas(prioritas);
    status.set_dues_paid_through(dues);
    grpc::ClientContext c2;
    ASSERT_TRUE(admin_->SetRegionStatus(&c2, status, &out).ok());
  }

  // Ingests and applies to the model; asserts the outcomes agree. Returns when acked.
  void Ingest(const std::vector<v1::ParticipantEvent>& events) {
    for (size_t start = 0; start < events.size(); start += 5000) {
      v1::IngestEventsRequest request;
      for (size_t i = start; i < std::min(events.size(), start + 5000); ++i) {
        *request.add_events() = events[i];
      }
      v1::IngestEventsResponse response;
      grpc::ClientContext context;
      ASSERT_TRUE(ingest_->IngestBatch(&context, request, &response).ok());
      for (const auto& r : response.results()) {
        ASSERT_EQ(r.outcome(), model_.Apply(events[start + r.index()])) << r.reason();
      }
    }
  }

  v1::RegionTier Tier(const std::string& code, const std::string& policy = "",
                      v1::ClassifierService::Stub* stub = nullptr) {
    v1::GetRegionTierRequest request;
    request.set_region_code(code);
    request.set_policy_id(policy);
    v1::RegionTier tier;
    grpc::ClientContext context;
    grpc::Status s = (stub ? stub : classifier_.get())->GetRegionTier(&context, request, &tier);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return tier;
  }

  // Waits until the classifier's view of `code` has at least `participants` participants and the
  // aggregate version the enrollment side produced.
  bool WaitParticipants(const std::string& code, int64_t participants) {
    return WaitFor([&] { return Tier(code).metrics().participants() == participants; }, 5000);
  }

  RegionCounts ModelCounts(const std::string& code, int64_t population, bool prioritas = true,
                           int dues = 202509) {
    RegionCounts c;
    auto it = model_.regions().find(code);
    if (it != model_.regions().end()) c = it->second;
    c.population = population;
    c.uhc_prioritas = prioritas;
    c.dues_paid_through = dues;
    return c;
  }

  // `n` participants in `region` numbered from `first`: the first `active` active, `pemda` of
  // them PBPU Pemda, the inactive ones PBPU mandiri.
  std::vector<v1::ParticipantEvent> People(
      const std::string& region, int64_t first, int64_t n, int64_t active, int64_t pemda,
      v1::Segment inactive_segment = v1::SEGMENT_PBPU_MANDIRI) {
    std::vector<v1::ParticipantEvent> events;
    for (int64_t i = 0; i < n; ++i) {
      v1::Segment seg = i < pemda    ? v1::SEGMENT_PBPU_PEMDA
                        : i < active ? v1::SEGMENT_PBI_APBN
                                     : inactive_segment;
      events.push_back(Enrolled(region + "-" + std::to_string(first + i), TestNik(first + i),
                                region, kBaseTime + i, seg, i < active));
    }
    return events;
  }

  std::unique_ptr<RedisServer> redis_;
  std::string dir_;
  int enrollment_port_ = 0;
  std::vector<int> classifier_ports_;
  std::unique_ptr<Process> enrollment_;
  std::vector<std::unique_ptr<Process>> classifiers_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EnrollmentService::Stub> ingest_;
  std::unique_ptr<v1::RegionAdminService::Stub> admin_;
  std::unique_ptr<v1::ClassifierService::Stub> classifier_;
  std::unique_ptr<PolicySet> policies_;
  ReferenceModel model_;
};

TEST_F(ClassifierE2eTest, TiersMetricsAndCriteriaEqualTheReferenceAndRollUpsAreSums) {
  // Three kab/kota of Sumatera Utara and one of Sumatera Selatan, aimed at different tiers.
  struct Setup {
    std::string code;
    int64_t population, participants, active, pemda;
  } setups[] = {{"12.19", 1000, 995, 960, 200},   // utama
                {"12.75", 1000, 985, 860, 120},   // madya
                {"12.01", 1000, 981, 805, 30},    // pratama
                {"16.07", 1000, 979, 900, 150}};  // none: coverage 97.9%
  int64_t next = 0;
  std::vector<v1::ParticipantEvent> events;
  for (const Setup& s : setups) {
    SetRegion(s.code, s.population);
    auto people = People(s.code, next, s.participants, s.active, s.pemda);
    events.insert(events.end(), people.begin(), people.end());
    next += s.participants;
  }
  // Some churn on top: status flips and a relocation between two of them.
  events.push_back(StatusChanged("flip", TestNik(0), "12.19", kBaseTime + 5000, false));
  events.push_back(Relocated("move", TestNik(1), "12.19", kBaseTime + 5001, "12.75"));
  Ingest(events);
  ASSERT_TRUE(WaitParticipants("16.07", 979));
  ASSERT_TRUE(WaitParticipants("12.19", 994));

  const char* expected_tiers[] = {"utama", "madya", "pratama", "none"};
  for (size_t i = 0; i < 4; ++i) {
    for (const auto& [id, policy] : policies_->all()) {
      v1::RegionTier want;
      EvaluatePolicy(policy, ModelCounts(setups[i].code, setups[i].population), &want);
      v1::RegionTier got = Tier(setups[i].code, id);
      EXPECT_EQ(got.tier(), want.tier()) << setups[i].code << " " << id;
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got.metrics(), want.metrics()))
          << setups[i].code << " " << id << "\n"
          << got.metrics().DebugString() << "\nvs\n"
          << want.metrics().DebugString();
      ASSERT_EQ(got.criteria_size(), want.criteria_size());
      for (int c = 0; c < want.criteria_size(); ++c) {
        EXPECT_TRUE(
            google::protobuf::util::MessageDifferencer::Equals(got.criteria(c), want.criteria(c)));
      }
      EXPECT_EQ(got.next_tier(), want.next_tier());
    }
    EXPECT_EQ(Tier(setups[i].code).tier(), expected_tiers[i]) << setups[i].code;
  }

  // Province and nation roll-ups are the sums of their kab/kota.
  v1::ListRegionTiersRequest list;
  list.set_page_size(1000);
  list.set_view(v1::REGION_TIER_VIEW_FULL);  // the counts are not in the default (basic) view
  v1::ListRegionTiersResponse all;
  grpc::ClientContext context;
  ASSERT_TRUE(classifier_->ListRegionTiers(&context, list, &all).ok());
  ASSERT_EQ(all.regions_size(), 553);
  std::map<std::string, v1::RegionMetrics> sums;
  for (const auto& t : all.regions()) {
    if (t.level() != v1::REGION_LEVEL_REGENCY) continue;
    for (const std::string& parent : {t.parent_code(), std::string("ID")}) {
      v1::RegionMetrics& s = sums[parent];
      s.set_population(s.population() + t.metrics().population());
      s.set_participants(s.participants() + t.metrics().participants());
      s.set_active(s.active() + t.metrics().active());
      s.set_pemda_registered(s.pemda_registered() + t.metrics().pemda_registered());
    }
  }
  int checked = 0;
  for (const auto& t : all.regions()) {
    if (t.level() == v1::REGION_LEVEL_REGENCY) continue;
    const v1::RegionMetrics& s = sums[t.region_code()];
    EXPECT_EQ(t.metrics().population(), s.population()) << t.region_code();
    EXPECT_EQ(t.metrics().participants(), s.participants()) << t.region_code();
    EXPECT_EQ(t.metrics().active(), s.active()) << t.region_code();
    EXPECT_EQ(t.metrics().pemda_registered(), s.pemda_registered()) << t.region_code();
    ++checked;
  }
  EXPECT_EQ(checked, 39);
  EXPECT_EQ(Tier("12").metrics().participants(), 995 + 985 + 981);
  EXPECT_EQ(Tier("ID").metrics().participants(), 995 + 985 + 981 + 979);
}

TEST_F(ClassifierE2eTest, PagingReturnsEveryRegionOnceFiltersWorkAndBadTokensAreRefused) {
  SetRegion("12.19", 100);
  Ingest(People("12.19", 0, 99, 99, 20));
  ASSERT_TRUE(WaitParticipants("12.19", 99));
  std::vector<std::string> codes;
  v1::ListRegionTiersRequest request;
  request.set_page_size(7);
  int pages = 0;
  do {
    v1::ListRegionTiersResponse page;
    grpc::ClientContext context;
    ASSERT_TRUE(classifier_->ListRegionTiers(&context, request, &page).ok());
    EXPECT_EQ(page.total_size(), 553);
    EXPECT_LE(page.regions_size(), 7);
    for (const auto& t : page.regions()) codes.push_back(t.region_code());
    request.set_page_token(page.next_page_token());
    ++pages;
  } while (!request.page_token().empty());
  EXPECT_EQ(pages, 79);
  ASSERT_EQ(codes.size(), 553u);
  EXPECT_EQ(std::set<std::string>(codes.begin(), codes.end()).size(), 553u);
  EXPECT_EQ(codes[0], "ID");
  EXPECT_TRUE(std::is_sorted(codes.begin() + 1, codes.end()));

  auto list = [&](v1::ListRegionTiersRequest r) {
    r.set_page_size(1000);
    v1::ListRegionTiersResponse page;
    grpc::ClientContext context;
    EXPECT_TRUE(classifier_->ListRegionTiers(&context, r, &page).ok());
    return page;
  };
  v1::ListRegionTiersRequest by_province;
  by_province.set_province_code("12");
  by_province.set_level(v1::REGION_LEVEL_REGENCY);
  by_province.set_view(v1::REGION_TIER_VIEW_FULL);  // for parent_code
  v1::ListRegionTiersResponse sumut = list(by_province);
  EXPECT_EQ(sumut.regions_size(), 33);  // Sumatera Utara's kab/kota
  for (const auto& t : sumut.regions()) EXPECT_EQ(t.parent_code(), "12");
  v1::ListRegionTiersRequest utama;
  utama.set_tier("utama");
  v1::ListRegionTiersResponse u = list(utama);
  ASSERT_EQ(u.regions_size(), 1);
  EXPECT_EQ(u.regions(0).region_code(), "12.19");
  v1::ListRegionTiersRequest provinces;
  provinces.set_level(v1::REGION_LEVEL_PROVINCE);
  EXPECT_EQ(list(provinces).regions_size(), 38);

  for (const std::string& token :
       {std::string("garbage!"), std::string("aGVsbG8"), request.page_token() + "x"}) {
    v1::ListRegionTiersRequest bad;
    bad.set_page_token(token);
    v1::ListRegionTiersResponse page;
    grpc::ClientContext context;
    EXPECT_EQ(classifier_->ListRegionTiers(&context, bad, &page).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << token;
  }
  // A token from one filter is refused under another.
  v1::ListRegionTiersRequest first;
  first.set_page_size(2);
  v1::ListRegionTiersResponse page;
  grpc::ClientContext c1;
  ASSERT_TRUE(classifier_->ListRegionTiers(&c1, first, &page).ok());
  v1::ListRegionTiersRequest other;
  other.set_page_token(page.next_page_token());
  other.set_province_code("12");
  grpc::ClientContext c2;
  EXPECT_EQ(classifier_->ListRegionTiers(&c2, other, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

// RegionTier with the fields of the basic view copied from `full`; snapshot_time and stale left
// out.
v1::RegionTier BasicFieldsOf(const v1::RegionTier& full) {
  v1::RegionTier basic;
  basic.set_region_code(full.region_code());
  basic.set_region_name(full.region_name());
  basic.set_level(full.level());
  basic.set_policy_id(full.policy_id());
  basic.set_tier(full.tier());
  basic.mutable_metrics()->set_coverage_bp(full.metrics().coverage_bp());
  basic.mutable_metrics()->set_activity_bp(full.metrics().activity_bp());
  basic.mutable_metrics()->set_pemda_share_bp(full.metrics().pemda_share_bp());
  basic.set_data_version(full.data_version());
  return basic;
}

// `tier` without as_of, which changes with every snapshot; asserts it was there.
v1::RegionTier WithoutAsOf(v1::RegionTier tier) {
  EXPECT_TRUE(tier.has_snapshot_time()) << tier.region_code();
  tier.clear_snapshot_time();
  return tier;
}

TEST_F(ClassifierE2eTest, ViewsListIsBasicAndGetIsFullUnlessAskedAndFullRowsEqualGet) {
  SetRegion("12.19", 100);
  Ingest(People("12.19", 0, 99, 95, 20));
  ASSERT_TRUE(WaitParticipants("12.19", 99));
  auto list = [&](v1::RegionTierView view) {
    v1::ListRegionTiersRequest request;
    request.set_page_size(1000);
    request.set_view(view);
    v1::ListRegionTiersResponse page;
    grpc::ClientContext context;
    EXPECT_TRUE(classifier_->ListRegionTiers(&context, request, &page).ok());
    EXPECT_EQ(page.total_size(), 553);
    EXPECT_TRUE(page.next_page_token().empty());
    return page;
  };
  auto get = [&](const std::string& code, v1::RegionTierView view) {
    v1::GetRegionTierRequest request;
    request.set_region_code(code);
    request.set_view(view);
    v1::RegionTier tier;
    grpc::ClientContext context;
    EXPECT_TRUE(classifier_->GetRegionTier(&context, request, &tier).ok());
    return tier;
  };
  using google::protobuf::util::MessageDifferencer;
  v1::ListRegionTiersResponse unspecified = list(v1::REGION_TIER_VIEW_UNSPECIFIED);
  v1::ListRegionTiersResponse basic = list(v1::REGION_TIER_VIEW_BASIC);
  v1::ListRegionTiersResponse full = list(v1::REGION_TIER_VIEW_FULL);
  ASSERT_EQ(unspecified.regions_size(), 553);
  ASSERT_EQ(basic.regions_size(), 553);
  ASSERT_EQ(full.regions_size(), 553);
  for (int i = 0; i < 553; ++i) {
    const v1::RegionTier& f = full.regions(i);
    // FULL rows are what GetRegionTier answers (unspecified there means FULL).
    v1::RegionTier got = get(f.region_code(), v1::REGION_TIER_VIEW_UNSPECIFIED);
    EXPECT_TRUE(MessageDifferencer::Equals(WithoutAsOf(f), WithoutAsOf(got)))
        << f.region_code() << "\n"
        << f.DebugString() << "\nvs Get\n"
        << got.DebugString();
    // Unspecified on List is BASIC: the basic fields of FULL, every other field unset.
    for (const v1::RegionTier& b : {unspecified.regions(i), basic.regions(i)}) {
      EXPECT_TRUE(MessageDifferencer::Equals(WithoutAsOf(b), BasicFieldsOf(f)))
          << b.DebugString() << "\nvs the basic fields of\n"
          << f.DebugString();
    }
  }
  v1::RegionTier batu_bara;
  for (const v1::RegionTier& t : basic.regions()) {
    if (t.region_code() == "12.19") batu_bara = t;
  }
  EXPECT_EQ(batu_bara.metrics().coverage_bp(), 9900);
  EXPECT_EQ(batu_bara.metrics().pemda_share_bp(), 2000);
  EXPECT_EQ(batu_bara.metrics().participants(), 0);
  EXPECT_EQ(batu_bara.criteria_size(), 0);
  EXPECT_TRUE(batu_bara.parent_code().empty());
  EXPECT_EQ(batu_bara.policy_id(), "uhc-awards-2026");  // every view names its policy

  for (const char* code : {"12.19", "12", "ID"}) {
    v1::RegionTier want = get(code, v1::REGION_TIER_VIEW_FULL);
    EXPECT_GT(want.criteria_size(), 0);
    EXPECT_EQ(want.metrics().participants(), 99);
    EXPECT_TRUE(MessageDifferencer::Equals(WithoutAsOf(get(code, v1::REGION_TIER_VIEW_UNSPECIFIED)),
                                           WithoutAsOf(want)))
        << code;
    EXPECT_TRUE(MessageDifferencer::Equals(WithoutAsOf(get(code, v1::REGION_TIER_VIEW_BASIC)),
                                           BasicFieldsOf(want)))
        << code;
  }

  // A view this server does not know is refused, on both methods.
  v1::ListRegionTiersRequest bad_list;
  bad_list.set_view(static_cast<v1::RegionTierView>(7));
  v1::ListRegionTiersResponse page;
  grpc::ClientContext c1;
  EXPECT_EQ(classifier_->ListRegionTiers(&c1, bad_list, &page).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetRegionTierRequest bad_get;
  bad_get.set_region_code("12.19");
  bad_get.set_view(static_cast<v1::RegionTierView>(7));
  v1::RegionTier tier;
  grpc::ClientContext c2;
  EXPECT_EQ(classifier_->GetRegionTier(&c2, bad_get, &tier).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(ClassifierE2eTest, PlanTierIsExactWhenIngested) {
  struct Case {
    std::string code, target;
    int64_t population, participants, active, pemda;
    v1::Segment inactive;
  } cases[] = {{"12.19", "pratama", 2000, 1900, 1500, 100, v1::SEGMENT_PBPU_MANDIRI},
               {"12.75", "madya", 3000, 2950, 2300, 200, v1::SEGMENT_BP},
               {"16.07", "utama", 1500, 1400, 1200, 150, v1::SEGMENT_PBPU_MANDIRI},
               {"12.01", "madya", 2500, 2490, 2000, 100, v1::SEGMENT_PBPU_MANDIRI},
               // Everyone insured and the inactive are wage earners: nothing to take over.
               {"12.02", "pratama", 2500, 2500, 1900, 100, v1::SEGMENT_PPU}};
  int unreachable = 0;
  const v1::PolicyConfig& policy = *policies_->Find("uhc-awards-2026");
  int64_t next = 0;
  for (const Case& c : cases) {
    SetRegion(c.code, c.population);
    Ingest(People(c.code, next, c.participants, c.active, c.pemda, c.inactive));
    next += c.participants;
    ASSERT_TRUE(WaitParticipants(c.code, c.participants));
    v1::PlanTierRequest request;
    request.set_region_code(c.code);
    request.set_target_tier(c.target);
    v1::TierPlan plan;
    grpc::ClientContext context;
    ASSERT_TRUE(classifier_->PlanTier(&context, request, &plan).ok());
    // The plan is what the pure planner says on the model's counts.
    v1::TierPlan want =
        PlanTier(policy, ModelCounts(c.code, c.population), TierIndex(policy, c.target));
    EXPECT_EQ(plan.total_people(), want.total_people()) << c.code;
    EXPECT_EQ(plan.reachable(), want.reachable()) << c.code;
    if (!plan.reachable()) {
      EXPECT_FALSE(plan.reason().empty());
      EXPECT_EQ(plan.take_over_pool(), 0);
      ++unreachable;
      continue;
    }
    ASSERT_GT(plan.total_people(), 0) << c.code;
    EXPECT_EQ(plan.yearly_cost_idr(), plan.total_people() * 37800 * 12);
    // Ingest all but one registration: not yet the target; then the last one: the target.
    std::vector<v1::ParticipantEvent> registrations;
    for (int64_t i = 0; i < plan.enroll_uninsured(); ++i) {
      registrations.push_back(Enrolled(c.code + "-plan-" + std::to_string(i), TestNik(next + i),
                                       c.code, kBaseTime + 10000 + i, v1::SEGMENT_PBPU_PEMDA,
                                       true));
    }
    next += plan.enroll_uninsured();
    // Take-overs: the inactive PBPU mandiri participants, the last ones of People().
    int64_t first_inactive = next - plan.enroll_uninsured() - c.participants + c.active;
    for (int64_t i = 0; i < plan.take_over_inactive(); ++i) {
      std::string nik = TestNik(first_inactive + i);
      registrations.push_back(SegmentChanged(c.code + "-to-" + std::to_string(i), nik, c.code,
                                             kBaseTime + 20000 + i, v1::SEGMENT_PBPU_PEMDA));
      registrations.push_back(StatusChanged(c.code + "-ta-" + std::to_string(i), nik, c.code,
                                            kBaseTime + 30000 + i, true));
    }
    // Hold back the last registration (both events of a take-over).
    size_t hold = plan.take_over_inactive() > 0 ? 2 : 1;
    std::vector<v1::ParticipantEvent> all_but_one(registrations.begin(),
                                                  registrations.end() - hold);
    Ingest(all_but_one);
    int64_t expected_participants =
        c.participants + plan.enroll_uninsured() - (plan.take_over_inactive() > 0 ? 0 : 1);
    ASSERT_TRUE(WaitParticipants(c.code, expected_participants));
    ASSERT_TRUE(WaitFor(
        [&] {
          return Tier(c.code).metrics().pemda_registered() == c.pemda + plan.total_people() - 1;
        },
        5000));
    EXPECT_NE(Tier(c.code).tier(), c.target) << c.code << ": one fewer must not reach it";
    Ingest(std::vector<v1::ParticipantEvent>(registrations.end() - hold, registrations.end()));
    ASSERT_TRUE(WaitFor([&] { return Tier(c.code).tier() == c.target; }, 5000))
        << c.code << " got " << Tier(c.code).tier();
  }
  EXPECT_EQ(unreachable, 1);
}

TEST_F(ClassifierE2eTest, TierChangeReachesWatchersWithinASecondAndIsRecordedOnce) {
  classifiers_.push_back(StartClassifier());  // a second replica
  auto replica2 = v1::ClassifierService::NewStub(
      grpc::CreateChannel(Address(classifier_ports_[1]), grpc::InsecureChannelCredentials()));
  SetRegion("12.19", 100);
  Ingest(People("12.19", 0, 97, 90, 20));  // 97%: no tier
  ASSERT_TRUE(WaitParticipants("12.19", 97));
  ASSERT_TRUE(WaitFor(
      [&] { return Tier("12.19", "", replica2.get()).metrics().participants() == 97; }, 5000));
  EXPECT_EQ(Tier("12.19").tier(), "none");

  grpc::ClientContext watch_context;
  v1::WatchTierChangesRequest watch;
  watch.set_region_code("12.19");
  watch.set_policy_id("uhc-awards-2026");
  // A change that never comes fails the test instead of hanging it.
  watch_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = classifier_->WatchTierChanges(&watch_context, watch);
  // The keep-alive (1 s here) proves the stream is established before the change.
  v1::WatchTierChangesResponse message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_TRUE(message.has_keepalive_time());

  auto acked = std::chrono::steady_clock::now();
  Ingest(People("12.19", 97, 1, 1, 1));  // 98%: pratama
  acked = std::chrono::steady_clock::now();
  v1::TierChange change;
  while (reader->Read(&message)) {
    if (message.has_change()) {
      change = message.change();
      break;
    }
  }
  auto latency = std::chrono::steady_clock::now() - acked;
  EXPECT_LT(latency, std::chrono::seconds(1));
  EXPECT_EQ(change.region_code(), "12.19");
  EXPECT_EQ(change.from_tier(), "none");
  EXPECT_EQ(change.to_tier(), "madya");
  watch_context.TryCancel();

  // Both replicas saw it; the history holds it once. Wait until both snapshots have it.
  ASSERT_TRUE(WaitFor([&] { return Tier("12.19", "", replica2.get()).tier() == "madya"; }, 5000));
  for (auto* stub : {classifier_.get(), replica2.get()}) {
    v1::ListTierChangesRequest request;
    request.set_region_code("12.19");
    request.set_policy_id("uhc-awards-2026");
    v1::ListTierChangesResponse history;
    grpc::ClientContext context;
    ASSERT_TRUE(stub->ListTierChanges(&context, request, &history).ok());
    ASSERT_EQ(history.changes_size(), 1);
    EXPECT_EQ(history.changes(0).to_tier(), "madya");
  }
  // A restarted replica does not record it again.
  classifiers_[1]->Stop(SIGTERM);
  classifiers_.push_back(StartClassifier());
  auto replica3 = v1::ClassifierService::NewStub(
      grpc::CreateChannel(Address(classifier_ports_[2]), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(WaitFor([&] { return Tier("12.19", "", replica3.get()).tier() == "madya"; }, 5000));
  v1::ListTierChangesRequest request;
  request.set_region_code("12.19");
  request.set_policy_id("uhc-awards-2026");
  v1::ListTierChangesResponse history;
  grpc::ClientContext context;
  ASSERT_TRUE(replica3->ListTierChanges(&context, request, &history).ok());
  EXPECT_EQ(history.changes_size(), 1);
}

// Every List RPC pages (AIP-158): the pages of any size are the one-page answer, in order,
// without gaps or repeats, and a token works only with the request fields of its page.
TEST_F(ClassifierE2eTest, EveryListPagesWithoutGapsOrRepeats) {
  // Three tier changes of 12.19: none -> utama -> none -> utama.
  SetRegion("12.19", 100);
  Ingest(People("12.19", 0, 99, 99, 20));
  ASSERT_TRUE(WaitFor([&] { return Tier("12.19").tier() == "utama"; }, 5000));
  SetRegion("12.19", 1000);
  ASSERT_TRUE(WaitFor([&] { return Tier("12.19").tier() == "none"; }, 5000));
  SetRegion("12.19", 100);
  ASSERT_TRUE(WaitFor([&] { return Tier("12.19").tier() == "utama"; }, 5000));

  auto changes = [&](int page_size, const std::string& token, v1::ListTierChangesResponse* out) {
    v1::ListTierChangesRequest request;
    request.set_region_code("12.19");
    request.set_policy_id("uhc-awards-2026");
    request.set_page_size(page_size);
    request.set_page_token(token);
    grpc::ClientContext context;
    return classifier_->ListTierChanges(&context, request, out);
  };
  v1::ListTierChangesResponse whole;
  ASSERT_TRUE(
      WaitFor([&] { return changes(100, "", &whole).ok() && whole.changes_size() == 3; }, 5000));
  EXPECT_TRUE(whole.next_page_token().empty());
  std::vector<std::string> paged;
  std::string token;
  int pages = 0;
  do {
    v1::ListTierChangesResponse page;
    ASSERT_TRUE(changes(1, token, &page).ok());
    for (const auto& c : page.changes()) paged.push_back(c.to_tier());
    token = page.next_page_token();
    ASSERT_LE(++pages, 4);
  } while (!token.empty());
  EXPECT_EQ(paged, (std::vector<std::string>{"utama", "none", "utama"}));  // newest first

  v1::ListPoliciesResponse all;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(classifier_->ListPolicies(&context, v1::ListPoliciesRequest(), &all).ok());
  }
  ASSERT_GE(all.policies_size(), 3);
  std::vector<std::string> ids;
  v1::ListPoliciesRequest request;
  request.set_page_size(1);
  do {
    v1::ListPoliciesResponse page;
    grpc::ClientContext context;
    ASSERT_TRUE(classifier_->ListPolicies(&context, request, &page).ok());
    ASSERT_EQ(page.policies_size(), 1);
    EXPECT_EQ(page.default_policy_id(), all.default_policy_id());
    ids.push_back(page.policies(0).id());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty() && ids.size() < 10);
  std::vector<std::string> want;
  for (const auto& p : all.policies()) want.push_back(p.id());
  EXPECT_EQ(ids, want);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));

  // ListRegionTiers: the view may change between pages, a filter may not.
  v1::ListRegionTiersRequest list;
  list.set_page_size(10);
  list.set_province_code("12");
  v1::ListRegionTiersResponse first;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(classifier_->ListRegionTiers(&context, list, &first).ok());
  }
  ASSERT_FALSE(first.next_page_token().empty());
  list.set_page_token(first.next_page_token());
  list.set_view(v1::REGION_TIER_VIEW_FULL);
  v1::ListRegionTiersResponse second;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(classifier_->ListRegionTiers(&context, list, &second).ok());
    ASSERT_GT(second.regions_size(), 0);
    EXPECT_GT(second.regions(0).region_code(), first.regions(9).region_code());
  }
  list.set_province_code("11");
  {
    grpc::ClientContext context;
    grpc::Status status = classifier_->ListRegionTiers(&context, list, &second);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(status.error_message().find("page_token"), std::string::npos);
  }
}

TEST_F(ClassifierE2eTest, RedisDownServesTheLastSnapshotMarkedStaleThenRecovers) {
  SetRegion("12.19", 100);
  Ingest(People("12.19", 0, 99, 99, 20));
  ASSERT_TRUE(WaitParticipants("12.19", 99));
  EXPECT_FALSE(Tier("12.19").stale());
  redis_->Stop(false);
  ASSERT_TRUE(WaitFor([&] { return Tier("12.19").stale(); }, 5000));
  v1::RegionTier stale = Tier("12.19");
  EXPECT_EQ(stale.metrics().participants(), 99);
  EXPECT_EQ(stale.tier(), "utama");
  redis_->Restart();
  EXPECT_TRUE(WaitFor([&] { return !Tier("12.19").stale(); }, 5000));
  EXPECT_EQ(Tier("12.19").metrics().participants(), 99);
}

// Every admin write leaves an audit line: the RPC, the caller (peer, token fingerprint), the
// region, what was asked, and the settings before and after; a refused call writes nothing and logs
// none.
TEST_F(ClassifierE2eTest, AdminWritesAreAuditLogged) {
  SetRegion("12.19", 100, /*prioritas=*/true, "2025-09");
  SetRegion("12.19", 120, /*prioritas=*/false, "2025-10");
  v1::SetPopulationRequest bad;
  bad.set_region_code("12.19");
  bad.set_population(-1);
  bad.set_as_of_date("2025-12-31");
  v1::RegionSettings out;
  grpc::ClientContext context;
  EXPECT_FALSE(admin_->SetPopulation(&context, bad, &out).ok());
  std::vector<std::string> audit;
  ASSERT_TRUE(WaitFor(
      [&] {
        audit.clear();
        std::ifstream log(dir_ + "/enrollment.log");
        for (std::string line; std::getline(log, line);) {
          if (line.find("\"msg\":\"audit\"") != std::string::npos) audit.push_back(line);
        }
        return audit.size() >= 4;
      },
      5000));
  ASSERT_EQ(audit.size(), 4u);
  EXPECT_NE(audit[2].find("\"rpc\":\"SetPopulation\""), std::string::npos) << audit[2];
  EXPECT_NE(audit[2].find("\"region\":\"12.19\""), std::string::npos) << audit[2];
  EXPECT_NE(audit[2].find("\"old\":\"population 100 as of 2025-12-31"), std::string::npos)
      << audit[2];
  EXPECT_NE(audit[2].find("\"new\":\"population 120 as of 2025-12-31"), std::string::npos)
      << audit[2];
  EXPECT_NE(audit[2].find("\"token\":\"none\""), std::string::npos) << audit[2];
  EXPECT_NE(audit[3].find("\"rpc\":\"SetRegionStatus\""), std::string::npos) << audit[3];
  EXPECT_NE(audit[3].find("uhc_prioritas yes, dues paid through 2025-09\",\"new\":\"population "
                          "120 as of 2025-12-31, uhc_prioritas no, dues paid through 2025-10"),
            std::string::npos)
      << audit[3];
}

// Runs uhcctl against the test's services; returns the exit code, output in *out (stdout and
// stderr together).
int Uhcctl(const std::string& args, int enrollment_port, int classifier_port, std::string* out) {
  std::string command = "UHC_ENROLLMENT_ADDR=127.0.0.1:" + std::to_string(enrollment_port) +
                        " UHC_CLASSIFIER_ADDR=127.0.0.1:" + std::to_string(classifier_port) +
                        " UHC_POLICY_DIR=" UHC_SOURCE_DIR "/config/policies " UHC_UHCCTL " " +
                        args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  out->clear();
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out->append(buffer, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST_F(ClassifierE2eTest, UhcctlForPeople) {
  std::string out;
  auto run = [&](const std::string& args) {
    return Uhcctl(args, enrollment_port_, classifier_ports_[0], &out);
  };
  std::ofstream(dir_ + "/population.csv") << "region_code,population\n12.19,100\n12.75,50\n";
  ASSERT_EQ(run("population import " + dir_ + "/population.csv --as-of 2025-12-31"), 0) << out;
  ASSERT_EQ(run("region-status 12.19 --uhc-prioritas --dues-paid-through 2025-09"), 0) << out;
  EXPECT_EQ(run("region-status 12.19"), 2);  // neither --uhc-prioritas nor --no-uhc-prioritas

  std::ofstream events(dir_ + "/events.jsonl");
  for (int i = 0; i < 97; ++i) {
    events << "{\"event_id\":\"u" << i << "\",\"nik\":\"" << TestNik(i)
           << "\",\"region_code\":\"12.19\",\"event_time\":\"2025-03-01T00:00:00Z\","
           << "\"enrolled\":{\"segment\":\"SEGMENT_PBPU_PEMDA\",\"active\":true}}\n";
    if (i == 1)
      events << "{\"event_id\":\"bad\",\"nik\":\"123\",\"region_code\":\"12.19\","
                "\"event_time\":\"2025-03-01T00:00:00Z\",\"terminated\":{}}\n";
    if (i == 2) events << "this is not json\n";
  }
  events.close();
  EXPECT_EQ(run("ingest " + dir_ + "/events.jsonl --batch-size 10"), 1) << out;
  EXPECT_NE(out.find("applied 97"), std::string::npos) << out;
  EXPECT_NE(out.find("rejected 2"), std::string::npos) << out;
  EXPECT_NE(out.find("line 3: nik: must be 16 digits, got 3"), std::string::npos) << out;
  EXPECT_NE(out.find("line 5: not a ParticipantEvent"), std::string::npos) << out;
  // Every line counts, the unparsable one too, and rejections come in line order.
  EXPECT_NE(out.find("99 events in"), std::string::npos) << out;
  EXPECT_LT(out.find("line 3:"), out.find("line 5:")) << out;
  ASSERT_TRUE(WaitParticipants("12.19", 97));

  EXPECT_EQ(run("tier 12.19"), 0) << out;
  EXPECT_NE(out.find("Kabupaten Batu Bara (12.19): No tier"), std::string::npos) << out;
  EXPECT_NE(out.find("short by 1 person\n"), std::string::npos) << out;  // not "1 people"
  EXPECT_EQ(run("plan 12.19 --target pratama"), 0) << out;
  EXPECT_NE(out.find("enrol 1 uninsured"), std::string::npos) << out;
  EXPECT_NE(out.find("Rp453.600 a year"), std::string::npos) << out;
  EXPECT_EQ(run("plan 12.19 --target madia"), 2) << out;
  EXPECT_NE(out.find("did you mean 'madya'"), std::string::npos) << out;
  EXPECT_EQ(run("tier 12.91"), 2) << out;
  EXPECT_NE(out.find("did you mean '12."), std::string::npos) << out;
  EXPECT_NE(out.find("' (Ka"), std::string::npos) << "suggestions show code and name: " << out;

  // Issue #16's stumbles, each seen by a new user.
  // Regions by name, any case and spacing; an ambiguous name lists the candidates.
  EXPECT_EQ(run("tier 'batu  BARA'"), 0) << out;
  EXPECT_NE(out.find("Kabupaten Batu Bara (12.19)"), std::string::npos) << out;
  EXPECT_EQ(run("tier 'kota medan'"), 0) << out;
  EXPECT_NE(out.find("(12.71)"), std::string::npos) << out;
  EXPECT_EQ(run("tier bogor"), 2) << out;
  EXPECT_NE(out.find("'32.01' (Kabupaten Bogor)"), std::string::npos) << out;
  EXPECT_NE(out.find("'32.71' (Kota Bogor)"), std::string::npos) << out;
  EXPECT_EQ(run("plan 'Batu Bara' --target pratama"), 0) << out;
  // Tier names in any case, with or without "UHC ".
  EXPECT_EQ(run("plan 12.19 --target 'UHC Pratama'"), 0) << out;
  EXPECT_NE(out.find("to reach pratama"), std::string::npos) << out;
  EXPECT_EQ(run("tiers --tier Madya --format csv"), 0) << out;
  // Grammar: one person, no "take over 0".
  EXPECT_NE(out.find("region_code,"), std::string::npos) << out;
  EXPECT_EQ(run("plan 12.19 --target pratama"), 0) << out;
  EXPECT_NE(out.find("enrol 1 uninsured resident (of 3) as PBPU Pemda: 1 person\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("take over 0"), std::string::npos) << out;
  // `tiers 12` is the province, not the whole country; by name too.
  EXPECT_EQ(run("tiers 12 --format csv"), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1 + 1 + 33) << out;
  EXPECT_EQ(run("tiers 'sumatera utara' --format csv"), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1 + 1 + 33) << out;
  EXPECT_EQ(run("tiers 12 --province 36"), 2) << out;
  // Errors name the flags a person typed, and the address flag the command has.
  EXPECT_EQ(run("plan 12.19 --target madia"), 2) << out;
  EXPECT_EQ(out.find("target_tier"), std::string::npos) << out;
  EXPECT_EQ(run("tier 12.19 --classifier 127.0.0.1:1"), 1) << out;
  EXPECT_NE(out.find("see --classifier"), std::string::npos) << out;
  EXPECT_EQ(out.find("--enrollment"), std::string::npos) << out;
  // Help without "default the default"; alternatives marked as such.
  EXPECT_EQ(run("tier --help"), 0) << out;
  EXPECT_EQ(out.find("default the default"), std::string::npos) << out;
  EXPECT_EQ(run("tier 12.19 --all-criteria"), 0) << out;
  EXPECT_NE(out.find("madya or-2"), std::string::npos) << out;
  // watch refuses what tier and plan refuse instead of waiting forever.
  EXPECT_EQ(run("watch --region 99.99"), 2) << out;
  EXPECT_NE(out.find("no region '99.99'"), std::string::npos) << out;
  EXPECT_EQ(run("watch --province 99"), 2) << out;
  EXPECT_EQ(run("watch --policy nope"), 2) << out;
  EXPECT_EQ(run("tiers --province 12 --format csv"), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1 + 1 + 33) << out;  // header, 12, kab/kota
  EXPECT_EQ(run("tiers --format yaml"), 2);
  EXPECT_EQ(run("tiers --province 12 --view basic --format csv"), 0) << out;
  EXPECT_EQ(out.substr(0, out.find('\n')),
            "region_code,region_name,tier,coverage_bp,activity_bp,pemda_share_bp");
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1 + 1 + 33) << out;
  EXPECT_NE(out.find("12.19,\"Kabupaten Batu Bara\",none,9700,9700,9700\n"), std::string::npos)
      << out;
  EXPECT_EQ(run("tiers --view brief"), 2);
  EXPECT_NE(out.find("--view: 'brief' is not basic or full"), std::string::npos) << out;
  EXPECT_EQ(run("history 12.19"), 0) << out;
  EXPECT_EQ(run("report --html " + dir_ + "/report.html"), 0) << out;
  std::ifstream html(dir_ + "/report.html");
  std::string page((std::istreambuf_iterator<char>(html)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("<html"), std::string::npos);
  EXPECT_NE(page.find("Kabupaten Batu Bara"), std::string::npos);
  EXPECT_EQ(page.find("http"), std::string::npos) << "self-contained: no external assets";
  // With the outlines: one shape per kab/kota and per province, each with a hover title.
  EXPECT_EQ(run("report --html " + dir_ + "/map.html --data-dir " UHC_SOURCE_DIR "/data"), 0)
      << out;
  std::ifstream map_html(dir_ + "/map.html");
  std::string map_page((std::istreambuf_iterator<char>(map_html)),
                       std::istreambuf_iterator<char>());
  auto occurrences = [&](const std::string& needle) {
    int n = 0;
    for (size_t at = map_page.find(needle); at != std::string::npos;
         at = map_page.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(occurrences("<path class=\"kabkota"), 514);
  EXPECT_EQ(occurrences("<path class=\"province"), 38);
  EXPECT_EQ(occurrences("</title></path>"), 514 + 38);
  EXPECT_GE(occurrences("<ul class=\"legend\">"), 1);
  EXPECT_NE(map_page.find("data-code=\"12.19\" fill=\"url(#map-kabkota-none)\""), std::string::npos)
      << "Batu Bara holds no tier: hatched";
  EXPECT_NE(map_page.find("<title>Kabupaten Batu Bara (12.19)\nno tier\ncoverage 97,00%, "
                          "activity 97,00%, pemda share 97,00%</title>"),
            std::string::npos);
  EXPECT_NE(map_page.find("Rp453.600"), std::string::npos) << "Batu Bara's upgrade, 1 person";
  EXPECT_EQ(map_page.find("http"), std::string::npos) << "no xmlns either: inline SVG in HTML5";
  EXPECT_EQ(map_page.find("<script"), std::string::npos);
  // Every region's trend over 12 months: the provinces in their table, and every row of the
  // national table. Batu Bara's figures have not moved this past year.
  EXPECT_EQ(out.find("no trend point"), std::string::npos) << out;
  EXPECT_EQ(occurrences("<svg class=\"trend\""), 38 + 553);
  EXPECT_EQ(occurrences("trend, 12 months<br><span class=\"k\">"), 2) << "a key in both headings";
  const size_t batu_bara_row = map_page.find("<tr class=\"kabkota\"><td class=\"l\">12.19</td>");
  ASSERT_NE(batu_bara_row, std::string::npos);
  const std::string row =
      map_page.substr(batu_bara_row, map_page.find("</tr>", batu_bara_row) - batu_bara_row);
  EXPECT_NE(row.find("<svg class=\"trend\""), std::string::npos) << row;
  EXPECT_NE(row.find("):\ncoverage 97,00% \u2192 97,00%\nactivity 97,00% "
                     "\u2192 97,00%\npemda share 97,00% \u2192 97,00%</title>"),
            std::string::npos)
      << row;
  const std::string svg = row.substr(row.find("<svg"));
  EXPECT_EQ(std::count(svg.begin(), svg.end(), 'L'), 3 * 11) << "12 points a line: " << svg;
  EXPECT_EQ(run("health"), 0) << out;
  EXPECT_EQ(run("summary --closest 3"), 0) << out;
  EXPECT_NE(out.find("kab/kota (514)"), std::string::npos) << out;
  EXPECT_NE(out.find("cheapest upgrade (of 1 kab/kota"), std::string::npos) << out;
  // Long province names end in an ellipsis, not mid-word.
  EXPECT_NE(out.find("Kalimantan Selat\u2026"), std::string::npos) << out;
  EXPECT_EQ(out.find("Kalimantan Selata "), std::string::npos) << out;
  EXPECT_NE(out.find("uhcctl plan 12.19 --target pratama"), std::string::npos)
      << "hints name a region where they show something: " << out;
  EXPECT_NE(out.find("12.19 Kabupaten Batu Bara: none -> pratama"), std::string::npos) << out;

  // The nation: no "No tier", no "dues paid through never", no plan.
  EXPECT_EQ(run("tier ID"), 0) << out;
  EXPECT_NE(out.find("tiers are awarded to kab/kota and provinces"), std::string::npos) << out;
  EXPECT_EQ(out.find("No tier"), std::string::npos) << out;
  EXPECT_EQ(out.find("never"), std::string::npos) << out;
  EXPECT_EQ(run("plan ID --target pratama"), 2) << out;
  EXPECT_NE(out.find("a plan is for a pemda"), std::string::npos) << out;
  // Coverage above 100 % is explained (last: it changes Batu Bara's figures).
  std::ofstream(dir_ + "/lagging.csv") << "region_code,population\n12.19,90\n";
  ASSERT_EQ(run("population import " + dir_ + "/lagging.csv --as-of 2025-12-31"), 0) << out;
  EXPECT_NE(out.find("set the population of 1 region (as of"), std::string::npos) << out;
  ASSERT_TRUE(WaitFor(
      [&] { return run("tier 12.19") == 0 && out.find("coverage 107,77%") != std::string::npos; },
      10000))
      << out;
  EXPECT_NE(out.find("coverage above 100 %"), std::string::npos) << out;
  EXPECT_NE(out.find("population\n  figure lags"), std::string::npos) << out;
}

// The time commands end to end: trend, tier and tiers as of a day or from a cut-off, cut-offs,
// awards. Batu Bara (population 100) gains 50 PBPU Pemda participants in March 2025 and 48 in
// May: no tier at the end of March, UHC Madya (98 %) from the end of May.
TEST_F(ClassifierE2eTest, UhcctlTimeCommands) {
  std::string out;
  auto run = [&](const std::string& args) {
    return Uhcctl(args, enrollment_port_, classifier_ports_[0], &out);
  };
  auto page_of = [](const std::string& path) {
    std::ifstream in(path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  constexpr int64_t kDay = 86400;
  std::ofstream(dir_ + "/population.csv") << "region_code,population\n12.19,100\n";
  ASSERT_EQ(run("population import " + dir_ + "/population.csv --as-of 2025-01-01"), 0) << out;
  ASSERT_EQ(run("region-status 12.19 --uhc-prioritas --dues-paid-through 2025-09 --effective "
                "2025-01-01"),
            0)
      << out;
  std::vector<v1::ParticipantEvent> events;
  for (int64_t i = 0; i < 98; ++i) {
    const int64_t day = i < 50 ? 68 : 129;  // 2025-03-10 or 2025-05-10
    events.push_back(Enrolled("t" + std::to_string(i), TestNik(i), "12.19",
                              kBaseTime + day * kDay + i, v1::SEGMENT_PBPU_PEMDA, true));
  }
  Ingest(events);
  ASSERT_TRUE(WaitParticipants("12.19", 98));

  // Trend: a row a month end, the earlier months with fewer participants.
  ASSERT_EQ(run("trend 12.19 --from 2025-02-01 --to 2025-06-30"), 0) << out;
  EXPECT_NE(out.find("Kabupaten Batu Bara (12.19) [uhc-awards-2026]"), std::string::npos) << out;
  EXPECT_NE(out.find("2025-02-28  no tier          0,00%     0,00%     0,00%             0\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("2025-03-31  no tier         50,00%    50,00%    50,00%            50\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("2025-05-31  UHC Madya       98,00%    98,00%    98,00%            98\n"),
            std::string::npos)
      << out;
  // 0, 50, 50, 98, 98 % scaled between 0 and 98 %.
  EXPECT_NE(out.find("coverage     \u2581\u2585\u2585\u2588\u2588  min 0,00% (2025-02-28), max "
                     "98,00% (2025-05-31)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("pemda share  \u2581\u2585\u2585\u2588\u2588"), std::string::npos) << out;
  EXPECT_NE(out.find("held UHC Madya since 2025-05-31\n"), std::string::npos) << out;
  ASSERT_EQ(run("trend 'batu bara' --from 2025-02-01 --to 2025-04-30"), 0) << out;
  EXPECT_NE(out.find("no tier at every point (since 2025-02-28 at least)"), std::string::npos)
      << out;
  ASSERT_EQ(run("trend 'Batu Bara' --from 2025-03-01 --to 2025-05-31 --format csv"), 0) << out;
  EXPECT_EQ(out,
            "region_code,date,tier,population,participants,active,pemda_registered,coverage_bp,"
            "activity_bp,pemda_share_bp,uhc_prioritas,dues_paid_through\n"
            "12.19,2025-03-31,none,100,50,50,50,5000,5000,5000,1,2025-09\n"
            "12.19,2025-04-30,none,100,50,50,50,5000,5000,5000,1,2025-09\n"
            "12.19,2025-05-31,madya,100,98,98,98,9800,9800,9800,1,2025-09\n");
  // No dates: the server's default, the twelve months to today.
  ASSERT_EQ(run("trend 12.19 --format csv"), 0) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1 + 12) << out;
  ASSERT_EQ(run("trend 12.19 --from 2025-05-30 --to 2025-05-31 --interval day --format json"), 0)
      << out;
  EXPECT_NE(out.find("\"held_since\":\"\""), std::string::npos) << out;

  // tier as of a past day: March's figures, not today's.
  ASSERT_EQ(run("tier 12.19 --as-of 2025-03-31"), 0) << out;
  EXPECT_EQ(out.rfind("as of 2025-03-31 (end of day, WIB)\n", 0), 0u) << out;
  EXPECT_NE(out.find("participants 50 (coverage 50,00%)"), std::string::npos) << out;
  EXPECT_NE(out.find("Kabupaten Batu Bara (12.19): No tier"), std::string::npos) << out;

  // A cut-off as of the end of May, then a late termination that occurred in May: the day's
  // answer changes, the cut-off's does not.
  ASSERT_EQ(run("cutoff create round-1 --as-of 2025-05-31 --description 'Awards test'"), 0) << out;
  EXPECT_NE(out.find("cut-off round-1: the figures of 552 regions as of 2025-05-31"),
            std::string::npos)
      << out;
  ASSERT_EQ(run("cutoff list"), 0) << out;
  EXPECT_NE(out.find("round-1"), std::string::npos) << out;
  EXPECT_NE(out.find("2025-05-31"), std::string::npos) << out;
  EXPECT_NE(out.find("552  Awards test\n1 cut-off\n"), std::string::npos) << out;
  std::vector<v1::ParticipantEvent> late;
  for (int64_t i = 0; i < 5; ++i) {
    late.push_back(Terminated("late" + std::to_string(i), TestNik(i), "12.19",
                              kBaseTime + 139 * kDay + i));  // 2025-05-20
  }
  Ingest(late);
  ASSERT_TRUE(WaitParticipants("12.19", 93));
  ASSERT_EQ(run("tier 12.19 --as-of 2025-05-31"), 0) << out;
  EXPECT_NE(out.find("participants 93"), std::string::npos) << out;
  ASSERT_EQ(run("tiers 12 --cutoff round-1 --format csv"), 0) << out;
  EXPECT_NE(out.find(",next_tier,as_of_date,cutoff_id\n"), std::string::npos) << out;
  EXPECT_NE(out.find("12.19,\"Kabupaten Batu Bara\",madya,100,98,98,98,9800,9800,9800,utama,"
                     "2025-05-31,round-1\n"),
            std::string::npos)
      << out;
  ASSERT_EQ(run("tiers 12 --cutoff round-1 --view basic"), 0) << out;
  EXPECT_EQ(out.rfind("cut-off round-1 (as of 2025-05-31)\n", 0), 0u) << out;

  // Awards from the cut-off: Batu Bara under UHC Madya, nobody else anywhere.
  ASSERT_EQ(run("awards --policy uhc-awards-2026 --cutoff round-1"), 0) << out;
  EXPECT_NE(out.find("UHC awards, uhc-awards-2026, cut-off round-1 (as of 2025-05-31)"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\nUHC Madya\n  kab/kota (1):\n    12.19  Kabupaten Batu Bara, Sumatera "
                     "Utara\n  provinces: none\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("\nUHC Pratama\n  kab/kota: none\n"), std::string::npos) << out;
  EXPECT_NE(out.find("no tier: 513 kab/kota and 38 provinces"), std::string::npos) << out;
  // As of the end of March (live history): no tier.
  ASSERT_EQ(run("awards --policy uhc-awards-2026 --as-of 2025-03-31 --format csv"), 0) << out;
  EXPECT_NE(out.find("uhc-awards-2026,2025-03-31,,none,\"no tier\",regency,12.19,\"Kabupaten Batu "
                     "Bara\",12,5000,5000,5000\n"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find(",madya,"), std::string::npos) << out;
  ASSERT_EQ(run("awards --policy uhc-awards-2026 --cutoff round-1 --html " + dir_ + "/awards.html"),
            0)
      << out;
  EXPECT_NE(out.find("wrote " + dir_ + "/awards.html (552 regions)"), std::string::npos) << out;
  std::string page = page_of(dir_ + "/awards.html");
  const size_t madya = page.find("UHC Madya</h2>"), pratama = page.find("UHC Pratama</h2>");
  ASSERT_NE(madya, std::string::npos) << page;
  ASSERT_NE(pratama, std::string::npos) << page;
  const size_t batu_bara = page.find("<td class=\"l\">Kabupaten Batu Bara</td>", madya);
  EXPECT_LT(batu_bara, pratama) << "listed under UHC Madya";
  EXPECT_NE(page.find("cut-off round-1 (as of 2025-05-31)"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("http"), std::string::npos) << "standalone: nothing fetched";

  // Errors: which flag, and exit 2.
  EXPECT_EQ(run("awards --policy uhc-awards-2026"), 2) << out;
  EXPECT_NE(out.find("uhcctl awards: give --as-of YYYY-MM-DD or --cutoff ID"), std::string::npos)
      << out;
  EXPECT_EQ(run("awards --policy uhc-awards-2026 --as-of 2025-03-31 --cutoff round-1"), 2) << out;
  EXPECT_NE(out.find("not both"), std::string::npos) << out;
  EXPECT_EQ(run("tier 12.19 --as-of 2025-02-30"), 2) << out;
  EXPECT_NE(out.find("uhcctl tier: --as-of: '2025-02-30' is not a date YYYY-MM-DD"),
            std::string::npos)
      << out;
  EXPECT_EQ(run("trend 12.19 --from 31-03-2025"), 2) << out;
  EXPECT_NE(out.find("--from: '31-03-2025' is not a date YYYY-MM-DD"), std::string::npos) << out;
  EXPECT_EQ(run("tier 12.19 --as-of 2099-01-01"), 2) << out;  // the server's check, as a flag
  EXPECT_NE(out.find("--as-of: is after today"), std::string::npos) << out;
  EXPECT_EQ(run("tiers --cutoff no-such-cutoff"), 2) << out;
  EXPECT_EQ(run("cutoff create round-1 --as-of 2025-04-30"), 1) << out;  // a cut-off never changes
  EXPECT_NE(out.find("exists as of 2025-05-31"), std::string::npos) << out;
  EXPECT_EQ(run("cutoff create Round!"), 2) << out;
  EXPECT_NE(out.find("--as-of YYYY-MM-DD is required"), std::string::npos) << out;
  EXPECT_EQ(run("cutoff create Round! --as-of 2025-04-30"), 2) << out;
  EXPECT_NE(out.find("uhcctl cutoff: ID: must be"), std::string::npos) << out;
  EXPECT_EQ(run("region-status 12.19 --uhc-prioritas --effective 2025-1-1"), 2) << out;
  EXPECT_NE(out.find("--effective: '2025-1-1' is not a date"), std::string::npos) << out;
}

TEST_F(ClassifierE2eTest, KillNineDuringStreamingIngestLosesAndDoublesNothing) {
  // 60,000 events over three regions: enrolments, then status and segment changes.
  std::vector<v1::ParticipantEvent> events;
  const char* regions[] = {"12.19", "12.75", "16.07"};
  for (int i = 0; i < 30000; ++i) {
    events.push_back(Enrolled("k" + std::to_string(i), TestNik(i), regions[i % 3], kBaseTime + i,
                              v1::SEGMENT_PBPU_MANDIRI, i % 4 != 0));
  }
  for (int i = 0; i < 30000; ++i) {
    if (i % 2 == 0) {
      events.push_back(StatusChanged("s" + std::to_string(i), TestNik(i), regions[i % 3],
                                     kBaseTime + 100000 + i, i % 3 == 0));
    } else {
      events.push_back(SegmentChanged("g" + std::to_string(i), TestNik(i), regions[i % 3],
                                      kBaseTime + 100000 + i, v1::SEGMENT_PBPU_PEMDA));
    }
  }
  {
    std::ofstream jsonl(dir_ + "/kill.jsonl");
    for (const auto& e : events) {
      std::string line;
      ASSERT_TRUE(google::protobuf::util::MessageToJsonString(e, &line).ok());
      jsonl << line << "\n";
      model_.Apply(e);
    }
  }
  std::string command = "UHC_ENROLLMENT_ADDR=127.0.0.1:" + std::to_string(enrollment_port_) +
                        " " UHC_UHCCTL " ingest --batch-size 500 --retries 50 " + dir_ +
                        "/kill.jsonl 2>&1";
  FILE* ingest = popen(command.c_str(), "r");
  // Kill the service once part of the stream is in, then start a new one on the same port.
  auto redis = redis_->Connect();
  auto participants = [&] {
    int64_t sum = 0;
    for (const char* r : regions) {
      auto v = redis->Command({"HGETALL", std::string("uhc:{") + r + "}:agg"});
      if (v.ok()) sum += AggregateFields(v->get())["part"];
    }
    return sum;
  };
  ASSERT_TRUE(WaitFor([&] { return participants() > 5000; }, 20000));
  enrollment_->Stop(SIGKILL);
  int64_t at_kill = participants();
  enrollment_ = StartEnrollment();
  std::string out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), ingest)) > 0) out.append(buffer, n);
  int status = pclose(ingest);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << out;
  EXPECT_NE(out.find("resending from batch"), std::string::npos) << out;
  EXPECT_LT(at_kill, 30000) << "the kill came after the whole stream";
  for (const char* r : regions) {
    auto agg = redis->Command({"HGETALL", std::string("uhc:{") + r + "}:agg"});
    std::map<std::string, int64_t> have = AggregateFields(agg->get());
    const RegionCounts& want = model_.regions().at(r);
    EXPECT_EQ(have["part"], want.Participants()) << r;
    EXPECT_EQ(have["act"], want.Active()) << r;
    for (int s = 1; s <= 5; ++s) {
      EXPECT_EQ(have["n" + std::to_string(s)], want.participants[s]) << r << " " << s;
      EXPECT_EQ(have["a" + std::to_string(s)], want.active[s]) << r << " " << s;
    }
  }
}

}  // namespace
}  // namespace uhc::testing

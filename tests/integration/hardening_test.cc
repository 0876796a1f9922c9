// What an outside probe broke, each pinned: huge strings cost no CPU and are not echoed, absurd
// populations are refused and plan arithmetic cannot overflow.
#include <sys/resource.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/match.h"
#include "classifier-svc/classifier_server.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "tests/integration/classifier_options.h"
#include "tests/integration/enrollment_fixture.h"
#include "tests/support/events.h"
#include "uhc/v1/classifier.grpc.pb.h"

namespace uhc::testing {
namespace {

using ::testing::HasSubstr;

// CPU seconds this process has used (all threads: the in-process server included).
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

const std::string kHugeCode(1 << 20, '9');

// CPU limits are for an optimised build; sanitizers make every instruction several times dearer.
#if defined(__SANITIZE_ADDRESS__)
constexpr double kCpuScale = 5;
#else
constexpr double kCpuScale = 1;
#endif

class HardeningTest : public EnrollmentFixture {
 protected:
  std::unique_ptr<ClassifierServer> StartClassifier(absl::Duration max_stale = absl::Minutes(5)) {
    ClassifierServerOptions options = TestClassifierOptions(*redis_);
    options.refresh_interval = absl::Milliseconds(50);
    options.max_stale = max_stale;
    auto server = ClassifierServer::Start(options);
    EXPECT_TRUE(server.ok()) << server.status();
    return server.ok() ? *std::move(server) : nullptr;
  }
};

TEST_F(HardeningTest, MegabyteRegionCodesInABatchCostNoCpuAndAreNotEchoed) {
  v1::IngestEventsRequest request;
  for (int i = 0; i < 5; ++i) {
    v1::ParticipantEvent e = Enrolled("huge" + std::to_string(i), TestNik(i + 1), "12.19",
                                      kBaseTime, v1::SEGMENT_PPU, true);
    if (i % 2 == 0) {
      e.set_region_code(kHugeCode);
    } else {
      e = Relocated("huge" + std::to_string(i), TestNik(i + 1), "12.19", kBaseTime, kHugeCode);
    }
    *request.add_events() = e;
  }
  request.set_batch_id("b1");
  double cpu = ProcessCpuSeconds();
  v1::IngestEventsResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  grpc::Status status = enrollment_->IngestBatch(&context, request, &response);
  cpu = ProcessCpuSeconds() - cpu;
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message().substr(0, 200);
  // Copying 5 MiB through gRPC and protobuf costs 0.09-0.11 s here under a parallel ctest; the
  // defects this guards against (echoing codes, per-character work in messages) cost seconds.
  EXPECT_LT(cpu, 0.25 * kCpuScale) << "CPU seconds for 5 events with 1 MiB codes";
  std::cout << "5 events with 1 MiB codes: " << cpu << " s of CPU (client included)\n";
  ASSERT_EQ(response.results_size(), 5);
  for (const v1::EventResult& r : response.results()) {
    EXPECT_EQ(r.outcome(), v1::EVENT_OUTCOME_REJECTED);
    EXPECT_LT(r.reason().size(), 1024u) << r.reason().substr(0, 200);
    EXPECT_THAT(r.reason(), HasSubstr("1048576 bytes"));
  }
}

TEST_F(HardeningTest, AFullBatchOfUnknownCodesStaysCheap) {
  // The worst case for suggestions: the batch limit of events, each with another unknown code.
  v1::IngestEventsRequest request;
  for (int i = 0; i < 10000; ++i) {
    char code[8];
    std::snprintf(code, sizeof(code), "%02d.%02d", i % 10, i % 100);
    *request.add_events() =
        Enrolled("u" + std::to_string(i), TestNik(i + 1), code, kBaseTime, v1::SEGMENT_PPU, true);
  }
  double cpu = ProcessCpuSeconds();
  v1::IngestEventsResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(enrollment_->IngestBatch(&context, request, &response).ok());
  cpu = ProcessCpuSeconds() - cpu;
  EXPECT_EQ(response.rejected(), 10000);
  EXPECT_THAT(response.results(0).reason(), HasSubstr("did you mean"));
  EXPECT_LT(cpu, 1.0 * kCpuScale) << "CPU seconds for 10,000 unknown codes";
  std::cout << "10,000 events with unknown codes: " << cpu << " s of CPU (client included)\n";
}

TEST_F(HardeningTest, EveryStringFieldOfTheEnrollmentApiIsBounded) {
  const std::string huge(1 << 20, 'x');
  auto cheap = [](const char* what, const std::function<grpc::Status()>& call) {
    double cpu = ProcessCpuSeconds();
    grpc::Status status = call();
    cpu = ProcessCpuSeconds() - cpu;
    // A region code that names no region is NOT_FOUND; every other field INVALID_ARGUMENT.
    EXPECT_EQ(status.error_code(), absl::StrContains(what, "region")
                                       ? grpc::StatusCode::NOT_FOUND
                                       : grpc::StatusCode::INVALID_ARGUMENT)
        << what;
    EXPECT_LT(status.error_message().size(), 1024u) << what;
    EXPECT_LT(cpu, 0.1 * kCpuScale) << what;
  };
  cheap("batch_id", [&] {
    v1::IngestEventsRequest request;
    *request.add_events() = Enrolled("ok", TestNik(1), "12.19", kBaseTime, v1::SEGMENT_PPU, true);
    request.set_batch_id(huge);
    v1::IngestEventsResponse response;
    grpc::ClientContext context;
    return enrollment_->IngestBatch(&context, request, &response);
  });
  cheap("Enroll request_id", [&] {
    v1::EnrollRequest request;
    request.set_request_id(huge);
    request.set_nik(TestNik(1));
    request.set_region_code("12.19");
    request.set_segment(v1::SEGMENT_PPU);
    v1::EnrollResponse response;
    grpc::ClientContext context;
    return enrollment_->Enroll(&context, request, &response);
  });
  cheap("Enroll region_code", [&] {
    v1::EnrollRequest request;
    request.set_request_id("r1");
    request.set_nik(TestNik(1));
    request.set_region_code(kHugeCode);
    request.set_segment(v1::SEGMENT_PPU);
    v1::EnrollResponse response;
    grpc::ClientContext context;
    return enrollment_->Enroll(&context, request, &response);
  });
  cheap("GetParticipant nik", [&] {
    v1::Participant out;
    return GetParticipant(huge, &out);
  });
  cheap("GetParticipant region", [&] {
    v1::Participant out;
    return GetParticipant(TestNik(1), &out, huge);
  });
  cheap("SetPopulation region", [&] {
    v1::SetPopulationRequest request;
    request.set_region_code(huge);
    request.set_population(1000);
    request.set_as_of_date("2025-06-30");
    v1::RegionSettings response;
    grpc::ClientContext context;
    return admin_->SetPopulation(&context, request, &response);
  });
  cheap("SetPopulation as_of", [&] {
    v1::SetPopulationRequest request;
    request.set_region_code("12.19");
    request.set_population(1000);
    request.set_as_of_date(huge);
    v1::RegionSettings response;
    grpc::ClientContext context;
    return admin_->SetPopulation(&context, request, &response);
  });
  cheap("SetRegionStatus dues", [&] {
    v1::SetRegionStatusRequest request;
    request.set_region_code("12.19");
    request.set_dues_paid_through(huge);
    v1::RegionSettings response;
    grpc::ClientContext context;
    return admin_->SetRegionStatus(&context, request, &response);
  });
}

TEST_F(HardeningTest, EveryStringFieldOfTheClassifierApiIsBounded) {
  std::unique_ptr<ClassifierServer> classifier = StartClassifier();
  ASSERT_NE(classifier, nullptr);
  auto stub = v1::ClassifierService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(classifier->port()), grpc::InsecureChannelCredentials()));
  const std::string huge(1 << 20, 'x');
  auto cheap = [](const char* what, grpc::StatusCode want,
                  const std::function<grpc::Status()>& call) {
    double cpu = ProcessCpuSeconds();
    grpc::Status status = call();
    cpu = ProcessCpuSeconds() - cpu;
    EXPECT_EQ(status.error_code(), want) << what << ": " << status.error_message().substr(0, 200);
    EXPECT_LT(status.error_message().size(), 1024u) << what;
    EXPECT_LT(cpu, 0.1 * kCpuScale) << what;
  };
  for (const std::string& code : {kHugeCode, huge}) {
    cheap("GetRegionTier region_code", grpc::StatusCode::NOT_FOUND, [&] {
      v1::GetRegionTierRequest request;
      request.set_region_code(code);
      v1::RegionTier response;
      grpc::ClientContext context;
      return stub->GetRegionTier(&context, request, &response);
    });
    cheap("PlanTier region_code", grpc::StatusCode::NOT_FOUND, [&] {
      v1::PlanTierRequest request;
      request.set_region_code(code);
      request.set_target_tier("utama");
      v1::TierPlan response;
      grpc::ClientContext context;
      return stub->PlanTier(&context, request, &response);
    });
    cheap("ListTierChanges region_code", grpc::StatusCode::NOT_FOUND, [&] {
      v1::ListTierChangesRequest request;
      request.set_region_code(code);
      v1::ListTierChangesResponse response;
      grpc::ClientContext context;
      return stub->ListTierChanges(&context, request, &response);
    });
  }
  cheap("GetRegionTier policy_id", grpc::StatusCode::NOT_FOUND, [&] {
    v1::GetRegionTierRequest request;
    request.set_region_code("12.19");
    request.set_policy_id(huge);
    v1::RegionTier response;
    grpc::ClientContext context;
    return stub->GetRegionTier(&context, request, &response);
  });
  cheap("PlanTier target_tier", grpc::StatusCode::INVALID_ARGUMENT, [&] {
    v1::PlanTierRequest request;
    request.set_region_code("12.19");
    request.set_target_tier(huge);
    v1::TierPlan response;
    grpc::ClientContext context;
    return stub->PlanTier(&context, request, &response);
  });
  for (const char* field : {"province_code", "tier", "page_token", "policy_id"}) {
    const bool names_a_resource =
        std::string(field) == "province_code" || std::string(field) == "policy_id";
    cheap(field,
          names_a_resource ? grpc::StatusCode::NOT_FOUND : grpc::StatusCode::INVALID_ARGUMENT, [&] {
            v1::ListRegionTiersRequest request;
            if (std::string(field) == "province_code") request.set_province_code(huge);
            if (std::string(field) == "tier") request.set_tier(huge);
            if (std::string(field) == "page_token") request.set_page_token(huge);
            if (std::string(field) == "policy_id") request.set_policy_id(huge);
            v1::ListRegionTiersResponse response;
            grpc::ClientContext context;
            return stub->ListRegionTiers(&context, request, &response);
          });
  }
  for (const char* field : {"region_code", "province_code", "policy_id"}) {
    cheap(field, grpc::StatusCode::NOT_FOUND,  // every one names a resource
          [&] {
            v1::WatchTierChangesRequest request;
            if (std::string(field) == "region_code") request.set_region_code(huge);
            if (std::string(field) == "province_code") request.set_province_code(huge);
            if (std::string(field) == "policy_id") request.set_policy_id(huge);
            grpc::ClientContext context;
            context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
            auto reader = stub->WatchTierChanges(&context, request);
            v1::WatchTierChangesResponse message;
            while (reader->Read(&message)) {
            }
            return reader->Finish();
          });
  }
}

TEST_F(HardeningTest, PopulationBeyondTheSaneRangeIsRefusedNamingTheField) {
  for (int64_t population :
       {int64_t{500'000'001}, std::numeric_limits<int64_t>::max(), int64_t{1} << 62, int64_t{-1}}) {
    v1::SetPopulationRequest request;
    request.set_region_code("12.19");
    request.set_population(population);
    request.set_as_of_date("2025-06-30");
    v1::RegionSettings response;
    grpc::ClientContext context;
    grpc::Status status = admin_->SetPopulation(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << population;
    EXPECT_THAT(status.error_message(), HasSubstr("population")) << population;
  }
  EXPECT_EQ(Aggregate("12.19").count("pop"), 0u) << "nothing stored";
  v1::SetPopulationRequest request;
  request.set_region_code("12");
  request.set_population(500'000'000);
  request.set_as_of_date("2025-06-30");
  v1::RegionSettings response;
  grpc::ClientContext context;
  ASSERT_TRUE(admin_->SetPopulation(&context, request, &response).ok());
  EXPECT_EQ(response.population(), 500'000'000);
}

// One IngestBatch of a fresh enrolment; the status and response.
grpc::Status IngestFresh(v1::EnrollmentService::Stub* stub, int i,
                         v1::IngestEventsResponse* response) {
  v1::IngestEventsRequest request;
  *request.add_events() = Enrolled("fresh" + std::to_string(i), TestNik(1000 + i), "12.19",
                                   kBaseTime + i, v1::SEGMENT_PPU, true);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return stub->IngestBatch(&context, request, response);
}

TEST_F(HardeningTest, AFullRedisIsResourceExhaustedAndRetryableNothingLost) {
  auto redis = redis_->Connect();
  ASSERT_TRUE(redis->Command({"CONFIG", "SET", "maxmemory", "1"}).ok());
  ASSERT_TRUE(redis->Command({"CONFIG", "SET", "maxmemory-policy", "noeviction"}).ok());
  v1::IngestEventsResponse response;
  grpc::Status status = IngestFresh(enrollment_.get(), 1, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("maxmemory"));
  EXPECT_THAT(status.error_message(), HasSubstr("retry"));
  ASSERT_TRUE(redis->Command({"CONFIG", "SET", "maxmemory", "0"}).ok());
  status = IngestFresh(enrollment_.get(), 1, &response);  // the caller's retry
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.applied(), 1);
  EXPECT_EQ(Aggregate("12.19")["n3"], 1);
}

TEST_F(HardeningTest, AReadOnlyRedisIsUnavailable) {
  auto redis = redis_->Connect();
  // A replica of a primary that does not exist: reads work, writes answer READONLY.
  ASSERT_TRUE(redis->Command({"REPLICAOF", "127.0.0.1", std::to_string(FreePort())}).ok());
  v1::IngestEventsResponse response;
  grpc::Status status = IngestFresh(enrollment_.get(), 2, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("read-only replica"));
  ASSERT_TRUE(redis->Command({"REPLICAOF", "NO", "ONE"}).ok());
  status = IngestFresh(enrollment_.get(), 2, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.applied(), 1);
}

TEST_F(HardeningTest, AFlushedFunctionLibraryIsReloadedWithoutAnyManualStep) {
  v1::IngestEventsResponse response;
  ASSERT_TRUE(IngestFresh(enrollment_.get(), 3, &response).ok());
  auto redis = redis_->Connect();
  ASSERT_TRUE(redis->Command({"FUNCTION", "FLUSH"}).ok());
  grpc::Status status = IngestFresh(enrollment_.get(), 4, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.applied(), 1);
  v1::SetPopulationRequest request;
  request.set_region_code("12.19");
  request.set_population(1000);
  request.set_as_of_date("2025-06-30");
  ASSERT_TRUE(redis->Command({"FUNCTION", "FLUSH"}).ok());
  v1::RegionSettings settings;
  grpc::ClientContext context;
  status = admin_->SetPopulation(&context, request, &settings);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(Aggregate("12.19")["n3"], 2);
  EXPECT_EQ(Aggregate("12.19")["pop"], 1000);
}

TEST_F(HardeningTest, AStalledRedisSaysWhichTimeoutWasHit) {
  redis_->Pause();
  v1::IngestEventsResponse response;
  grpc::Status status = IngestFresh(enrollment_.get(), 5, &response);
  redis_->Resume();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("Redis command timeout of 2s"));
  EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr("Resource temporarily")));
  ASSERT_TRUE(WaitFor([&] { return IngestFresh(enrollment_.get(), 5, &response).ok(); }, 10000));
}

// Ready as soon as it answers from a fresh snapshot; while Redis cannot be read it stays ready and
// serves the last snapshot marked stale, up to --max_stale_seconds (so one shard's failover does
// not make every replica unready at once); past that bound it is not ready; back when Redis is.
TEST_F(HardeningTest, TheClassifierIsReadyFromAFreshSnapshotAndStaysReadyWhileStaleUpToTheBound) {
  std::unique_ptr<ClassifierServer> patient = StartClassifier(absl::Minutes(5));
  std::unique_ptr<ClassifierServer> strict = StartClassifier(absl::Seconds(1));
  ASSERT_NE(patient, nullptr);
  ASSERT_NE(strict, nullptr);
  auto serving = [](const ClassifierServer& classifier) {
    auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(classifier.port()), grpc::InsecureChannelCredentials()));
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::ClientContext context;
    return health->Check(&context, request, &response).ok() &&
           response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  };
  for (ClassifierServer* c : {patient.get(), strict.get()}) {
    ASSERT_TRUE(WaitFor([&] { return c->refresher().generation() >= 1; }, 10000));
    EXPECT_TRUE(serving(*c)) << "answers come from a fresh snapshot, so readiness must say so";
  }
  redis_->Pause();
  ASSERT_TRUE(WaitFor([&] { return patient->refresher().stale(); }, 10000));
  EXPECT_TRUE(WaitFor([&] { return !serving(*strict); }, 10000)) << "past the bound: not ready";
  EXPECT_TRUE(patient->refresher().stale());
  EXPECT_TRUE(serving(*patient)) << "stale within the bound: still ready";
  redis_->Resume();
  for (ClassifierServer* c : {patient.get(), strict.get()}) {
    ASSERT_TRUE(WaitFor([&] { return !c->refresher().stale(); }, 10000));
    EXPECT_TRUE(WaitFor([&] { return serving(*c); }, 2000));
  }
}

}  // namespace
}  // namespace uhc::testing

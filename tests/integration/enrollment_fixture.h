#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/redis/schema.h"
#include "enrollment-svc/enrollment_server.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "tests/support/redis_server.h"
#include "uhc/v1/enrollment.grpc.pb.h"

namespace uhc::testing {

inline constexpr char kTestSecret[] = "test-secret-0123456789abcdef-0123456";

// A real redis-server (with uhc_module.so, so the service applies with it) and an in-process
// enrollment-svc on free loopback ports.
class EnrollmentFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = std::make_unique<RedisServer>(WithApplyModule());
    StartService();
  }
  void TearDown() override { StopService(); }

  // A plaintext loopback service on a free port against the test's Redis.
  EnrollmentServerOptions Options() const {
    EnrollmentServerOptions options;
    options.server.listen_address = "127.0.0.1:0";
    options.server.metrics_port = 0;
    options.server.drain_timeout = absl::Seconds(2);
    options.server.plaintext = true;
    options.redis = redis_->options();
    options.data_dir = UHC_SOURCE_DIR "/data";
    options.hmac_secret = kTestSecret;
    options.bucket_bits = 4;
    // Keep every day: the tests' events have fixed dates (2025 on), which a trim would cut once
    // they are older than the days kept; and the trim pass at start (a FCALL per kab/kota) would
    // run beside the tests' first calls. Tests of the trim set it.
    options.history_days = 0;
    return options;
  }

  void StartService() { StartService(Options()); }
  void StartService(const EnrollmentServerOptions& options) {
    auto server = EnrollmentServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
    enrollment_ = v1::EnrollmentService::NewStub(channel_);
    admin_ = v1::RegionAdminService::NewStub(channel_);
    ASSERT_TRUE(WaitFor([this] { return server_->redis_healthy(); }, 10000));
  }

  void StopService() {
    enrollment_.reset();
    admin_.reset();
    channel_.reset();
    server_.reset();
  }

  // One IngestBatch call; asserts OK.
  v1::IngestEventsResponse Ingest(const std::vector<v1::ParticipantEvent>& events) {
    v1::IngestEventsRequest request;
    for (const auto& e : events) *request.add_events() = e;
    v1::IngestEventsResponse response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status status = enrollment_->IngestBatch(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  v1::EventOutcome IngestOne(const v1::ParticipantEvent& event) {
    v1::IngestEventsResponse r = Ingest({event});
    return r.results_size() == 1 ? r.results(0).outcome() : v1::EVENT_OUTCOME_UNSPECIFIED;
  }

  grpc::Status GetParticipant(const std::string& nik, v1::Participant* out,
                              const std::string& region = "") {
    v1::GetParticipantRequest request;
    request.set_nik(nik);
    request.set_region_code(region);
    grpc::ClientContext context;
    return enrollment_->GetParticipant(&context, request, out);
  }

  // The aggregate hash of a region as name -> integer in layout 1's names (missing fields are 0).
  std::map<std::string, int64_t> Aggregate(const std::string& region) {
    auto c = redis_->Connect();
    auto reply = c->Command({"HGETALL", AggregateKey(region)});
    if (!reply.ok()) return {};
    return AggregateFields(reply->get());
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<EnrollmentServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::EnrollmentService::Stub> enrollment_;
  std::unique_ptr<v1::RegionAdminService::Stub> admin_;
};

}  // namespace uhc::testing

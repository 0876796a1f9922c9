// ServerHost's readiness across a shutdown: once the drain began, nothing makes the server ready
// again, whatever its Redis health callback says (issue #28: a Redis that flapped during a drain
// made enrollment-svc report SERVING again and draw traffic to a pod going away).
#include "common/server/host.h"

#include <atomic>
#include <thread>

#include "common/observability/metrics.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// The readiness the health port reports under "" (what a kubelet probe asks).
HealthCheckResponse::ServingStatus Readiness(int port) {
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, HealthCheckRequest(), &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.status();
}

// Plaintext on free loopback ports, with the health listener kubelet probes use; no /metrics.
ServerConfig HealthOnLoopback() {
  ServerConfig config;
  config.plaintext = true;
  config.metrics_port = -1;
  config.health_listen_address = "127.0.0.1:0";
  return config;
}

TEST(HostTest, RedisFlappingDuringTheDrainNeverMakesTheServerReadyAgain) {
  MetricsRegistry metrics;
  ServerHost host(HealthOnLoopback(), &metrics);
  ASSERT_TRUE(host.Start().ok());
  host.SetReady(true);
  ASSERT_EQ(Readiness(host.health_port()), HealthCheckResponse::SERVING);

  std::atomic<bool> draining{true};
  std::vector<HealthCheckResponse::ServingStatus> seen;
  host.Shutdown([&] {
    seen.push_back(Readiness(host.health_port()));
    // Redis goes away and comes back, twice, while in-flight calls drain: the health callback
    // says so from its own thread, as RedisHealth does.
    std::thread flapping([&] {
      for (bool up : {false, true, false, true}) host.SetReady(up);
    });
    flapping.join();
    seen.push_back(Readiness(host.health_port()));
    host.SetReady(true);
    seen.push_back(Readiness(host.health_port()));
    draining = false;
  });
  EXPECT_FALSE(draining);
  EXPECT_EQ(seen,
            (std::vector<HealthCheckResponse::ServingStatus>(3, HealthCheckResponse::NOT_SERVING)));
  host.SetReady(true);  // after the drain too: nothing changes, nothing crashes
}

// Before a shutdown, readiness follows SetReady both ways.
TEST(HostTest, ReadinessFollowsSetReadyUntilTheShutdown) {
  MetricsRegistry metrics;
  ServerHost host(HealthOnLoopback(), &metrics);
  ASSERT_TRUE(host.Start().ok());
  host.SetReady(true);
  EXPECT_EQ(Readiness(host.health_port()), HealthCheckResponse::SERVING);
  host.SetReady(false);
  EXPECT_EQ(Readiness(host.health_port()), HealthCheckResponse::NOT_SERVING);
  host.SetReady(true);
  EXPECT_EQ(Readiness(host.health_port()), HealthCheckResponse::SERVING);
  host.Shutdown([] {});
}

}  // namespace
}  // namespace uhc

#include "common/metrics.h"

#include <httplib.h>

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

using ::testing::HasSubstr;

TEST(MetricsTest, RendersTheExpositionFormat) {
  MetricsRegistry registry;
  registry.AddCounter("uhc_events_total", "Events.", {{"outcome", "applied"}})->Increment(3);
  registry.AddCounter("uhc_events_total", "Events.", {{"outcome", "stale"}})->Increment();
  registry.AddGauge("uhc_age_seconds", "Age.")->Set(1.5);
  Histogram* h = registry.AddHistogram("uhc_batch_seconds", "Batch.", {0.1, 1});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(5);
  EXPECT_EQ(registry.Render(),
            "# HELP uhc_events_total Events.\n# TYPE uhc_events_total counter\n"
            "uhc_events_total{outcome=\"applied\"} 3\nuhc_events_total{outcome=\"stale\"} 1\n"
            "# HELP uhc_age_seconds Age.\n# TYPE uhc_age_seconds gauge\nuhc_age_seconds 1.5\n"
            "# HELP uhc_batch_seconds Batch.\n# TYPE uhc_batch_seconds histogram\n"
            "uhc_batch_seconds_bucket{le=\"0.1\"} 1\nuhc_batch_seconds_bucket{le=\"1\"} 2\n"
            "uhc_batch_seconds_bucket{le=\"+Inf\"} 3\nuhc_batch_seconds_sum 5.55\n"
            "uhc_batch_seconds_count 3\n");
  // The same name and labels return the same counter.
  EXPECT_EQ(registry.AddCounter("uhc_events_total", "Events.", {{"outcome", "stale"}})->value(), 1);
}

TEST(MetricsTest, EscapesLabelValues) {
  MetricsRegistry registry;
  registry.AddCounter("c", "h", {{"l", "a\"b\\c\nd"}});
  EXPECT_THAT(registry.Render(), HasSubstr("c{l=\"a\\\"b\\\\c\\nd\"} 0"));
}

TEST(MetricsTest, CountersAreExactUnderConcurrency) {
  MetricsRegistry registry;
  Counter* c = registry.AddCounter("c", "h");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([c] {
      for (int i = 0; i < 100000; ++i) c->Increment();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->value(), 400000);
}

TEST(MetricsTest, ServesMetricsOverHttp) {
  MetricsRegistry registry;
  registry.AddCounter("uhc_up", "Up.")->Increment();
  MetricsHttpServer server(&registry);
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  ASSERT_GT(server.port(), 0);
  httplib::Client client("127.0.0.1", server.port());
  auto response = client.Get("/metrics");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, registry.Render());
  server.Stop();
  server.Stop();  // idempotent
}

}  // namespace
}  // namespace uhc

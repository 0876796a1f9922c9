#include "common/observability/metrics.h"

#include <httplib.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace uhc {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(MetricsRegistryTest, RendersTheExpositionFormat) {
  MetricsRegistry registry;
  registry
      .AddCounter("uhc_events_total", "Events by outcome.",
                  {{"outcome", "applied"}, {"region", "12.19"}})
      ->Increment(3);
  // Labels given in another order are stored sorted by name.
  registry
      .AddCounter("uhc_events_total", "Events by outcome.",
                  {{"region", "12.19"}, {"outcome", "stale"}})
      ->Increment();
  Gauge* age = registry.AddGauge("uhc_age_seconds", "Age.\nIn \\seconds\\.");
  age->Set(1.5);
  age->Add(0.25);
  Histogram* batch =
      registry.AddHistogram("uhc_batch_seconds", "Batch.", {0.25, 1}, {{"svc", "enrollment"}});
  batch->Observe(0.25);  // On a bound: counted in that bucket (le is "less or equal").
  batch->Observe(0.5);
  batch->Observe(4);
  registry.AddHistogram("uhc_idle_seconds", "Idle.", {1});

  EXPECT_EQ(registry.Render(),
            "# HELP uhc_events_total Events by outcome.\n"
            "# TYPE uhc_events_total counter\n"
            "uhc_events_total{outcome=\"applied\",region=\"12.19\"} 3\n"
            "uhc_events_total{outcome=\"stale\",region=\"12.19\"} 1\n"
            "# HELP uhc_age_seconds Age.\\nIn \\\\seconds\\\\.\n"
            "# TYPE uhc_age_seconds gauge\n"
            "uhc_age_seconds 1.75\n"
            "# HELP uhc_batch_seconds Batch.\n"
            "# TYPE uhc_batch_seconds histogram\n"
            "uhc_batch_seconds_bucket{svc=\"enrollment\",le=\"0.25\"} 1\n"
            "uhc_batch_seconds_bucket{svc=\"enrollment\",le=\"1\"} 2\n"
            "uhc_batch_seconds_bucket{svc=\"enrollment\",le=\"+Inf\"} 3\n"
            "uhc_batch_seconds_sum{svc=\"enrollment\"} 4.75\n"
            "uhc_batch_seconds_count{svc=\"enrollment\"} 3\n"
            "# HELP uhc_idle_seconds Idle.\n"
            "# TYPE uhc_idle_seconds histogram\n"
            "uhc_idle_seconds_bucket{le=\"1\"} 0\n"
            "uhc_idle_seconds_bucket{le=\"+Inf\"} 0\n"
            "uhc_idle_seconds_sum 0\n"
            "uhc_idle_seconds_count 0\n");
}

TEST(MetricsRegistryTest, SameNameAndLabelsReturnTheSameMetric) {
  MetricsRegistry registry;
  Counter* a = registry.AddCounter("c_total", "h", {{"x", "1"}, {"y", "2"}});
  EXPECT_EQ(registry.AddCounter("c_total", "h", {{"y", "2"}, {"x", "1"}}), a);
  EXPECT_NE(registry.AddCounter("c_total", "h", {{"x", "1"}, {"y", "3"}}), a);
  Gauge* g = registry.AddGauge("g", "h");
  EXPECT_EQ(registry.AddGauge("g", "h"), g);
  Histogram* h = registry.AddHistogram("h_seconds", "h", {1, 2});
  EXPECT_EQ(registry.AddHistogram("h_seconds", "h", {1, 2}), h);
}

TEST(MetricsRegistryTest, EscapesLabelValues) {
  MetricsRegistry registry;
  registry.AddCounter("c_total", "h", {{"l", "a\"b\\c\nd"}});
  EXPECT_THAT(registry.Render(), HasSubstr("\nc_total{l=\"a\\\"b\\\\c\\nd\"} 0\n"));
}

TEST(MetricsRegistryTest, GaugesRenderShortestExactAndSpecialValues) {
  MetricsRegistry registry;
  registry.AddGauge("g", "h", {{"v", "a"}})->Set(0.1);
  registry.AddGauge("g", "h", {{"v", "b"}})->Set(12345678);
  registry.AddGauge("g", "h", {{"v", "c"}})->Set(-std::numeric_limits<double>::infinity());
  registry.AddGauge("g", "h", {{"v", "d"}})->Set(std::nan(""));
  const std::string text = registry.Render();
  EXPECT_THAT(text, HasSubstr("g{v=\"a\"} 0.1\n"));
  EXPECT_THAT(text, HasSubstr("g{v=\"b\"} 12345678\n"));
  EXPECT_THAT(text, HasSubstr("g{v=\"c\"} -Inf\n"));
  EXPECT_THAT(text, HasSubstr("g{v=\"d\"} NaN\n"));
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulativeAndNanIsDropped) {
  Histogram h({1, 2, 3});
  for (double v : {0.5, 1.5, 1.5, 2.5, 10.0, std::nan("")}) h.Observe(v);
  EXPECT_THAT(h.CumulativeCounts(), ElementsAre(1, 3, 4, 5));
  EXPECT_EQ(h.sum(), 16);
}

TEST(MetricsRegistryTest, UpdatesAreExactUnderConcurrency) {
  MetricsRegistry registry;
  Counter* counter = registry.AddCounter("c_total", "h");
  Gauge* gauge = registry.AddGauge("g", "h");
  Histogram* histogram = registry.AddHistogram("h_seconds", "h", {0.5});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100000; ++i) {
        counter->Increment();
        gauge->Add(1);
        histogram->Observe(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(counter->value(), 400000);
  EXPECT_EQ(gauge->value(), 400000);
  EXPECT_THAT(histogram->CumulativeCounts(), ElementsAre(0, 400000));
  EXPECT_EQ(histogram->sum(), 400000);
}

TEST(MetricsRegistryDeathTest, RegistrationMistakesAbort) {
  EXPECT_DEATH(MetricsRegistry().AddCounter("bad-name", "h"), "bad metric name");
  EXPECT_DEATH(MetricsRegistry().AddCounter("c", "h", {{"0x", "v"}}), "bad or repeated label");
  EXPECT_DEATH(MetricsRegistry().AddCounter("c", "h", {{"x", "1"}, {"x", "2"}}),
               "bad or repeated label");
  EXPECT_DEATH(MetricsRegistry().AddHistogram("h", "h", {1}, {{"le", "1"}}),
               "bad or repeated label");
  EXPECT_DEATH(MetricsRegistry().AddHistogram("h", "h", {2, 1}), "strictly ascending");
  EXPECT_DEATH(
      {
        MetricsRegistry registry;
        registry.AddCounter("m", "h");
        registry.AddGauge("m", "h");
      },
      "two types");
  EXPECT_DEATH(
      {
        MetricsRegistry registry;
        registry.AddHistogram("m", "h", {1}, {{"a", "1"}});
        registry.AddHistogram("m", "h", {2}, {{"a", "2"}});
      },
      "two sets of bucket bounds");
}

httplib::Result Fetch(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(2);
  return client.Get(path.c_str());
}

TEST(MetricsHttpServerTest, ServesMetricsAndHealthUntilStopped) {
  MetricsRegistry registry;
  Counter* up = registry.AddCounter("uhc_up_total", "Up.");
  up->Increment();
  MetricsHttpServer server(&registry);
  EXPECT_EQ(server.port(), -1);
  ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
  const int port = server.port();
  ASSERT_GT(port, 0);

  httplib::Result metrics = Fetch(port, "/metrics");
  ASSERT_TRUE(metrics) << httplib::to_string(metrics.error());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->get_header_value("Content-Type"), "text/plain; version=0.0.4");
  EXPECT_EQ(metrics->body, registry.Render());
  up->Increment();
  metrics = Fetch(port, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("\nuhc_up_total 2\n"));

  httplib::Result health = Fetch(port, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok");
  httplib::Result missing = Fetch(port, "/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);

  server.Stop();
  server.Stop();
  EXPECT_FALSE(Fetch(port, "/healthz"));
}

TEST(MetricsHttpServerTest, StopRightAfterStartReturns) {
  MetricsRegistry registry;
  for (int i = 0; i < 20; ++i) {
    MetricsHttpServer server(&registry);
    ASSERT_TRUE(server.Start("127.0.0.1", 0).ok());
    server.Stop();
  }
  MetricsHttpServer destroyed_while_serving(&registry);
  ASSERT_TRUE(destroyed_while_serving.Start("127.0.0.1", 0).ok());
}

TEST(MetricsHttpServerTest, RefusesATakenPortAndASecondStart) {
  MetricsRegistry registry;
  MetricsHttpServer first(&registry);
  ASSERT_TRUE(first.Start("127.0.0.1", 0).ok());
  MetricsHttpServer second(&registry);
  EXPECT_EQ(second.Start("127.0.0.1", first.port()).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(second.port(), -1);
  EXPECT_EQ(first.Start("127.0.0.1", 0).code(), absl::StatusCode::kFailedPrecondition);
  MetricsHttpServer third(&registry);
  EXPECT_EQ(third.Start("127.0.0.1", 70000).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace uhc

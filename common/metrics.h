#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace uhc {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void Increment(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed buckets (upper bounds, ascending); lock-free observation.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);
  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count per bucket (last = +Inf), and the sum.
  std::vector<int64_t> counts() const;
  double sum() const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<int64_t>[]> counts_;
  std::atomic<int64_t> sum_micros_{0};
};

// A Prometheus registry: metrics are created at start-up and live as long as the registry;
// Render writes the text exposition format 0.0.4. Thread-safe.
class MetricsRegistry {
 public:
  // The same name and labels twice return the same metric.
  Counter* AddCounter(const std::string& name, const std::string& help, MetricLabels labels = {});
  Gauge* AddGauge(const std::string& name, const std::string& help, MetricLabels labels = {});
  Histogram* AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds, MetricLabels labels = {});
  std::string Render() const;

 private:
  struct Entry {
    std::string name, help, type;
    MetricLabels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  Entry* FindOrAdd(const std::string& name, const std::string& help, const std::string& type,
                   MetricLabels labels, bool* added);
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

// Serves GET /metrics on host:port from a background thread (port 0: a free port).
class MetricsHttpServer {
 public:
  explicit MetricsHttpServer(const MetricsRegistry* registry);
  ~MetricsHttpServer();
  absl::Status Start(const std::string& host, int port);
  int port() const { return port_; }
  void Stop();

 private:
  struct Impl;
  const MetricsRegistry* registry_;
  std::unique_ptr<Impl> impl_;
  int port_ = -1;
};

}  // namespace uhc

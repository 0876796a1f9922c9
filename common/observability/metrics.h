#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace uhc {

// {name, value} pairs. Order does not matter: a metric's labels are kept sorted by name.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Monotonic. Relaxed atomics: hot paths increment without a lock or a fence.
class Counter {
 public:
  // Contract: n >= 0.
  void Increment(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Fixed buckets, lock-free observation. A scrape may see a sum and counts from slightly
// different instants (as with every Prometheus client); each value on its own is exact.
class Histogram {
 public:
  // bounds: finite and strictly ascending upper bounds; +Inf is implicit. Anything else is a
  // programming error and aborts.
  explicit Histogram(std::vector<double> bounds);

  // NaN is dropped: it would turn the sum into NaN for the life of the process.
  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Observations <= each bound, then the total (the +Inf bucket, which is also _count).
  std::vector<int64_t> CumulativeCounts() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::vector<std::atomic<int64_t>> buckets_;  // Not cumulative; the last one is +Inf.
  std::atomic<double> sum_{0};
};

// A Prometheus registry. Metrics are created at start-up and live as long as the registry.
// All methods are thread-safe; Add* take a lock, so call them once and keep the pointer.
//
// Registering the same name and labels again returns the same metric (the first help text
// wins). Invalid metric or label names, one name used with two types, or one histogram name
// with two sets of bounds are programming errors and abort.
class MetricsRegistry {
 public:
  MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;
  ~MetricsRegistry();

  Counter* AddCounter(std::string name, std::string help, MetricLabels labels = {});
  Gauge* AddGauge(std::string name, std::string help, MetricLabels labels = {});
  Histogram* AddHistogram(std::string name, std::string help, std::vector<double> bounds,
                          MetricLabels labels = {});

  // Text exposition format 0.0.4: families in registration order, one # HELP and # TYPE each,
  // then their series in registration order.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family;
  struct Series;
  // bounds: only for histograms.
  Series* FindOrAddSeries(std::string name, std::string help, Type type,
                          const std::vector<double>* bounds, MetricLabels labels)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
};

// Serves GET /metrics (the registry's Render) and GET /healthz ("ok", for liveness: it never
// depends on Redis) over plain HTTP from background threads.
// Start and Stop are called from one thread; the registry must outlive the server.
class MetricsHttpServer {
 public:
  explicit MetricsHttpServer(const MetricsRegistry* registry);
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;
  ~MetricsHttpServer();  // Stops.

  // Binds host:port (port 0: a free port) and serves until Stop. Called at most once (again:
  // FAILED_PRECONDITION); a port outside 0..65535 is INVALID_ARGUMENT, an address that cannot
  // be bound (in use by any process) is UNAVAILABLE.
  absl::Status Start(const std::string& host, int port);
  // The bound port, or -1 before a successful Start.
  int port() const { return port_; }
  // Closes the listener and joins the serving threads. Idempotent.
  void Stop();

 private:
  struct Impl;
  const MetricsRegistry* registry_;
  std::unique_ptr<Impl> impl_;
  int port_ = -1;
};

}  // namespace uhc

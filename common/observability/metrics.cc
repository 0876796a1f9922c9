#include "common/observability/metrics.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace uhc {
namespace {

// Registration mistakes are bugs in the binary and show on its first start.
[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "metrics registry: %s\n", message.c_str());
  std::abort();
}

// Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names the same without ':'.
bool IsValidName(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!letter && !(digit && i > 0) && !(allow_colon && c == ':')) return false;
  }
  return true;
}

// Shortest text that parses back to the same double, in the spellings Prometheus accepts.
std::string FormatDouble(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buffer[32];
  const std::to_chars_result result = std::to_chars(buffer, buffer + sizeof(buffer), v);
  return std::string(buffer, result.ptr);
}

// Label values escape backslash, quote and newline; help text only backslash and newline.
std::string Escape(const std::string& text, bool escape_quote) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (escape_quote && c == '"') {
      out += "\\\"";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

void Gauge::Add(double v) {
  double current = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(current, current + v, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(bounds_.size() + 1) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]) || (i > 0 && bounds_[i] <= bounds_[i - 1])) {
      Die("histogram bounds must be finite and strictly ascending");
    }
  }
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // The first bound >= value: Prometheus buckets count observations <= le.
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + value, std::memory_order_relaxed)) {
  }
}

std::vector<int64_t> Histogram::CumulativeCounts() const {
  std::vector<int64_t> counts(buckets_.size());
  int64_t total = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    total += buckets_[i].load(std::memory_order_relaxed);
    counts[i] = total;
  }
  return counts;
}

struct MetricsRegistry::Series {
  MetricLabels labels;     // Sorted by name.
  std::string label_text;  // `a="x",b="y"`, escaped, without braces.
  std::unique_ptr<Counter> counter;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
};

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  Type type;
  std::vector<double> bounds;  // Histograms only.
  std::vector<Series> series;
};

MetricsRegistry::MetricsRegistry() = default;
MetricsRegistry::~MetricsRegistry() = default;

MetricsRegistry::Series* MetricsRegistry::FindOrAddSeries(std::string name, std::string help,
                                                          Type type,
                                                          const std::vector<double>* bounds,
                                                          MetricLabels labels) {
  if (!IsValidName(name, /*allow_colon=*/true)) Die(absl::StrCat("bad metric name '", name, "'"));
  std::sort(labels.begin(), labels.end());
  for (size_t i = 0; i < labels.size(); ++i) {
    const std::string& label = labels[i].first;
    if (!IsValidName(label, /*allow_colon=*/false) || label.rfind("__", 0) == 0 ||
        (type == Type::kHistogram && label == "le") || (i > 0 && labels[i - 1].first == label)) {
      Die(absl::StrCat("bad or repeated label name '", label, "' on ", name));
    }
  }
  Family* family = nullptr;
  for (const auto& f : families_) {
    if (f->name == name) {
      family = f.get();
      break;
    }
  }
  if (family == nullptr) {
    families_.push_back(std::make_unique<Family>());
    family = families_.back().get();
    family->name = std::move(name);
    family->help = std::move(help);
    family->type = type;
    if (bounds != nullptr) family->bounds = *bounds;
  } else if (family->type != type) {
    Die(absl::StrCat(family->name, " registered with two types"));
  } else if (bounds != nullptr && family->bounds != *bounds) {
    Die(absl::StrCat(family->name, " registered with two sets of bucket bounds"));
  }
  for (Series& series : family->series) {
    if (series.labels == labels) return &series;
  }
  Series& series = family->series.emplace_back();
  for (const auto& [label, value] : labels) {
    absl::StrAppend(&series.label_text, series.label_text.empty() ? "" : ",", label, "=\"",
                    Escape(value, /*escape_quote=*/true), "\"");
  }
  series.labels = std::move(labels);
  return &series;
}

Counter* MetricsRegistry::AddCounter(std::string name, std::string help, MetricLabels labels) {
  absl::MutexLock lock(&mu_);
  Series* series = FindOrAddSeries(std::move(name), std::move(help), Type::kCounter,
                                   /*bounds=*/nullptr, std::move(labels));
  if (series->counter == nullptr) series->counter = std::make_unique<Counter>();
  return series->counter.get();
}

Gauge* MetricsRegistry::AddGauge(std::string name, std::string help, MetricLabels labels) {
  absl::MutexLock lock(&mu_);
  Series* series = FindOrAddSeries(std::move(name), std::move(help), Type::kGauge,
                                   /*bounds=*/nullptr, std::move(labels));
  if (series->gauge == nullptr) series->gauge = std::make_unique<Gauge>();
  return series->gauge.get();
}

Histogram* MetricsRegistry::AddHistogram(std::string name, std::string help,
                                         std::vector<double> bounds, MetricLabels labels) {
  absl::MutexLock lock(&mu_);
  Series* series = FindOrAddSeries(std::move(name), std::move(help), Type::kHistogram, &bounds,
                                   std::move(labels));
  if (series->histogram == nullptr) {
    series->histogram = std::make_unique<Histogram>(std::move(bounds));
  }
  return series->histogram.get();
}

std::string MetricsRegistry::Render() const {
  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& family : families_) {
    const std::string& name = family->name;
    const char* type = family->type == Type::kCounter ? "counter"
                       : family->type == Type::kGauge ? "gauge"
                                                      : "histogram";
    absl::StrAppend(&out, "# HELP ", name, " ", Escape(family->help, /*escape_quote=*/false),
                    "\n# TYPE ", name, " ", type, "\n");
    for (const Series& series : family->series) {
      const std::string labels =
          series.label_text.empty() ? "" : absl::StrCat("{", series.label_text, "}");
      switch (family->type) {
        case Type::kCounter:
          absl::StrAppend(&out, name, labels, " ", series.counter->value(), "\n");
          break;
        case Type::kGauge:
          absl::StrAppend(&out, name, labels, " ", FormatDouble(series.gauge->value()), "\n");
          break;
        case Type::kHistogram: {
          const std::vector<int64_t> counts = series.histogram->CumulativeCounts();
          const char* separator = series.label_text.empty() ? "" : ",";
          for (size_t i = 0; i < counts.size(); ++i) {
            const std::string le =
                i < family->bounds.size() ? FormatDouble(family->bounds[i]) : "+Inf";
            absl::StrAppend(&out, name, "_bucket{", series.label_text, separator, "le=\"", le,
                            "\"} ", counts[i], "\n");
          }
          absl::StrAppend(&out, name, "_sum", labels, " ", FormatDouble(series.histogram->sum()),
                          "\n", name, "_count", labels, " ", counts.back(), "\n");
          break;
        }
      }
    }
  }
  return out;
}

struct MetricsHttpServer::Impl {
  bool started = false;
  httplib::Server server;
  std::thread listener;
  absl::Notification listener_done;
};

MetricsHttpServer::MetricsHttpServer(const MetricsRegistry* registry)
    : registry_(registry), impl_(std::make_unique<Impl>()) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::Status MetricsHttpServer::Start(const std::string& host, int port) {
  if (impl_->started) return absl::FailedPreconditionError("metrics server already started");
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("bad metrics port ", port));
  }
  impl_->started = true;
  httplib::Server& server = impl_->server;
  // Scrapes are rare, but each idle keep-alive connection holds a worker for up to 5 s, so a
  // few workers rather than httplib's 8+ or a single one.
  server.new_task_queue = [] { return new httplib::ThreadPool(4); };
  // httplib's default adds SO_REUSEPORT, with which a second process on the same port binds
  // too and steals half the scrapes. SO_REUSEADDR alone still allows a quick restart.
  server.set_socket_options([](socket_t sock) {
    const int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  const MetricsRegistry* registry = registry_;
  server.Get("/metrics", [registry](const httplib::Request&, httplib::Response& response) {
    response.set_content(registry->Render(), "text/plain; version=0.0.4");
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& response) {
    response.set_content("ok", "text/plain");
  });
  const int bound =
      port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot bind the metrics endpoint to ", host, ":", port));
  }
  port_ = bound;
  impl_->listener = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    impl->listener_done.Notify();
  });
  return absl::OkStatus();
}

void MetricsHttpServer::Stop() {
  if (!impl_->listener.joinable()) return;
  // httplib's stop() does nothing before the accept loop is running, so a Stop right after
  // Start first waits for the loop to start (or to have ended on its own).
  while (!impl_->server.is_running() &&
         !impl_->listener_done.WaitForNotificationWithTimeout(absl::Milliseconds(1))) {
  }
  impl_->server.stop();
  impl_->listener.join();
}

}  // namespace uhc

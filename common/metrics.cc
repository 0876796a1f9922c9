#include "common/metrics.h"

#include <httplib.h>

#include <cmath>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace uhc {
namespace {

std::string EscapeLabel(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out.push_back('\\');
      out.push_back(c);
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string LabelText(const MetricLabels& labels, const std::string& extra = "") {
  std::string text;
  for (const auto& [k, v] : labels) {
    absl::StrAppend(&text, text.empty() ? "" : ",", k, "=\"", EscapeLabel(v), "\"");
  }
  if (!extra.empty()) absl::StrAppend(&text, text.empty() ? "" : ",", extra);
  return text.empty() ? "" : "{" + text + "}";
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrFormat("%g", v);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<int64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<int64_t>(value * 1e6), std::memory_order_relaxed);
}

std::vector<int64_t> Histogram::counts() const {
  std::vector<int64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

double Histogram::sum() const { return sum_micros_.load() / 1e6; }

MetricsRegistry::Entry* MetricsRegistry::FindOrAdd(const std::string& name,
                                                   const std::string& help,
                                                   const std::string& type, MetricLabels labels,
                                                   bool* added) {
  for (auto& e : entries_) {
    if (e->name == name && e->labels == labels) {
      *added = false;
      return e.get();
    }
  }
  auto entry = std::make_unique<Entry>();
  entry->name = name;
  entry->help = help;
  entry->type = type;
  entry->labels = std::move(labels);
  entries_.push_back(std::move(entry));
  *added = true;
  return entries_.back().get();
}

Counter* MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                     MetricLabels labels) {
  std::lock_guard<std::mutex> lock(mu_);
  bool added = false;
  Entry* e = FindOrAdd(name, help, "counter", std::move(labels), &added);
  if (added) e->counter = std::make_unique<Counter>();
  return e->counter.get();
}

Gauge* MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                 MetricLabels labels) {
  std::lock_guard<std::mutex> lock(mu_);
  bool added = false;
  Entry* e = FindOrAdd(name, help, "gauge", std::move(labels), &added);
  if (added) e->gauge = std::make_unique<Gauge>();
  return e->gauge.get();
}

Histogram* MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                         std::vector<double> bounds, MetricLabels labels) {
  std::lock_guard<std::mutex> lock(mu_);
  bool added = false;
  Entry* e = FindOrAdd(name, help, "histogram", std::move(labels), &added);
  if (added) e->histogram = std::make_unique<Histogram>(std::move(bounds));
  return e->histogram.get();
}

std::string MetricsRegistry::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  // Group by family name, in first-registration order.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Entry*>> families;
  for (const auto& e : entries_) {
    if (families[e->name].empty()) order.push_back(e->name);
    families[e->name].push_back(e.get());
  }
  std::string out;
  for (const std::string& name : order) {
    const auto& members = families[name];
    absl::StrAppend(&out, "# HELP ", name, " ", members[0]->help, "\n# TYPE ", name, " ",
                    members[0]->type, "\n");
    for (const Entry* e : members) {
      if (e->counter) {
        absl::StrAppend(&out, name, LabelText(e->labels), " ", e->counter->value(), "\n");
      } else if (e->gauge) {
        absl::StrAppend(&out, name, LabelText(e->labels), " ", Number(e->gauge->value()), "\n");
      } else {
        std::vector<int64_t> counts = e->histogram->counts();
        int64_t cumulative = 0;
        const auto& bounds = e->histogram->bounds();
        for (size_t i = 0; i <= bounds.size(); ++i) {
          cumulative += counts[i];
          std::string le = i < bounds.size() ? Number(bounds[i]) : "+Inf";
          absl::StrAppend(&out, name, "_bucket", LabelText(e->labels, "le=\"" + le + "\""), " ",
                          cumulative, "\n");
        }
        absl::StrAppend(&out, name, "_sum", LabelText(e->labels), " ",
                        Number(e->histogram->sum()), "\n", name, "_count", LabelText(e->labels),
                        " ", cumulative, "\n");
      }
    }
  }
  return out;
}

struct MetricsHttpServer::Impl {
  httplib::Server server;
  std::thread thread;
};

MetricsHttpServer::MetricsHttpServer(const MetricsRegistry* registry)
    : registry_(registry), impl_(std::make_unique<Impl>()) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

absl::Status MetricsHttpServer::Start(const std::string& host, int port) {
  const MetricsRegistry* registry = registry_;
  impl_->server.Get("/metrics", [registry](const httplib::Request&, httplib::Response& res) {
    res.set_content(registry->Render(), "text/plain; version=0.0.4");
  });
  port_ = port == 0 ? impl_->server.bind_to_any_port(host) : port;
  if (port != 0 && !impl_->server.bind_to_port(host, port)) port_ = -1;
  if (port_ <= 0) return absl::UnavailableError(absl::StrCat("cannot bind /metrics on ", host));
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  return absl::OkStatus();
}

void MetricsHttpServer::Stop() {
  if (impl_ && impl_->thread.joinable()) {
    impl_->server.stop();
    impl_->thread.join();
  }
}

}  // namespace uhc

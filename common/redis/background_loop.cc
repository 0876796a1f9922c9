#include "common/redis/background_loop.h"

namespace uhc {

void BackgroundLoop::Start(Step step, absl::Duration first_delay) {
  step_ = std::move(step);
  thread_ = std::thread([this, first_delay] { Run(first_delay); });
}

void BackgroundLoop::Wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = true;
  }
  cv_.notify_all();
}

void BackgroundLoop::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool BackgroundLoop::Wait(absl::Duration delay) {
  std::unique_lock<std::mutex> lock(mu_);
  auto woken = [this] { return stop_ || wake_; };
  if (delay == absl::InfiniteDuration()) {
    cv_.wait(lock, woken);
  } else if (delay > absl::ZeroDuration()) {
    cv_.wait_for(lock, absl::ToChronoMilliseconds(delay), woken);
  }
  wake_ = false;
  return !stop_;
}

void BackgroundLoop::Run(absl::Duration first_delay) {
  absl::Duration delay = first_delay;
  while (Wait(delay)) delay = step_();
}

}  // namespace uhc

#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/time/time.h"

namespace uhc {

// The one way the services run work in the background (the Redis health probe, the snapshot
// refresher, the history trimmer, the watch keep-alives): a thread that runs `step`, waits the
// delay `step` returns (absl::InfiniteDuration(): until woken), and runs it again, until Stop.
// Wake() cuts the current wait short. Stop() wakes the wait, lets a running step finish, and
// joins; after it returns, `step` never runs again. Thread-safe; Stop is idempotent and also
// runs on destruction.
class BackgroundLoop {
 public:
  using Step = std::function<absl::Duration()>;

  BackgroundLoop() = default;
  ~BackgroundLoop() { Stop(); }
  BackgroundLoop(const BackgroundLoop&) = delete;
  BackgroundLoop& operator=(const BackgroundLoop&) = delete;

  // Starts the thread: `step` runs after `first_delay` (zero: at once). Call once.
  void Start(Step step, absl::Duration first_delay = absl::ZeroDuration());
  void Wake();
  void Stop();

 private:
  void Run(absl::Duration first_delay);
  // Waits `delay` or until woken or stopped; false once stopped.
  bool Wait(absl::Duration delay);

  Step step_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // guarded by mu_
  bool wake_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace uhc

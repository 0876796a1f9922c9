#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace uhc::testing {

// A child process (a service binary) with stderr to a log file; killed (SIGKILL) on destruction
// unless stopped before.
class Process {
 public:
  Process(std::vector<std::string> argv, std::vector<std::string> env, std::string log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Sends `signal` and waits for the exit; returns the exit status (or -1).
  int Stop(int signal);
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  std::string log_path_;
};

// Waits until grpc.health.v1 at `address` reports SERVING for `service` ("" = readiness).
bool WaitServing(const std::string& address, int timeout_ms, const std::string& service = "");

}  // namespace uhc::testing

#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/redis/client.h"

namespace uhc::testing {

// A real redis-server for one test, on a free loopback port, with its own directory. The
// constructor waits until it answers PING; the destructor kills it and removes the directory.
class RedisServer {
 public:
  // extra: more "--name value" arguments (e.g. {"--appendonly", "yes"}); port 0: a free one.
  explicit RedisServer(std::vector<std::string> extra = {}, int port = 0);
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  int port() const { return port_; }
  bool running() const { return pid_ > 0; }
  RedisOptions options() const;
  // A fresh connection (asserts on failure).
  std::unique_ptr<RedisConnection> Connect() const;

  // Stops the server (SIGKILL when `kill`, else SHUTDOWN SAVE, so a restart keeps the data) and
  // waits for the process.
  void Stop(bool kill = false);
  // Starts it again on the same port and directory and waits for PING.
  void Restart();
  // SIGSTOP / SIGCONT: a Redis that stalls (accepts bytes, answers nothing) and comes back.
  void Pause();
  void Resume();

 private:
  void Launch();
  std::vector<std::string> extra_;
  std::string dir_;
  std::string password_;  // from "--requirepass" in extra
  int port_ = 0;
  bool may_move_ = false;  // the port was chosen here: another if it is taken before the bind
  pid_t pid_ = -1;
};

// `extra` and the arguments that load this build's uhc_module.so (enrollment-svc/module/), so an
// enrollment-svc on the server applies with it (--apply_engine auto); env UHC_TEST_MODULE names
// another build of it.
std::vector<std::string> WithApplyModule(std::vector<std::string> extra = {});

// A free TCP port on 127.0.0.1 (bound then released).
int FreePort();
// A free port whose cluster bus port (+10000) is free too, so below 55536.
int FreeClusterPort();

// Polls `condition` every 10 ms until it holds or `timeout_ms` passes; returns its last value.
bool WaitFor(const std::function<bool()>& condition, int timeout_ms);

}  // namespace uhc::testing

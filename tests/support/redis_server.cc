#include "tests/support/redis_server.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "gtest/gtest.h"

namespace uhc::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

namespace {

bool Bindable(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

// The first port the kernel hands out to outgoing connections and to bind(0).
int EphemeralPortsFrom() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  range >> low;
  return low;
}

int FreeClusterPort() {
  // Node and bus ports below the ephemeral range: no connection of a test running beside this one
  // can take them between this check and Redis binding them.
  static const int kFrom = 10000, kTo = std::max(EphemeralPortsFrom() - 10000, kFrom + 100);
  static std::atomic<int> next{kFrom + static_cast<int>(getpid() % 1000) * 10 % (kTo - kFrom)};
  for (;;) {
    int port = next.fetch_add(1);
    if (port >= kTo) {
      next.store(kFrom);
      continue;
    }
    if (Bindable(port) && Bindable(port + 10000)) return port;
  }
}

bool WaitFor(const std::function<bool()>& condition, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

std::vector<std::string> WithApplyModule(std::vector<std::string> extra) {
  const char* other = std::getenv("UHC_TEST_MODULE");  // tests/integration/module_asan_test.sh
  extra.push_back("--loadmodule");
  extra.push_back(other && *other ? other : UHC_MODULE_PATH);
  return extra;
}

RedisServer::RedisServer(std::vector<std::string> extra, int port) : extra_(std::move(extra)) {
  for (size_t i = 0; i + 1 < extra_.size(); ++i) {
    if (extra_[i] == "--requirepass") password_ = extra_[i + 1];
  }
  char pattern[] = "/tmp/uhc-redis-XXXXXX";
  dir_ = mkdtemp(pattern);
  may_move_ = port == 0;
  port_ = may_move_ ? FreePort() : port;
  Launch();
}

RedisServer::~RedisServer() {
  Stop(true);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

RedisOptions RedisServer::options() const {
  RedisOptions o;
  o.host = "127.0.0.1";
  o.port = port_;
  o.password = password_;
  return o;
}

std::unique_ptr<RedisConnection> RedisServer::Connect() const {
  auto c = RedisConnection::Connect(options());
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

void RedisServer::Launch() {
  std::vector<std::string> args = {"redis-server",
                                   "--bind",
                                   "127.0.0.1",
                                   "--port",
                                   std::to_string(port_),
                                   "--dir",
                                   dir_,
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--hash-max-listpack-entries",
                                   "1024",
                                   "--hash-max-listpack-value",
                                   "192",
                                   "--logfile",
                                   dir_ + "/redis.log"};
  args.insert(args.end(), extra_.begin(), extra_.end());
  // Everything the child needs is made before fork: between fork and exec it may not allocate (a
  // lock another thread held at fork stays held in the child; under ASan it then spins forever).
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (int attempt = 1;; ++attempt) {
    pid_ = fork();
    if (pid_ == 0) {
      execvp("redis-server", argv.data());
      _exit(127);
    }
    ASSERT_GT(pid_, 0);
    // Up when this process answers: the port FreePort released may be taken by another test's
    // process before redis-server binds it (then redis-server exits, and whatever holds the port
    // must not be taken for it).
    const std::string ours = "process_id:" + std::to_string(pid_) + "\r";
    bool exited = false;
    const bool up = WaitFor(
        [&] {
          int status = 0;
          if (waitpid(pid_, &status, WNOHANG) == pid_) return exited = true;
          auto c = RedisConnection::Connect(options());
          if (!c.ok()) return false;
          auto info = (*c)->Command({"INFO", "server"});
          return info.ok() && (*info)->type == REDIS_REPLY_STRING &&
                 std::string((*info)->str, (*info)->len).find(ours) != std::string::npos;
        },
        10000);
    if (up && !exited) {
      may_move_ = false;  // known to others from now on: a restart keeps it
      return;
    }
    if (!exited) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
    ASSERT_TRUE(exited && may_move_ && attempt < 5)
        << "redis-server did not start on port " << port_ << " (log: " << dir_ << "/redis.log)";
    port_ = FreePort();  // taken meanwhile: another one
    for (size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == "--port") args[i + 1] = std::to_string(port_);
    }
    argv.clear();
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
  }
}

void RedisServer::Stop(bool kill) {
  if (pid_ <= 0) return;
  if (kill) {
    ::kill(pid_, SIGKILL);
  } else {
    auto c = RedisConnection::Connect(options());
    if (c.ok()) (void)(*c)->Command({"SHUTDOWN", "SAVE"});
  }
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

void RedisServer::Restart() {
  Stop(false);
  Launch();
}

void RedisServer::Pause() { ASSERT_EQ(kill(pid_, SIGSTOP), 0); }

void RedisServer::Resume() { ASSERT_EQ(kill(pid_, SIGCONT), 0); }

}  // namespace uhc::testing

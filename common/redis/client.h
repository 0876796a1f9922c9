#pragma once

#include <hiredis/hiredis.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace uhc {

struct RedisClusterCounters;

// Where and how to reach Redis. Only loopback is used by tests and the local run.
struct RedisOptions {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string user;      // ACL user; empty for the default user
  std::string password;  // empty for no AUTH
  absl::Duration connect_timeout = absl::Milliseconds(300);
  absl::Duration command_timeout = absl::Seconds(2);
  // Redis Cluster: host:port is one seed node; the slot map comes from the cluster itself.
  bool cluster = false;
  // More "host:port" seeds, tried after host:port (a client rebuilt after a failure is given the
  // nodes its predecessor knew, so it finds the cluster even with the first seed gone).
  std::vector<std::string> cluster_seeds;
  // Where cluster clients count redirects, retries and map refreshes (not owned; may be null).
  const RedisClusterCounters* cluster_counters = nullptr;
  // Function libraries (the text FUNCTION LOAD takes) that this client's callers FCALL. When a
  // primary answers "ERR Function not found" (new, restarted without persistence, or flushed),
  // the client loads them on every primary and sends the failed commands once more.
  std::vector<const char*> function_libraries;
};

using RedisArgv = std::vector<absl::string_view>;
using RedisCommands = std::vector<RedisArgv>;

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

// One synchronous hiredis connection. Not thread-safe: one owner thread at a time.
// Error taxonomy: transport failures (I/O, timeout, closed) are Unavailable and leave the
// connection broken(); a malformed reply is Internal. Error *replies* are returned as replies:
// check them with ReplyStatus.
class RedisConnection {
 public:
  static absl::StatusOr<std::unique_ptr<RedisConnection>> Connect(const RedisOptions& options);

  // One command as an argument array (binary-safe; never a format string).
  absl::StatusOr<ReplyPtr> Command(const std::vector<absl::string_view>& argv);
  // Sends every command, then reads every reply, in order: one round trip.
  absl::StatusOr<std::vector<ReplyPtr>> Pipeline(const RedisCommands& commands);
  // The two halves of Pipeline, so that several connections can work at once: Send writes every
  // command out, Receive reads `count` replies in order.
  absl::Status Send(const RedisCommands& commands);
  absl::StatusOr<std::vector<ReplyPtr>> Receive(size_t count);

  bool broken() const { return broken_; }
  // "host:port" it was opened to, for log lines and metric labels.
  const std::string& address() const { return address_; }
  // Whether Redis closed this idle connection (it restarted, or dropped an idle client): the
  // socket reads end-of-file. One non-blocking peek; pending data (a TLS session ticket, say)
  // does not count.
  bool PeerClosed() const;

 private:
  struct ContextDeleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  RedisConnection(redisContext* context, absl::Duration command_timeout)
      : context_(context), command_timeout_(command_timeout) {}
  absl::Status Append(const std::vector<absl::string_view>& argv);
  absl::StatusOr<ReplyPtr> Read();
  // Unavailable for a failed read or write, saying so when it was the command timeout.
  absl::Status TransportError();

  std::unique_ptr<redisContext, ContextDeleter> context_;
  absl::Duration command_timeout_;
  std::string address_;
  bool broken_ = false;
};

// The one mapping of Redis error replies. OK unless the reply is null or an error reply:
//  - ResourceExhausted for OOM (maxmemory reached): retry later, with backoff;
//  - Unavailable for transient server states (READONLY, NOREPLICAS, MASTERDOWN, LOADING, BUSY,
//    TRYAGAIN, CLUSTERDOWN, MISCONF, and a function library still missing after a reload):
//    retry, like a lost connection;
//  - Internal otherwise (a bug: a wrong command or a broken script).
// Messages carry Redis' text and what a caller can do.
absl::Status ReplyStatus(const redisReply* reply);

// True for the error reply of FCALL on a primary without the library.
bool IsFunctionNotFound(const redisReply* reply);

// Checks the reply of `WAIT n timeout`: Unavailable unless at least `wanted` replicas confirmed.
absl::Status CheckWaitReply(const redisReply* reply, int wanted);

// What the services talk to: a standalone Redis or a Redis Cluster, the same way. Not
// thread-safe: one owner thread at a time (each executor worker has its own).
// Failure: Unavailable when a server cannot be reached or redirects do not settle within the
// command timeout; part of a pipeline may then have been applied, so callers only send commands
// that are safe to retry. Error replies (other than redirects) are returned as replies.
class RedisClient {
 public:
  virtual ~RedisClient() = default;

  // Sends every command and returns every reply, in order. In a cluster each command goes to the
  // primary of its key's slot (the key is argv[1], or the first key of FCALL/EVALSHA), one
  // pipeline per node, all nodes at once; MOVED, ASK and TRYAGAIN are followed. With
  // `wait_replicas` > 0, each node's pipeline ends with WAIT and the call is Unavailable unless
  // that many replicas confirmed the writes (so a failover cannot lose what callers were told).
  // Commands answered "ERR Function not found" are sent once more after the options'
  // function libraries are loaded on every primary (such a command did not run).
  absl::StatusOr<std::vector<ReplyPtr>> Pipeline(const RedisCommands& commands,
                                                 int wait_replicas = 0);
  // Runs `fn` on a connection to every primary (FUNCTION LOAD, PING). The first error wins.
  virtual absl::Status ForEachPrimary(const std::function<absl::Status(RedisConnection&)>& fn) = 0;
  // Runs `fn` on every primary, whatever the others answer: each primary's "host:port" and
  // status (a cluster whose slot map cannot be read: one entry, address "cluster"). For health
  // probes that must tell one unreachable shard from all of them.
  using NodeStatus = std::pair<std::string, absl::Status>;
  virtual std::vector<NodeStatus> ProbeEachPrimary(
      const std::function<absl::Status(RedisConnection&)>& fn) {
    return {{"redis", ForEachPrimary(fn)}};
  }
  // True when commands must not mix hash slots (Redis Cluster).
  virtual bool cluster() const = 0;
  // "host:port" of the nodes this client knows (cluster), to seed a successor; else empty.
  virtual std::vector<std::string> KnownNodes() const { return {}; }

  absl::StatusOr<ReplyPtr> Command(const RedisArgv& argv);

  // FUNCTION LOAD REPLACE of every library of the options on every primary.
  absl::Status LoadFunctionLibraries();

 protected:
  explicit RedisClient(std::vector<const char*> function_libraries)
      : function_libraries_(std::move(function_libraries)) {}
  // Pipeline without the function-library retry.
  virtual absl::StatusOr<std::vector<ReplyPtr>> PipelineOnce(const RedisCommands& commands,
                                                             int wait_replicas) = 0;

 private:
  std::vector<const char*> function_libraries_;
};

// A standalone Redis, or a cluster, as `options.cluster` says.
std::unique_ptr<RedisClient> MakeRedisClient(const RedisOptions& options);

// A connection to a standalone Redis that reconnects on demand. While Redis is down it retries at
// most once per backoff period (doubling from 50 ms to 2 s) and otherwise fails fast with
// Unavailable, so callers never wait on a dead server longer than one connect timeout.
class ReconnectingConnection final : public RedisClient {
 public:
  explicit ReconnectingConnection(RedisOptions options)
      : RedisClient(options.function_libraries), options_(std::move(options)) {}

  // A usable connection, or Unavailable.
  absl::StatusOr<RedisConnection*> Get();

  absl::Status ForEachPrimary(const std::function<absl::Status(RedisConnection&)>& fn) override;
  std::vector<NodeStatus> ProbeEachPrimary(
      const std::function<absl::Status(RedisConnection&)>& fn) override {
    return {{absl::StrCat(options_.host, ":", options_.port), ForEachPrimary(fn)}};
  }
  bool cluster() const override { return false; }

 protected:
  absl::StatusOr<std::vector<ReplyPtr>> PipelineOnce(const RedisCommands& commands,
                                                     int wait_replicas) override;

 private:
  RedisOptions options_;
  std::unique_ptr<RedisConnection> connection_;
  absl::Time next_attempt_ = absl::InfinitePast();
  absl::Duration backoff_ = absl::Milliseconds(50);
};

}  // namespace uhc
